//! A restart changes no alert: with a `state_file`, what the exporter learned of each target
//! (when it first read it, the last success the vendor reported) carries on into the next
//! process. Without one, both start afresh (the control that shows each check can fail).

mod common;

use std::path::Path;
use std::sync::Arc;

use backup_exporter::alerting::rules::Evaluator;
use backup_exporter::config::Config;
use backup_exporter::refresh::{unix, Exporter, Outcome};
use backup_exporter::sim::Simulator;
use backup_exporter::sources::code42::sim::{Dataset, SimServer};
use chrono::{Duration as Age, Utc};
use common::code42_fleet::{computer, device_id, HEALTHY, STALE};
use common::samples;
use serde_json::Value;

const USER: &str = "ops@example.com";
const PASSWORD: &str = "correct horse battery staple";

/// A device the console knows no creation time of and that never completed a backup: its
/// first-seen time is when the exporter first read it.
const NEW: &str = HEALTHY[0];
/// A device backed up an hour ago.
const DONE: &str = HEALTHY[1];

/// The console: [`NEW`] never backed up, [`DONE`] an hour ago, unless `done_readable` is
/// false: then its last completed backup is a value the exporter cannot read.
fn dataset(done_readable: bool) -> Dataset {
    let now = Utc::now();
    let mut new = computer(2, NEW, Age::hours(1), "OK", now);
    new.as_object_mut().unwrap().remove("creationDate");
    let usage = &mut new["backupUsage"][0];
    for key in ["lastBackup", "lastCompletedBackup", "creationDate"] {
        usage[key] = Value::Null;
    }
    let mut done = computer(3, DONE, Age::hours(1), "OK", now);
    if !done_readable {
        done["backupUsage"][0]["lastCompletedBackup"] = Value::from("not a time");
    }
    Dataset {
        computers: vec![new, done],
        ..Dataset::default()
    }
}

async fn console(dataset: Dataset) -> SimServer {
    common::code42_fleet::serve(dataset, USER, PASSWORD).await
}

fn config(url: &str, state_file: Option<&Path>) -> Config {
    let state = state_file.map_or(String::new(), |p| {
        format!("state_file = {:?}\n", p.display().to_string())
    });
    Config::from_toml_str(&format!(
        "{state}[[source]]\nname = \"console\"\nkind = \"code42\"\nurl = \"{url}\"\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"\n"
    ))
    .unwrap()
}

/// A new exporter process, as far as the state goes: built from `config`, refreshed once.
async fn start(config: &Config) -> (Arc<Exporter>, std::collections::BTreeMap<String, f64>) {
    let (exporter, mut sources) = Exporter::new(config).unwrap();
    let outcome = exporter.refresh(0, &mut sources[0]).await;
    assert!(matches!(outcome, Outcome::Ok), "{outcome:?}");
    let text = String::from_utf8(exporter.rendered().text().to_vec()).unwrap();
    (exporter, samples(&text))
}

fn series(family: &str, device: &str) -> String {
    format!(
        "{family}{{system=\"code42\",source=\"console\",device=\"{device}\",device_id=\"{}\",target=\"{}\"}}",
        device_id(device),
        common::code42_fleet::TARGET
    )
}

#[tokio::test]
async fn a_restart_keeps_first_seen_times_and_last_successes() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let server = console(dataset(true)).await;
    let cfg = config(&server.url(), Some(&state));

    let (_, before) = start(&cfg).await;
    let first_seen = before[&series("backup_first_seen_timestamp_seconds", NEW)];
    let success = before[&series("backup_last_success_timestamp_seconds", DONE)];
    assert!(state.exists(), "written after the refresh");

    // The next process, 50 ms later; the console cannot say when DONE last completed.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    server.set_dataset(dataset(false));
    let (_, after) = start(&cfg).await;
    assert_eq!(
        after[&series("backup_first_seen_timestamp_seconds", NEW)],
        first_seen
    );
    assert_eq!(
        after[&series("backup_last_success_timestamp_seconds", DONE)],
        success
    );

    // The same without a state file: both start afresh.
    let (_, afresh) = start(&config(&server.url(), None)).await;
    assert!(afresh[&series("backup_first_seen_timestamp_seconds", NEW)] > first_seen);
    assert!(!afresh.contains_key(&series("backup_last_success_timestamp_seconds", DONE)));
}

#[tokio::test]
async fn never_completed_counts_from_the_first_read_before_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let server = console(dataset(true)).await;
    let now = unix(std::time::SystemTime::now());
    // What an earlier process wrote: it first read NEW four days ago (over the 3-day
    // threshold), and read it last a minute ago.
    std::fs::write(
        &state,
        serde_json::json!({
            "version": 1,
            "sources": {"console": {"kind": "code42", "targets": [{
                "device_id": device_id(NEW),
                "target": common::code42_fleet::TARGET,
                "first_read": now - 4.0 * 86_400.0,
                "last_read": now - 60.0,
            }]}}
        })
        .to_string(),
    )
    .unwrap();
    let never_completed = |exporter: &Exporter| -> Vec<String> {
        exporter.evaluate_alerts(&mut Evaluator::default(), now + 1.0);
        exporter.with_alerts(|t| {
            t.alerts()
                .filter(|a| a.rule.name == "BackupNeverCompleted" && a.firing())
                .map(|a| a.device.clone())
                .collect()
        })
    };
    let (exporter, _) = start(&config(&server.url(), Some(&state))).await;
    assert_eq!(never_completed(&exporter), [NEW]);
    // Without the file, the device is new again: no alert for three more days.
    let (exporter, _) = start(&config(&server.url(), None)).await;
    assert!(never_completed(&exporter).is_empty());
    assert_ne!(NEW, STALE);
}

#[tokio::test]
async fn an_unreadable_state_file_starts_afresh_and_is_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    std::fs::write(&state, "{ not json").unwrap();
    let server = console(dataset(true)).await;
    let (_, s) = start(&config(&server.url(), Some(&state))).await;
    assert!(s.contains_key(&series("backup_first_seen_timestamp_seconds", NEW)));
    let written: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(written["version"], 1);
    assert_eq!(
        written["sources"]["console"]["targets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn a_state_file_path_that_is_a_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = Config::from_toml_str(&format!(
        "state_file = {:?}\n[[source]]\nname = \"console\"\nkind = \"code42\"\nurl = \"https://console.example\"\nusername = \"u\"\npassword = \"p\"\n",
        dir.path().display().to_string()
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("state_file"), "{err}");
}

#[tokio::test]
async fn a_firing_alert_goes_on_after_a_restart_with_the_same_start() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let server = console(common::code42_fleet::console(Utc::now())).await;
    let cfg = config(&server.url(), Some(&state));
    let stale_since = |exporter: &Exporter, now: f64| -> Option<(f64, Option<f64>)> {
        exporter.evaluate_alerts(&mut Evaluator::default(), now);
        exporter.with_alerts(|t| {
            t.alerts()
                .find(|a| a.rule.name == "BackupStale" && a.device == STALE)
                .map(|a| (a.active_since, a.fired_at))
        })
    };
    // Whole seconds: JSON numbers read back may differ in the last bit of a fraction.
    let now = unix(std::time::SystemTime::now()).floor();
    let (exporter, _) = start(&cfg).await;
    assert_eq!(stale_since(&exporter, now), Some((now, Some(now))));
    // The evaluation that fired it writes the state file (off the runtime's threads).
    for _ in 0..100 {
        if std::fs::read_to_string(&state).is_ok_and(|s| s.contains("BackupStale")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(exporter);

    // Ten minutes later, a new process: the same alert, begun and fired when it was.
    let (exporter, _) = start(&cfg).await;
    assert_eq!(stale_since(&exporter, now + 600.0), Some((now, Some(now))));
    // Without the file, a new alert.
    let (exporter, _) = start(&config(&server.url(), None)).await;
    assert_eq!(
        stale_since(&exporter, now + 600.0),
        Some((now + 600.0, Some(now + 600.0)))
    );
}
