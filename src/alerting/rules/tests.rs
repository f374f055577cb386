use super::*;
use crate::config::DEFAULT_RUNBOOK_BASE_URL;
use crate::exposition::MetricSet;
use crate::sources::values::Warnings;

const NOW: f64 = 1_790_000_000.0;
const DAY: f64 = 86_400.0;

fn snapshot(devices: Vec<Device>, targets: Vec<BackupTarget>, stores: Vec<Store>) -> Snapshot {
    Snapshot::new(
        devices,
        targets,
        MetricSet::new("code42", "hq"),
        Warnings::default(),
    )
    .with_stores(stores)
}

fn target(device: &str, target: &str) -> BackupTarget {
    BackupTarget {
        device: device.into(),
        device_id: format!("id-{device}"),
        target: target.into(),
        last_success: Some(NOW - 3600.0),
        last_activity: Some(NOW - 600.0),
        first_seen: Some(NOW - 400.0 * DAY),
        stale_threshold: Some(3.0 * DAY),
        ..Default::default()
    }
}

fn eval(snap: &Snapshot) -> Vec<Candidate> {
    let view = SourceView {
        name: "hq",
        system: "code42",
        snapshot: snap,
    };
    Evaluator::default().evaluate(&[view], NOW)
}

fn names(c: &[Candidate]) -> Vec<&str> {
    c.iter().map(|c| c.rule.name).collect()
}

fn label<'a>(c: &'a Candidate, name: &str) -> Option<&'a str> {
    c.labels
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn a_healthy_target_raises_nothing() {
    assert!(eval(&snapshot(vec![], vec![target("web01", "cloud")], vec![])).is_empty());
}

#[test]
fn stale_past_the_threshold_with_the_rules_labels_and_text() {
    let mut t = target("FIN-WS-0042", "Code42 Cloud USA West");
    t.last_success = Some(NOW - (5.0 * DAY + 130.0));
    t.last_activity = Some(NOW - 7200.0);
    let c = eval(&snapshot(vec![], vec![t.clone()], vec![]));
    assert_eq!(names(&c), ["BackupStale"]);
    let keys: Vec<&str> = c[0].labels.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        [
            "alertname",
            "device",
            "device_id",
            "severity",
            "source",
            "system",
            "target"
        ]
    );
    assert_eq!(label(&c[0], "severity"), Some("critical"));
    assert_eq!(label(&c[0], "system"), Some("code42"));
    assert_eq!(label(&c[0], "target"), Some("Code42 Cloud USA West"));
    assert_eq!(
        c[0].summary,
        "Backup of FIN-WS-0042 to Code42 Cloud USA West is stale: last success 5d 0h 2m 10s ago"
    );
    assert_eq!(
        c[0].description,
        "The last successful backup of device FIN-WS-0042 (id id-FIN-WS-0042) to Code42 Cloud USA West on the code42 source hq finished 5d 0h 2m 10s ago, threshold 3d 0h 0m 0s. Its last backup activity, completed or not, was 2h 0m 0s ago."
    );
    assert_eq!(c[0].value, 5.0 * DAY + 130.0);
    assert_eq!(
        c[0].page,
        Page::Device {
            source: "hq".into(),
            device_id: t.device_id.clone()
        }
    );

    // Exactly at the threshold: not yet (the rule's `>`). No threshold: never.
    t.last_success = Some(NOW - 3.0 * DAY);
    assert!(eval(&snapshot(vec![], vec![t.clone()], vec![])).is_empty());
    t.last_success = Some(NOW - 30.0 * DAY);
    t.stale_threshold = None;
    assert!(eval(&snapshot(vec![], vec![t], vec![])).is_empty());
}

#[test]
fn an_empty_target_is_left_out_of_labels_and_text() {
    let mut t = target("db-01", "");
    t.last_success = Some(NOW - 4.0 * DAY);
    t.last_activity = None;
    let c = eval(&snapshot(vec![], vec![t], vec![]));
    assert_eq!(label(&c[0], "target"), None);
    assert_eq!(c[0].labels.len(), 6);
    assert_eq!(
        c[0].summary,
        "Backup of db-01 is stale: last success 4d 0h 0m 0s ago"
    );
    assert!(
        c[0].description.ends_with(
            "(id id-db-01) on the code42 source hq finished 4d 0h 0m 0s ago, threshold 3d 0h 0m 0s. No backup activity of it is known."
        ),
        "{}",
        c[0].description
    );
}

#[test]
fn never_completed_counts_from_first_seen() {
    let mut t = target("new-laptop", "cloud");
    t.last_success = None;
    t.first_seen = Some(NOW - 4.0 * DAY);
    let c = eval(&snapshot(vec![], vec![t.clone()], vec![]));
    assert_eq!(names(&c), ["BackupNeverCompleted"]);
    assert_eq!(label(&c[0], "severity"), Some("warning"));
    assert_eq!(
        c[0].summary,
        "No backup of new-laptop to cloud has completed in 4d 0h 0m 0s"
    );
    assert_eq!(
        c[0].description,
        "Device new-laptop (id id-new-laptop) on the code42 source hq was first seen 4d 0h 0m 0s ago (threshold 3d 0h 0m 0s), and no backup of it to cloud has ever completed. Its last backup activity was 10m 0s ago."
    );
    t.first_seen = Some(NOW - 2.0 * DAY);
    assert!(eval(&snapshot(vec![], vec![t.clone()], vec![])).is_empty());
    t.first_seen = Some(NOW - 20.0 * DAY);
    t.stale_threshold = None;
    assert!(eval(&snapshot(vec![], vec![t], vec![])).is_empty());
}

#[test]
fn failing_by_run_result_error_count_and_vendor_state() {
    let mut t = target("srv", "nightly");
    t.last_run_failed = Some(true);
    t.last_run_errors = Some(3.0);
    let c = eval(&snapshot(vec![], vec![t.clone()], vec![]));
    assert_eq!(names(&c), ["BackupFailing"]);
    assert_eq!(c[0].summary, "Backup of srv to nightly is failing");
    assert_eq!(
        c[0].description,
        "The backup of device srv (id id-srv) to nightly on the code42 source hq is failing: its latest finished run failed with 3 errors. Its last successful backup finished 1h 0m 0s ago."
    );
    // A run with errors that still made a backup to restore (Rackspace CanRestore): failing,
    // a warning, and not stale; the description says how recent the success is.
    let mut restorable = target("SQL01", "Daily SQL Server Backup");
    restorable.last_run_failed = Some(true);
    restorable.last_run_errors = Some(2.0);
    restorable.last_success = Some(NOW - 5.0 * 3600.0 - 27.0);
    let c = eval(&snapshot(vec![], vec![restorable.clone()], vec![]));
    assert_eq!(names(&c), ["BackupFailing"]);
    assert_eq!(label(&c[0], "severity"), Some("warning"));
    assert!(
        c[0].description
            .ends_with("failed with 2 errors. Its last successful backup finished 5h 0m 27s ago."),
        "{}",
        c[0].description
    );
    // Without a restorable backup for 6 days: failing, and stale (critical).
    restorable.last_success = Some(NOW - 6.0 * DAY);
    let c = eval(&snapshot(vec![], vec![restorable], vec![]));
    assert_eq!(names(&c), ["BackupStale", "BackupFailing"]);
    assert_eq!(label(&c[0], "severity"), Some("critical"));
    // No success known: nothing said of it.
    t.last_success = None;
    t.stale_threshold = None;
    t.last_run_errors = Some(1.0);
    t.alert_states = vec![
        "CriticalBackupAlert".into(),
        "WarningConnectionAlert".into(),
    ];
    let c = eval(&snapshot(vec![], vec![t.clone()], vec![]));
    assert!(
        c[0].description.ends_with(
            "is failing: its latest finished run failed with 1 error, and code42 reports it in alert state CriticalBackupAlert."
        ),
        "{}",
        c[0].description
    );
    t.last_run_failed = Some(false);
    t.last_run_errors = Some(0.0);
    let c = eval(&snapshot(vec![], vec![t.clone()], vec![]));
    assert!(
        c[0].description
            .ends_with("is failing: code42 reports it in alert state CriticalBackupAlert."),
        "{}",
        c[0].description
    );
    // Warnings and other states are not failures; nor is a failure count without a failed run.
    t.alert_states = vec!["WarningBackupAlert".into(), "WARN".into(), "alert".into()];
    t.last_run_errors = Some(2.0);
    assert!(eval(&snapshot(vec![], vec![t], vec![])).is_empty());
}

#[test]
fn offline_by_last_check_in_or_without_one() {
    let device = |name: &str, connected, last| Device {
        name: name.into(),
        id: format!("id-{name}"),
        connected,
        last_connected: last,
        ..Default::default()
    };
    let c = eval(&snapshot(
        vec![
            device("gone", Some(false), Some(NOW - 2.0 * DAY)),
            device("brief", Some(false), Some(NOW - 3600.0)),
            device("online", Some(true), Some(NOW - 9.0 * DAY)),
            device("unknown", None, None),
            device("agent", Some(false), None),
        ],
        vec![],
        vec![],
    ));
    assert_eq!(names(&c), ["BackupAgentOffline", "BackupAgentOffline"]);
    let keys: Vec<&str> = c[0].labels.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        [
            "alertname",
            "device",
            "device_id",
            "severity",
            "source",
            "system"
        ]
    );
    assert_eq!(c[0].summary, "Backup device gone is offline");
    assert_eq!(
        c[0].description,
        "Device gone (id id-gone) on the code42 source hq is offline, not connected to its backup service: it last checked in 2d 0h 0m 0s ago. Its backups cannot run until it connects again."
    );
    assert_eq!(
        c[1].description,
        "Device agent (id id-agent) on the code42 source hq is offline, not connected to its backup service for more than 30 minutes (code42 does not report when it last checked in). Its backups cannot run until it connects again."
    );
    assert_eq!(AGENT_OFFLINE.hold_seconds, 1800);
}

#[test]
fn offline_past_the_device_s_own_limit_only() {
    // Rackspace agents: the last check-in is the last sign of work, the limit the shortest
    // schedule plus an hour (+Inf: nothing scheduled).
    let device = |name: &str, last: Option<f64>, limit: f64| Device {
        name: name.into(),
        id: format!("id-{name}"),
        connected: Some(false),
        last_connected: last,
        offline_threshold: Some(limit),
        ..Default::default()
    };
    let c = eval(&snapshot(
        vec![
            // Weekly, idle since its run 2 days ago.
            device("vpn01", Some(NOW - 2.0 * DAY), 7.0 * DAY + 3600.0),
            // Manual only, last run weeks ago.
            device("app03", Some(NOW - 37.5 * DAY), f64::INFINITY),
            // Scheduled but never worked: no check-in to be late from.
            device("new01", None, DAY + 3600.0),
            // Daily, runs missed since its last work 49 hours ago.
            device("build01", Some(NOW - 49.0 * 3600.0), DAY + 3600.0),
            // Daily, 24 hours since its last run: not late yet.
            device("web01", Some(NOW - DAY), DAY + 3600.0),
        ],
        vec![],
        vec![],
    ));
    assert_eq!(names(&c), ["BackupAgentOffline"]);
    assert_eq!(label(&c[0], "device"), Some("build01"));
    assert_eq!(
        c[0].description,
        "Device build01 (id id-build01) on the code42 source hq is offline, not connected to its backup service: it last checked in 2d 1h 0m 0s ago, longer than the 1d 1h 0m 0s its backup schedule allows. Its backups cannot run until it connects again."
    );
}

#[test]
fn a_store_under_a_tenth_free_with_its_trend() {
    let store = |free: f64| Store {
        name: "cloud-west-01".into(),
        id: "11".into(),
        free_bytes: Some(free),
        free_ratio: Some(free / 10e12),
    };
    let mut evaluator = Evaluator::default();
    fn view(snapshot: &Snapshot) -> SourceView<'_> {
        SourceView {
            name: "hq",
            system: "code42",
            snapshot,
        }
    }
    // 1.5 TB free of 10: not filling up.
    let healthy = snapshot(vec![], vec![], vec![store(1.5e12)]);
    assert!(evaluator.evaluate(&[view(&healthy)], NOW).is_empty());

    let low = snapshot(vec![], vec![], vec![store(0.8e12)]);
    let c = evaluator.evaluate(&[view(&low)], NOW + 10.0);
    assert_eq!(names(&c), ["BackupStoreFillingUp"]);
    let keys: Vec<&str> = c[0].labels.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        [
            "alertname",
            "mount_point",
            "mount_point_id",
            "severity",
            "source"
        ]
    );
    assert_eq!(
        c[0].summary,
        "Backup store cloud-west-01 of hq is filling up"
    );
    assert_eq!(c[0].page, Page::Alerts);

    // The trend: samples at most once a minute (the one 10 s later is not taken), over a day.
    let mut evaluator = Evaluator::default();
    let c = evaluator.evaluate(&[view(&low)], NOW);
    assert!(
        c[0].description
            .contains("(745.1GiB); it is not filling up now."),
        "{}",
        c[0].description
    );
    let lower = snapshot(vec![], vec![], vec![store(0.7e12)]);
    evaluator.evaluate(&[view(&lower)], NOW + 10.0);
    // Falling 0.1 TB an hour, from 0.798 TB: full in 7h 59m.
    let falling = snapshot(vec![], vec![], vec![store(0.8e12 - 0.1e12 / 60.0)]);
    let c = evaluator.evaluate(&[view(&falling)], NOW + 60.0);
    assert_eq!(
        c[0].description,
        "Mount point cloud-west-01 (id 11) of the source hq has 7.983% of its space free (743.5GiB); at the rate of the last day it is full in 7h 59m 0s. When it is full, the archives on it cannot grow and the backups of their devices stop."
    );
    // A day later, the old samples are gone; a steady store is not filling up.
    let c = evaluator.evaluate(&[view(&falling)], NOW + DAY + 61.0);
    let c2 = evaluator.evaluate(&[view(&falling)], NOW + DAY + 200.0);
    assert!(
        c[0].description.contains("not filling up"),
        "{}",
        c[0].description
    );
    assert!(
        c2[0].description.contains("not filling up"),
        "{}",
        c2[0].description
    );
}

#[test]
fn time_to_full_is_a_least_squares_fit() {
    let h: VecDeque<(f64, f64)> = [(0.0, 100.0), (60.0, 90.0), (120.0, 80.0)].into();
    // 10 per minute from 80 at t=120, asked at t=120: 8 minutes.
    assert_eq!(time_to_full(&h, 120.0), Some(480.0));
    let rising: VecDeque<(f64, f64)> = [(0.0, 80.0), (60.0, 90.0)].into();
    assert_eq!(time_to_full(&rising, 60.0), None);
    let one: VecDeque<(f64, f64)> = [(0.0, 80.0)].into();
    assert_eq!(time_to_full(&one, 60.0), None);
}

#[test]
fn the_largest_value_wins_for_one_label_set() {
    let mut a = target("dup", "cloud");
    a.last_success = Some(NOW - 4.0 * DAY);
    let mut b = a.clone();
    b.last_success = Some(NOW - 6.0 * DAY);
    let c = eval(&snapshot(vec![], vec![a, b], vec![]));
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].value, 6.0 * DAY);
}

/// The rules of the bundled rule file (generated from the mixin with its default settings).
fn rule_file() -> Vec<serde_yaml_ng::Value> {
    let file: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(include_str!("../../../alerts/backup_exporter.rules.yml"))
            .expect("the rule file is YAML");
    let groups = file["groups"].as_sequence().expect("groups");
    assert_eq!(groups.len(), 1, "one rule group");
    groups[0]["rules"].as_sequence().expect("rules").clone()
}

fn text<'a>(rule: &'a serde_yaml_ng::Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(rule, |v, k| v.get(k))?.as_str()
}

#[test]
fn every_rule_of_the_rule_file_and_only_those_are_bridged() {
    let rules = rule_file();
    let named = |name: &str| {
        rules
            .iter()
            .find(|r| text(r, &["alert"]) == Some(name))
            .unwrap_or_else(|| panic!("{name} is in the rule file"))
    };
    for rule in RULES {
        let yaml = named(rule.name);
        assert_eq!(
            text(yaml, &["labels", "severity"]),
            Some(rule.severity),
            "{}",
            rule.name
        );
        // The bridge's default runbook_base_url and the mixin's default runbookURL link the
        // same section.
        assert_eq!(
            rule.runbook_anchor,
            rule.name.to_lowercase(),
            "{}",
            rule.name
        );
        assert_eq!(
            text(yaml, &["annotations", "runbook_url"]),
            Some(format!("{DEFAULT_RUNBOOK_BASE_URL}#{}", rule.runbook_anchor).as_str()),
            "{}",
            rule.name
        );
        let hold = text(yaml, &["for"]).map(|d| {
            humantime::parse_duration(d)
                .unwrap_or_else(|e| panic!("{}: for {d}: {e}", rule.name))
                .as_secs()
        });
        let want = (rule.hold_seconds > 0).then_some(u64::from(rule.hold_seconds));
        assert_eq!(hold, want, "{}: for", rule.name);
    }
    // And the four about the exporter itself, which stay with Prometheus.
    let exporter_rules = [
        "BackupExporterDown",
        "BackupExporterSourceDown",
        "BackupExporterRefreshStale",
        "BackupExporterConfigReloadFailed",
    ];
    for name in exporter_rules {
        named(name);
        assert!(
            RULES.iter().all(|r| r.name != name),
            "{name} is not bridged"
        );
    }
    assert_eq!(rules.len(), RULES.len() + exporter_rules.len());
}

/// The limits the bridge applies are those of the rule file (the mixin's defaults).
#[test]
fn the_bridges_limits_are_the_rule_files() {
    let rules = rule_file();
    let expr = |name: &str| {
        rules
            .iter()
            .find(|r| text(r, &["alert"]) == Some(name))
            .and_then(|r| text(r, &["expr"]))
            .unwrap_or_else(|| panic!("{name} has an expr"))
            .to_owned()
    };
    let ratio = format!("crashplan_mount_point_free_ratio < {STORE_FREE_RATIO_LIMIT})");
    assert!(
        expr(STORE_FILLING_UP.name).contains(&ratio),
        "{ratio} in {}",
        expr(STORE_FILLING_UP.name)
    );
    let offline = format!(
        "(time() - backup_device_last_connected_timestamp_seconds > {OFFLINE_AFTER_SECONDS})"
    );
    assert!(
        expr(AGENT_OFFLINE.name).contains(&offline),
        "{offline} in {}",
        expr(AGENT_OFFLINE.name)
    );
    let states = format!(
        "backup_alert_state{{state=~\"{}\"}}",
        FAILING_STATES.join("|")
    );
    assert!(
        expr(FAILING.name).contains(&states),
        "{states} in {}",
        expr(FAILING.name)
    );
}
