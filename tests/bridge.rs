//! End to end: the exporter's own alert sender (the `[alertmanager]` bridge) against a real
//! Alertmanager. The exporter (the binary, run as a process with a configuration file) reads a
//! simulated Code42 console (`backup_exporter::sources::code42::sim`) whose data the tests change while
//! it runs; Alertmanager routes every alert, one notification each, to a webhook receiver of
//! the test (tests/common/webhook.rs). Where the test needs to see exactly what the exporter
//! posts, or needs an Alertmanager that fails, a recording listener of the test stands in for
//! one. Every process listens on 127.0.0.1 only and is stopped by pid when the test ends.
//!
//! Refresh and resend intervals are 1 s so that the tests are quick; waits poll with generous
//! deadlines, and "nothing more happens" is checked after the exporter has demonstrably done
//! its work several more times (its counters advanced), never after a bare sleep.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use backup_exporter::sim::Simulator;
use backup_exporter::sources::code42::sim::{ConsoleConfig, SimServer};
use chrono::{DateTime, Duration as Age, Utc};
use common::code42_fleet::{console, console_with, device_id, HEALTHY, STALE, TARGET};
use common::stack::*;
use common::webhook::{Received, Receiver};
use serde_json::Value;

/// The Code42 source's name in the exporter's configuration.
const SOURCE: &str = "northwind";
const SENT: &str = "backup_exporter_alerts_sent_total";
const ERRORS: &str = "backup_exporter_alert_send_errors_total";
const FIRING: &str = "backup_exporter_alerts_firing";
const LAST_REFRESH: &str = "backup_exporter_last_refresh_timestamp_seconds";
/// The alerts the bridge evaluates (the bundled rules' backup alerts).
const ALERTNAMES: &[&str] = &[
    "BackupStale",
    "BackupNeverCompleted",
    "BackupFailing",
    "BackupAgentOffline",
    "BackupStoreFillingUp",
];

// ---------------------------------------------------------------------------------------------
// The exporter process and its exposition.

/// The exporter binary, run with a configuration file: one Code42 source `northwind` refreshed
/// every second, then `tail` (the `[alertmanager]` section).
struct Exporter {
    process: Process,
    addr: String,
    url: String,
    client: reqwest::Client,
}

impl Exporter {
    async fn start(upstream: &SimServer, tail: &str) -> Exporter {
        let (process, addr) = start_exporter(&format!(
            "log_level = \"info,backup_exporter=debug\"\n\n\
             [[source]]\nname = \"{SOURCE}\"\nkind = \"code42\"\nurl = \"{}\"\n\
             username = \"admin\"\npassword = \"admin\"\nrefresh_interval = \"1s\"\n\n{tail}",
            upstream.url()
        ))
        .await;
        Exporter {
            process,
            url: format!("http://{addr}"),
            addr,
            client: client(),
        }
    }

    /// GET `path`: the body of a 200 answer, else what happened.
    async fn get(&self, path: &str) -> Result<String, String> {
        let url = format!("{}{path}", self.url);
        let resp = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| format!("GET {url}: {e}"))?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("GET {url}: {status}: {body}"))
        }
    }

    async fn metrics(&self) -> Result<String, String> {
        self.get("/metrics").await
    }

    /// The value of `name{labels...}` now (the sum when more series match); `Err` when no
    /// series matches.
    async fn sample(&self, name: &str, labels: &[(&str, &str)]) -> Result<f64, String> {
        let text = self.metrics().await?;
        sample(&text, name, labels).ok_or_else(|| {
            format!(
                "no {name}{labels:?} in /metrics; its backup_exporter_alert* lines:\n{}",
                alert_lines(&text)
            )
        })
    }

    /// Polls `name{labels...}` until it is present and `pred` holds for its value, and
    /// returns the value.
    async fn wait_metric(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        timeout: Duration,
        pred: impl Fn(f64) -> bool,
    ) -> f64 {
        let pred = &pred;
        wait_until(
            &format!("{name}{labels:?} to reach the expected value"),
            timeout,
            move || async move {
                let v = self.sample(name, labels).await?;
                if pred(v) {
                    Ok(v)
                } else {
                    Err(format!("{name}{labels:?} = {v}"))
                }
            },
        )
        .await
    }

    /// Waits until the source's last refresh time has changed `n` times from now: `n` more
    /// refreshes (and as many resend intervals of 1 s) have passed.
    async fn wait_refreshes(&self, n: usize) {
        let seen = Mutex::new(BTreeSet::new());
        let seen = &seen;
        wait_until(
            &format!("{n} more refreshes"),
            secs(60),
            move || async move {
                let v = self
                    .sample(LAST_REFRESH, &[("source", SOURCE)])
                    .await?
                    .to_bits();
                let mut seen = seen.lock().unwrap();
                seen.insert(v);
                if seen.len() > n {
                    Ok(())
                } else {
                    Err(format!("{} refresh times seen", seen.len()))
                }
            },
        )
        .await;
    }
}

/// One series of an exposition: name, labels, value.
type Series = (String, BTreeMap<String, String>, f64);

/// Parses a sample line of the text exposition (`None` for comments and blank lines).
fn parse_line(line: &str) -> Option<Series> {
    if line.starts_with('#') || line.trim().is_empty() {
        return None;
    }
    let end = line.find(['{', ' '])?;
    let name = line[..end].to_owned();
    let mut labels = BTreeMap::new();
    let mut rest = &line[end..];
    if let Some(mut r) = rest.strip_prefix('{') {
        loop {
            r = r.trim_start_matches([',', ' ']);
            if let Some(after) = r.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = r.find('=')?;
            let key = r[..eq].trim().to_owned();
            r = r[eq + 1..].strip_prefix('"')?;
            let mut value = String::new();
            let mut chars = r.char_indices();
            let close = loop {
                let (i, c) = chars.next()?;
                match c {
                    '\\' => {
                        let (_, e) = chars.next()?;
                        value.push(if e == 'n' { '\n' } else { e });
                    }
                    '"' => break i,
                    c => value.push(c),
                }
            };
            r = &r[close + 1..];
            labels.insert(key, value);
        }
    }
    let value = rest.split_whitespace().next()?.parse().ok()?;
    Some((name, labels, value))
}

/// Every series `name` of `text` whose labels include `labels`.
fn series(text: &str, name: &str, labels: &[(&str, &str)]) -> Vec<Series> {
    text.lines()
        .filter_map(parse_line)
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

/// The sum of the series `name{labels...}` of `text`; `None` when there is none.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let s = series(text, name, labels);
    (!s.is_empty()).then(|| s.iter().map(|(_, _, v)| v).sum())
}

/// The exporter's alert self-metrics lines, for messages.
fn alert_lines(text: &str) -> String {
    text.lines()
        .filter(|l| l.starts_with("backup_exporter_alert"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `[alertmanager]` section: `urls`, resend every second, then `extra` lines.
fn bridge(urls: &[&str], extra: &str) -> String {
    bridge_every(urls, "1s", extra)
}

/// The `[alertmanager]` section: `urls`, resend every `resend_interval`, then `extra` lines.
fn bridge_every(urls: &[&str], resend_interval: &str, extra: &str) -> String {
    let urls: Vec<String> = urls.iter().map(|u| format!("\"{u}\"")).collect();
    format!(
        "[alertmanager]\nurls = [{}]\nresend_interval = \"{resend_interval}\"\n{extra}\n",
        urls.join(", ")
    )
}

// ---------------------------------------------------------------------------------------------
// Alerts as the receivers see them.

/// The alerts `name` of `device` with `status` ("firing" or "resolved") among `alerts`
/// (webhook notifications).
fn notified(alerts: &[Value], name: &str, device: &str, status: &str) -> Vec<Value> {
    alerts
        .iter()
        .filter(|a| {
            a["labels"]["alertname"] == name
                && a["labels"]["device"] == device
                && a["status"] == status
        })
        .cloned()
        .collect()
}

/// The sorted label names of an alert.
fn label_keys(alert: &Value) -> Vec<String> {
    alert["labels"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn time(v: &Value) -> DateTime<Utc> {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("not a time string: {v}"));
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// Every run of digits as "N": two texts of the same alert computed seconds apart.
fn digits_as_n(s: &str) -> String {
    regex::Regex::new(r"[0-9]+")
        .unwrap()
        .replace_all(s, "N")
        .into_owned()
}

/// The alerts section of the landing page: the element with id="alerts" (to its matching end
/// tag), or when that is a heading, up to the next heading of its level or above.
fn alerts_section(page: &str) -> &str {
    let id = page
        .find("id=\"alerts\"")
        .unwrap_or_else(|| panic!("no id=\"alerts\" on the landing page:\n{page}"));
    let open = page[..id].rfind('<').expect("id inside a tag");
    let tag: String = page[open + 1..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    let lower = page.to_ascii_lowercase();
    if let Some(level) = tag.strip_prefix('h').and_then(|l| l.parse::<u8>().ok()) {
        let body = open + tag.len() + 1;
        let end = (1..=level)
            .filter_map(|l| lower[body..].find(&format!("<h{l}")))
            .min()
            .map_or(page.len(), |e| body + e);
        return &page[open..end];
    }
    let (start_tag, end_tag) = (format!("<{tag}"), format!("</{tag}>"));
    let mut depth = 0usize;
    let mut at = open;
    loop {
        let next_open = lower[at..]
            .match_indices(&start_tag)
            .map(|(i, _)| at + i)
            .find(|&i| {
                lower[i + start_tag.len()..]
                    .starts_with(|c: char| c == '>' || c.is_ascii_whitespace())
            });
        let Some(next_close) = lower[at..].find(&end_tag).map(|i| at + i) else {
            return &page[open..];
        };
        match next_open {
            Some(o) if o < next_close => {
                depth += 1;
                at = o + start_tag.len();
            }
            _ => {
                depth -= 1;
                at = next_close + end_tag.len();
                if depth == 0 {
                    return &page[open..at];
                }
            }
        }
    }
}

/// Checks the body of every POST the exporter made to a recording listener: a JSON array of
/// alerts as Alertmanager's v2 API takes them, each with exactly labels, annotations,
/// startsAt, endsAt and generatorURL; for firing alerts endsAt lies ahead.
fn check_posts(requests: &[Received], all_firing: bool) {
    assert!(!requests.is_empty(), "no POST at all");
    let want: BTreeSet<&str> = [
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "generatorURL",
    ]
    .into();
    for r in requests {
        assert_eq!(r.method, "POST", "{r:?}");
        assert_eq!(r.path, "/api/v2/alerts", "{r:?}");
        assert!(
            r.content_type.starts_with("application/json"),
            "Content-Type {:?}",
            r.content_type
        );
        let alerts = r
            .body
            .as_array()
            .unwrap_or_else(|| panic!("POST body is not a JSON array: {}", r.body));
        for a in alerts {
            let keys: BTreeSet<&str> = a
                .as_object()
                .unwrap_or_else(|| panic!("not an object: {a}"))
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, want, "{a}");
            let starts = time(&a["startsAt"]);
            let ends = time(&a["endsAt"]);
            assert!(starts <= r.at + Age::seconds(1), "startsAt ahead: {a}");
            assert!(starts < ends, "{a}");
            if all_firing {
                assert!(
                    ends > r.at,
                    "a firing alert ends in the future: {a} at {}",
                    r.at
                );
            }
            assert!(
                a["generatorURL"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("http")),
                "{a}"
            );
        }
    }
}

/// Prints the last lines of the processes' logs when the test fails. Declare it after the
/// processes (it must drop first, while their directories exist).
struct LogsOnPanic(Vec<(String, PathBuf)>);

impl LogsOnPanic {
    fn of(processes: &[&Process]) -> LogsOnPanic {
        LogsOnPanic(
            processes
                .iter()
                .map(|p| (p.name().to_owned(), p.dir().join("log")))
                .collect(),
        )
    }
}

impl Drop for LogsOnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for (name, path) in &self.0 {
            let log = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!("===== {name}: last {} lines of its log =====", tail.len());
            for l in tail {
                eprintln!("{l}");
            }
        }
    }
}

async fn code42(now: DateTime<Utc>) -> SimServer {
    SimServer::start(console(now), ConsoleConfig::default())
        .await
        .expect("simulated Code42 console starts")
}

/// Waits until the webhook received a firing `name` for `device`, and returns those alerts.
async fn wait_notified(
    receiver: &Receiver,
    am: &Alertmanager,
    name: &str,
    device: &str,
    status: &str,
) -> Vec<Value> {
    wait_until(
        &format!("a {status} {name} notification for {device} at the webhook receiver"),
        secs(90),
        move || async move {
            let all = receiver.alerts();
            let hits = notified(&all, name, device, status);
            if hits.is_empty() {
                Err(format!(
                    "received {all:?}; Alertmanager holds {:?}",
                    am.try_alerts().await
                ))
            } else {
                Ok(hits)
            }
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_device_is_notified_once_and_resolves_when_fixed() {
    let upstream = code42(Utc::now()).await;
    let receiver = Receiver::start().await;
    let am = Alertmanager::start(&Alertmanager::webhook_config(&receiver.url)).await;
    let mut exporter = Exporter::start(&upstream, &bridge(&[am.url()], "")).await;
    let _logs = LogsOnPanic::of(&[&exporter.process, am.process()]);
    // One Alertmanager: its self-metrics series need no selector (their `alertmanager` label
    // is checked at the end).
    let am_label: [(&str, &str); 0] = [];

    let first = wait_notified(&receiver, &am, "BackupStale", STALE, "firing").await;
    let alert = &first[0];
    assert_eq!(
        label_keys(alert),
        [
            "alertname",
            "device",
            "device_id",
            "severity",
            "source",
            "system",
            "target"
        ],
        "{alert}"
    );
    let labels = &alert["labels"];
    assert_eq!(labels["device"], STALE, "{alert}");
    assert_eq!(labels["device_id"], device_id(STALE).as_str(), "{alert}");
    assert_eq!(labels["target"], TARGET, "{alert}");
    assert_eq!(labels["system"], "code42", "{alert}");
    assert_eq!(labels["source"], SOURCE, "{alert}");
    assert_eq!(labels["severity"], "critical", "{alert}");
    let annotations = &alert["annotations"];
    for key in ["summary", "description"] {
        let text = annotations[key].as_str().unwrap_or("");
        assert!(text.contains(STALE), "{key} names the device: {text:?}");
        // About five days, as humanizeDuration writes it ("5d 0h 2m 10s").
        assert!(text.contains("5d "), "{key} gives the age: {text:?}");
        assert!(
            !text.contains("<no value>") && !text.contains("{{") && !text.contains("%!"),
            "{key} filled in: {text:?}"
        );
    }
    assert_eq!(
        annotations["runbook_url"],
        "https://github.com/backup-exporter/backup_exporter/blob/main/alerts/RUNBOOK.md#backupstale"
    );

    // Still one notification after several more resends (each re-posts the alert; Alertmanager
    // regroups every second).
    let sent = exporter.sample(SENT, &am_label).await.unwrap();
    assert!(sent > 0.0, "{SENT} {sent}");
    exporter
        .wait_metric(SENT, &am_label, secs(60), |v| v >= sent + 4.0)
        .await;
    exporter.wait_refreshes(2).await;
    let all = receiver.alerts();
    assert_eq!(
        notified(&all, "BackupStale", STALE, "firing").len(),
        1,
        "one notification: {all:?}"
    );
    for a in &all {
        assert_eq!(a["labels"]["device"], STALE, "only the stale device: {a}");
        assert_eq!(a["labels"]["alertname"], "BackupStale", "{a}");
    }

    // Alertmanager holds it, linking the exporter's page of the device.
    let held = am.alerts().await;
    assert_eq!(held.len(), 1, "Alertmanager holds {held:?}");
    assert_eq!(held[0]["labels"]["device"], STALE, "{held:?}");
    let generator = held[0]["generatorURL"]
        .as_str()
        .unwrap_or_else(|| panic!("no generatorURL: {held:?}"));
    let url = url::Url::parse(generator).unwrap_or_else(|e| panic!("{generator:?}: {e}"));
    assert_eq!(
        format!(
            "{}:{}",
            url.host_str().unwrap_or(""),
            url.port().unwrap_or(0)
        ),
        exporter.addr,
        "{generator}"
    );
    assert_eq!(url.path(), "/device", "{generator}");
    let query: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(
        query.get("source").map(String::as_str),
        Some(SOURCE),
        "{generator}"
    );
    assert_eq!(
        query.get("device_id"),
        Some(&device_id(STALE)),
        "{generator}"
    );
    let page = exporter
        .client
        .get(generator)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {generator}: {e}"));
    assert_eq!(page.status(), 200, "GET {generator}");
    let page = page.text().await.unwrap();
    assert!(page.contains(STALE), "the device page names it: {page}");

    // The exporter's own account.
    let text = exporter.metrics().await.unwrap();
    assert_eq!(
        sample(&text, FIRING, &[("alertname", "BackupStale")]),
        Some(1.0),
        "{}",
        alert_lines(&text)
    );
    for name in ALERTNAMES.iter().filter(|n| **n != "BackupStale") {
        assert_eq!(
            sample(&text, FIRING, &[("alertname", name)]),
            Some(0.0),
            "{name}: {}",
            alert_lines(&text)
        );
    }
    assert!(
        sample(&text, SENT, &am_label).is_some_and(|v| v > 0.0),
        "{}",
        alert_lines(&text)
    );
    assert!(
        sample(&text, ERRORS, &am_label).unwrap_or(0.0) == 0.0,
        "no send errors: {}",
        alert_lines(&text)
    );

    // The landing page lists it among the alerts, and nothing healthy.
    let landing = exporter.get("/").await.unwrap();
    let section = alerts_section(&landing);
    assert!(section.contains(STALE), "alerts section: {section}");
    assert!(section.contains("BackupStale"), "alerts section: {section}");
    for h in HEALTHY {
        assert!(!section.contains(h), "{h} in the alerts section: {section}");
    }

    // Fix the device: its last backup minutes ago. keep_firing_for is 0s: resolved at once.
    upstream.set_dataset(console_with(Utc::now(), &[(STALE, Age::minutes(3))]));
    let resolved = wait_notified(&receiver, &am, "BackupStale", STALE, "resolved").await;
    assert_eq!(resolved[0]["labels"], first[0]["labels"], "{resolved:?}");
    exporter
        .wait_metric(FIRING, &[("alertname", "BackupStale")], secs(30), |v| {
            v == 0.0
        })
        .await;
    let all = receiver.alerts();
    assert_eq!(
        notified(&all, "BackupStale", STALE, "firing").len(),
        1,
        "no new firing notification: {all:?}"
    );
    let landing = exporter.get("/").await.unwrap();
    let section = alerts_section(&landing);
    assert!(
        !section.contains(STALE),
        "a resolved alert is not listed: {section}"
    );

    // The self-metrics name the Alertmanager by its URL as configured (here without a
    // trailing slash; the other tests configure the canonical form, with one).
    let text = exporter.metrics().await.unwrap();
    for name in [SENT, ERRORS] {
        let named: BTreeSet<String> = series(&text, name, &[])
            .into_iter()
            .filter_map(|(_, l, _)| l.get("alertmanager").cloned())
            .collect();
        assert_eq!(
            named,
            BTreeSet::from([am.url().to_owned()]),
            "{name}: the alertmanager label is the URL as configured:\n{}",
            alert_lines(&text)
        );
    }
    exporter.process.assert_running();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alertmanager_restarted_mid_test_receives_the_alerts() {
    let upstream = code42(Utc::now()).await;
    let receiver = Receiver::start().await;
    let mut am = Alertmanager::start(&Alertmanager::webhook_config(&receiver.url)).await;
    let am_url = format!("{}/", am.url());
    let exporter = Exporter::start(&upstream, &bridge(&[&am_url], "")).await;
    let _logs = LogsOnPanic::of(&[&exporter.process, am.process()]);

    wait_notified(&receiver, &am, "BackupStale", STALE, "firing").await;
    am.stop().await;

    // A second device goes stale while Alertmanager is away.
    let second = HEALTHY[0];
    upstream.set_dataset(console_with(Utc::now(), &[(second, Age::days(4))]));

    // The exporter counts the failed sends and keeps serving /metrics promptly meanwhile.
    let slowest = Mutex::new(Duration::ZERO);
    {
        let (exporter, slowest, am_url) = (&exporter, &slowest, am_url.as_str());
        wait_until(
            "connect errors counted, both devices firing",
            secs(90),
            move || async move {
                let t = Instant::now();
                let text = exporter.metrics().await?;
                let took = t.elapsed();
                let mut s = slowest.lock().unwrap();
                *s = (*s).max(took);
                drop(s);
                let errors = sample(
                    &text,
                    ERRORS,
                    &[("alertmanager", am_url), ("reason", "connect")],
                )
                .unwrap_or(0.0);
                let firing = sample(&text, FIRING, &[("alertname", "BackupStale")]);
                if errors > 0.0 && firing == Some(2.0) {
                    Ok(())
                } else {
                    Err(alert_lines(&text))
                }
            },
        )
        .await;
    }
    // A few more failing rounds: refreshes go on, /metrics stays quick.
    let t = Instant::now();
    exporter.wait_refreshes(3).await;
    for _ in 0..5 {
        let t = Instant::now();
        exporter.metrics().await.unwrap();
        let took = t.elapsed();
        let mut s = slowest.lock().unwrap();
        *s = (*s).max(took);
    }
    let slowest = *slowest.lock().unwrap();
    assert!(
        slowest < Duration::from_secs(1),
        "/metrics took {slowest:?} while Alertmanager was down"
    );
    assert!(
        t.elapsed() < secs(20),
        "3 refreshes of 1 s took {:?} while Alertmanager was down",
        t.elapsed()
    );
    assert!(
        notified(&receiver.alerts(), "BackupStale", second, "firing").is_empty(),
        "notified with Alertmanager down?"
    );

    am.restart().await;
    let am = &am;
    let held = wait_until(
        "Alertmanager to hold BackupStale for both devices after its restart",
        secs(90),
        move || async move {
            let held = am.try_alerts().await?;
            let devices: BTreeSet<&str> = held
                .iter()
                .filter(|a| a["labels"]["alertname"] == "BackupStale")
                .filter(|a| a["status"]["state"] == "active")
                .filter_map(|a| a["labels"]["device"].as_str())
                .collect();
            if devices == BTreeSet::from([STALE, second]) {
                Ok(held.clone())
            } else {
                Err(format!("{held:?}"))
            }
        },
    )
    .await;
    assert_eq!(held.len(), 2, "{held:?}");
    let hits = wait_notified(&receiver, am, "BackupStale", second, "firing").await;
    assert_eq!(hits[0]["labels"]["device_id"], device_id(second).as_str());
    assert!(
        hits[0]["annotations"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("4d ")),
        "{hits:?}"
    );
    let text = exporter.metrics().await.unwrap();
    assert!(
        sample(&text, SENT, &[("alertmanager", &am_url)]).is_some_and(|v| v > 0.0),
        "{}",
        alert_lines(&text)
    );
    eprintln!(
        "after the restart the webhook holds {} firing notification(s) for {STALE}",
        notified(&receiver.alerts(), "BackupStale", STALE, "firing").len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_and_bridge_together_notify_once() {
    let upstream = code42(Utc::now()).await;
    let receiver = Receiver::start().await;
    // A second "Alertmanager" of the bridge: records what the exporter posts.
    let recorder = Receiver::start().await;
    let am = Alertmanager::start(&Alertmanager::webhook_config(&receiver.url)).await;
    let am_url = format!("{}/", am.url());
    let exporter = Exporter::start(
        &upstream,
        &bridge(
            &[&am_url, &format!("{}/", recorder.base_url)],
            "keep_firing_for = \"10m\"",
        ),
    )
    .await;
    let prom = Prometheus::start(
        PrometheusConfig::new()
            .scrape("backup_exporter", &[&exporter.addr])
            .rule_file(repo_path("alerts/backup_exporter.rules.yml"))
            .alertmanager(am.addr()),
    )
    .await;
    let _logs = LogsOnPanic::of(&[&exporter.process, am.process(), prom.process()]);
    let am_label = [("alertmanager", am_url.as_str())];

    // Both paths deliver: Prometheus fires and has notified, the bridge has sent.
    let prom_alert = prom
        .wait_for_alert("BackupStale", "firing", secs(90))
        .await
        .into_iter()
        .find(|a| a["labels"]["device"] == STALE)
        .expect("Prometheus fires BackupStale for the stale device");
    exporter
        .wait_metric(SENT, &am_label, secs(60), |v| v > 0.0)
        .await;
    let prom_metrics = format!("{}/metrics", prom.url());
    let c = client();
    let c = &c;
    let prom_metrics = prom_metrics.as_str();
    wait_until(
        "Prometheus to have sent notifications to Alertmanager",
        secs(90),
        move || async move {
            let text = c
                .get(prom_metrics)
                .send()
                .await
                .map_err(|e| e.to_string())?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            match sample(&text, "prometheus_notifications_sent_total", &[]) {
                Some(v) if v > 0.0 => Ok(()),
                other => Err(format!("prometheus_notifications_sent_total {other:?}")),
            }
        },
    )
    .await;

    // A few more resends of the bridge (and Alertmanager group intervals of 1 s): still one.
    let sent = exporter.sample(SENT, &am_label).await.unwrap();
    exporter
        .wait_metric(SENT, &am_label, secs(60), |v| v >= sent + 4.0)
        .await;
    exporter.wait_refreshes(2).await;
    let all = receiver.alerts();
    assert_eq!(
        notified(&all, "BackupStale", STALE, "firing").len(),
        1,
        "one notification for two paths: {all:?}"
    );
    assert_eq!(all.len(), 1, "nothing else: {all:?}");
    let held: Vec<Value> = am
        .alerts()
        .await
        .into_iter()
        .filter(|a| a["labels"]["device"] == STALE)
        .collect();
    assert_eq!(held.len(), 1, "one alert for the device: {held:?}");

    // Identical labels, and the same texts but for the numbers (ages differ by seconds).
    let posted = recorder.posted_alerts();
    let bridge_alert = posted
        .iter()
        .rev()
        .find(|a| a["labels"]["alertname"] == "BackupStale" && a["labels"]["device"] == STALE)
        .unwrap_or_else(|| panic!("the bridge posted no BackupStale: {posted:?}"));
    assert_eq!(bridge_alert["labels"], prom_alert["labels"]);
    for key in ["summary", "description", "runbook_url"] {
        let ours = bridge_alert["annotations"][key].as_str().unwrap_or("");
        let theirs = prom_alert["annotations"][key].as_str().unwrap_or("");
        assert_eq!(
            digits_as_n(ours),
            digits_as_n(theirs),
            "{key}: the bridge's {ours:?}, Prometheus's {theirs:?}"
        );
    }
    check_posts(&recorder.requests(), true);
    for a in &posted {
        assert_eq!(a["labels"]["device"], STALE, "only the stale device: {a}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_sent_for_a_healthy_fleet() {
    let now = Utc::now();
    let upstream = SimServer::start(
        console_with(now, &[(STALE, Age::minutes(10))]),
        ConsoleConfig::default(),
    )
    .await
    .unwrap();
    let recorder = Receiver::start().await;
    let exporter = Exporter::start(&upstream, &bridge(&[&recorder.base_url], "")).await;
    let _logs = LogsOnPanic::of(&[&exporter.process]);

    // Five more refreshes, each followed by an evaluation (and five resend intervals).
    exporter.wait_refreshes(5).await;
    let requests = recorder.requests();
    let alerts: Vec<&Value> = requests
        .iter()
        .flat_map(|r| r.body.as_array().into_iter().flatten())
        .collect();
    assert!(
        alerts.is_empty(),
        "alerts sent for a healthy fleet: {alerts:?}"
    );
    if !requests.is_empty() {
        eprintln!(
            "note: the exporter made {} POST(s) with no alert in them",
            requests.len()
        );
    }
    let text = exporter.metrics().await.unwrap();
    let firing = series(&text, FIRING, &[]);
    for name in ALERTNAMES {
        assert!(
            firing
                .iter()
                .any(|(_, l, _)| l.get("alertname").map(String::as_str) == Some(name)),
            "{FIRING}{{alertname={name:?}}} present: {}",
            alert_lines(&text)
        );
    }
    for (_, l, v) in &firing {
        assert_eq!(*v, 0.0, "{l:?} firing: {}", alert_lines(&text));
    }
    assert_eq!(
        sample(&text, SENT, &[]).unwrap_or(0.0),
        0.0,
        "{}",
        alert_lines(&text)
    );
    assert_eq!(
        sample(&text, ERRORS, &[]).unwrap_or(0.0),
        0.0,
        "{}",
        alert_lines(&text)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alertmanager_answering_errors_gets_the_alerts_after_retries() {
    let upstream = code42(Utc::now()).await;
    // One answers three server errors, the other an authorisation error and a bad request,
    // then both accept. Resent every 3 s: room for the retries to back off.
    let server_errors = Receiver::start_answering(&[500, 502, 503]).await;
    let client_errors = Receiver::start_answering(&[401, 400]).await;
    let url = |r: &Receiver| format!("{}/", r.base_url);
    let exporter = Exporter::start(
        &upstream,
        &bridge_every(&[&url(&server_errors), &url(&client_errors)], "3s", ""),
    )
    .await;
    let _logs = LogsOnPanic::of(&[&exporter.process]);

    for r in [&server_errors, &client_errors] {
        wait_until(
            &format!("BackupStale accepted by {}", r.base_url),
            secs(90),
            move || async move {
                let got = r.posted_alerts();
                if got.iter().any(|a| {
                    a["labels"]["alertname"] == "BackupStale" && a["labels"]["device"] == STALE
                }) {
                    Ok(())
                } else {
                    Err(format!("{:?}", r.requests()))
                }
            },
        )
        .await;
    }
    for (r, reason, n) in [
        (&server_errors, "server_error", 3.0),
        (&client_errors, "unauthorized", 1.0),
        (&client_errors, "client_error", 1.0),
    ] {
        exporter
            .wait_metric(
                ERRORS,
                &[("alertmanager", &url(r)), ("reason", reason)],
                secs(30),
                |v| v == n,
            )
            .await;
    }
    let text = exporter.metrics().await.unwrap();
    for r in [&server_errors, &client_errors] {
        let accepted = r
            .requests()
            .iter()
            .filter(|q| q.status == 200)
            .map(|q| q.body.as_array().map_or(0, Vec::len))
            .sum::<usize>() as f64;
        let sent = sample(&text, SENT, &[("alertmanager", &url(r))]);
        assert!(
            sent.is_some_and(|v| v > 0.0 && v <= accepted),
            "{SENT} for {} is {sent:?}, the listener accepted {accepted} alerts:\n{}",
            r.base_url,
            alert_lines(&text)
        );
        let errors = series(&text, ERRORS, &[("alertmanager", &url(r))]);
        let total: f64 = errors.iter().map(|(_, _, v)| v).sum();
        let failed = r.requests().iter().filter(|q| q.status >= 400).count() as f64;
        assert_eq!(total, failed, "every failed POST counted once: {errors:?}");
        check_posts(&r.requests(), true);
    }
    // The retries back off: no tight loop, each wait at least as long as the one before,
    // none longer than the resend interval (plus slack).
    let requests = server_errors.requests();
    let gaps: Vec<i64> = requests
        .windows(2)
        .map(|w| (w[1].at - w[0].at).num_milliseconds())
        .collect();
    let statuses: Vec<u16> = requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses[..4], [500, 502, 503, 200], "{statuses:?}");
    let retries = &gaps[..3];
    assert!(
        retries.iter().all(|g| (500..=4_000).contains(g))
            && retries.windows(2).all(|w| w[1] + 100 >= w[0])
            && retries[2] > retries[0] + 500,
        "retry gaps after the failures {retries:?} ms (all gaps {gaps:?}): a growing backoff \
         up to the 3 s resend interval"
    );
    assert_eq!(
        sample(&text, FIRING, &[("alertname", "BackupStale")]),
        Some(1.0)
    );
}

// ---------------------------------------------------------------------------------------------
// Rackspace: the rules and the bridge decide alike on the demo account.

/// The alerts of the landing page's table: (state, alert, device, target).
fn bridge_alerts(landing: &str) -> BTreeSet<(String, String, String, String)> {
    let row = regex::Regex::new(
        r#"<tr class="(firing|pending)"><td>[^<]*</td><td>([A-Za-z]+)</td><td>[a-z]+</td><td>[^<]*</td><td>(.*?)</td><td>([^<]*)</td>"#,
    )
    .unwrap();
    let tags = regex::Regex::new(r"<[^>]*>").unwrap();
    row.captures_iter(alerts_section(landing))
        .map(|c| {
            (
                c[1].to_owned(),
                c[2].to_owned(),
                tags.replace_all(&c[3], "").into_owned(),
                c[4].to_owned(),
            )
        })
        .collect()
}

/// The alerts Prometheus holds: (state, alert, device, target).
fn prometheus_alerts(alerts: &[Value]) -> BTreeSet<(String, String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
    alerts
        .iter()
        .map(|a| {
            (
                text(&a["state"]),
                text(&a["labels"]["alertname"]),
                text(&a["labels"]["device"]),
                text(&a["labels"]["target"]),
            )
        })
        .collect()
}

/// The Rackspace demo account read by the exporter, its alerts decided by the bridge and by a
/// real Prometheus with the bundled rules: the same alerts, firing and pending. Among them the
/// document's cases: SQL01's runs complete with errors but can be restored (failing, not
/// stale); vpn01 is Offline but idle between its weekly runs (nothing), build01 Offline with
/// its daily runs missed (BackupAgentOffline, pending for its 30 minutes); mail01 is stale
/// once, for its configuration, not again for the agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_and_bridge_decide_alike_on_the_rackspace_demo() {
    use backup_exporter::sources::rackspace::sim::{fleet as rax, AccountConfig, SimServer};
    let account = AccountConfig::default();
    let upstream = SimServer::start(rax::demo_account(Utc::now()), account.clone())
        .await
        .unwrap();
    let recorder = Receiver::start().await;
    let (process, addr) = start_exporter(&format!(
        "[[source]]\nname = \"rax\"\nkind = \"rackspace\"\nidentity_url = \"{}\"\n\
         username = \"{}\"\napi_key = \"{}\"\nregion = \"DFW\"\nrefresh_interval = \"1s\"\n\n{}",
        upstream.url(),
        account.username,
        account.api_key,
        bridge(&[&format!("{}/", recorder.base_url)], "")
    ))
    .await;
    let prom = Prometheus::start(
        PrometheusConfig::new()
            .scrape("backup_exporter", &[&addr])
            .rule_file(repo_path("alerts/backup_exporter.rules.yml")),
    )
    .await;
    let _logs = LogsOnPanic::of(&[&process, prom.process()]);
    let c = client();
    let c = &c;
    let landing_url = format!("http://{addr}/");
    let landing_url = landing_url.as_str();
    let prom = &prom;

    let (ours, theirs) = wait_until(
        "the bridge and Prometheus to hold the same Rackspace alerts",
        secs(90),
        move || async move {
            let landing = c
                .get(landing_url)
                .send()
                .await
                .map_err(|e| e.to_string())?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            let ours = bridge_alerts(&landing);
            let theirs = prometheus_alerts(&prom.alerts().await);
            if !ours.is_empty() && ours == theirs {
                Ok((ours, theirs))
            } else {
                Err(format!("bridge {ours:?}, Prometheus {theirs:?}"))
            }
        },
    )
    .await;
    assert_eq!(ours, theirs);
    let has = |state: &str, alert: &str, device: &str, target: &str| {
        ours.contains(&(
            state.to_owned(),
            alert.to_owned(),
            device.to_owned(),
            target.to_owned(),
        ))
    };
    let of = |alert: &str, device: &str| {
        ours.iter()
            .filter(|(_, a, d, _)| a == alert && d == device)
            .count()
    };
    let sql = rax::ERRORS_AGENT_NAME;
    assert!(
        has("firing", "BackupFailing", sql, "Daily SQL Server Backup"),
        "{ours:?}"
    );
    assert_eq!(of("BackupStale", sql), 0, "{ours:?}");
    assert!(
        has("pending", "BackupAgentOffline", "build01.acme.example", ""),
        "{ours:?}"
    );
    assert_eq!(
        of("BackupAgentOffline", "vpn01.acme.example"),
        0,
        "{ours:?}"
    );
    assert_eq!(of("BackupStale", "mail01.acme.example"), 1, "{ours:?}");
    assert_eq!(of("BackupStale", rax::DISABLED_AGENT_NAME), 0, "{ours:?}");
}
