//! `/metrics` in both formats, on the demo fleet (every vendor, the most varied data the
//! project has): Prometheus text 0.0.4 by default, OpenMetrics 1.0 when the scraper prefers it.
//!
//! Each body is checked by a reader that is not the exporter's: the 0.0.4 one by `promtool
//! check metrics` (Prometheus 2.42's promtool reads 0.0.4 only: it rejects OpenMetrics' escaped
//! quotes in help texts), the OpenMetrics one by the OpenMetrics parser of the Python
//! `prometheus_client` (Debian's python3-prometheus-client; scripts/test.sh installs it), which
//! checks the whole grammar, `# EOF`, the counters' names and the units. Both bodies are parsed
//! by that library (its 0.0.4 parser for the text) into the same listing of samples, which must
//! agree. Then a real Prometheus scrapes the exporter both ways and holds the same series.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use backup_exporter::app;
use common::stack::{
    client, find_binary, raw_client, secs, start_exporter, value, Prometheus, PrometheusConfig,
};
use serde_json::Value;

/// Prometheus 2.42's `Accept` header, as it sends it.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
/// What Prometheus 2.49+ sends with `scrape_protocols: [PrometheusText0.0.4]`.
const TEXT_ONLY_ACCEPT: &str = "text/plain;version=0.0.4;q=0.5,*/*;q=0.4";

const OPENMETRICS_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const TEXT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Reads an exposition on stdin with `prometheus_client`'s parser for the format named by
/// argv[1] (`openmetrics` or `text`) and prints one line per family (`family NAME TYPE UNIT`)
/// and one per sample (`NAME{sorted labels} VALUE`, the value as Python writes a float).
/// A body the parser rejects ends it with its error.
const PARSE: &str = r#"
import sys
from prometheus_client.openmetrics import parser as openmetrics
from prometheus_client import parser as text
body = sys.stdin.read()
parse = openmetrics if sys.argv[1] == "openmetrics" else text
for family in parse.text_string_to_metric_families(body):
    print("family", family.name, family.type, family.unit or "-")
    for s in family.samples:
        labels = ",".join('%s=%r' % kv for kv in sorted(s.labels.items()))
        print("%s{%s} %r" % (s.name, labels, float(s.value)))
"#;

/// A Python with `prometheus_client`: the one on PATH, else Debian's.
fn python() -> PathBuf {
    let candidates = find_binary(&["python3"])
        .into_iter()
        .chain([PathBuf::from("/usr/bin/python3")]);
    for python in candidates {
        let ok = Command::new(&python)
            .args(["-c", "import prometheus_client.openmetrics.parser"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return python;
        }
    }
    panic!(
        "no python3 with prometheus_client: run scripts/test.sh, which installs the Debian \
         package python3-prometheus-client (or apt-get install it)"
    )
}

/// Runs `program` with `args`, `input` on stdin; its stdout, or a panic with its output.
fn run(program: impl AsRef<std::ffi::OsStr>, args: &[&str], input: &[u8]) -> String {
    let program = program.as_ref();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {program:?}: {e}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{program:?} {args:?} failed:\n{stdout}{stderr}"
    );
    assert!(stderr.trim().is_empty(), "{program:?} {args:?}:\n{stderr}");
    stdout
}

/// What `prometheus_client` reads of `body` in `format`: the family lines and the sample
/// lines (process metrics' values, read at each scrape, as `*`).
fn parsed(format: &str, body: &[u8]) -> (Vec<String>, Vec<String>) {
    let out = run(python(), &["-c", PARSE, format], body);
    let (families, samples): (Vec<&str>, Vec<&str>) =
        out.lines().partition(|l| l.starts_with("family "));
    let samples = samples
        .into_iter()
        .map(|l| match l.rsplit_once(' ') {
            Some((series, _)) if series.starts_with("process_") => format!("{series} *"),
            _ => l.to_owned(),
        })
        .collect();
    (families.into_iter().map(str::to_owned).collect(), samples)
}

/// The demo fleet's servers and the exporter binary reading them (every family, no refresh
/// after the first within the test), ready.
async fn demo_exporter() -> (
    Vec<Box<dyn backup_exporter::sources::Demo>>,
    common::stack::Process,
    String,
) {
    let (servers, sources) = app::start_demo_servers().await.unwrap();
    let sources = sources.replace("refresh_interval = \"30s\"", "refresh_interval = \"1h\"");
    let (exporter, addr) = start_exporter(&format!("{}{sources}", common::EVERY_FAMILY)).await;
    (servers, exporter, addr)
}

/// GET /metrics with `accept` (none: no header), gzip or not: the content type and the body,
/// inflated.
async fn scrape(addr: &str, accept: Option<&str>, gzip: bool) -> (String, Vec<u8>) {
    let c = raw_client(secs(10));
    let mut req = c.get(format!("http://{addr}/metrics"));
    if let Some(accept) = accept {
        req = req.header("accept", accept);
    }
    req = req.header("accept-encoding", if gzip { "gzip" } else { "identity" });
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["vary"], "Accept-Encoding, Accept");
    assert_eq!(
        h.get("content-encoding").map(|v| v.to_str().unwrap()),
        gzip.then_some("gzip")
    );
    let raw = r.bytes().await.unwrap();
    let body = if gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        raw.to_vec()
    };
    (h["content-type"].to_str().unwrap().to_owned(), body)
}

#[tokio::test]
async fn the_demo_fleet_is_served_in_both_formats_with_the_same_samples() {
    let (servers, exporter, addr) = demo_exporter().await;
    let mut bodies = BTreeMap::new();
    for (accept, want_type) in [
        (None, TEXT_TYPE),
        (Some(TEXT_ONLY_ACCEPT), TEXT_TYPE),
        (Some(PROMETHEUS_ACCEPT), OPENMETRICS_TYPE),
    ] {
        for gzip in [false, true] {
            let (content_type, body) = scrape(&addr, accept, gzip).await;
            assert_eq!(content_type, want_type, "{accept:?}");
            bodies.insert((accept, gzip), body);
        }
    }
    drop(exporter);
    for server in servers {
        server.shutdown().await;
    }

    let text = &bodies[&(None, false)];
    let om = &bodies[&(Some(PROMETHEUS_ACCEPT), false)];
    let om_text = std::str::from_utf8(om).unwrap();
    assert!(om_text.ends_with("\n# EOF\n"));
    assert_eq!(om_text.matches("# EOF").count(), 1);
    assert!(!String::from_utf8_lossy(text).contains("# EOF"));

    // promtool reads the 0.0.4 text and finds nothing to say; it cannot read OpenMetrics.
    let report = run("promtool", &["check", "metrics"], text);
    assert!(report.trim().is_empty(), "promtool lints:\n{report}");

    // Both parse, into the same samples.
    let (text_families, text_samples) = parsed("text", text);
    let (om_families, om_samples) = parsed("openmetrics", om);
    assert!(text_samples.len() > 1000, "{}", text_samples.len());
    assert_eq!(om_samples.len(), text_samples.len());
    for (o, t) in om_samples.iter().zip(&text_samples) {
        assert_eq!(o, t);
    }
    assert_eq!(text_families.len(), om_families.len());
    // The same body whatever the encoding, and whichever 0.0.4 request.
    for accept in [None, Some(TEXT_ONLY_ACCEPT), Some(PROMETHEUS_ACCEPT)] {
        for gzip in [false, true] {
            let format = if accept == Some(PROMETHEUS_ACCEPT) {
                "openmetrics"
            } else {
                "text"
            };
            let (_, samples) = parsed(format, &bodies[&(accept, gzip)]);
            assert_eq!(samples, text_samples, "{accept:?} gzip {gzip}");
        }
    }

    // What OpenMetrics says that 0.0.4 does not: units, counters named without _total.
    for family in [
        "family backup_selected_bytes gauge bytes",
        "family backup_completion_ratio gauge ratio",
        "family backup_last_success_timestamp_seconds gauge seconds",
        "family backup_exporter_refresh_errors counter -",
        "family process_cpu_seconds counter seconds",
        "family process_resident_memory_bytes gauge bytes",
        "family backup_device_info gauge -",
    ] {
        assert!(om_families.iter().any(|f| f == family), "{family}");
    }
    assert!(om_families
        .iter()
        .all(|f| !f.ends_with(" unknown -") && !f.contains("_total ")));
    assert!(om_samples
        .iter()
        .any(|s| s.starts_with("backup_exporter_refresh_errors_total{")));
    assert!(om_text.contains("# UNIT backup_selected_bytes bytes\n"));
}

/// A loopback HTTP proxy in front of the exporter that asks it for 0.0.4 only, whatever the
/// scraper's `Accept`, as Prometheus 2.49+ does with `scrape_protocols: [PrometheusText0.0.4]`
/// (2.42's `Accept` is a constant). It records the `Accept` headers it was sent.
struct TextOnlyProxy {
    addr: String,
    seen: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TextOnlyProxy {
    async fn start(upstream: &str) -> TextOnlyProxy {
        use http_body_util::Full;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let upstream = format!("http://{upstream}");
        let task = tokio::spawn(async move {
            let c = raw_client(secs(10));
            // Bounded: Prometheus scrapes once a second for the length of the test.
            for _ in 0..10_000 {
                let Ok((stream, _)) = listener.accept().await else {
                    break;
                };
                let (c, log, upstream) = (c.clone(), log.clone(), upstream.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let (c, log, upstream) = (c.clone(), log.clone(), upstream.clone());
                            async move {
                                let header = |name: &str| {
                                    req.headers()
                                        .get(name)
                                        .and_then(|v| v.to_str().ok())
                                        .unwrap_or("")
                                        .to_owned()
                                };
                                log.lock().unwrap().push(header("accept"));
                                let r = c
                                    .get(format!("{upstream}{}", req.uri()))
                                    .header("accept", TEXT_ONLY_ACCEPT)
                                    .header("accept-encoding", header("accept-encoding"))
                                    .send()
                                    .await;
                                let mut out = hyper::Response::builder();
                                let body = match r {
                                    Ok(r) => {
                                        out = out.status(r.status().as_u16());
                                        for name in ["content-type", "content-encoding"] {
                                            if let Some(v) = r.headers().get(name) {
                                                out = out.header(name, v.as_bytes());
                                            }
                                        }
                                        r.bytes().await.unwrap_or_default()
                                    }
                                    Err(e) => {
                                        out = out.status(502);
                                        bytes::Bytes::from(e.to_string())
                                    }
                                };
                                Ok::<_, std::convert::Infallible>(
                                    out.body(Full::new(body)).unwrap(),
                                )
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        TextOnlyProxy { addr, seen, task }
    }
}

impl Drop for TextOnlyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every series of `job` Prometheus holds now, but its own (`up`, `scrape_*`): labels without
/// `job` and `instance` → value (process metrics' as `*`).
async fn series(prom: &Prometheus, job: &str) -> BTreeMap<String, String> {
    let result = prom
        .query(&format!("{{job=\"{job}\",__name__!~\"up|scrape_.*\"}}"))
        .await;
    result
        .iter()
        .map(|s| {
            let mut labels: Vec<(String, String)> = s["metric"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| *k != "job" && *k != "instance")
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            labels.sort();
            let name = labels
                .iter()
                .find(|(k, _)| k == "__name__")
                .map(|(_, v)| v.clone())
                .unwrap();
            let key = format!("{labels:?}");
            let v = if name.starts_with("process_") {
                "*".to_owned()
            } else {
                s["value"][1].as_str().unwrap().to_owned()
            };
            (key, v)
        })
        .collect()
}

/// The metadata Prometheus read from the target of `job` for `metric`: (type, unit).
async fn metadata(prom: &Prometheus, job: &str, metric: &str) -> Option<(String, String)> {
    let url = url::Url::parse_with_params(
        &format!("{}/api/v1/targets/metadata", prom.url()),
        &[
            ("match_target", format!("{{job=\"{job}\"}}").as_str()),
            ("metric", metric),
        ],
    )
    .unwrap();
    let body = client()
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    let first = v["data"].as_array()?.first()?.clone();
    Some((
        first["type"].as_str()?.to_owned(),
        first["unit"].as_str().unwrap_or("").to_owned(),
    ))
}

#[tokio::test]
async fn prometheus_holds_the_same_series_from_openmetrics_and_from_0_0_4() {
    let (servers, _exporter, addr) = demo_exporter().await;
    let proxy = TextOnlyProxy::start(&addr).await;
    let prom = Prometheus::start(
        PrometheusConfig::new()
            .scrape("openmetrics", &[&addr])
            .scrape("text", &[&proxy.addr]),
    )
    .await;
    for job in ["openmetrics", "text"] {
        prom.wait_for_scrapes(job, 2, secs(60)).await;
    }
    // Prometheus 2.42 asked for OpenMetrics first; the proxy asked the exporter for 0.0.4.
    let seen = proxy.seen.lock().unwrap().clone();
    assert!(
        !seen.is_empty() && seen.iter().all(|a| a == PROMETHEUS_ACCEPT),
        "{seen:?}"
    );

    // Prometheus read each job in its format: the OpenMetrics one with units and counters
    // named as families, the 0.0.4 one as samples.
    assert_eq!(
        metadata(&prom, "openmetrics", "process_cpu_seconds").await,
        Some(("counter".into(), "seconds".into()))
    );
    assert_eq!(
        metadata(&prom, "openmetrics", "backup_selected_bytes").await,
        Some(("gauge".into(), "bytes".into()))
    );
    assert_eq!(metadata(&prom, "text", "process_cpu_seconds").await, None);
    assert_eq!(
        metadata(&prom, "text", "process_cpu_seconds_total").await,
        Some(("counter".into(), String::new()))
    );
    assert_eq!(
        metadata(&prom, "text", "backup_selected_bytes").await,
        Some(("gauge".into(), String::new()))
    );

    // The same series with the same values (process metrics: the same series).
    let om = series(&prom, "openmetrics").await;
    let text = series(&prom, "text").await;
    assert!(om.len() > 1000, "{}", om.len());
    assert!(om.keys().any(|k| k.contains("process_cpu_seconds_total")));
    assert!(om
        .keys()
        .any(|k| k.contains("backup_exporter_refresh_errors_total")));
    let only_om: Vec<_> = om.keys().filter(|k| !text.contains_key(*k)).collect();
    let only_text: Vec<_> = text.keys().filter(|k| !om.contains_key(*k)).collect();
    assert!(
        only_om.is_empty() && only_text.is_empty(),
        "{only_om:?}\n{only_text:?}"
    );
    for (k, v) in &om {
        assert_eq!(v, &text[k], "{k}");
    }
    let samples = |job: &str| format!("scrape_samples_scraped{{job=\"{job}\"}}");
    let om_scraped = value(&prom.query(&samples("openmetrics")).await[0]);
    assert_eq!(om_scraped, value(&prom.query(&samples("text")).await[0]));
    assert_eq!(om_scraped as usize, om.len());

    drop(prom);
    for server in servers {
        server.shutdown().await;
    }
}
