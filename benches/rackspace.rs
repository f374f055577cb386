//! Rackspace refresh cost against downloading the same responses, measured in one run on
//! loopback (`bash scripts/bench.sh`).
//!
//! A simulated Rackspace identity + Cloud Backup service serves a large account:
//! `BENCH_AGENTS` agents (default 500) with `BENCH_CONFIGS` backup configurations each (default
//! 2), five runs per configuration and one report per configuration's latest finished run. The
//! real service is remote while loopback has no latency, so the simulator holds every answer
//! back by `BENCH_LATENCY` milliseconds (default 20; a delay-only `Fault` on `"*"`, which
//! applies to every endpoint and still serves the normal body). What the exporter adds to the
//! network is then the refresh time over the time of downloading the same responses under the
//! same latency. Each time is the best of `BENCH_RUNS` interleaved runs (default 3; 5 at
//! latency 0, where runs are cheap).
//!
//! - "download": a plain reqwest client fetches exactly the requests of a cold refresh, in the
//!   exporter's order and with its concurrency (`BENCH_CONCURRENCY`, default 4, the exporter's
//!   default): a token (`POST /v2.0/tokens`), then `user/agents`, `backup-configuration` and
//!   `activity` at once, then every `agent/{id}`, then every `backup/report/{id}` the refresh
//!   reads, keeping only the bytes. The URLs are worked out before timing, with the exporter's
//!   own decoding and report selection. Its "warm set" time is the time of its lists and details
//!   phases (token already held, a connection already open): the requests of a warm refresh.
//!   The reports are each configuration's first report candidate (`report_candidates`: its
//!   latest finished run), the exporter's first round; every one exists in this account.
//! - "refresh, cold": a new exporter's first refresh: sign-in, lists, details, reports, mapping,
//!   render and gzip.
//! - "refresh, warm": the same exporter's second refresh: token kept, reports cached, so lists
//!   and details only.
//! - the same three at latency 0: the pure CPU cost, simulator included.
//! - the requests of each (per simulator endpoint; the download's must equal the refresh's or the
//!   benchmark panics), the bytes downloaded, the `/metrics` size and the rackspace source's
//!   series count, and the peak heap a refresh held beyond what was live before it (a counting
//!   allocator wraps mimalloc, the binary's allocator; the simulator shares the process, so its
//!   answers in flight count too) and the process's peak resident size.
//! - the warm refresh with `concurrency` 1, 4 and 8 at the default latency: what the knob buys
//!   (the level equal to `BENCH_CONCURRENCY` is the warm refresh above; the others have their
//!   own exporter, warmed at latency 0; concurrency 1 is a single run, it takes about agents x
//!   latency). With the defaults the whole benchmark takes about 75 s, 64 s of it latency.
//!
//! The "latency floor" is the number of round trips in a row (`1 + 1 + ceil(agents / c) +
//! ceil(reports / c)` cold, `1 + ceil(agents / c)` warm) times the latency. Any refresh that does
//! not return `Outcome::Ok`, or that records an item error, panics.

mod support;

use support::rackspace::sign_in;
use support::{best, ms, resident_peak_mb, set_latency, Times};

use std::sync::Arc;
use std::time::{Duration, Instant};

use backup_exporter::config::Config;
use backup_exporter::refresh::{Exporter, Outcome};
use backup_exporter::sim::Simulator;
use backup_exporter::sources::rackspace::model::{self, Activity, Agent, Configuration};
use backup_exporter::sources::rackspace::report_candidates;
use backup_exporter::sources::rackspace::sim::fleet::large_account;
use backup_exporter::sources::rackspace::sim::{AccountConfig, SimServer, AUTH_TOKEN_HEADER};
use backup_exporter::sources::values::Warnings;
use backup_exporter::sources::Source;
use futures_util::StreamExt;

/// The simulator endpoints a refresh calls, in the order of a refresh.
const ENDPOINTS: &[&str] = &[
    "tokens",
    "agents",
    "configurations",
    "activity",
    "agent",
    "report",
];

#[global_allocator]
static ALLOCATOR: support::Counting = support::Counting;

/// Every request of a cold refresh, as full URLs.
struct Plan {
    tokens_url: String,
    lists: [String; 3],
    agents: Vec<String>,
    reports: Vec<String>,
}

/// One download of the cold set, with the time and bytes of its warm part.
struct Download {
    cold: Duration,
    warm: Duration,
    cold_bytes: usize,
    warm_bytes: usize,
}

/// One GET with the token, keeping only the body's size.
async fn get(client: &reqwest::Client, url: &str, token: &str) -> usize {
    let body = client
        .get(url)
        .header(AUTH_TOKEN_HEADER, token)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap_or_else(|e| panic!("{url}: {e}"))
        .bytes()
        .await
        .unwrap();
    assert!(!body.is_empty(), "{url}: empty body");
    body.len()
}

/// GETs every URL, `concurrency` at a time in order (as the exporter's `buffered`).
async fn get_all(
    client: &reqwest::Client,
    urls: &[String],
    token: &str,
    concurrency: usize,
) -> usize {
    futures_util::stream::iter(urls)
        .map(|u| get(client, u, token))
        .buffered(concurrency)
        .fold(0, |sum, n| async move { sum + n })
        .await
}

async fn download(client: &reqwest::Client, plan: &Plan, concurrency: usize) -> Download {
    let started = Instant::now();
    let (token, token_bytes) = sign_in(client, &plan.tokens_url).await;
    let warm_started = Instant::now();
    let (a, b, c) = tokio::join!(
        get(client, &plan.lists[0], &token),
        get(client, &plan.lists[1], &token),
        get(client, &plan.lists[2], &token),
    );
    let details = get_all(client, &plan.agents, &token, concurrency).await;
    let warm = warm_started.elapsed();
    let reports = get_all(client, &plan.reports, &token, concurrency).await;
    let cold = started.elapsed();
    let warm_bytes = a + b + c + details;
    Download {
        cold,
        warm,
        cold_bytes: token_bytes + warm_bytes + reports,
        warm_bytes,
    }
}

/// Signs in and reads the three lists once, to work out the URLs of a cold refresh the way
/// the exporter does.
async fn plan(client: &reqwest::Client, server: &SimServer) -> Plan {
    let tokens_url = format!("{}/tokens", server.identity_url());
    let endpoint = server.backup_endpoint();
    let lists = [
        format!("{endpoint}/user/agents"),
        format!("{endpoint}/backup-configuration"),
        format!("{endpoint}/activity"),
    ];
    let (token, _) = sign_in(client, &tokens_url).await;
    let body = |url: String| {
        let rb = client.get(url).header(AUTH_TOKEN_HEADER, &token);
        async move { rb.send().await.unwrap().bytes().await.unwrap() }
    };
    let mut warnings = Warnings::default();
    let agents: Vec<Agent> =
        model::decode_items("agents", &body(lists[0].clone()).await, &mut warnings).unwrap();
    let configurations: Vec<Configuration> = model::decode_items(
        "configurations",
        &body(lists[1].clone()).await,
        &mut warnings,
    )
    .unwrap();
    let activity: Vec<Activity> =
        model::decode_items("activity", &body(lists[2].clone()).await, &mut warnings).unwrap();
    assert_eq!(warnings.count, 0, "{warnings}");
    let configurations: Vec<Configuration> = configurations
        .into_iter()
        .filter(|c| !c.deleted())
        .collect();
    // The exporter's first round of report reads: each configuration's first candidate (its
    // latest finished run); later candidates are only read when that one has no report.
    let mut report_ids: Vec<String> = report_candidates(&configurations, &activity)
        .into_iter()
        .filter_map(|(_, ids)| ids.into_iter().next())
        .collect();
    report_ids.sort();
    report_ids.dedup();
    let reports = report_ids
        .iter()
        .map(|id| format!("{endpoint}/backup/report/{id}"))
        .collect();
    Plan {
        agents: agents
            .iter()
            .map(|a| format!("{endpoint}/agent/{}", a.machine_agent_id))
            .collect(),
        reports,
        tokens_url,
        lists,
    }
}

/// One rackspace source `bench` at `server`, `concurrency` calls at a time.
fn config(server: &SimServer, concurrency: usize) -> Config {
    Config::from_toml_str(&format!(
        "{}concurrency = {concurrency}\ntimeout = \"60s\"\nrefresh_interval = \"1h\"\n",
        support::rackspace::source(server)
    ))
    .unwrap()
}

/// An exporter of one source, not refreshed yet.
struct Bench {
    exporter: Arc<Exporter>,
    sources: Vec<Box<dyn Source>>,
}

impl Bench {
    fn new(cfg: &Config) -> Bench {
        let (exporter, sources) = Exporter::new(cfg).unwrap();
        Bench { exporter, sources }
    }

    /// One refresh: its time and the most heap it held beyond what was live before it.
    /// Panics unless it ends `Ok` without item errors.
    async fn refresh(&mut self) -> (Duration, usize) {
        let before = support::heap_mark();
        let t = Instant::now();
        let outcome = self.exporter.refresh(0, &mut self.sources[0]).await;
        let elapsed = t.elapsed();
        let peak = support::heap_peak_since(before);
        assert!(
            matches!(outcome, Outcome::Ok),
            "refresh failed: {outcome:?}"
        );
        let state = self.exporter.sources()[0].state();
        assert!(state.last_error.is_none(), "{:?}", state.last_error);
        (elapsed, peak)
    }
}

/// Requests per endpoint since the last `clear_requests`, checking that no other was made.
fn counts(server: &SimServer) -> Vec<usize> {
    let counts: Vec<usize> = ENDPOINTS.iter().map(|e| server.request_count(e)).collect();
    assert_eq!(
        counts.iter().sum::<usize>(),
        server.requested_paths().len(),
        "requests to other endpoints"
    );
    counts
}

#[tokio::main]
async fn main() {
    let bench_started = Instant::now();
    backup_exporter::tls::install_crypto_provider();
    let env = support::env;
    let n_agents = env("BENCH_AGENTS", 500);
    let n_configs = env("BENCH_CONFIGS", 2);
    let latency = Duration::from_millis(env("BENCH_LATENCY", 20) as u64);
    let concurrency = env("BENCH_CONCURRENCY", 4);
    let runs = env("BENCH_RUNS", 3).max(1);
    const RUNS_AT_ZERO: usize = 5;

    let t = Instant::now();
    let dataset = large_account(n_agents, n_configs, chrono::Utc::now());
    let shape = (
        dataset.configurations.len(),
        dataset.activity.len(),
        dataset.reports.len(),
    );
    let server = SimServer::start(dataset, AccountConfig::default())
        .await
        .unwrap();
    println!(
        "account: {n_agents} agents x {n_configs} configurations ({} configurations, {} activity items, {} reports), built and served in {:.0} ms",
        shape.0,
        shape.1,
        shape.2,
        ms(t.elapsed())
    );
    println!(
        "latency {} ms per request (every endpoint), concurrency {concurrency}, {} cores",
        latency.as_millis(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let client = reqwest::Client::new();
    let plan = plan(&client, &server).await;
    let cfg = config(&server, concurrency);

    // Requests of each, at latency 0: the download must make exactly a cold refresh's
    // requests, and its lists + details phases exactly a warm refresh's.
    server.clear_requests();
    let d = download(&client, &plan, concurrency).await;
    let (cold_bytes, warm_bytes) = (d.cold_bytes, d.warm_bytes);
    let download_counts = counts(&server);
    let mut main = Bench::new(&cfg);
    server.clear_requests();
    main.refresh().await;
    let cold_counts = counts(&server);
    server.clear_requests();
    main.refresh().await;
    let warm_counts = counts(&server);
    assert_eq!(
        download_counts, cold_counts,
        "the download must fetch what a cold refresh fetches ({ENDPOINTS:?})"
    );
    let warm_set: Vec<usize> = ENDPOINTS
        .iter()
        .zip(&download_counts)
        .map(|(e, n)| {
            if matches!(*e, "tokens" | "report") {
                0
            } else {
                *n
            }
        })
        .collect();
    assert_eq!(
        warm_counts, warm_set,
        "a warm refresh must make the lists and details requests only ({ENDPOINTS:?})"
    );
    let rendered = main.exporter.rendered();
    let series = rendered
        .text()
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty() && l[0] != b'#' && !l.starts_with(b"backup_exporter_"))
        .count();

    // The concurrency sweep's exporters, warmed (reports cached) at latency 0.
    let levels = [1usize, 4, 8];
    let mut sweep: Vec<(usize, Option<Bench>, Vec<Duration>)> = Vec::new();
    for &c in &levels {
        let bench = if c == concurrency {
            None
        } else {
            let mut b = Bench::new(&config(&server, c));
            b.refresh().await;
            Some(b)
        };
        sweep.push((c, bench, Vec::new()));
    }

    // Latency 0: pure CPU cost.
    let mut zero = Times::default();
    for _ in 0..RUNS_AT_ZERO {
        server.clear_requests();
        let d = download(&client, &plan, concurrency).await;
        zero.download_cold.push(d.cold);
        zero.download_warm.push(d.warm);
        let mut b = Bench::new(&cfg);
        zero.cold.push(b.refresh().await.0);
        zero.warm.push(b.refresh().await.0);
    }

    // The injected latency.
    set_latency(server.faults(), latency);
    let mut slow = Times::default();
    let (mut cold_heap, mut warm_heap) = (0usize, 0usize);
    for round in 0..runs {
        server.clear_requests();
        let d = download(&client, &plan, concurrency).await;
        slow.download_cold.push(d.cold);
        slow.download_warm.push(d.warm);
        let mut b = Bench::new(&cfg);
        let (t, heap) = b.refresh().await;
        slow.cold.push(t);
        cold_heap = cold_heap.max(heap);
        let (t, heap) = b.refresh().await;
        slow.warm.push(t);
        warm_heap = warm_heap.max(heap);
        for (c, bench, times) in &mut sweep {
            // Concurrency 1 takes agents x latency: one run.
            if let Some(bench) = bench {
                if *c > 1 || round == 0 {
                    times.push(bench.refresh().await.0);
                }
            }
        }
    }
    set_latency(server.faults(), Duration::ZERO);
    for (_, bench, times) in &mut sweep {
        if bench.is_none() {
            *times = slow.warm.clone();
        }
    }

    let mut renders = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        main.exporter.render();
        renders.push(t.elapsed());
    }

    // Print.
    println!();
    println!("requests (per simulator endpoint):");
    println!(
        "  {:<16} {:>9} {:>13} {:>13}",
        "endpoint", "download", "refresh, cold", "refresh, warm"
    );
    for (i, e) in ENDPOINTS.iter().enumerate() {
        println!(
            "  {:<16} {:>9} {:>13} {:>13}",
            e, download_counts[i], cold_counts[i], warm_counts[i]
        );
    }
    let sum = |v: &[usize]| v.iter().sum::<usize>();
    println!(
        "  {:<16} {:>9} {:>13} {:>13}",
        "total",
        sum(&download_counts),
        sum(&cold_counts),
        sum(&warm_counts)
    );
    println!(
        "downloaded: {:.2} MB cold set, {:.2} MB warm set (lists + details)",
        cold_bytes as f64 / 1e6,
        warm_bytes as f64 / 1e6
    );
    println!(
        "/metrics: {:.2} MB plain, {:.3} MB gzip; {series} series of the rackspace source",
        rendered.text().len() as f64 / 1e6,
        rendered.gzip().len() as f64 / 1e6,
    );
    println!();
    let rounds = |n: usize| n.div_ceil(concurrency) as u32;
    let floor_cold = latency * (2 + rounds(plan.agents.len()) + rounds(plan.reports.len()));
    let floor_warm = latency * (1 + rounds(plan.agents.len()));
    slow.print(
        &format!("latency {} ms", latency.as_millis()),
        Some((floor_cold, floor_warm)),
    );
    zero.print("latency 0, CPU only", None);
    println!(
        "render + gzip of /metrics (part of every refresh, best of 3): {:.1} ms",
        ms(best(&renders))
    );
    println!(
        "peak heap held by a refresh beyond the live data: {:.1} MB cold, {:.1} MB warm; process peak resident size (simulator included): {:.0} MB",
        cold_heap as f64 / 1e6,
        warm_heap as f64 / 1e6,
        resident_peak_mb()
    );
    println!();
    println!(
        "warm refresh vs `concurrency`, latency {} ms:",
        latency.as_millis()
    );
    println!(
        "  {:<12} {:>13} {:>17} {:>10}",
        "concurrency", "refresh ms", "latency floor ms", "runs"
    );
    for (c, _, times) in &sweep {
        let floor = latency * (1 + plan.agents.len().div_ceil(*c) as u32);
        println!(
            "  {:<12} {:>13.1} {:>17.0} {:>10}",
            c,
            ms(best(times)),
            ms(floor),
            if times.len() == 1 {
                "1".to_owned()
            } else {
                format!("best of {}", times.len())
            }
        );
    }
    println!();
    println!("bench time: {:.0} s", bench_started.elapsed().as_secs_f64());
    server.shutdown().await;
}
