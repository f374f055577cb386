//! The status page under load, at fleet scale, measured in one run on loopback
//! (`bash scripts/bench.sh`).
//!
//! The exporter serves a simulated Code42 console of `BENCH_DEVICES` computers (default
//! 20 000) with `BENCH_TARGETS` destinations each (default 2), refreshed once and its alerts
//! evaluated, on its own runtime (as many workers as cores, like the binary). Then:
//!
//! - without load: `/healthz` latency from one client (one request every 10 ms, keep-alive),
//!   and the refresh duration (best of 2);
//! - with load: the same while `BENCH_CLIENTS` clients (default 20) fetch `/` back to back
//!   (with `Accept-Encoding: gzip`, as a browser does), each at most 20 000 times and for at
//!   most 120 s in all; then one refresh under that load. The table says how many clients were
//!   still loading when each measurement ended.
//!
//! The simulator, the loading clients and the probing client each run on their own runtime,
//! so the times are the exporter's. Everything listens on 127.0.0.1 only.

mod support;

use support::ms;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backup_exporter::config::Config;
use backup_exporter::refresh::{Exporter, Outcome};
use backup_exporter::sim::Simulator;
use backup_exporter::sources::code42::sim::fleet::large_console;
use backup_exporter::sources::code42::sim::SimServer;

#[global_allocator]
static ALLOCATOR: support::Counting = support::Counting;

/// `/healthz` probes per phase, at most, and the time a phase may take.
const PROBES: usize = 200;
const PROBE_PHASE: Duration = Duration::from_secs(20);
const PROBE_EVERY: Duration = Duration::from_millis(10);
/// Fetches of `/` per loading client, at most, and the time the load may last in all.
const FETCHES_PER_CLIENT: u64 = 20_000;
const LOAD_LIMIT: Duration = Duration::from_secs(120);

fn runtime(name: &str, workers: Option<usize>) -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(w) = workers {
        b.worker_threads(w);
    }
    b.thread_name(name).enable_all().build().unwrap()
}

/// Latencies of `/healthz` from one keep-alive client until `PROBES` or `PROBE_PHASE`.
fn probe(url: String) -> Vec<Duration> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let c = reqwest::Client::builder().no_gzip().build().unwrap();
        let started = Instant::now();
        let mut out = Vec::with_capacity(PROBES);
        while out.len() < PROBES && started.elapsed() < PROBE_PHASE {
            let t = Instant::now();
            let body = c.get(&url).send().await.unwrap().bytes().await.unwrap();
            out.push(t.elapsed());
            assert_eq!(&body[..], b"ok\n");
            tokio::time::sleep(PROBE_EVERY).await;
        }
        out
    })
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i]
}

struct Probed {
    p50: Duration,
    p99: Duration,
    max: Duration,
    n: usize,
}

fn summarize(mut v: Vec<Duration>) -> Probed {
    v.sort();
    Probed {
        p50: quantile(&v, 0.5),
        p99: quantile(&v, 0.99),
        max: *v.last().unwrap(),
        n: v.len(),
    }
}

fn main() {
    backup_exporter::tls::install_crypto_provider();
    let n = support::env("BENCH_DEVICES", 20_000);
    let targets = support::env("BENCH_TARGETS", 2);
    let clients = support::env("BENCH_CLIENTS", 20);

    let sim_rt = runtime("sim", Some(1));
    let server_rt = runtime("exporter", None);
    let load_rt = runtime("load", Some(1));

    let server = sim_rt.block_on(async {
        SimServer::start(
            large_console(n, targets, chrono::Utc::now()),
            support::code42::console_config(),
        )
        .await
        .unwrap()
    });
    let config = Config::from_toml_str(&format!(
        "{}page_size = 500\ntimeout = \"120s\"\nrefresh_interval = \"1h\"\n",
        support::code42::source(&server)
    ))
    .unwrap();

    // The exporter: one refresh, the alerts evaluated, then served.
    let (exporter, sources) = Exporter::new(&config).unwrap();
    let source = Arc::new(tokio::sync::Mutex::new(sources.into_iter().next().unwrap()));
    let refresh = {
        let exporter = exporter.clone();
        let source = source.clone();
        let handle = server_rt.handle().clone();
        move || {
            let exporter = exporter.clone();
            let source = source.clone();
            let (outcome, took) = handle
                .block_on(handle.spawn(async move {
                    let mut s = source.lock().await;
                    let t = Instant::now();
                    let outcome = exporter.refresh(0, &mut s).await;
                    let took = t.elapsed();
                    let mut evaluator = backup_exporter::alerting::rules::Evaluator::default();
                    let now = backup_exporter::refresh::unix(std::time::SystemTime::now());
                    exporter.evaluate_alerts(&mut evaluator, now);
                    (outcome, took)
                }))
                .unwrap();
            assert!(matches!(outcome, Outcome::Ok), "{outcome:?}");
            took
        }
    };
    refresh();
    let alerts = exporter.with_alerts(|t| t.alerts().count());
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let listener = server_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = exporter.clone();
    server_rt.spawn(async move {
        backup_exporter::server::serve(listener, served, async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        })
        .await
    });

    // The page as a browser gets it, and plain.
    let (plain, gzip) = load_rt.block_on(async {
        let c = reqwest::Client::builder().no_gzip().build().unwrap();
        let plain = c.get(format!("{base}/")).send().await.unwrap();
        assert_eq!(plain.status(), 200);
        let plain = plain.bytes().await.unwrap().len();
        let gzip = c
            .get(format!("{base}/"))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .len();
        (plain, gzip)
    });

    // Without load.
    let idle_probes = summarize(probe(format!("{base}/healthz")));
    let idle_refresh = (0..2).map(|_| refresh()).min().unwrap();

    // With load: `clients` fetching `/` in a bounded loop.
    let stop = Arc::new(AtomicBool::new(false));
    let fetched = Arc::new(AtomicU64::new(0));
    let fetch_time = Arc::new(AtomicU64::new(0));
    let active = Arc::new(AtomicUsize::new(clients));
    let load_started = Instant::now();
    let loaders: Vec<_> = (0..clients)
        .map(|_| {
            let (stop, fetched, fetch_time) = (stop.clone(), fetched.clone(), fetch_time.clone());
            let active = active.clone();
            let url = format!("{base}/");
            load_rt.spawn(async move {
                let c = reqwest::Client::builder().no_gzip().build().unwrap();
                for _ in 0..FETCHES_PER_CLIENT {
                    if stop.load(Ordering::Relaxed) || load_started.elapsed() > LOAD_LIMIT {
                        break;
                    }
                    let t = Instant::now();
                    let r = c
                        .get(&url)
                        .header("accept-encoding", "gzip")
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                    r.bytes().await.unwrap();
                    fetch_time.fetch_add(t.elapsed().as_micros() as u64, Ordering::Relaxed);
                    fetched.fetch_add(1, Ordering::Relaxed);
                }
                active.fetch_sub(1, Ordering::Relaxed);
            })
        })
        .collect();
    // Let every client have a request in flight first.
    std::thread::sleep(Duration::from_millis(500));
    let loaded_probes = summarize(probe(format!("{base}/healthz")));
    let loading_after_probes = active.load(Ordering::Relaxed);
    let loaded_refresh = refresh();
    let loading_after_refresh = active.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    load_rt.block_on(async {
        for l in loaders {
            l.await.unwrap();
        }
    });
    let load_time = load_started.elapsed();
    let pages = fetched.load(Ordering::Relaxed);

    println!(
        "fleet: {n} devices x {targets} destinations, {alerts} alerts; `/` is {:.1} KB plain, {:.1} KB gzip",
        plain as f64 / 1e3,
        gzip as f64 / 1e3
    );
    println!(
        "{:<28} {:>12} {:>20}",
        "",
        "no load",
        format!("{clients} clients on /")
    );
    for (row, a, b) in [
        ("/healthz p50 ms", idle_probes.p50, loaded_probes.p50),
        ("/healthz p99 ms", idle_probes.p99, loaded_probes.p99),
        ("/healthz max ms", idle_probes.max, loaded_probes.max),
        ("refresh ms", idle_refresh, loaded_refresh),
    ] {
        println!("{row:<28} {:>12.1} {:>20.1}", ms(a), ms(b));
    }
    println!(
        "/healthz probes: {} without load, {} with; clients still loading at the end of the probes: {loading_after_probes}, of the refresh: {loading_after_refresh} (of {clients})",
        idle_probes.n, loaded_probes.n
    );
    println!(
        "`/` under load: {pages} fetches in {:.1} s, {:.1} ms each on average",
        load_time.as_secs_f64(),
        fetch_time.load(Ordering::Relaxed) as f64 / 1e3 / pages.max(1) as f64,
    );
    println!(
        "process peak resident size (simulator and clients included): {:.0} MB",
        support::resident_peak_mb()
    );
    let _ = stop_tx.send(true);
    sim_rt.block_on(server.shutdown());
}
