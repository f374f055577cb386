//! Code42 refresh cost at fleet scale, measured in one run on loopback
//! (`bash scripts/bench.sh`).
//!
//! A simulated Code42 console serves `BENCH_DEVICES` computers (default 20 000), each backing
//! up to `BENCH_TARGETS` destinations (default 2), in pages of 500.
//!
//! - "download, one at a time": every page a refresh reads (computers, users, orgs, store
//!   points, servers), fetched in order with a bearer token, keeping only the bytes: what a
//!   plain client pays to read the console.
//! - "download, 4 at a time": the same pages, as many in flight as the exporter allows
//!   (`concurrency`, default 4).
//! - "refresh": the exporter's whole refresh: fetch, parse, map (the samples are compressed as
//!   they are written), the exposition put together from the compressed pieces, and the CPU
//!   time the process spent during it (every thread: the simulator's few included).
//! - peak memory: the most heap the refresh held beyond what was live before it (a counting
//!   allocator wraps the system one), and the process's peak resident size (simulator
//!   included).
//! - memory between refreshes: the heap the exporter holds (beyond the simulator's data), the
//!   process's resident size, and what the main holders take (each measured as the heap a copy
//!   of it takes, the metric set as its compressed size): the snapshot's metric set, devices
//!   and targets, the device index, the first-seen times.
//! - the `/metrics` size, plain and gzip, and its series count.
//! - where a refresh's time goes: each step alone on data already at hand (decoding every page
//!   on one thread, mapping the computers page by page, the staleness families, the device
//!   index, freeing the snapshot, rendering), with the minor page faults and the allocations
//!   each step took
//!   (memory touched for the first time: on a virtual machine, much of the cost of a large
//!   step).
//!
//! `BENCH_LATENCY` (milliseconds, default 0) holds every answer back that long during the
//! downloads and refreshes, as a remote console would (a delay-only fault on `"*"`); the steps
//! always read without it. Each time is the best of `BENCH_RUNS` (default five) interleaved
//! runs (three for the steps).

mod support;

use support::{best, cpu_time, minor_faults, ms, resident_peak_mb, set_latency};

use std::time::{Duration, Instant};

use backup_exporter::config::Config;
use backup_exporter::refresh::{Exporter, Outcome};
use backup_exporter::sim::Simulator;
use backup_exporter::sources::code42::sim::fleet::large_console;
use backup_exporter::sources::code42::sim::SimServer;
use backup_exporter::sources::code42::{self, model};
use futures_util::StreamExt;

const PAGE_SIZE: usize = 500;
const CONCURRENCY: usize = 4;

#[global_allocator]
static ALLOCATOR: support::Counting = support::Counting;

#[tokio::main]
async fn main() {
    backup_exporter::tls::install_crypto_provider();
    let n = support::env("BENCH_DEVICES", 20_000);
    let targets = support::env("BENCH_TARGETS", 2);
    let latency = Duration::from_millis(support::env("BENCH_LATENCY", 0) as u64);
    let runs = support::env("BENCH_RUNS", 5).max(1);
    let t = Instant::now();
    let dataset = large_console(n, targets, chrono::Utc::now());
    let counts = [
        (
            "/api/v1/Computer?active=true&incBackupUsage=true",
            dataset.computers.len(),
        ),
        ("/api/v1/User?active=true", dataset.users.len()),
        ("/api/v1/Org?", dataset.orgs.len()),
        ("/api/StorePoint?", dataset.store_points.len()),
        ("/api/Server?", dataset.servers.len()),
    ];
    let server = SimServer::start(dataset, support::code42::console_config())
        .await
        .unwrap();
    println!(
        "console: {n} devices x {targets} destinations, built and served in {:.0} ms",
        ms(t.elapsed())
    );
    let url = server.url();
    let config = Config::from_toml_str(&format!(
        "{}page_size = {PAGE_SIZE}\nconcurrency = {CONCURRENCY}\ntimeout = \"60s\"\nrefresh_interval = \"1h\"\n",
        support::code42::source(&server)
    ))
    .unwrap();

    // The pages a refresh reads: until a page is shorter than the page size.
    let mut urls = Vec::new();
    for (path, len) in counts {
        for page in 1..=len / PAGE_SIZE + 1 {
            urls.push(format!("{url}{path}&pgNum={page}&pgSize={PAGE_SIZE}"));
        }
    }
    let client = reqwest::Client::new();
    let bearer = support::code42::bearer(&client, &server).await;
    let fetch = |u: String| {
        let c = client.clone();
        let b = bearer.clone();
        async move {
            let body = c
                .get(&u)
                .header("authorization", b)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert!(!body.is_empty());
            body.len()
        }
    };

    // What the exporter holds is measured from here (the simulator's data is live already).
    let base = support::heap_live();
    let (exporter, mut sources) = Exporter::new(&config).unwrap();
    let mut sequential = Vec::new();
    let mut concurrent = Vec::new();
    let mut refreshes = Vec::new();
    let mut refresh_cpu = Vec::new();
    let mut peak_heap = 0usize;
    let mut bytes = 0;
    set_latency(server.faults(), latency);
    for _ in 0..runs {
        let t = Instant::now();
        bytes = 0;
        for u in &urls {
            bytes += fetch(u.clone()).await;
        }
        sequential.push(t.elapsed());

        let t = Instant::now();
        let _: Vec<usize> = futures_util::stream::iter(urls.iter().cloned().map(fetch))
            .buffered(CONCURRENCY)
            .collect()
            .await;
        concurrent.push(t.elapsed());

        let before = support::heap_mark();
        let cpu = cpu_time();
        let t = Instant::now();
        let outcome = exporter.refresh(0, &mut sources[0]).await;
        refreshes.push(t.elapsed());
        refresh_cpu.push(cpu_time().saturating_sub(cpu));
        assert!(matches!(outcome, Outcome::Ok), "{outcome:?}");
        peak_heap = peak_heap.max(support::heap_peak_since(before));
    }
    set_latency(server.faults(), Duration::ZERO);
    let held = support::heap_live().saturating_sub(base);
    let resident_between = support::resident_mb();
    let holders = holders(&exporter);
    let mut collects = Vec::new();
    let mut renders = Vec::new();
    let (mut collect_peak, mut collect_kept) = (0, 0);
    for _ in 0..3 {
        let before = support::heap_mark();
        let t = Instant::now();
        let snapshot = sources[0].collect().await.unwrap();
        collects.push(t.elapsed());
        collect_peak = collect_peak.max(support::heap_peak_since(before));
        collect_kept = support::heap_live().saturating_sub(before);
        drop(snapshot);
        let t = Instant::now();
        exporter.render();
        renders.push(t.elapsed());
    }
    // The alert rules over the whole fleet (what the bridge does after every refresh and every
    // resend interval), and the self-metrics rendered again alone (after every send).
    let mut evaluations = Vec::new();
    let mut self_renders = Vec::new();
    let mut evaluator = backup_exporter::alerting::rules::Evaluator::default();
    for _ in 0..5 {
        let now = backup_exporter::refresh::unix(std::time::SystemTime::now());
        let t = Instant::now();
        exporter.evaluate_alerts(&mut evaluator, now);
        evaluations.push(t.elapsed());
        let t = Instant::now();
        exporter.render_self_metrics();
        self_renders.push(t.elapsed());
    }
    let alerts = exporter.with_alerts(|t| t.alerts().count());
    let rendered = exporter.rendered();
    let (seq, conc, refresh) = (best(&sequential), best(&concurrent), best(&refreshes));
    println!(
        "pages: {} requests, {:.1} MB of JSON",
        urls.len(),
        bytes as f64 / 1e6
    );
    println!(
        "/metrics: {:.1} MB plain, {:.2} MB gzip, {} series",
        rendered.text().len() as f64 / 1e6,
        rendered.gzip().len() as f64 / 1e6,
        rendered
            .text()
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty() && l[0] != b'#')
            .count()
    );
    println!("latency of every answer: {} ms", latency.as_millis());
    println!(
        "download, one at a time (best of {runs}): {:8.1} ms",
        ms(seq)
    );
    println!(
        "download, {CONCURRENCY} at a time   (best of {runs}): {:8.1} ms",
        ms(conc)
    );
    println!(
        "full refresh            (best of {runs}): {:8.1} ms (CPU time, least of {runs}: {:.1} ms)",
        ms(refresh),
        ms(best(&refresh_cpu))
    );
    println!(
        "  fetch + parse + map:             {:8.1} ms",
        ms(best(&collects))
    );
    println!(
        "  render (pieces put together):    {:8.1} ms",
        ms(best(&renders))
    );
    let steps = breakdown(&config, &urls, &client, &bearer, &exporter).await;
    println!(
        "alert rules over every target ({alerts} alerts): {:8.1} ms; self-metrics alone rendered again: {:.2} ms",
        ms(best(&evaluations)),
        best(&self_renders).as_secs_f64() * 1e3
    );
    println!(
        "refresh / download ratio: {:.2} (one at a time), {:.2} ({CONCURRENCY} at a time)",
        refresh.as_secs_f64() / seq.as_secs_f64(),
        refresh.as_secs_f64() / conc.as_secs_f64()
    );
    println!(
        "peak heap held by a refresh beyond the live data: {:.1} MB (by its fetch, parse and map: {:.1} MB); process peak resident size (simulator included): {:.0} MB",
        peak_heap as f64 / 1e6,
        collect_peak as f64 / 1e6,
        resident_peak_mb()
    );
    println!(
        "reading the source alone (fetch, parse, map): peak heap {:.1} MB beyond the live data, {:.1} MB of it the snapshot it returns",
        collect_peak as f64 / 1e6,
        collect_kept as f64 / 1e6
    );
    println!(
        "between refreshes: heap held by the exporter {:.1} MB; process resident size (simulator included) {:.0} MB",
        held as f64 / 1e6,
        resident_between
    );
    let named: usize = holders.iter().map(|(_, b)| b).sum();
    for (what, b) in holders {
        println!("  {what:<44} {:8.1} MB", b as f64 / 1e6);
    }
    println!(
        "  {:<44} {:8.1} MB",
        "the rest (exposition as served, clients, ...)",
        held.saturating_sub(named) as f64 / 1e6
    );
    println!(
        "steps alone, no latency (best of 3; minor page faults and allocations of the best run):"
    );
    for (step, time, faults, allocations) in steps {
        println!(
            "  {step:<44} {:8.1} ms {faults:>8} faults {:>6.1} allocations per device",
            ms(time),
            allocations as f64 / n as f64
        );
    }
    server.shutdown().await;
}

/// Each step of a refresh alone, on data already at hand: (step, best time, page faults of
/// that run).
async fn breakdown(
    config: &Config,
    urls: &[String],
    client: &reqwest::Client,
    bearer: &str,
    exporter: &Exporter,
) -> Vec<(&'static str, Duration, u64, usize)> {
    let mut bodies = Vec::new();
    for u in urls {
        let body = client
            .get(u)
            .header("authorization", bearer)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        bodies.push((u.clone(), body));
    }
    let cfg = &config.sources[0];
    let section = cfg
        .section::<code42::config::Code42Config>()
        .expect("a code42 source");
    let options = code42::Options {
        include_deactivated: section.include_deactivated,
        connected_within: section.connected_within(),
        org_rollups: section.org_rollups(),
    };
    let policy = backup_exporter::stale::StalePolicy::of(cfg);
    let origin = backup_exporter::exposition::Origin {
        source: &cfg.name,
        exposure: &cfg.exposure,
    };
    // Per step, each run: its time, minor page faults and allocations.
    type Runs = Vec<(Duration, u64, usize)>;
    let mut steps: Vec<(&'static str, Runs)> = [
        "decode every page (one thread)",
        "map the computers page by page, then finish",
        "staleness (stale::annotate)",
        "device index",
        "free the snapshot",
        "render + gzip (all sources)",
    ]
    .into_iter()
    .map(|s| (s, Vec::new()))
    .collect();
    let timed = |f: &mut dyn FnMut()| {
        let faults = minor_faults();
        let allocations = support::allocations();
        let t = Instant::now();
        f();
        (
            t.elapsed(),
            minor_faults() - faults,
            support::allocations() - allocations,
        )
    };
    for _ in 0..3 {
        let mut decoded = None;
        steps[0].1.push(timed(&mut || {
            decoded = Some(decode_all(&bodies));
        }));
        let (pages, lists) = decoded.take().unwrap();
        let mut pages = Some(pages);
        let mut snapshot = None;
        steps[1].1.push(timed(&mut || {
            let mut mapper = code42::Mapper::new(origin, &options, None);
            let pages = pages.take().unwrap();
            mapper.begin(Some(pages.iter().map(Vec::len).sum::<usize>() as u64), None);
            for page in pages {
                mapper.page(page);
            }
            snapshot = Some(mapper.finish(&lists));
        }));
        let mut snapshot = snapshot.unwrap();
        let mut seen = backup_exporter::stale::Memory::default();
        steps[2].1.push(timed(&mut || {
            backup_exporter::stale::annotate(&mut snapshot, &policy, &mut seen, 1.7e9);
        }));
        steps[3].1.push(timed(&mut || {
            std::hint::black_box(backup_exporter::refresh::DeviceIndex::new(&snapshot));
        }));
        let mut snapshot = Some(snapshot);
        steps[4].1.push(timed(&mut || drop(snapshot.take())));
        steps[5].1.push(timed(&mut || exporter.render()));
    }
    steps
        .into_iter()
        .map(|(step, runs)| {
            let (time, faults, allocations) = runs.into_iter().min().expect("three runs");
            (step, time, faults, allocations)
        })
        .collect()
}

/// Decodes every page, as the refresh's page decoders do: the computer pages, and the other
/// lists whole.
fn decode_all(bodies: &[(String, bytes::Bytes)]) -> (Vec<Vec<model::Computer>>, code42::Raw) {
    let mut pages = Vec::new();
    let mut raw = code42::Raw {
        users: Some(Vec::new()),
        orgs: Some(Vec::new()),
        store_points: Some(Vec::new()),
        servers: Some(Vec::new()),
        ..code42::Raw::default()
    };
    for (url, body) in bodies {
        if url.contains("/api/v1/Computer") {
            let page = model::computers_page("computers", body).unwrap();
            raw.server_time = raw.server_time.or(page.server_time);
            pages.push(page.items);
        } else if url.contains("/api/v1/User") {
            let page = model::users_page("users", body).unwrap();
            raw.users.as_mut().unwrap().extend(page.items);
        } else if url.contains("/api/v1/Org") {
            let page = model::orgs_page("orgs", body).unwrap();
            raw.orgs.as_mut().unwrap().extend(page.items);
        } else if url.contains("/api/StorePoint") {
            let page = model::store_points_page("storePoints", body).unwrap();
            raw.store_points.as_mut().unwrap().extend(page.items);
        } else {
            let page = model::servers_page("servers", body).unwrap();
            raw.servers.as_mut().unwrap().extend(page.items);
        }
    }
    (pages, raw)
}

/// What the source's last good snapshot and the state kept beside it hold on the heap, each
/// measured as the heap a copy (or a rebuild) of it takes.
fn holders(exporter: &Exporter) -> Vec<(&'static str, usize)> {
    let snapshot = exporter.sources()[0]
        .state()
        .snapshot
        .expect("a good snapshot");
    // A copy of the set shares its compressed pieces: what it holds is their size.
    let metrics =
        backup_exporter::exposition::assemble_deflate(&[&snapshot.metrics]).compressed_len();
    let (devices, _copy) = support::heap_of(|| snapshot.devices.clone());
    let (targets, _copy) = support::heap_of(|| snapshot.targets.clone());
    let (index, _copy) = support::heap_of(|| backup_exporter::refresh::DeviceIndex::new(&snapshot));
    let (first_seen, _copy) = support::heap_of(|| {
        let mut seen = backup_exporter::stale::Memory::default();
        for t in &snapshot.targets {
            seen.touch(&t.device_id, &t.target, 0.0, t.last_success);
        }
        seen
    });
    vec![
        ("snapshot: metric set (compressed)", metrics),
        ("snapshot: devices", devices),
        ("snapshot: targets", targets),
        ("device index (device page)", index),
        ("first-seen times", first_seen),
    ]
}
