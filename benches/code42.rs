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
//!   they are written), and the exposition put together from the compressed pieces.
//! - peak memory: the most heap the refresh held beyond what was live before it (a counting
//!   allocator wraps the system one), and the process's peak resident size (simulator
//!   included).
//! - memory between refreshes: the heap the exporter holds (beyond the simulator's data), the
//!   process's resident size, and what the main holders take (each measured as the heap a copy
//!   of it takes, the metric set as its compressed size): the snapshot's metric set, devices
//!   and targets, the device index, the first-seen times.
//! - the `/metrics` size, plain and gzip, and its series count.
//!
//! Each time is the best of five interleaved runs.

mod support;

use support::{best, ms, resident_peak_mb};

use std::time::Instant;

use backup_exporter::config::Config;
use backup_exporter::refresh::{Exporter, Outcome};
use backup_exporter::sim::Simulator;
use backup_exporter::sources::code42::sim::fleet::large_console;
use backup_exporter::sources::code42::sim::SimServer;
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
    let mut peak_heap = 0usize;
    let mut bytes = 0;
    for _ in 0..5 {
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
        let t = Instant::now();
        let outcome = exporter.refresh(0, &mut sources[0]).await;
        refreshes.push(t.elapsed());
        assert!(matches!(outcome, Outcome::Ok), "{outcome:?}");
        peak_heap = peak_heap.max(support::heap_peak_since(before));
    }
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
    println!("download, one at a time (best of 5): {:8.1} ms", ms(seq));
    println!(
        "download, {CONCURRENCY} at a time   (best of 5): {:8.1} ms",
        ms(conc)
    );
    println!(
        "full refresh            (best of 5): {:8.1} ms",
        ms(refresh)
    );
    println!(
        "  fetch + parse + map:             {:8.1} ms",
        ms(best(&collects))
    );
    println!(
        "  render (pieces put together):    {:8.1} ms",
        ms(best(&renders))
    );
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
        "peak heap held by a refresh beyond the live data: {:.1} MB; process peak resident size (simulator included): {:.0} MB",
        peak_heap as f64 / 1e6,
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
    server.shutdown().await;
}

/// What the source's last good snapshot and the state kept beside it hold on the heap, each
/// measured as the heap a copy (or a rebuild) of it takes.
fn holders(exporter: &Exporter) -> Vec<(&'static str, usize)> {
    let snapshot = exporter.sources[0]
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
        let mut seen = backup_exporter::stale::FirstSeen::default();
        for t in &snapshot.targets {
            seen.touch(&t.device_id, &t.target, 0.0);
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
