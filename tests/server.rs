//! The HTTP server with background refresh: /metrics serves pre-rendered bytes (gzip when
//! asked) whatever the upstream does, /ready waits for first refreshes, / lists sources.

mod common;

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use backup_exporter::refresh::Exporter;
use backup_exporter::sim::Simulator;
use backup_exporter::sources::crashplan::sim::{Dataset, Fault};
use common::*;
use tokio::net::TcpListener;
use tokio::sync::watch;

struct Running {
    base: String,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    exporter: Arc<Exporter>,
}

async fn start(cfg: &backup_exporter::config::Config) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (exporter, sources) = Exporter::new(cfg).unwrap();
    let (stop, stop_rx) = watch::channel(false);
    exporter.spawn(sources, stop_rx.clone());
    let mut rx = stop_rx;
    let server = tokio::spawn(backup_exporter::server::serve(
        listener,
        exporter.clone(),
        async move {
            let _ = rx.wait_for(|s| *s).await;
        },
    ));
    Running {
        base,
        stop,
        server,
        exporter,
    }
}

async fn get_text(c: &reqwest::Client, url: String) -> String {
    c.get(url).send().await.unwrap().text().await.unwrap()
}

fn client() -> reqwest::Client {
    stack::raw_client(Duration::from_secs(5))
}

async fn wait_ready(c: &reqwest::Client, base: &str) {
    for _ in 0..100 {
        let r = c.get(format!("{base}/ready")).send().await.unwrap();
        if r.status() == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not ready within 5s");
}

#[tokio::test]
async fn endpoints_serve_what_the_background_refresh_rendered() {
    let upstream = sim(Dataset::document_examples(), true).await;
    // The upstream answers the first serverStats call only after 1.5 s: /ready must wait.
    upstream.faults().set_times(
        "serverStats",
        Fault {
            delay: Some(Duration::from_millis(1500)),
            ..Fault::default()
        },
        1,
    );
    let run = start(&config(
        &upstream.url(),
        PASSWORD,
        "refresh_interval = \"1h\"",
    ))
    .await;
    let c = client();

    let r = c.get(format!("{}/healthz", run.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(format!("{}/ready", run.base)).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("hq"));
    // Before the first refresh: self-metrics only, source down.
    let text = get_text(&c, format!("{}/metrics", run.base)).await;
    assert!(text.contains("backup_exporter_source_up{source=\"hq\",system=\"crashplan\"} 0"));
    assert!(!text.contains("backup_archive_bytes{"));

    wait_ready(&c, &run.base).await;
    let r = c.get(format!("{}/metrics", run.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(r.headers().get("content-encoding").is_none());
    let plain = r.text().await.unwrap();
    assert!(plain.contains("backup_exporter_source_up{source=\"hq\",system=\"crashplan\"} 1"));
    assert!(plain.contains("backup_archive_bytes{"));

    // gzip when asked, the same bytes once inflated.
    let r = c
        .get(format!("{}/metrics", run.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let z = r.bytes().await.unwrap();
    let mut inflated = String::new();
    flate2::read::GzDecoder::new(&z[..])
        .read_to_string(&mut inflated)
        .unwrap();
    // The same but for the process metrics, read at each scrape, at the end of both.
    let without_process = |text: &str| -> String {
        let (before, process) =
            text.split_at(text.find("# HELP process_").expect("process metrics"));
        assert!(
            process.contains("\nprocess_resident_memory_bytes "),
            "{process}"
        );
        assert!(process.contains("\nprocess_open_fds "), "{process}");
        assert!(
            process.lines().all(|l| l.starts_with("process_")
                || l.starts_with("# HELP process_")
                || l.starts_with("# TYPE process_")),
            "only process metrics after the first: {process}"
        );
        before.to_owned()
    };
    assert_eq!(without_process(&inflated), without_process(&plain));

    // Scrapes never reach upstream.
    let before = upstream.requested_paths().len();
    for _ in 0..20 {
        c.get(format!("{}/metrics", run.base))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    }
    assert_eq!(upstream.requested_paths().len(), before);

    // Landing page lists the source; errors from upstream are escaped.
    let page = get_text(&c, format!("{}/", run.base)).await;
    assert!(
        page.contains("<td>hq</td>") && page.contains(">up<"),
        "{page}"
    );

    let r = c
        .post(format!("{}/metrics", run.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = c.get(format!("{}/nope", run.base)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = c
        .head(format!("{}/metrics", run.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let _ = run.stop.send(true);
    tokio::time::timeout(Duration::from_secs(5), run.server)
        .await
        .expect("graceful shutdown")
        .unwrap()
        .unwrap();
    drop(run.exporter);
}

#[tokio::test]
async fn metrics_stay_fast_and_unchanged_while_upstream_hangs() {
    let upstream = sim(Dataset::document_examples(), true).await;
    let run = start(&config(
        &upstream.url(),
        PASSWORD,
        "refresh_interval = \"1s\"",
    ))
    .await;
    let c = client();
    wait_ready(&c, &run.base).await;
    // Every call now hangs for far longer than a scrape may take.
    upstream.faults().set(
        "*",
        Fault {
            delay: Some(Duration::from_secs(30)),
            ..Fault::default()
        },
    );
    tokio::time::sleep(Duration::from_millis(1500)).await; // a refresh is now stuck upstream
    let started = std::time::Instant::now();
    let text = get_text(&c, format!("{}/metrics", run.base)).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "scrape waited for upstream"
    );
    assert!(
        text.contains("backup_archive_bytes{"),
        "last good data kept"
    );
    let page = get_text(&c, format!("{}/", run.base)).await;
    assert!(page.contains("<td>hq</td>"));
    let _ = run.stop.send(true);
    // Shutdown does not wait for the hung upstream call.
    tokio::time::timeout(Duration::from_secs(5), run.server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_failing_source_shows_its_error_escaped_on_the_page() {
    let upstream = sim(Dataset::document_examples(), true).await;
    upstream.faults().set(
        "usages",
        Fault {
            status: Some(502),
            ..Fault::default()
        },
    );
    let run = start(&config(&upstream.url(), PASSWORD, "")).await;
    let c = client();
    wait_ready(&c, &run.base).await;
    let page = get_text(&c, format!("{}/", run.base)).await;
    assert!(page.contains(">down<"), "{page}");
    assert!(page.contains("HTTP 502"), "{page}");
    assert!(!page.contains("<script"), "{page}");
    let text = get_text(&c, format!("{}/metrics", run.base)).await;
    assert!(text.contains(
        "backup_exporter_refresh_errors_total{reason=\"server_error\",source=\"hq\",system=\"crashplan\"} 1"
    ));
    let _ = run.stop.send(true);
}

#[tokio::test]
async fn every_response_says_nosniff_and_no_error_repeats_the_request() {
    let upstream = sim(Dataset::document_examples(), true).await;
    let run = start(&config(
        &upstream.url(),
        PASSWORD,
        "refresh_interval = \"1h\"",
    ))
    .await;
    let c = client();
    wait_ready(&c, &run.base).await;
    let requests = [
        ("GET", "/metrics", 200),
        ("GET", "/healthz", 200),
        ("GET", "/ready", 200),
        ("GET", "/", 200),
        ("HEAD", "/", 200),
        ("GET", "/device?source=%3Cscript%3Ex&device_id=1", 404),
        ("GET", "/device?source=hq&device_id=%3Cscript%3Ex", 404),
        ("GET", "/device?source=hq&nope=%3Cscript%3Ex", 400),
        ("GET", "/%3Cscript%3Ex?q=%3Cscript%3Ey", 404),
        ("POST", "/%3Cscript%3Ex", 405),
        ("DELETE", "/metrics?%3Cscript%3E=1", 405),
    ];
    for (method, path, status) in requests {
        // Written as a browser sends a hostile link (hyper itself refuses a raw `<`).
        let mut stream = tokio::net::TcpStream::connect(run.base.trim_start_matches("http://"))
            .await
            .unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream
            .write_all(
                format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.unwrap();
        let reply = String::from_utf8_lossy(&reply).to_ascii_lowercase();
        assert!(
            reply.starts_with(&format!("http/1.1 {status} ")),
            "{method} {path}: {reply}"
        );
        assert!(
            reply.contains("\r\nx-content-type-options: nosniff\r\n"),
            "{method} {path}: {reply}"
        );
        if status >= 400 {
            let body = &reply[reply.find("\r\n\r\n").unwrap()..];
            assert!(
                !body.contains("script") && !body.contains("<s") && !body.contains("%3c"),
                "{method} {path} echoed: {body}"
            );
        }
    }
    let _ = run.stop.send(true);
}

#[tokio::test]
async fn the_status_page_is_gzipped_when_asked_and_changes_with_a_refresh() {
    let upstream = sim(Dataset::document_examples(), true).await;
    let run = start(&config(
        &upstream.url(),
        PASSWORD,
        "refresh_interval = \"1s\"",
    ))
    .await;
    let c = client();
    wait_ready(&c, &run.base).await;
    let r = c
        .get(format!("{}/", run.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let z = r.bytes().await.unwrap();
    let mut page = String::new();
    flate2::read::GzDecoder::new(&z[..])
        .read_to_string(&mut page)
        .unwrap();
    assert!(
        page.contains("<td>hq</td>") && page.contains(">up<"),
        "{page}"
    );
    assert!(page.ends_with("</html>\n"), "{page}");
    let plain = c.get(format!("{}/", run.base)).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert!(plain.text().await.unwrap().contains("<td>hq</td>"));

    // The next refreshes fail: the page says so without being asked twice for the same state.
    upstream.faults().set(
        "usages",
        Fault {
            status: Some(502),
            ..Fault::default()
        },
    );
    let mut last = String::new();
    for _ in 0..100 {
        last = get_text(&c, format!("{}/", run.base)).await;
        if last.contains(">down<") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        last.contains(">down<") && last.contains("HTTP 502"),
        "{last}"
    );
    let _ = run.stop.send(true);
}

#[tokio::test]
async fn ready_and_the_status_page_tell_how_far_a_slow_first_refresh_has_read() {
    use backup_exporter::sources::code42::sim::fleet::large_console;

    let dataset = large_console(12, 1, chrono::Utc::now());
    let active = dataset
        .computers
        .iter()
        .filter(|c| c["active"] == serde_json::json!(true))
        .count();
    let console = code42_fleet::serve(dataset, "ops", PASSWORD).await;
    // The first computer page comes at once; the others are held back far longer than this
    // test runs (the refresh stays in flight until the test stops it).
    console.faults().set_after(
        "computers",
        1,
        Fault {
            delay: Some(Duration::from_secs(3600)),
            ..Fault::default()
        },
    );
    let cfg = backup_exporter::config::Config::from_toml_str(&format!(
        "[[source]]\nname = \"console\"\nkind = \"code42\"\nurl = \"{}\"\nusername = \"ops\"\npassword = \"{PASSWORD}\"\npage_size = 5\ntimeout = \"2h\"\nrefresh_interval = \"1h\"\n",
        console.url()
    ))
    .unwrap();
    let run = start(&cfg).await;
    let c = client();

    let want = format!(
        "console: refreshing: 1 of {} pages of /api/v1/Computer",
        active.div_ceil(5)
    );
    assert!(active > 10, "{active} devices make at least three pages");
    // Until the first page has been read (a bound, not a time this asserts).
    let mut body = String::new();
    for _ in 0..600 {
        let r = c.get(format!("{}/ready", run.base)).send().await.unwrap();
        assert_eq!(r.status(), 503, "ready before the first refresh could end");
        body = r.text().await.unwrap();
        if body.contains(&want) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(body.contains(&want), "{want:?} not in {body:?}");
    assert!(
        body.starts_with("waiting for the first refresh of: console\n"),
        "{body}"
    );
    let page = get_text(&c, format!("{}/", run.base)).await;
    assert!(
        page.contains(&want["console: ".len()..]),
        "{want:?} not on the status page:\n{page}"
    );
    assert!(page.contains("waiting for first refresh<br><small>refreshing: "));

    let _ = run.stop.send(true);
    tokio::time::timeout(Duration::from_secs(5), run.server)
        .await
        .expect("graceful shutdown")
        .unwrap()
        .unwrap();
    console.shutdown().await;
}

/// Several listeners serve the same endpoints; the exposition at its configured path, the
/// status page linking there, `/metrics` then a 404 that names the path.
#[tokio::test]
async fn serves_on_several_addresses_and_a_moved_telemetry_path() {
    let upstream = sim(Dataset::document_examples(), true).await;
    let cfg = backup_exporter::config::Config::from_toml_str(&format!(
        "telemetry_path = \"/backup/metrics\"\n[[source]]\nname = \"hq\"\nkind = \"crashplan\"\n\
         url = \"{}\"\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"\n",
        upstream.url()
    ))
    .unwrap();
    let listeners = vec![
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        TcpListener::bind("[::1]:0").await.unwrap(),
    ];
    let bases: Vec<String> = listeners
        .iter()
        .map(|l| format!("http://{}", l.local_addr().unwrap()))
        .collect();
    let (exporter, sources) = Exporter::new(&cfg).unwrap();
    let (stop, mut stop_rx) = watch::channel(false);
    exporter.spawn(sources, stop_rx.clone());
    let server = tokio::spawn(backup_exporter::server::serve_on(
        listeners,
        exporter.clone(),
        backup_exporter::web::WebOptions::default(),
        backup_exporter::server::Lifecycle::Off,
        async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        },
    ));
    let c = client();
    for base in &bases {
        wait_ready(&c, base).await;
        let r = c
            .get(format!("{base}/backup/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{base}");
        let text = r.text().await.unwrap();
        assert!(
            text.contains("backup_exporter_source_up{source=\"hq\",system=\"crashplan\"} 1"),
            "{base}: {text}"
        );
        let r = c.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{base}");
        let text = r.text().await.unwrap();
        assert!(text.contains("try /backup/metrics,"), "{base}: {text}");
        let page = get_text(&c, format!("{base}/")).await;
        assert!(
            page.contains("<a href=\"backup/metrics\">/backup/metrics</a>")
                && !page.contains("\"/metrics\""),
            "{base}: {page}"
        );
    }
    let _ = stop.send(true);
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("graceful shutdown")
        .unwrap()
        .unwrap();
}
