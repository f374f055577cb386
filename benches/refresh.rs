//! Refresh and scrape cost, measured in one run on loopback (`bash scripts/bench.sh`).
//!
//! 1. Refresh vs download: a simulated CrashPlan PRO server holding a large fleet (the demo
//!    fleet's clients replicated to `BENCH_DEVICES`, default 20 000 computers and usages).
//!    "download" fetches every page the exporter reads (same page size, same order), keeping
//!    only the bytes; "refresh" is the exporter's whole refresh: fetch, parse, map, render
//!    (plain and gzip). The ratio refresh / download is the figure of merit.
//! 2. Scrape cost vs upstream latency: the mean time of a /metrics scrape while the upstream
//!    answers at once, and while every upstream call hangs for 5 s with a refresh in flight.
//!    The ratio should stay near 1.
//!
//! Each figure is the best (refresh, download) or the mean (scrapes) of several runs.

mod support;

use support::crashplan::large_fleet;

use std::time::{Duration, Instant};

/// The exporter's allocator, as in the binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use backup_exporter::config::Config;
use backup_exporter::refresh::{Exporter, Outcome};
use backup_exporter::sim::Simulator;
use backup_exporter::sources::crashplan::sim::{Dataset, Fault, SimServer};
use serde_json::Value;

const PAGE_SIZE: usize = 500;

/// Fetches the pages and details a refresh reads, keeping only the bytes. Page counts and
/// ids come from the data set, so nothing is parsed here.
async fn download(
    client: &reqwest::Client,
    base: &str,
    auth: (&str, &str),
    data: &Dataset,
) -> (usize, usize) {
    let ids =
        |items: &[Value]| -> Vec<String> { items.iter().map(|i| i["id"].to_string()).collect() };
    let mut urls = Vec::new();
    for (path, len) in [
        ("/rest/usages", data.usages.len()),
        ("/rest/computers", data.computers.len()),
        ("/rest/users", data.users.len()),
        ("/rest/orgs", data.orgs.len()),
        ("/rest/mountPoints", data.mount_points.len()),
    ] {
        // Pages until one is shorter than the limit (an exact multiple ends on an empty page).
        for page in 0..=len / PAGE_SIZE {
            urls.push(format!(
                "{base}{path}?offset={}&limit={PAGE_SIZE}",
                page * PAGE_SIZE
            ));
        }
    }
    urls.extend(
        ids(&data.orgs)
            .iter()
            .map(|id| format!("{base}/rest/orgs/{id}")),
    );
    urls.extend(
        ids(&data.mount_points)
            .iter()
            .map(|id| format!("{base}/rest/mountPoints/{id}")),
    );
    urls.push(format!("{base}/rest/serverStats"));
    let mut bytes = 0;
    for url in &urls {
        let body = client
            .get(url)
            .basic_auth(auth.0, Some(auth.1))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(!body.is_empty());
        bytes += body.len();
    }
    (urls.len(), bytes)
}

fn best<T>(runs: &mut [(Duration, T)]) -> Duration {
    runs.iter().map(|(d, _)| *d).min().unwrap()
}

#[tokio::main]
async fn main() {
    backup_exporter::tls::install_crypto_provider();
    let n = support::env("BENCH_DEVICES", 20_000);
    let server = SimServer::start(large_fleet(n), support::crashplan::sim_config())
        .await
        .unwrap();
    let url = server.url();
    let config = Config::from_toml_str(&format!(
        "{}page_size = {PAGE_SIZE}\ntimeout = \"60s\"\nrefresh_interval = \"1h\"\n",
        support::crashplan::source(&server)
    ))
    .unwrap();

    // 1. Download vs refresh, interleaved, best of 5.
    let client = reqwest::Client::new();
    let data = server.dataset();
    let (exporter, mut sources) = Exporter::new(&config).unwrap();
    let mut downloads = Vec::new();
    let mut refreshes = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let (requests, bytes) = download(
            &client,
            &url,
            (support::crashplan::USERNAME, support::crashplan::PASSWORD),
            &data,
        )
        .await;
        downloads.push((t.elapsed(), (requests, bytes)));
        let t = Instant::now();
        let outcome = exporter.refresh(0, &mut sources[0]).await;
        refreshes.push((t.elapsed(), ()));
        assert!(matches!(outcome, Outcome::Ok), "{outcome:?}");
    }
    let (requests, bytes) = downloads[0].1;
    let mut renders = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        exporter.render();
        renders.push((t.elapsed(), ()));
    }
    let rendering = best(&mut renders);
    let mut collects = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let snapshot = sources[0].collect().await.unwrap();
        collects.push((t.elapsed(), snapshot.metrics.samples()));
    }
    let collecting = best(&mut collects);
    let d = best(&mut downloads);
    let r = best(&mut refreshes);
    let rendered = exporter.rendered();
    println!(
        "fleet: {n} computers/usages, page size {PAGE_SIZE}, {requests} requests, {:.1} MB of JSON",
        bytes as f64 / 1e6
    );
    println!(
        "exposition: {:.1} MB plain, {:.2} MB gzip, {} lines",
        rendered.text().len() as f64 / 1e6,
        rendered.gzip().len() as f64 / 1e6,
        rendered.text().iter().filter(|b| **b == b'\n').count()
    );
    println!(
        "download only (best of 5): {:8.1} ms",
        d.as_secs_f64() * 1e3
    );
    println!(
        "full refresh  (best of 5): {:8.1} ms",
        r.as_secs_f64() * 1e3
    );
    println!(
        "  fetch + parse + map:       {:6.1} ms",
        collecting.as_secs_f64() * 1e3
    );
    println!(
        "  render + gzip:             {:6.1} ms",
        rendering.as_secs_f64() * 1e3
    );
    println!(
        "refresh / download ratio:  {:8.2}",
        r.as_secs_f64() / d.as_secs_f64()
    );

    // 2. Scrape cost, upstream fast vs upstream hanging.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let served = exporter.clone();
    tokio::spawn(async move {
        backup_exporter::server::serve(listener, served, async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        })
        .await
    });
    let scrape_client = reqwest::Client::builder().no_gzip().build().unwrap();
    let scrapes = |gzip: bool| {
        let c = scrape_client.clone();
        let u = metrics_url.clone();
        async move {
            let rounds = 50;
            let t = Instant::now();
            for _ in 0..rounds {
                let mut req = c.get(&u);
                if gzip {
                    req = req.header("accept-encoding", "gzip");
                }
                req.send().await.unwrap().bytes().await.unwrap();
            }
            t.elapsed() / rounds
        }
    };
    let fast_plain = scrapes(false).await;
    let fast_gzip = scrapes(true).await;
    server.faults().set(
        "*",
        Fault {
            delay: Some(Duration::from_secs(5)),
            ..Fault::default()
        },
    );
    let hung = exporter.clone();
    let refresh = tokio::spawn(async move { hung.refresh(0, &mut sources[0]).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let slow_plain = scrapes(false).await;
    let slow_gzip = scrapes(true).await;
    println!(
        "scrape /metrics, upstream fast:     {:7.2} ms plain, {:6.2} ms gzip",
        fast_plain.as_secs_f64() * 1e3,
        fast_gzip.as_secs_f64() * 1e3
    );
    println!(
        "scrape /metrics, upstream hanging:  {:7.2} ms plain, {:6.2} ms gzip (refresh in flight: {})",
        slow_plain.as_secs_f64() * 1e3,
        slow_gzip.as_secs_f64() * 1e3,
        !refresh.is_finished()
    );
    println!(
        "scrape cost ratio hanging / fast:   {:7.2} plain, {:6.2} gzip",
        slow_plain.as_secs_f64() / fast_plain.as_secs_f64(),
        slow_gzip.as_secs_f64() / fast_gzip.as_secs_f64()
    );
    let _ = stop_tx.send(true);
    refresh.abort();
}
