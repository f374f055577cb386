//! The alerting bridge: the bundled rules' backup alerts, evaluated by the exporter itself and
//! posted to Alertmanager (`POST /api/v2/alerts`), for teams that run Alertmanager but not the
//! Prometheus rule files.
//!
//! - [`rules`] evaluates the conditions of `alerts/backup_exporter.rules.yml` over every
//!   source's last good snapshot: the same labels, so Alertmanager deduplicates when both
//!   paths run, and the same annotation text.
//! - [`state`] keeps each alert pending, firing or resolved between evaluations.
//! - [`Bridge`] sends: one task per Alertmanager, always the latest set, retried with backoff,
//!   so a slow or absent Alertmanager never holds up a refresh or `/metrics`.
//!
//! The evaluation runs after every refresh and every `resend_interval`, whether or not an
//! Alertmanager is configured: the status page lists what holds.

pub mod humanize;
pub mod rules;
pub mod state;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};
use tokio::sync::watch;
use url::Url;

use crate::config::{read_secret_file, AlertmanagerConfig, Secret};
use crate::selfmetrics::SelfMetrics;
use crate::time::{from_unix, unix};
use rules::{Evaluator, Page, RULES};
use state::Tracker;

/// Firing alerts are valid for this many resend intervals: an exporter that stops sending
/// (stopped, cut off) has its alerts resolve by themselves, after two missed sends and more.
pub const VALID_FOR_RESENDS: u32 = 4;

/// How often conditions are evaluated when no Alertmanager is configured (for the status page).
const EVALUATE_EVERY_WITHOUT_BRIDGE: Duration = Duration::from_secs(60);

/// What the evaluation needs of the exporter that runs it (the exporter implements it; this
/// module does not know the exporter).
pub trait Host: Send + Sync + 'static {
    /// Completes when a refresh ended since the last call.
    fn refreshed(&self) -> impl Future<Output = ()> + Send;
    /// Evaluates the rules over every source's last good snapshot at `now`; returns whether
    /// an alert fired or resolved.
    fn evaluate_alerts(&self, evaluator: &mut Evaluator, now: f64) -> bool;
    /// Runs `f` with the alerts.
    fn with_alerts<T>(&self, f: impl FnOnce(&Tracker) -> T) -> T;
    /// The self-metrics (the bridge's counters among them).
    fn metrics(&self) -> &SelfMetrics;
    /// Renders the self-metrics again.
    fn render_self_metrics(&self);
}

/// A configured Alertmanager bridge.
pub struct Bridge {
    config: AlertmanagerConfig,
    /// `generatorURL` base: the exporter's own address, with a trailing slash.
    external_url: Url,
    client: reqwest::Client,
}

/// One Alertmanager: its label value (the URL as configured) and its alerts endpoint.
struct Receiver {
    name: String,
    endpoint: Url,
}

/// A POST body shared by every Alertmanager, with the number of alerts in it.
#[derive(Debug)]
struct Batch {
    body: bytes::Bytes,
    alerts: u64,
}

impl Bridge {
    /// Builds the HTTP client. `listen` is the exporter's address, for the default external URL.
    pub fn new(
        config: &AlertmanagerConfig,
        listen: std::net::SocketAddr,
    ) -> Result<Bridge, String> {
        let builder = crate::outbound::client_builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("backup_exporter/", env!("CARGO_PKG_VERSION")));
        let client = crate::tls::apply(builder, &config.tls)
            .and_then(|b| b.build().map_err(|e| e.to_string()))
            .map_err(|e| format!("[alertmanager]: {e}"))?;
        let mut external_url = match &config.external_url {
            Some(u) => u.clone(),
            None => default_external_url(listen),
        };
        if !external_url.path().ends_with('/') {
            let path = format!("{}/", external_url.path());
            external_url.set_path(&path);
        }
        Ok(Bridge {
            config: config.clone(),
            external_url,
            client,
        })
    }

    /// The Alertmanager URLs as configured: the `alertmanager` label values.
    pub fn names(&self) -> Vec<String> {
        alertmanager_names(&self.config)
    }

    fn receivers(&self) -> Vec<Receiver> {
        self.config
            .urls
            .iter()
            .map(|u| {
                let mut endpoint = u.url.clone();
                let path = format!("{}/api/v2/alerts", u.url.path().trim_end_matches('/'));
                endpoint.set_path(&path);
                Receiver {
                    name: u.text.clone(),
                    endpoint,
                }
            })
            .collect()
    }

    /// The `generatorURL` of an alert.
    fn generator_url(&self, page: &Page) -> String {
        let mut url = self.external_url.clone();
        match page {
            Page::Device { source, device_id } => {
                url.set_path(&format!("{}device", self.external_url.path()));
                url.query_pairs_mut()
                    .append_pair("source", source)
                    .append_pair("device_id", device_id);
            }
            Page::Alerts => url.set_fragment(Some("alerts")),
        }
        url.into()
    }

    /// The alerts to send at `now`: firing ones valid for a few resend intervals, resolved
    /// ones with the time they resolved.
    fn batch(&self, tracker: &Tracker, now: f64) -> Batch {
        let valid_until =
            now + VALID_FOR_RESENDS as f64 * self.config.resend_interval.as_secs_f64();
        let mut alerts = Vec::new();
        for a in tracker.alerts() {
            let Some(fired_at) = a.fired_at else {
                continue;
            };
            let labels: Map<String, Value> = a
                .labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
                .collect();
            alerts.push(json!({
                "labels": labels,
                "annotations": {
                    "summary": a.summary,
                    "description": a.description,
                    "runbook_url": format!(
                        "{}#{}",
                        self.config.runbook_base_url, a.rule.runbook_anchor
                    ),
                },
                "startsAt": rfc3339(fired_at),
                "endsAt": rfc3339(a.resolved_at.unwrap_or(valid_until)),
                "generatorURL": self.generator_url(&a.page),
            }));
        }
        let count = alerts.len() as u64;
        Batch {
            body: serde_json::to_vec(&alerts).expect("JSON of strings").into(),
            alerts: count,
        }
    }

    /// Posts `batch` to one Alertmanager; the error is the `reason` label and a message.
    async fn post(&self, to: &Receiver, batch: &Batch) -> Result<(), (&'static str, String)> {
        let mut req = self
            .client
            .post(to.endpoint.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(batch.body.clone());
        if let (Some(user), Some(password)) = (&self.config.username, &self.config.password) {
            req = req.basic_auth(user, Some(Secret::expose(password)));
        }
        if let Some(path) = &self.config.bearer_token_file {
            let token = read_secret_file(path).map_err(|e| {
                (
                    "credentials",
                    format!("bearer_token_file {}: {e}", path.display()),
                )
            })?;
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.map_err(|e| {
            if let Some(refused) = crate::outbound::CrossOrigin::behind(&e) {
                ("redirect", refused.to_string())
            } else if e.is_timeout() {
                (
                    "timeout",
                    format!("no answer within {:?}", self.config.timeout),
                )
            } else {
                ("connect", format!("cannot connect: {}", error_chain(&e)))
            }
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let detail = crate::outbound::read_excerpt(resp).await;
        let reason = match status.as_u16() {
            401 | 403 => "unauthorized",
            400..=499 => "client_error",
            _ => "server_error",
        };
        Err((reason, format!("HTTP {status}: {detail}")))
    }
}

/// The Alertmanager URLs as configured: the `alertmanager` label values.
pub fn alertmanager_names(config: &AlertmanagerConfig) -> Vec<String> {
    config.urls.iter().map(|u| u.text.clone()).collect()
}

/// `http://<listen address>/`, or this host's name when listening on every address.
fn default_external_url(listen: std::net::SocketAddr) -> Url {
    let host = if listen.ip().is_unspecified() {
        hostname()
    } else {
        match listen.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        }
    };
    Url::parse(&format!("http://{host}:{}/", listen.port())).unwrap_or_else(|_| {
        Url::parse(&format!("http://localhost:{}/", listen.port())).expect("URL")
    })
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn rfc3339(unix: f64) -> String {
    humantime::format_rfc3339_millis(from_unix(unix)).to_string()
}

/// Evaluates the rules after every refresh and every resend interval, and, with a bridge,
/// sends what changed at once and everything every resend interval. Ends when `shutdown`
/// turns true.
pub async fn run<H: Host>(
    exporter: Arc<H>,
    bridge: Option<Arc<Bridge>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let every = bridge
        .as_ref()
        .map_or(EVALUATE_EVERY_WITHOUT_BRIDGE, |b| b.config.resend_interval);
    let (batch_tx, batch_rx) = watch::channel(None::<Arc<Batch>>);
    let mut senders = Vec::new();
    if let Some(bridge) = &bridge {
        for receiver in bridge.receivers() {
            senders.push(tokio::spawn(send_loop(
                exporter.clone(),
                bridge.clone(),
                receiver,
                batch_rx.clone(),
                shutdown.clone(),
            )));
        }
    }
    let mut evaluator = Evaluator::default();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_sent: Option<f64> = None;
    loop {
        tokio::select! {
            () = exporter.refreshed() => {}
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
        let now = unix(SystemTime::now());
        let changed = exporter.evaluate_alerts(&mut evaluator, now);
        let Some(bridge) = &bridge else {
            continue;
        };
        if let Some(m) = &exporter.metrics().alerting {
            exporter.with_alerts(|tracker| {
                for rule in RULES {
                    m.firing
                        .with_label_values(&[rule.name])
                        .set(tracker.firing_count(rule) as i64);
                }
            });
            exporter.render_self_metrics();
        }
        let due = last_sent.is_none_or(|t| now - t >= every.as_secs_f64() * 0.95);
        if !(changed || due) {
            continue;
        }
        let batch =
            exporter.with_alerts(|tracker| tracker.has_news().then(|| bridge.batch(tracker, now)));
        if let Some(batch) = batch {
            last_sent = Some(now);
            let _ = batch_tx.send(Some(Arc::new(batch)));
        }
    }
    for s in senders {
        let _ = s.await;
    }
}

/// Sends the latest batch to one Alertmanager whenever there is a new one; after a failure,
/// retries the latest batch with growing delays (1 s doubling, at most the resend interval).
async fn send_loop<H: Host>(
    exporter: Arc<H>,
    bridge: Arc<Bridge>,
    to: Receiver,
    mut batches: watch::Receiver<Option<Arc<Batch>>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failing = false;
    loop {
        tokio::select! {
            changed = batches.changed() => if changed.is_err() { return },
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let mut delay = Duration::from_secs(1);
        loop {
            let Some(batch) = batches.borrow_and_update().clone() else {
                break;
            };
            let result = bridge.post(&to, &batch).await;
            if let Some(m) = &exporter.metrics().alerting {
                match &result {
                    Ok(()) => m.sent.with_label_values(&[&to.name]).inc_by(batch.alerts),
                    Err((reason, _)) => m
                        .send_errors
                        .with_label_values(&[to.name.as_str(), reason])
                        .inc(),
                }
            }
            exporter.render_self_metrics();
            match result {
                Ok(()) => {
                    if failing {
                        tracing::info!(alertmanager = %to.name, alerts = batch.alerts, "alerts delivered again");
                    } else {
                        tracing::debug!(alertmanager = %to.name, alerts = batch.alerts, "alerts delivered");
                    }
                    failing = false;
                    break;
                }
                Err((reason, message)) => {
                    tracing::warn!(
                        alertmanager = %to.name,
                        reason,
                        error = %message,
                        retry_in_ms = delay.as_millis() as u64,
                        "sending alerts failed"
                    );
                    failing = true;
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        _ = shutdown.wait_for(|stop| *stop) => return,
                    }
                    delay = (delay * 2).min(bridge.config.resend_interval);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rules::{Candidate, STALE, STORE_FILLING_UP};
    use super::*;
    use crate::config::Config;

    fn config(extra: &str) -> AlertmanagerConfig {
        Config::from_toml_str(&format!(
            "[alertmanager]\nurls = [\"http://127.0.0.1:9/am/\", \"http://am-2:9093\"]\n{extra}"
        ))
        .unwrap()
        .alertmanager
        .unwrap()
    }

    fn listen() -> std::net::SocketAddr {
        "127.0.0.1:9871".parse().unwrap()
    }

    fn stale(device: &str) -> Candidate {
        Candidate {
            rule: &STALE,
            labels: vec![
                ("alertname", "BackupStale".into()),
                ("device", device.into()),
                ("device_id", "90462".into()),
                ("severity", "critical".into()),
                ("source", "hq & co".into()),
                ("system", "code42".into()),
            ],
            summary: "s".into(),
            description: "d".into(),
            value: 1.0,
            began: None,
            device: device.into(),
            page: Page::Device {
                source: "hq & co".into(),
                device_id: "90462".into(),
            },
        }
    }

    #[test]
    fn endpoints_keep_the_path_prefix() {
        let b = Bridge::new(&config(""), listen()).unwrap();
        let r = b.receivers();
        assert_eq!(r[0].name, "http://127.0.0.1:9/am/");
        // As configured, without the slash `url` would add.
        assert_eq!(r[1].name, "http://am-2:9093");
        assert_eq!(
            r[0].endpoint.as_str(),
            "http://127.0.0.1:9/am/api/v2/alerts"
        );
        assert_eq!(r[1].endpoint.as_str(), "http://am-2:9093/api/v2/alerts");
    }

    #[test]
    fn generator_urls_point_at_the_exporters_pages() {
        let b = Bridge::new(&config(""), listen()).unwrap();
        let device = stale("x").page;
        assert_eq!(
            b.generator_url(&device),
            "http://127.0.0.1:9871/device?source=hq+%26+co&device_id=90462"
        );
        assert_eq!(
            b.generator_url(&Page::Alerts),
            "http://127.0.0.1:9871/#alerts"
        );
        let b = Bridge::new(
            &config("external_url = \"https://backup.example/exporter\""),
            listen(),
        )
        .unwrap();
        assert_eq!(
            b.generator_url(&device),
            "https://backup.example/exporter/device?source=hq+%26+co&device_id=90462"
        );
        // Listening on every address: this host's name.
        let any = default_external_url("0.0.0.0:9871".parse().unwrap());
        assert_eq!(any.port(), Some(9871));
        assert_ne!(any.host_str(), Some("0.0.0.0"));
        let v6 = default_external_url("[::1]:9871".parse().unwrap());
        assert_eq!(v6.as_str(), "http://[::1]:9871/");
    }

    #[test]
    fn a_batch_holds_firing_and_resolved_alerts_not_pending_ones() {
        let b = Bridge::new(&config("resend_interval = \"30s\""), listen()).unwrap();
        let mut t = Tracker::new(0.0);
        let mut store = stale("store");
        store.rule = &STORE_FILLING_UP;
        store.labels = vec![("alertname", "BackupStoreFillingUp".into())];
        t.update(vec![stale("a"), stale("b"), store.clone()], 1_000.0);
        t.update(vec![stale("a"), store], 1_060.0);
        let batch = b.batch(&t, 1_060.0);
        assert_eq!(batch.alerts, 2);
        let v: Vec<Value> = serde_json::from_slice(&batch.body).unwrap();
        let by_device = |d: &str| {
            v.iter()
                .find(|a| a["labels"]["device"] == d)
                .unwrap_or_else(|| panic!("{d} in {v:?}"))
                .clone()
        };
        let a = by_device("a");
        assert_eq!(a["startsAt"], "1970-01-01T00:16:40.000Z");
        // Valid for four resend intervals.
        assert_eq!(a["endsAt"], "1970-01-01T00:19:40.000Z");
        assert_eq!(a["labels"]["source"], "hq & co");
        assert_eq!(a["labels"].as_object().unwrap().len(), 6);
        assert_eq!(
            a["annotations"],
            json!({
                "summary": "s",
                "description": "d",
                "runbook_url": "https://github.com/backup-exporter/backup_exporter/blob/main/alerts/RUNBOOK.md#backupstale",
            })
        );
        assert_eq!(
            a["generatorURL"],
            "http://127.0.0.1:9871/device?source=hq+%26+co&device_id=90462"
        );
        // Resolved at the evaluation that no longer saw it.
        assert_eq!(by_device("b")["endsAt"], "1970-01-01T00:17:40.000Z");
        // The store alert is pending (its `for` is 30 minutes): not sent.
        assert!(v.iter().all(|a| a["labels"]["alertname"] == "BackupStale"));
    }

    #[test]
    fn runbook_urls_are_the_configured_base_and_the_rules_section() {
        let mut t = Tracker::new(0.0);
        t.update(vec![stale("a")], 1_000.0);
        let runbook = |b: &Bridge| {
            let v: Vec<Value> = serde_json::from_slice(&b.batch(&t, 1_000.0).body).unwrap();
            v[0]["annotations"]["runbook_url"].clone()
        };
        let default = Bridge::new(&config(""), listen()).unwrap();
        assert_eq!(
            runbook(&default),
            format!("{}#backupstale", crate::config::DEFAULT_RUNBOOK_BASE_URL)
        );
        let wiki = Bridge::new(
            &config("runbook_base_url = \"https://wiki.example/backup/RUNBOOK.md?plain=1\""),
            listen(),
        )
        .unwrap();
        assert_eq!(
            runbook(&wiki),
            "https://wiki.example/backup/RUNBOOK.md?plain=1#backupstale"
        );
    }

    /// A one-shot HTTP server answering `statuses` in turn; returns its URL and what it got.
    async fn alertmanager(
        statuses: Vec<u16>,
    ) -> (Url, Arc<std::sync::Mutex<Vec<(Option<String>, Vec<u8>)>>>) {
        use http_body_util::BodyExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let got = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = got.clone();
        tokio::spawn(async move {
            let statuses = Arc::new(std::sync::Mutex::new(statuses.into_iter()));
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (seen, statuses) = (seen.clone(), statuses.clone());
                let service = hyper::service::service_fn(move |req: hyper::Request<_>| {
                    let (seen, statuses) = (seen.clone(), statuses.clone());
                    async move {
                        let auth = req
                            .headers()
                            .get("authorization")
                            .map(|v| v.to_str().unwrap().to_owned());
                        let body: hyper::body::Incoming = req.into_body();
                        let body = body.collect().await.unwrap().to_bytes().to_vec();
                        seen.lock().unwrap().push((auth, body));
                        let status = statuses.lock().unwrap().next().unwrap_or(200);
                        let mut r = hyper::Response::new(http_body_util::Full::new(
                            bytes::Bytes::from_static(b"{\"message\":\"nope\"}"),
                        ));
                        *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                        Ok::<_, std::convert::Infallible>(r)
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
                );
            }
        });
        (url, got)
    }

    #[tokio::test]
    async fn posts_with_credentials_and_names_each_failure() {
        let (url, got) = alertmanager(vec![500, 401, 400, 200]).await;
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "t0ken\n").unwrap();
        let cfg = Config::from_toml_str(&format!(
            "[alertmanager]\nurls = [\"{url}\"]\nbearer_token_file = {token:?}\ntimeout = \"2s\"\n"
        ))
        .unwrap()
        .alertmanager
        .unwrap();
        let bridge = Bridge::new(&cfg, listen()).unwrap();
        let to = &bridge.receivers()[0];
        let mut t = Tracker::new(0.0);
        t.update(vec![stale("a")], 1_000.0);
        let batch = bridge.batch(&t, 1_000.0);
        let mut reasons = Vec::new();
        for _ in 0..4 {
            reasons.push(bridge.post(to, &batch).await.err().map(|(r, _)| r));
        }
        assert_eq!(
            reasons,
            [
                Some("server_error"),
                Some("unauthorized"),
                Some("client_error"),
                None
            ]
        );
        {
            let got = got.lock().unwrap();
            assert_eq!(got.len(), 4);
            assert_eq!(got[0].0.as_deref(), Some("Bearer t0ken"));
            assert_eq!(got[3].1, batch.body.to_vec());
        }

        // The token file is read for every send: a missing one is a credentials error.
        std::fs::remove_file(&token).unwrap();
        let (reason, message) = bridge.post(to, &batch).await.unwrap_err();
        assert_eq!(reason, "credentials");
        assert!(message.contains("bearer_token_file"), "{message}");

        // Basic authentication; nobody listening is a connect error.
        let cfg = Config::from_toml_str(&format!(
            "[alertmanager]\nurls = [\"{url}\", \"http://127.0.0.1:1/\"]\nusername = \"am\"\npassword = \"pw\"\n"
        ))
        .unwrap()
        .alertmanager
        .unwrap();
        let bridge = Bridge::new(&cfg, listen()).unwrap();
        let receivers = bridge.receivers();
        bridge.post(&receivers[0], &batch).await.unwrap();
        assert_eq!(
            got.lock().unwrap().last().unwrap().0.as_deref(),
            Some("Basic YW06cHc=")
        );
        let (reason, _) = bridge.post(&receivers[1], &batch).await.unwrap_err();
        assert_eq!(reason, "connect");
    }
}
