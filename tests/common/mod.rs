//! Helpers shared by the integration tests: a simulated CrashPlan PRO server (the same one the
//! demo uses, here fed with fixture payloads and injected faults) and exposition parsing.
#![allow(dead_code)]

pub mod code42_fleet;
pub mod freezer_real;
pub mod stack;
pub mod webhook;

use std::collections::BTreeMap;
use std::path::PathBuf;

use backup_exporter::config::Config;
use backup_exporter::sim::Simulator;
use backup_exporter::sources::crashplan::sim::{Dataset, SimConfig, SimServer};

pub const USER: &str = "admin";
pub const PASSWORD: &str = "correct horse battery staple";

pub fn fixture_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/crashplan")
        .join(name)
}

pub fn quirks() -> Dataset {
    Dataset::from_dir(&fixture_dir("quirks")).expect("quirks fixtures load")
}

pub async fn sim(dataset: Dataset, admin: bool) -> SimServer {
    SimServer::start(
        dataset,
        SimConfig {
            username: USER.into(),
            password: PASSWORD.into(),
            admin,
        },
    )
    .await
    .expect("simulated server starts")
}

/// Top-level TOML turning every family on, opt-in ones included: the vendors' integration
/// tests check everything a vendor writes (tests/series_budget.rs checks the default set).
pub const EVERY_FAMILY: &str = "[families]\ninclude = [\".*\"]\n";

/// A configuration with one CrashPlan source `hq` reading `url`; `extra` lines are appended to
/// the source table.
pub fn config(url: &str, password: &str, extra: &str) -> Config {
    Config::from_toml_str(&format!(
        r#"
        {EVERY_FAMILY}
        [[source]]
        name = "hq"
        kind = "crashplan"
        url = "{url}"
        username = "{USER}"
        password = "{password}"
        timeout = "2s"
        {extra}
        "#
    ))
    .expect("test configuration is valid")
}

/// Samples of an exposition: `name{labels}` → value (comment lines skipped).
pub fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').expect("sample line has a value");
            (k.to_owned(), parse_value(v))
        })
        .collect()
}

fn parse_value(v: &str) -> f64 {
    match v {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v
            .parse()
            .unwrap_or_else(|_| panic!("bad sample value {v:?}")),
    }
}

/// The data lines of an exposition (no comments, no self-metrics), as written.
pub fn data_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("backup_exporter_"))
        .collect()
}

/// Compares the data lines of `text` with `tests/golden/<name>`, line by line. With
/// `UPDATE_GOLDEN` set, writes the file first (then review the diff).
///
/// A value within ten minutes of the test's own clock is a time the exporter took itself
/// (when it read an item, when it first saw a target): it is compared as `NOW`. Fixture times
/// are years in the past.
pub fn assert_golden(name: &str, text: &str) {
    let golden_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    let data: String = data_lines(text)
        .iter()
        .map(|l| match l.rsplit_once(' ') {
            Some((series, value))
                if value.parse::<f64>().is_ok_and(|v| (v - now).abs() < 600.0) =>
            {
                format!("{series} NOW\n")
            }
            _ => format!("{l}\n"),
        })
        .collect();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden_path, &data).unwrap();
    }
    let golden = std::fs::read_to_string(&golden_path).expect("golden file exists");
    let want: Vec<&str> = golden.lines().collect();
    let got: Vec<&str> = data.lines().collect();
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "{name}: line {} differs", i + 1);
    }
    assert_eq!(got.len(), want.len(), "{name}: number of lines");
}

/// One request a [`Recorder`] received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// A listener on another loopback host (127.0.0.2: another origin than the simulators on
/// 127.0.0.1) that records whatever reaches it and answers `200 {}`: where a hostile server
/// redirects to, to prove that nothing of the exporter's arrives there.
pub struct Recorder {
    pub addr: std::net::SocketAddr,
    pub seen: std::sync::Arc<std::sync::Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    pub async fn start() -> Recorder {
        use http_body_util::BodyExt as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.2:0")
            .await
            .expect("127.0.0.2 is a loopback address");
        let addr = listener.local_addr().unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            // Bounded: a test makes a handful of requests at most.
            for _ in 0..1000 {
                let Ok((stream, _)) = listener.accept().await else {
                    break;
                };
                let log = log.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let log = log.clone();
                            async move {
                                let method = req.method().to_string();
                                let path = req.uri().to_string();
                                let headers = req
                                    .headers()
                                    .iter()
                                    .map(|(k, v)| {
                                        (
                                            k.to_string(),
                                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                                        )
                                    })
                                    .collect();
                                let body = req
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                log.lock().unwrap().push(Recorded {
                                    method,
                                    path,
                                    headers,
                                    body: String::from_utf8_lossy(&body).into_owned(),
                                });
                                Ok::<_, std::convert::Infallible>(hyper::Response::new(
                                    http_body_util::Full::new(bytes::Bytes::from_static(b"{}")),
                                ))
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Recorder { addr, seen, task }
    }

    /// A URL on this listener.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `reason` and message of a refresh outcome (`"ok"` and empty when it succeeded).
pub fn failure(o: &backup_exporter::refresh::Outcome) -> (&'static str, String) {
    match o {
        backup_exporter::refresh::Outcome::Failed {
            reason, message, ..
        } => (reason, message.clone()),
        backup_exporter::refresh::Outcome::Ok => ("ok", String::new()),
    }
}

/// Sends the signal `name` (`TERM`, `SIGTERM`, `INT`, `KILL`, `HUP`, `QUIT`) to process `pid`,
/// as `kill -s NAME PID` would, without the `kill` program (minimal images lack procps).
pub fn signal(pid: u32, name: &str) -> std::io::Result<()> {
    use rustix::process::{kill_process, Pid, Signal};
    let sig = match name.trim_start_matches("SIG") {
        "TERM" => Signal::TERM,
        "INT" => Signal::INT,
        "KILL" => Signal::KILL,
        "HUP" => Signal::HUP,
        "QUIT" => Signal::QUIT,
        other => panic!("no signal {other} in the tests' list"),
    };
    let pid = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .unwrap_or_else(|| panic!("{pid} is not a process id"));
    kill_process(pid, sig).map_err(std::io::Error::from)
}
