//! Freezer refresh cost against downloading the same responses, measured in one run on
//! loopback (`bash scripts/bench.sh`).
//!
//! A simulated keystone v3 + OpenStack Freezer v2 API serves a large deployment
//! (`large_deployment`): `BENCH_HOSTS` hosts (default 2000, in projects of 1000: two projects)
//! with one daily job, one registered client and `BENCH_BACKUPS` backups each (default 30:
//! 60 000 backups), and no sessions. The exporter signs in as the simulator's admin user
//! (role `admin`: every project's `jobs` list holds every job) scoped to the first project,
//! with `projects` = every project of the deployment and `page_size` = `BENCH_PAGE_SIZE`
//! (default 500). The real service is remote while loopback has no latency, so the simulator
//! holds every answer back by `BENCH_LATENCY` milliseconds (default 20; a delay-only `Fault` on
//! `"*"`, which applies to every endpoint and still serves the normal body). What the exporter
//! adds to the network is then the refresh time over the time of downloading the same
//! responses under the same latency. Each time is the best of `BENCH_RUNS` interleaved runs
//! (default 3; 5 at latency 0, where runs are cheap).
//!
//! - "download": a plain reqwest client makes the requests of a cold refresh, with the
//!   exporter's concurrency (`BENCH_CONCURRENCY`, default 4, the exporter's default: one
//!   semaphore of that many permits over every request, held until the body is read) and its
//!   paging, keeping only the bytes: a token (`POST /identity/v3/auth/tokens`, the exporter's
//!   own request body), the version document (`GET /freezer/`), then for every project at once
//!   its four lists `jobs`, `backups`, `clients`, `sessions` (`?offset=..&limit=page_size`):
//!   the first page alone, then, if it was full, `concurrency` pages at a time read in order
//!   until the first short page (later pages of that window are dropped unread, as the
//!   exporter's `get_all_pages_ahead` drops them). Where each list ends is worked out before
//!   timing (each list read whole once), so the download parses nothing. Its "warm set" time
//!   is the time of its lists (token already held, a connection already open): the requests of
//!   a warm refresh.
//! - "refresh, cold": a new exporter's first refresh: sign-in, version document, lists,
//!   decoding, mapping, render and gzip.
//! - "refresh, warm": the same exporter's second refresh: token and API generation kept, so
//!   lists, decoding, mapping, render and gzip.
//! - the same three at latency 0: the pure CPU cost, simulator included.
//! - the requests of each, per simulator endpoint. In every round, at both latencies, each
//!   page up to a list's end (its first short page) must have been requested exactly once by
//!   the download and by each refresh, after a token and the version document for the download
//!   and the cold refresh, and nothing else asked but pages past a list's end, or the benchmark
//!   panics. Those pages past the end (the rest of the last window) are counted apart: how many
//!   go out before the short page is read and the window dropped depends on timing, for the
//!   exporter and the download alike (with the defaults at 20 ms all go out, and the totals
//!   match; at latency 0 they vary from round to round). Then the bytes downloaded, the
//!   `/metrics` size and the freezer source's series count, and the peak heap a refresh held
//!   beyond what was live before it (a counting allocator wraps mimalloc, the binary's
//!   allocator; the simulator shares the process, so its answers in flight count too) and the
//!   process's peak resident size.
//! - the warm refresh with `concurrency` 1, 4 and 8 at the default latency: what the knob buys
//!   (the level equal to `BENCH_CONCURRENCY` is the warm refresh above; the others have their
//!   own exporter, warmed at latency 0; concurrency 1 is a single run, it takes about requests
//!   x latency). With the defaults the whole benchmark takes about 30 s on 2 cores (plus the
//!   build), with a peak resident size of about 400 MB.
//!
//! The "latency floor" is what the latency alone costs at best: every permit is held at least
//! one latency per request, and a list's windows follow one another, so `latency x max(ceil(
//! requests / concurrency), longest list's 1 + ceil((pages - 1) / concurrency))` warm, two
//! round trips more cold (token, then version document). Any refresh that does not return
//! `Outcome::Ok`, or that records an item error, panics.

mod support;

use support::{best, ms, resident_peak_mb, set_latency, Times};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backup_exporter::config::Config;
use backup_exporter::refresh::{Exporter, Outcome};
use backup_exporter::sim::Simulator;
use backup_exporter::sources::freezer::sim::fleet::large_deployment;
use backup_exporter::sources::freezer::sim::{SimConfig, SimServer, AUTH_TOKEN_HEADER};
use futures_util::StreamExt;
use tokio::sync::Semaphore;
use url::Url;

/// The simulator endpoints a refresh calls, in the order of a refresh.
const ENDPOINTS: &[&str] = &["auth", "versions", "jobs", "backups", "clients", "sessions"];

/// The lists a refresh reads for every project, in the exporter's order.
const LISTS: [&str; 4] = ["jobs", "backups", "clients", "sessions"];

#[global_allocator]
static ALLOCATOR: support::Counting = support::Counting;

/// Every request of a cold refresh.
struct Plan {
    tokens_url: String,
    /// The exporter's own sign-in body.
    auth_body: String,
    versions_url: String,
    /// Per project, per list (`LISTS` order): the list's URL and how many items it holds.
    lists: Vec<[(String, usize); 4]>,
    page_size: usize,
    /// Path of each list, and its last page (the first short one).
    ends: HashMap<String, usize>,
}

impl Plan {
    /// What the request of `path_and_query` is: `(key, past the end)`, the key naming the
    /// request (`auth`, `versions`, or a list's path and page).
    fn classify(&self, path_and_query: &str) -> (String, bool) {
        let url = Url::parse(&format!("http://sim{path_and_query}")).unwrap();
        match url.path() {
            "/identity/v3/auth/tokens" => return ("auth".to_owned(), false),
            "/freezer/" => return ("versions".to_owned(), false),
            _ => {}
        }
        let end = *self
            .ends
            .get(url.path())
            .unwrap_or_else(|| panic!("unexpected request {path_and_query}"));
        let param = |k: &str| -> usize {
            url.query_pairs()
                .find(|(key, _)| key == k)
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or_else(|| panic!("{path_and_query}: no {k}"))
        };
        let (offset, limit) = (param("offset"), param("limit"));
        assert!(
            limit == self.page_size && offset % limit == 0,
            "{path_and_query}: not a page of {}",
            self.page_size
        );
        let page = offset / limit;
        (format!("{} page {page}", url.path()), page > end)
    }

    /// The keys of the requests up to each list's end, sorted: every page of every list, once;
    /// `cold`: the token and the version document too.
    fn expected(&self, cold: bool) -> Vec<String> {
        let mut keys: Vec<String> = if cold {
            vec!["auth".to_owned(), "versions".to_owned()]
        } else {
            Vec::new()
        };
        for (path, end) in &self.ends {
            keys.extend((0..=*end).map(|page| format!("{path} page {page}")));
        }
        keys.sort();
        keys
    }

    /// The requests of one list read `ahead` pages at a time after a full first page, when
    /// every page of the last window goes out (as it does under latency).
    fn list_requests(&self, items: usize, ahead: usize) -> usize {
        let pages = items / self.page_size + 1; // up to and including the first short page
        if pages == 1 {
            1
        } else {
            1 + (pages - 1).div_ceil(ahead) * ahead
        }
    }

    /// The latency floor of a warm refresh at `concurrency` (see the module documentation).
    fn floor_warm(&self, latency: Duration, concurrency: usize) -> Duration {
        let per_list: Vec<usize> = self
            .lists
            .iter()
            .flatten()
            .map(|(_, n)| self.list_requests(*n, concurrency))
            .collect();
        let total: usize = per_list.iter().sum();
        let chain = per_list
            .iter()
            .map(|r| 1 + (r - 1).div_ceil(concurrency))
            .max()
            .unwrap_or(0);
        latency * total.div_ceil(concurrency).max(chain) as u32
    }
}

/// One download of the cold set, with the time and bytes of its warm part.
struct Download {
    cold: Duration,
    warm: Duration,
    cold_bytes: usize,
    warm_bytes: usize,
}

/// `POST /v3/auth/tokens` with the exporter's body under a permit: the token and the body's size.
async fn sign_in(client: &reqwest::Client, permits: &Semaphore, plan: &Plan) -> (String, usize) {
    let _permit = permits.acquire().await.unwrap();
    support::freezer::token(client, &plan.tokens_url, &plan.auth_body).await
}

/// One GET with the token under a permit, keeping only the body's size. `ok`: the status the
/// answer must have (the version document answers 300).
async fn get(
    client: &reqwest::Client,
    permits: &Semaphore,
    url: &str,
    token: &str,
    ok: fn(reqwest::StatusCode) -> bool,
) -> usize {
    let _permit = permits.acquire().await.unwrap();
    let response = client
        .get(url)
        .header("accept", "application/json")
        .header(AUTH_TOKEN_HEADER, token)
        .send()
        .await
        .unwrap();
    assert!(ok(response.status()), "{url}: {}", response.status());
    let body = response.bytes().await.unwrap();
    assert!(!body.is_empty(), "{url}: empty body");
    body.len()
}

/// Every page of one list, as `get_all_pages_ahead` asks for them: the first alone, then
/// `ahead` at a time, read in order, to the first page shorter than the page size.
async fn list(
    client: &reqwest::Client,
    permits: &Semaphore,
    token: &str,
    (url, items): &(String, usize),
    page_size: usize,
    ahead: usize,
) -> usize {
    let fetch = |page: usize| {
        let url = format!("{url}?offset={}&limit={page_size}", page * page_size);
        async move { get(client, permits, &url, token, |s| s.is_success()).await }
    };
    let full = |page: usize| items.saturating_sub(page * page_size) >= page_size;
    let mut bytes = fetch(0).await;
    if !full(0) {
        return bytes;
    }
    let mut page = 1;
    loop {
        let window = ahead.max(1);
        let mut batches =
            futures_util::stream::iter((page..page + window).map(fetch)).buffered(window);
        while let Some(n) = batches.next().await {
            bytes += n;
            if !full(page) {
                // Pages requested past the end are dropped unread.
                return bytes;
            }
            page += 1;
        }
    }
}

/// Every list of every project at once, under one set of permits.
async fn lists(
    client: &reqwest::Client,
    permits: &Semaphore,
    token: &str,
    plan: &Plan,
    concurrency: usize,
) -> usize {
    let reads = plan.lists.iter().map(|project| async move {
        let read = |l: usize| {
            list(
                client,
                permits,
                token,
                &project[l],
                plan.page_size,
                concurrency,
            )
        };
        let (a, b, c, d) = tokio::join!(read(0), read(1), read(2), read(3));
        a + b + c + d
    });
    futures_util::future::join_all(reads)
        .await
        .into_iter()
        .sum()
}

async fn download(client: &reqwest::Client, plan: &Plan, concurrency: usize) -> Download {
    let permits = Semaphore::new(concurrency);
    let started = Instant::now();
    let (token, token_bytes) = sign_in(client, &permits, plan).await;
    let versions = get(client, &permits, &plan.versions_url, &token, |s| {
        s.is_success() || s.as_u16() == 300
    })
    .await;
    let warm_started = Instant::now();
    let warm_bytes = lists(client, &permits, &token, plan, concurrency).await;
    let warm = warm_started.elapsed();
    Download {
        cold: started.elapsed(),
        warm,
        cold_bytes: token_bytes + versions + warm_bytes,
        warm_bytes,
    }
}

/// Signs in and reads every list whole once, to know where each ends.
async fn plan(
    client: &reqwest::Client,
    server: &SimServer,
    cfg: &Config,
    projects: &[String],
) -> Plan {
    let freezer = server.freezer_url();
    let mut plan = Plan {
        tokens_url: format!("{}/auth/tokens", server.identity_url()),
        auth_body: support::freezer::auth_body(cfg),
        versions_url: format!("{freezer}/"),
        lists: Vec::new(),
        page_size: cfg.sources[0].page_size,
        ends: HashMap::new(),
    };
    let permits = Semaphore::new(1);
    let (token, _) = sign_in(client, &permits, &plan).await;
    for p in projects {
        let mut project: [(String, usize); 4] = Default::default();
        for (l, name) in LISTS.iter().enumerate() {
            let url = format!("{freezer}/v2/{p}/{name}");
            let body = client
                .get(format!("{url}?limit=-1"))
                .header(AUTH_TOKEN_HEADER, &token)
                .send()
                .await
                .unwrap()
                .error_for_status()
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let doc: HashMap<String, Vec<serde::de::IgnoredAny>> =
                serde_json::from_slice(&body).unwrap();
            let items = doc[*name].len();
            plan.ends.insert(
                Url::parse(&url).unwrap().path().to_owned(),
                items / plan.page_size,
            );
            project[l] = (url, items);
        }
        plan.lists.push(project);
    }
    plan
}

/// One freezer source `bench` at `server` reading `projects`, `concurrency` calls at a time.
fn config(server: &SimServer, projects: &[String], page_size: usize, concurrency: usize) -> Config {
    Config::from_toml_str(&format!(
        "{}page_size = {page_size}\nconcurrency = {concurrency}\ntimeout = \"60s\"\nrefresh_interval = \"1h\"\n",
        support::freezer::source(server, projects)
    ))
    .unwrap()
}

/// An exporter of one source, not refreshed yet.
struct Bench {
    exporter: Arc<Exporter>,
    sources: Vec<Box<dyn backup_exporter::sources::Source>>,
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

/// What one download or refresh requested.
struct Requests {
    /// Per simulator endpoint (`ENDPOINTS`).
    per_endpoint: Vec<usize>,
    /// List pages past the list's end, requested with its last window and dropped unread.
    past_end: usize,
}

/// The requests since the last `clear_requests`. Panics unless those up to each list's end
/// are exactly `plan`'s (`cold`: with the token and the version document), once each, and
/// nothing but pages past a list's end was asked besides.
fn requests(server: &SimServer, plan: &Plan, cold: bool, who: &str) -> Requests {
    let per_endpoint: Vec<usize> = ENDPOINTS.iter().map(|e| server.request_count(e)).collect();
    let paths = server.requested_paths();
    assert_eq!(
        per_endpoint.iter().sum::<usize>(),
        paths.len(),
        "{who}: requests to other endpoints"
    );
    let mut keys = Vec::new();
    let mut past_end = 0;
    for p in &paths {
        match plan.classify(p) {
            (_, true) => past_end += 1,
            (key, false) => keys.push(key),
        }
    }
    keys.sort();
    assert!(
        keys == plan.expected(cold),
        "{who}: the requests up to each list's end differ from every page once{}",
        if cold {
            " (after a token and the version document)"
        } else {
            ""
        }
    );
    Requests {
        per_endpoint,
        past_end,
    }
}

/// The requests of one round: download, cold refresh, warm refresh.
type Round = [Requests; 3];

/// The requests of every round: per endpoint, `n` or `fewest-most`.
fn print_requests(label: &str, rounds: &[Round]) {
    let span = |f: &dyn Fn(&Round) -> usize| {
        let (lo, hi) = rounds
            .iter()
            .map(f)
            .fold((usize::MAX, 0), |(lo, hi), n| (lo.min(n), hi.max(n)));
        if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}-{hi}")
        }
    };
    println!(
        "requests at {label} (per simulator endpoint; fewest-most where the {} rounds differ):",
        rounds.len()
    );
    println!(
        "  {:<24} {:>9} {:>13} {:>13}",
        "endpoint", "download", "refresh, cold", "refresh, warm"
    );
    let row = |label: &str, f: &dyn Fn(&Requests) -> usize| {
        println!(
            "  {:<24} {:>9} {:>13} {:>13}",
            label,
            span(&|r| f(&r[0])),
            span(&|r| f(&r[1])),
            span(&|r| f(&r[2]))
        );
    };
    for (i, e) in ENDPOINTS.iter().enumerate() {
        row(e, &|r| r.per_endpoint[i]);
    }
    row("total", &|r| r.per_endpoint.iter().sum());
    row("  of them past a list end", &|r| r.past_end);
}

/// What one round needs.
struct Ctx<'a> {
    client: &'a reqwest::Client,
    plan: &'a Plan,
    server: &'a SimServer,
    cfg: &'a Config,
    concurrency: usize,
}

/// One interleaved round: the download, then a new exporter's cold and warm refresh, with the
/// requests of each (checked against the plan). Returns the peak heap of the two refreshes.
async fn round(ctx: &Ctx<'_>, times: &mut Times) -> ((usize, usize), Round) {
    let (server, plan) = (ctx.server, ctx.plan);
    server.clear_requests();
    let d = download(ctx.client, plan, ctx.concurrency).await;
    let download = requests(server, plan, true, "download");
    times.download_cold.push(d.cold);
    times.download_warm.push(d.warm);
    let mut b = Bench::new(ctx.cfg);
    server.clear_requests();
    let (t, cold_heap) = b.refresh().await;
    let cold = requests(server, plan, true, "cold refresh");
    times.cold.push(t);
    server.clear_requests();
    let (t, warm_heap) = b.refresh().await;
    let warm = requests(server, plan, false, "warm refresh");
    times.warm.push(t);
    ((cold_heap, warm_heap), [download, cold, warm])
}

#[tokio::main]
async fn main() {
    let bench_started = Instant::now();
    backup_exporter::tls::install_crypto_provider();
    let env = support::env;
    let n_hosts = env("BENCH_HOSTS", 2000).max(1);
    let n_backups = env("BENCH_BACKUPS", 30);
    let page_size = env("BENCH_PAGE_SIZE", 500).max(1);
    let latency = Duration::from_millis(env("BENCH_LATENCY", 20) as u64);
    let concurrency = env("BENCH_CONCURRENCY", 4).max(1);
    let runs = env("BENCH_RUNS", 3).max(1);
    const RUNS_AT_ZERO: usize = 5;

    let t = Instant::now();
    let dataset = large_deployment(chrono::Utc::now().timestamp(), n_hosts, n_backups);
    let projects = support::freezer::projects(n_hosts);
    let server = SimServer::start(dataset, SimConfig::default())
        .await
        .unwrap();
    println!(
        "deployment: {n_hosts} hosts x {n_backups} backups ({} backups, {} jobs, {} clients in {} projects), page size {page_size}, built and served in {:.0} ms",
        n_hosts * n_backups,
        n_hosts,
        n_hosts,
        projects.len(),
        ms(t.elapsed())
    );
    println!(
        "latency {} ms per request (every endpoint), concurrency {concurrency}, {} cores",
        latency.as_millis(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let client = reqwest::Client::new();
    let cfg = config(&server, &projects, page_size, concurrency);
    let plan = plan(&client, &server, &cfg, &projects).await;

    // Warm-up and sizes, at latency 0.
    let d = download(&client, &plan, concurrency).await;
    let (cold_bytes, warm_bytes) = (d.cold_bytes, d.warm_bytes);
    let mut main = Bench::new(&cfg);
    main.refresh().await;
    main.refresh().await;
    let rendered = main.exporter.rendered();
    let series = rendered
        .text()
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty() && l[0] != b'#' && !l.starts_with(b"backup_exporter_"))
        .count();

    // The concurrency sweep's exporters, warmed at latency 0.
    let levels = [1usize, 4, 8];
    let mut sweep: Vec<(usize, Option<Bench>, Vec<Duration>)> = Vec::new();
    for &c in &levels {
        let bench = if c == concurrency {
            None
        } else {
            let mut b = Bench::new(&config(&server, &projects, page_size, c));
            b.refresh().await;
            Some(b)
        };
        sweep.push((c, bench, Vec::new()));
    }

    let ctx = Ctx {
        client: &client,
        plan: &plan,
        server: &server,
        cfg: &cfg,
        concurrency,
    };

    // Latency 0: pure CPU cost.
    let mut zero = Times::default();
    let mut rounds = Vec::new();
    for _ in 0..RUNS_AT_ZERO {
        rounds.push(round(&ctx, &mut zero).await.1);
    }

    // The injected latency.
    set_latency(server.faults(), latency);
    let mut slow = Times::default();
    let (mut cold_heap, mut warm_heap) = (0usize, 0usize);
    let mut slow_rounds = Vec::new();
    for r in 0..runs {
        let ((cold, warm), requests) = round(&ctx, &mut slow).await;
        cold_heap = cold_heap.max(cold);
        warm_heap = warm_heap.max(warm);
        slow_rounds.push(requests);
        for (c, bench, times) in &mut sweep {
            // Concurrency 1 takes requests x latency: one run.
            if let Some(bench) = bench {
                if *c > 1 || r == 0 {
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
    print_requests(&format!("latency {} ms", latency.as_millis()), &slow_rounds);
    print_requests("latency 0", &rounds);
    println!(
        "every page up to each list's end (its first short page) was requested once by each,\n\
         in every round; pages past the end go with the last window and are dropped unread:\n\
         how many leave before the short page is read depends on timing"
    );
    println!(
        "downloaded: {:.2} MB cold set, {:.2} MB warm set (lists)",
        cold_bytes as f64 / 1e6,
        warm_bytes as f64 / 1e6
    );
    println!(
        "/metrics: {:.2} MB plain, {:.3} MB gzip; {series} series of the freezer source",
        rendered.text().len() as f64 / 1e6,
        rendered.gzip().len() as f64 / 1e6,
    );
    println!();
    let floor_warm = plan.floor_warm(latency, concurrency);
    slow.print(
        &format!("latency {} ms", latency.as_millis()),
        Some((floor_warm + latency * 2, floor_warm)),
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
        println!(
            "  {:<12} {:>13.1} {:>17.0} {:>10}",
            c,
            ms(best(times)),
            ms(plan.floor_warm(latency, *c)),
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
