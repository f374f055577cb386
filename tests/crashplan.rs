//! The CrashPlan PRO source end to end over real HTTP: the simulated server serves the vendor
//! document's payloads (and fixtures with the document's quirks), with paging, auth checks
//! and injected faults; the exporter reads it as it would read a production server.

mod common;

use std::time::Duration;

use backup_exporter::app;
use backup_exporter::refresh::{Exporter, Outcome};
use backup_exporter::sim::Simulator;
use backup_exporter::sources::crashplan::sim::fleet as crashplan_fleet;
use backup_exporter::sources::crashplan::sim::{Dataset, Fault};
use common::*;

/// `once` on the document's own examples, compared line by line with the golden file.
/// Regenerate with `UPDATE_GOLDEN=1 cargo test --test crashplan`, then review the diff.
#[tokio::test]
async fn document_examples_match_the_golden_exposition() {
    let server = sim(Dataset::document_examples(), true).await;
    let (text, ok) = app::once(&config(&server.url(), PASSWORD, ""))
        .await
        .unwrap();
    assert!(ok);
    assert_golden("crashplan_document.prom", &text);
    let s = samples(&text);
    assert_eq!(
        s[r#"backup_exporter_source_up{source="hq",system="crashplan"}"#],
        1.0
    );
}

#[tokio::test]
async fn quirks_of_the_document_are_handled() {
    let server = sim(quirks(), true).await;
    let (text, ok) = app::once(&config(&server.url(), PASSWORD, ""))
        .await
        .unwrap();
    assert!(ok, "{text}");
    let s = samples(&text);
    let t = r#"system="crashplan",source="hq",device="c42-dhcp-191.c42",device_id="343195742699662015",target="proserver.acme.com""#;
    // Offsets written -0500, Z and -05:00 all read.
    assert_eq!(
        s[&format!("backup_last_activity_timestamp_seconds{{{t}}}")],
        1_283_386_213.45
    );
    assert_eq!(
        s[&format!("backup_last_connected_timestamp_seconds{{{t}}}")],
        1_283_387_038.779
    );
    // Numbers as strings; todo left, so no known success yet.
    assert_eq!(s[&format!("backup_selected_files{{{t}}}")], 1513.0);
    assert!(!s.contains_key(&format!("backup_last_success_timestamp_seconds{{{t}}}")));
    let ratio = s[&format!("backup_completion_ratio{{{t}}}")];
    assert!((ratio - 15_000_000_000_000.0 / 19_839_461_229_438.0).abs() < 1e-12);
    assert_eq!(s[&format!("backup_alert_state{{{t},state=\"WARN\"}}")], 1.0);
    assert!(!s.contains_key(&format!("backup_alert_state{{{t},state=\"OK\"}}")));
    // Booleans as strings; status flags.
    let d = r#"source="hq",device="c42-dhcp-191.c42",device_id="343195742699662015""#;
    assert_eq!(s[&format!("crashplan_device_connected{{{d}}}")], 0.0);
    assert_eq!(
        s[&format!("crashplan_device_status{{{d},status=\"Blocked\"}}")],
        1.0
    );
    assert_eq!(
        s[&format!("crashplan_device_status{{{d},status=\"Active\"}}")],
        1.0
    );
    assert_eq!(
        s[&format!("crashplan_device_last_connected_to_server_timestamp_seconds{{{d}}}")],
        1_283_386_859.738
    );

    // A GUID beyond 2^53 given as a string, never backed up: null times absent, not 0.
    let n = r#"system="crashplan",source="hq",device="never-backed-up",device_id="9007199254740993",target="proserver.acme.com""#;
    assert_eq!(s[&format!("backup_completion_ratio{{{n}}}")], 0.0);
    assert_eq!(s[&format!("backup_todo_bytes{{{n}}}")], 5000.0);
    for absent in [
        "backup_last_activity_timestamp_seconds",
        "backup_last_success_timestamp_seconds",
        "backup_last_connected_timestamp_seconds",
    ] {
        assert!(!s.contains_key(&format!("{absent}{{{n}}}")), "{absent}");
    }
    // Its computer is in ALERT, the pair reports nothing: the pair is OK, the ALERT is the
    // computer's (device-level) state.
    assert_eq!(
        s.get(&format!("backup_alert_state{{{n},state=\"ALERT\"}}"))
            .copied()
            .unwrap_or(0.0),
        0.0
    );
    assert_eq!(s[&format!("backup_alert_state{{{n},state=\"OK\"}}")], 1.0);
    assert_eq!(
        s[r#"crashplan_computer_alert_state{source="hq",device="never-backed-up",device_id="9007199254740993",state="ALERT"}"#],
        1.0
    );
    assert!(text.contains(r#"device="never-backed-up",device_id="9007199254740993",user="userthree@testorg.org",org="SubOrg1",status="Active",mount_point="archive-2"}"#));

    // The deactivated computer is left out by default.
    assert!(!text.contains("retired-laptop"));
    assert!(!text.contains("900719925474099312"));

    // Mount points from the detail view; percent as text; a disabled one.
    let mp = r#"source="hq",mount_point="archive-2",mount_point_id="7""#;
    assert_eq!(s[&format!("crashplan_mount_point_enabled{{{mp}}}")], 0.0);
    assert_eq!(
        s[&format!("crashplan_mount_point_free_ratio{{{mp}}}")],
        0.75
    );
    assert_eq!(
        s[&format!("crashplan_mount_point_total_bytes{{{mp}}}")],
        4e12
    );
    assert_eq!(
        s[&format!("crashplan_mount_point_write_bytes_per_second{{{mp}}}")],
        73_400_320.0
    );
    // Orgs from the detail view: unlimited quota absent, negative delta kept.
    let root = r#"source="hq",org="PROServer Demo",org_id="2""#;
    assert_eq!(s[&format!("crashplan_org_archive_bytes{{{root}}}")], 1500.0);
    assert_eq!(
        s[&format!("crashplan_org_archive_delta_bytes{{{root}}}")],
        -20.0
    );
    assert!(!s.contains_key(&format!("crashplan_org_quota_bytes{{{root}}}")));
    assert_eq!(
        s[r#"crashplan_org_quota_seats{source="hq",org="SubOrg1",org_id="43"}"#],
        10.0
    );
    // A plausible uptimeMilliseconds is used as is.
    assert_eq!(
        s[r#"crashplan_server_uptime_seconds{source="hq"}"#],
        172_800.0
    );

    let mut with_deactivated = config(&server.url(), PASSWORD, "include_deactivated = true");
    with_deactivated.sources[0].page_size = 1;
    let (text, ok) = app::once(&with_deactivated).await.unwrap();
    assert!(ok);
    assert!(text.contains(
        r#"device="retired-laptop",device_id="900719925474099312",target="proserver.acme.com"}"#
    ));
}

#[tokio::test]
async fn lists_are_paged() {
    let fleet = crashplan_fleet::demo_fleet(chrono::Utc::now());
    let usages = fleet.usages.len();
    let computers = fleet.computers.len();
    let server = sim(fleet, true).await;
    let (text, ok) = app::once(&config(&server.url(), PASSWORD, "page_size = 7"))
        .await
        .unwrap();
    assert!(ok);
    // Pages until one is shorter than the limit; an exact multiple ends on an empty page.
    assert_eq!(server.request_count("usages"), usages / 7 + 1);
    assert_eq!(server.request_count("computers"), computers / 7 + 1);
    let targets = text
        .lines()
        .filter(|l| l.starts_with("backup_selected_bytes{"))
        .count();
    let deactivated = 1;
    assert_eq!(targets, usages - deactivated);
    assert!(text.contains(crashplan_fleet::LONG_ALERT_DEVICE));
    assert!(!text.contains(crashplan_fleet::DEACTIVATED_DEVICE));
}

/// The source computers of a fleet (the computers its usages back up).
fn sources_of(fleet: &Dataset) -> std::collections::BTreeSet<String> {
    fleet
        .usages
        .iter()
        .map(|u| u["sourceId"].to_string())
        .collect()
}

/// Computer details are read once per source computer, then only for computers whose backup
/// activity changed, and never more than `detail_calls_per_refresh` per refresh.
#[tokio::test]
async fn computer_details_are_read_only_when_activity_changed() {
    let now = chrono::Utc::now();
    let fleet = crashplan_fleet::demo_fleet(now);
    let sources = sources_of(&fleet).len();
    let server = sim(fleet, true).await;
    let cfg = config(&server.url(), PASSWORD, "");
    let (exporter, mut sources_) = Exporter::new(&cfg).unwrap();
    assert!(matches!(
        exporter.refresh(0, &mut sources_[0]).await,
        Outcome::Ok
    ));
    assert_eq!(server.request_count("computer"), sources);
    // The destinations (not backup sources) are never read.
    assert!(!server
        .requested_paths()
        .iter()
        .any(|p| p == "/rest/computers/1" || p == "/rest/computers/2"));

    server.clear_requests();
    assert!(matches!(
        exporter.refresh(0, &mut sources_[0]).await,
        Outcome::Ok
    ));
    assert_eq!(server.request_count("computer"), 0, "nothing changed");

    // One computer backs up again: its detail alone is read.
    let mut changed = (*server.dataset()).clone();
    let u = &mut changed.usages[0];
    u["lastActivity"] = serde_json::json!(crashplan_fleet_time(now));
    let id = u["sourceId"].to_string();
    server.set_dataset(changed);
    server.clear_requests();
    assert!(matches!(
        exporter.refresh(0, &mut sources_[0]).await,
        Outcome::Ok
    ));
    assert_eq!(
        server
            .requested_paths()
            .into_iter()
            .filter(|p| p.starts_with("/rest/computers/"))
            .collect::<Vec<_>>(),
        vec![format!("/rest/computers/{id}")]
    );

    // A limit spreads the first reading over several refreshes.
    let server = sim(crashplan_fleet::demo_fleet(now), true).await;
    let cfg = config(&server.url(), PASSWORD, "detail_calls_per_refresh = 15");
    let (exporter, mut sources_) = Exporter::new(&cfg).unwrap();
    let mut per_refresh = Vec::new();
    for _ in 0..4 {
        server.clear_requests();
        assert!(matches!(
            exporter.refresh(0, &mut sources_[0]).await,
            Outcome::Ok
        ));
        per_refresh.push(server.request_count("computer"));
    }
    assert_eq!(per_refresh[..2], [15, 15]);
    assert_eq!(per_refresh.iter().sum::<usize>(), sources);
    assert_eq!(per_refresh[3], 0);
}

/// An ISO 8601 time a minute before `now`, as the server writes it.
fn crashplan_fleet_time(now: chrono::DateTime<chrono::Utc>) -> String {
    backup_exporter::sources::crashplan::sim::server_timestamp(now - chrono::Duration::minutes(1))
}

/// A detail call that fails costs that computer's detail only, kept from an earlier refresh.
#[tokio::test]
async fn a_failed_detail_call_never_costs_the_fleet() {
    let fleet = crashplan_fleet::demo_fleet(chrono::Utc::now());
    let usages = fleet.usages.len();
    let server = sim(fleet, true).await;
    server.faults().set_times(
        "computer",
        Fault {
            status: Some(500),
            ..Fault::default()
        },
        3,
    );
    let cfg = config(&server.url(), PASSWORD, "");
    let (exporter, mut sources) = Exporter::new(&cfg).unwrap();
    assert!(matches!(
        exporter.refresh(0, &mut sources[0]).await,
        Outcome::Ok
    ));
    let text = String::from_utf8(exporter.rendered().text().to_vec()).unwrap();
    let targets = text
        .lines()
        .filter(|l| l.starts_with("backup_selected_bytes{"))
        .count();
    assert_eq!(targets, usages - 1);
    // Those three are read again next refresh (with retries, each failed call may have been
    // asked more than once); the others are not.
    server.clear_requests();
    assert!(matches!(
        exporter.refresh(0, &mut sources[0]).await,
        Outcome::Ok
    ));
    assert!((1..=3).contains(&server.request_count("computer")));
}

/// The busy device (a backup in progress whenever it is read) is not stale: its detail view's
/// `lastBackup` is its last success. The device with one failing destination is in ALERT for
/// that destination only.
#[tokio::test]
async fn a_busy_device_and_a_failing_destination() {
    let now = chrono::Utc::now();
    let server = sim(crashplan_fleet::demo_fleet(now), true).await;
    let (text, ok) = app::once(&config(&server.url(), PASSWORD, ""))
        .await
        .unwrap();
    assert!(ok);
    let s = samples(&text);
    let one = |name: &str, device: &str, extra: &str| -> Option<f64> {
        s.iter()
            .find(|(k, _)| {
                k.starts_with(&format!("{name}{{"))
                    && k.contains(&format!("device=\"{device}\""))
                    && k.contains(extra)
            })
            .map(|(_, v)| *v)
    };
    let busy = crashplan_fleet::IN_PROGRESS_DEVICE;
    let success = one("backup_last_success_timestamp_seconds", busy, "").unwrap();
    let expected = now.timestamp() as f64 - crashplan_fleet::IN_PROGRESS_LAST_BACKUP_HOURS * 3600.0;
    assert!((success - expected).abs() < 5.0, "{success} {expected}");
    assert!(one("backup_todo_bytes", busy, "").unwrap() > 0.0);

    let failing = crashplan_fleet::OFFSITE_FAILING_DEVICE;
    let primary = format!("target=\"{}\"", crashplan_fleet::PRIMARY_SERVER_NAME);
    let offsite = format!("target=\"{}\"", crashplan_fleet::OFFSITE_SERVER_NAME);
    let alert = |target: &str| {
        one(
            "backup_alert_state",
            failing,
            &format!("{target},state=\"ALERT\""),
        )
        .unwrap_or(0.0)
    };
    assert_eq!(alert(&offsite), 1.0);
    assert_eq!(alert(&primary), 0.0);
    assert_eq!(
        one("crashplan_computer_alert_state", failing, "state=\"ALERT\""),
        Some(1.0)
    );
    // OS and client version, from the detail view.
    let info = text
        .lines()
        .find(|l| l.starts_with("backup_device_info{") && l.contains(failing))
        .unwrap();
    assert!(
        info.contains("os=\"Linux\"") && info.contains("version="),
        "{info}"
    );
}

/// What a refresh of the demo fleet costs (pages of 500): the first reads everything, each
/// list twice (its one page, then the next offset), every org and mount point detail and
/// every source computer's detail; a refresh where nothing changed reads the usages,
/// computers and users lists and serverStats only.
#[tokio::test]
async fn a_steady_refresh_costs_seven_requests() {
    let fleet = crashplan_fleet::demo_fleet(chrono::Utc::now());
    let (orgs, points, sources) = (
        fleet.orgs.len(),
        fleet.mount_points.len(),
        sources_of(&fleet).len(),
    );
    let server = sim(fleet, true).await;
    let cfg = config(&server.url(), PASSWORD, "");
    let (exporter, mut sources_) = Exporter::new(&cfg).unwrap();
    let mut costs = Vec::new();
    for _ in 0..3 {
        server.clear_requests();
        assert!(matches!(
            exporter.refresh(0, &mut sources_[0]).await,
            Outcome::Ok
        ));
        costs.push(server.requested_paths().len());
    }
    assert_eq!(costs[0], 5 * 2 + orgs + points + 1 + sources);
    assert_eq!(costs[1..], [7, 7]);
}

/// Org and mount point details are read on their own cadence, not every refresh.
#[tokio::test]
async fn orgs_and_mount_points_are_read_on_their_own_cadence() {
    let fleet = crashplan_fleet::demo_fleet(chrono::Utc::now());
    let orgs = fleet.orgs.len();
    let points = fleet.mount_points.len();
    let server = sim(fleet, true).await;
    let refreshes = |extra: &'static str| {
        let server = &server;
        async move {
            server.clear_requests();
            let cfg = config(&server.url(), PASSWORD, extra);
            let (exporter, mut sources) = Exporter::new(&cfg).unwrap();
            for _ in 0..2 {
                assert!(matches!(
                    exporter.refresh(0, &mut sources[0]).await,
                    Outcome::Ok
                ));
            }
            let text = String::from_utf8(exporter.rendered().text().to_vec()).unwrap();
            assert!(text.contains("crashplan_org_quota_bytes{"));
            assert!(text.contains("crashplan_mount_point_free_bytes{"));
            (
                server.request_count("org"),
                server.request_count("mountPoint"),
            )
        }
    };
    // Defaults (6h, 15m): read once in two refreshes.
    assert_eq!(refreshes("").await, (orgs, points));
    // Every refresh when asked.
    assert_eq!(
        refreshes("org_interval = \"0s\"\nmount_point_interval = \"0s\"").await,
        (2 * orgs, 2 * points)
    );
}

/// A server that serves at most 10 items a page, asked for 25: every device is still read,
/// at the server's page size, and `metadata.count` (the items of each answer) cannot tell.
#[tokio::test]
async fn a_server_that_caps_the_page_size_loses_no_device() {
    let fleet = crashplan_fleet::demo_fleet(chrono::Utc::now());
    let usages = fleet.usages.len();
    let computers = fleet.computers.len();
    assert!(usages > 25 && computers > 25, "lists longer than one page");
    let server = sim(fleet, true).await;
    server.set_max_page_size(Some(10));
    let (text, ok) = app::once(&config(&server.url(), PASSWORD, "page_size = 25"))
        .await
        .unwrap();
    assert!(ok);
    let targets = text
        .lines()
        .filter(|l| l.starts_with("backup_selected_bytes{"))
        .count();
    let deactivated = 1;
    assert_eq!(targets, usages - deactivated);
    // The short first page, then pages of 10 until one is shorter.
    assert_eq!(server.request_count("usages"), usages / 10 + 1);
    assert_eq!(server.request_count("computers"), computers / 10 + 1);
}

/// A list that fits in one page costs one request more (the next offset answers nothing).
#[tokio::test]
async fn a_list_in_one_page_is_confirmed_by_one_more_request() {
    let fleet = crashplan_fleet::demo_fleet(chrono::Utc::now());
    let usages = fleet.usages.len();
    let server = sim(fleet, true).await;
    let (_, ok) = app::once(&config(&server.url(), PASSWORD, "page_size = 500"))
        .await
        .unwrap();
    assert!(ok);
    assert_eq!(server.request_count("usages"), 2);
    let offsets: Vec<String> = server
        .requested_paths()
        .into_iter()
        .filter(|p| p.starts_with("/rest/usages?"))
        .collect();
    assert_eq!(
        offsets,
        vec![
            "/rest/usages?offset=0&limit=500".to_owned(),
            format!("/rest/usages?offset={usages}&limit=500"),
        ]
    );
}

#[tokio::test]
async fn a_server_that_ignores_paging_is_read_once_per_list() {
    let fleet = crashplan_fleet::demo_fleet(chrono::Utc::now());
    let usages = fleet.usages.len();
    let server = sim(fleet, true).await;
    server.faults().set_ignore_paging(true);
    let (text, ok) = app::once(&config(&server.url(), PASSWORD, "page_size = 5"))
        .await
        .unwrap();
    assert!(ok);
    assert_eq!(server.request_count("usages"), 1);
    let targets = text
        .lines()
        .filter(|l| l.starts_with("backup_archive_bytes{"))
        .count();
    assert_eq!(targets, usages - 1);
}

#[tokio::test]
async fn a_server_that_ignores_offset_fails_instead_of_looping() {
    let server = sim(crashplan_fleet::demo_fleet(chrono::Utc::now()), true).await;
    server.faults().set_ignore_offset(true);
    let (text, ok) = app::once(&config(&server.url(), PASSWORD, "page_size = 5"))
        .await
        .unwrap();
    assert!(!ok);
    assert!(server.request_count("usages") <= 2);
    let s = samples(&text);
    assert_eq!(
        s[r#"backup_exporter_refresh_errors_total{reason="paging",source="hq",system="crashplan"}"#],
        1.0
    );
}

/// Runs one refresh and returns the exporter and the outcome.
async fn refresh_once(
    cfg: &backup_exporter::config::Config,
) -> (std::sync::Arc<Exporter>, Outcome) {
    let (exporter, mut sources) = Exporter::new(cfg).unwrap();
    let outcome = exporter.refresh(0, &mut sources[0]).await;
    (exporter, outcome)
}

fn failed_reason(o: &Outcome) -> &'static str {
    match o {
        Outcome::Failed { reason, .. } => reason,
        Outcome::Ok => panic!("refresh succeeded"),
    }
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_never_shown() {
    let server = sim(Dataset::document_examples(), true).await;
    let (exporter, outcome) = refresh_once(&config(&server.url(), "hunter2-wrong", "")).await;
    assert_eq!(failed_reason(&outcome), "unauthorized");
    let state = exporter.sources()[0].state();
    let err = state.last_error.unwrap();
    assert!(err.contains("401"), "{err}");
    let text = String::from_utf8(exporter.rendered().text().to_vec()).unwrap();
    assert!(!text.contains("hunter2"));
    assert!(!err.contains("hunter2"));
    let refused: f64 = samples(&text)
        .iter()
        .filter(|(k, _)| k.starts_with("backup_exporter_upstream_requests_total{code=\"401\""))
        .map(|(_, v)| v)
        .sum();
    assert!(refused >= 1.0, "the 401 is counted");
}

#[tokio::test]
async fn a_non_admin_account_gets_everything_but_admin_data() {
    let server = sim(Dataset::document_examples(), false).await;
    let (text, ok) = app::once(&config(&server.url(), PASSWORD, ""))
        .await
        .unwrap();
    assert!(
        ok,
        "403 on serverStats and mountPoints must not fail the source"
    );
    assert!(!text.contains("crashplan_server_archive_bytes{"));
    assert!(!text.contains("crashplan_mount_point_total_bytes{"));
    assert!(text.contains("backup_archive_bytes{"));
    assert!(text.contains("crashplan_org_archive_bytes{"));
    let s = samples(&text);
    assert_eq!(
        s[r#"backup_exporter_upstream_requests_total{code="403",endpoint="serverStats",source="hq",system="crashplan"}"#],
        1.0
    );
}

#[tokio::test]
async fn server_errors_fail_the_refresh_with_a_reason() {
    let server = sim(Dataset::document_examples(), true).await;
    let cfg = config(&server.url(), PASSWORD, "");

    server.faults().set(
        "usages",
        Fault {
            status: Some(500),
            ..Fault::default()
        },
    );
    let (_, outcome) = refresh_once(&cfg).await;
    assert_eq!(failed_reason(&outcome), "server_error");
    assert_eq!(server.request_count("usages"), 1, "a 500 is not retried");

    // A 503 is retried once; a single one goes unnoticed.
    server.faults().clear_all();
    server.clear_requests();
    server.faults().set_times(
        "computers",
        Fault {
            status: Some(503),
            ..Fault::default()
        },
        1,
    );
    let (_, outcome) = refresh_once(&cfg).await;
    assert!(matches!(outcome, Outcome::Ok), "{outcome:?}");
    // The 503, its retry, and the next offset after the one short page.
    assert_eq!(server.request_count("computers"), 3);

    server.faults().set(
        "computers",
        Fault {
            status: Some(503),
            ..Fault::default()
        },
    );
    let (exporter, outcome) = refresh_once(&cfg).await;
    assert_eq!(failed_reason(&outcome), "server_error");
    assert!(exporter.sources()[0]
        .state()
        .last_error
        .unwrap()
        .contains("HTTP 503"));

    // A 500 on an optional call is a failure too: only 403 and 404 mean "not available".
    server.faults().clear_all();
    server.faults().set(
        "serverStats",
        Fault {
            status: Some(500),
            ..Fault::default()
        },
    );
    let (_, outcome) = refresh_once(&cfg).await;
    assert_eq!(failed_reason(&outcome), "server_error");

    server.faults().clear_all();
    server.faults().set(
        "orgs",
        Fault {
            status: Some(404),
            ..Fault::default()
        },
    );
    let (exporter, outcome) = refresh_once(&cfg).await;
    assert!(matches!(outcome, Outcome::Ok));
    let text = String::from_utf8(exporter.rendered().text().to_vec()).unwrap();
    assert!(!text.contains("crashplan_org_info{"));
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let server = sim(Dataset::document_examples(), true).await;
    server.faults().set(
        "serverStats",
        Fault {
            delay: Some(Duration::from_secs(5)),
            ..Fault::default()
        },
    );
    let cfg = config(&server.url(), PASSWORD, "");
    let started = std::time::Instant::now();
    let (exporter, outcome) = refresh_once(&cfg).await;
    assert_eq!(failed_reason(&outcome), "timeout");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(exporter.sources()[0]
        .state()
        .last_error
        .unwrap()
        .contains("no answer within 2s"));
}

#[tokio::test]
async fn truncated_and_garbage_bodies_are_parse_errors() {
    let server = sim(Dataset::document_examples(), true).await;
    let cfg = config(&server.url(), PASSWORD, "");
    server.faults().set(
        "usages",
        Fault {
            truncate: true,
            ..Fault::default()
        },
    );
    let (exporter, outcome) = refresh_once(&cfg).await;
    assert_eq!(failed_reason(&outcome), "parse");
    let err = exporter.sources()[0].state().last_error.unwrap();
    assert!(err.starts_with("usages: malformed JSON"), "{err}");

    server.faults().clear_all();
    server.faults().set(
        "mountPoint",
        Fault {
            garbage: true,
            ..Fault::default()
        },
    );
    let (_, outcome) = refresh_once(&cfg).await;
    assert_eq!(failed_reason(&outcome), "parse");
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_last_good_data() {
    let server = sim(Dataset::document_examples(), true).await;
    let cfg = config(&server.url(), PASSWORD, "");
    let (exporter, mut sources) = Exporter::new(&cfg).unwrap();
    assert!(!exporter.ready());
    assert!(matches!(
        exporter.refresh(0, &mut sources[0]).await,
        Outcome::Ok
    ));
    assert!(exporter.ready());
    let good = samples(std::str::from_utf8(&exporter.rendered().text()).unwrap());

    server.faults().set(
        "usages",
        Fault {
            truncate: true,
            ..Fault::default()
        },
    );
    let outcome = exporter.refresh(0, &mut sources[0]).await;
    assert_eq!(failed_reason(&outcome), "parse");
    let after = samples(std::str::from_utf8(&exporter.rendered().text()).unwrap());
    for (k, v) in good
        .iter()
        .filter(|(k, _)| !k.starts_with("backup_exporter_"))
    {
        assert_eq!(after.get(k), Some(v), "{k} kept");
    }
    assert_eq!(
        after[r#"backup_exporter_source_up{source="hq",system="crashplan"}"#],
        0.0
    );
    assert_eq!(
        after[r#"backup_exporter_refresh_errors_total{reason="parse",source="hq",system="crashplan"}"#],
        1.0
    );
    let st = exporter.sources()[0].state();
    assert!(st.last_error.is_some() && st.last_success.is_some() && !st.up);

    // Recovery, with a changed fleet: the new data replaces the old, devices that left vanish.
    server.faults().clear_all();
    let mut smaller = Dataset::document_examples();
    smaller.usages.clear();
    server.set_dataset(smaller);
    assert!(matches!(
        exporter.refresh(0, &mut sources[0]).await,
        Outcome::Ok
    ));
    let text = String::from_utf8(exporter.rendered().text().to_vec()).unwrap();
    assert!(!text.contains("backup_archive_bytes{"));
    assert!(text.contains("backup_exporter_source_up{source=\"hq\",system=\"crashplan\"} 1"));
}

/// A server whose later pages repeat earlier items in another order (it does not page at
/// all, but the first item differs): the refresh fails instead of reading forever.
#[tokio::test]
async fn a_server_repeating_items_in_another_order_fails_instead_of_looping() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = tcp.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let first_page = head.contains("offset=0&");
                let ids: Vec<u32> = if first_page {
                    vec![1, 2, 3]
                } else {
                    vec![3, 2, 1]
                };
                let key = if head.starts_with("GET /rest/usages?") {
                    "usages"
                } else if head.starts_with("GET /rest/computers?") {
                    "computers"
                } else {
                    // Every optional call is "not here".
                    let _ = tcp
                        .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .await;
                    return;
                };
                let items: Vec<String> = ids
                    .iter()
                    .map(|i| {
                        format!(
                            r#"{{"id": {i}, "sourceId": {i}, "sourceGuid": {i}, "targetId": 9}}"#
                        )
                    })
                    .collect();
                let body = format!(r#"{{"metadata": {{}}, "{key}": [{}]}}"#, items.join(","));
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tcp.write_all(reply.as_bytes()).await;
            });
        }
    });
    let (text, ok) = app::once(&config(&url, PASSWORD, "page_size = 3"))
        .await
        .unwrap();
    assert!(!ok);
    assert!(requests.load(std::sync::atomic::Ordering::SeqCst) < 20);
    assert_eq!(
        samples(&text)[r#"backup_exporter_refresh_errors_total{reason="paging",source="hq",system="crashplan"}"#],
        1.0
    );
}

// ---- hostile servers ----------------------------------------------------------------------

/// A server answering 302 to another host: the request fails with reason `redirect` naming
/// that host, and nothing (no basic credentials, no request at all) reaches it.
#[tokio::test]
async fn a_redirect_to_another_host_is_refused_and_nothing_is_sent_there() {
    let server = sim(quirks(), true).await;
    let elsewhere = Recorder::start().await;
    for status in [301, 302, 303, 307, 308] {
        server.faults().set(
            "usages",
            Fault {
                redirect: Some((status, elsewhere.url("/rest/usages"))),
                ..Fault::default()
            },
        );
        let (exporter, outcome) = refresh_once(&config(&server.url(), PASSWORD, "")).await;
        let (reason, message) = failure(&outcome);
        assert_eq!(reason, "redirect", "{status}: {message}");
        assert!(message.contains("127.0.0.2"), "{message}");
        assert!(!message.contains(PASSWORD), "{message}");
        let text = String::from_utf8(exporter.rendered().text().to_vec()).unwrap();
        assert_eq!(
            samples(&text)[r#"backup_exporter_upstream_requests_total{code="redirect",endpoint="usages",source="hq",system="crashplan"}"#],
            1.0,
            "{text}"
        );
    }
    assert!(
        elsewhere.requests().is_empty(),
        "{:?}",
        elsewhere.requests()
    );
}

/// A redirect within the configured origin (a proxy moving a path) is followed.
#[tokio::test]
async fn a_redirect_within_the_server_is_followed() {
    let server = sim(quirks(), true).await;
    let target = format!("{}/rest/usages?offset=0&limit=500", server.url());
    server.faults().set_times(
        "usages",
        Fault {
            redirect: Some((302, target)),
            ..Fault::default()
        },
        1,
    );
    let (_, outcome) = refresh_once(&config(&server.url(), PASSWORD, "")).await;
    assert_eq!(failure(&outcome), ("ok", String::new()));
}

/// Bodies are counted while they stream, after decompression: a gzip bomb, a large body and
/// a large error body all stop at `max_response_size` (or a few KB for the error).
#[tokio::test]
async fn bodies_larger_than_max_response_size_are_cut_off() {
    let server = sim(quirks(), true).await;
    let cfg = config(&server.url(), PASSWORD, "max_response_size = \"1MiB\"");
    for fault in [
        Fault {
            gzip_bomb: Some(16 << 20),
            ..Fault::default()
        },
        Fault {
            oversize: Some(3 << 20),
            ..Fault::default()
        },
    ] {
        server.faults().set("usages", fault.clone());
        let (_, outcome) = refresh_once(&cfg).await;
        let (reason, message) = failure(&outcome);
        assert_eq!(reason, "too_large", "{fault:?}: {message}");
        assert!(message.contains("max_response_size"), "{message}");
    }
    // Just under the limit is read.
    server.faults().set(
        "usages",
        Fault {
            oversize: Some(1 << 19),
            ..Fault::default()
        },
    );
    let (_, outcome) = refresh_once(&cfg).await;
    assert_eq!(failure(&outcome).0, "parse", "{:?}", failure(&outcome));
    // An error body: only an excerpt is read and shown.
    server.faults().set(
        "usages",
        Fault {
            huge_error: Some((500, 50 << 20)),
            ..Fault::default()
        },
    );
    let (_, outcome) = refresh_once(&cfg).await;
    let (reason, message) = failure(&outcome);
    assert_eq!(reason, "server_error");
    assert!(message.len() < 1000, "{} bytes", message.len());
}

/// The exporter binary with the default `max_response_size` against a 1 GiB gzip bomb: the
/// refresh fails with `too_large`, the process keeps serving, and its peak resident memory
/// stays within 100 MB of what it used before.
#[tokio::test]
async fn a_gzip_bomb_does_not_grow_the_process() {
    let server = sim(quirks(), true).await;
    let (mut exporter, addr) = stack::start_exporter(&format!(
        r#"
        [[source]]
        name = "hq"
        kind = "crashplan"
        url = "{}"
        username = "{USER}"
        password = "{PASSWORD}"
        refresh_interval = "1s"
        timeout = "20s"
        "#,
        server.url()
    ))
    .await;
    let client = stack::client();
    let metrics = |client: reqwest::Client| {
        let url = format!("http://{addr}/metrics");
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let status = |field: &str| -> u64 {
        let text = std::fs::read_to_string(format!("/proc/{}/status", exporter.pid())).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    stack::wait_until("a good refresh", stack::secs(20), || {
        let m = metrics(client.clone());
        async move {
            m.await
                .contains(r#"backup_exporter_source_up{source="hq",system="crashplan"} 1"#)
                .then_some(())
                .ok_or_else(|| "not yet".to_string())
        }
    })
    .await;
    let idle = status("VmRSS:");
    server.faults().set(
        "usages",
        Fault {
            gzip_bomb: Some(1 << 30),
            ..Fault::default()
        },
    );
    let wanted = r#"backup_exporter_refresh_errors_total{reason="too_large",source="hq",system="crashplan"} 1"#;
    stack::wait_until("a refresh cut off as too_large", stack::secs(60), || {
        let m = metrics(client.clone());
        async move {
            m.await
                .contains(wanted)
                .then_some(())
                .ok_or_else(|| "not yet".to_string())
        }
    })
    .await;
    let peak = status("VmHWM:");
    exporter.assert_running();
    println!(
        "RSS idle {:.1} MB, peak {:.1} MB",
        idle as f64 / 1e6,
        peak as f64 / 1e6
    );
    assert!(
        peak < idle + 100_000_000,
        "peak {peak} bytes, idle {idle} bytes"
    );
}

/// A list shorter than the server's own `metadata.count` (here: none at all while the count
/// says 5) fails the refresh with `inconsistent` and keeps the last good data.
#[tokio::test]
async fn a_list_shorter_than_its_count_keeps_the_last_good_data() {
    let server = sim(quirks(), true).await;
    let cfg = config(&server.url(), PASSWORD, "");
    let (exporter, mut sources) = Exporter::new(&cfg).unwrap();
    assert!(matches!(
        exporter.refresh(0, &mut sources[0]).await,
        Outcome::Ok
    ));
    let before = String::from_utf8(exporter.rendered().text().to_vec()).unwrap();
    assert!(before.contains("backup_selected_bytes{"));
    server.set_dataset(Dataset::default());
    server.faults().set_count_off_by(5);
    let (reason, message) = failure(&exporter.refresh(0, &mut sources[0]).await);
    assert_eq!(reason, "inconsistent", "{message}");
    assert!(message.contains("counts 5"), "{message}");
    let after = String::from_utf8(exporter.rendered().text().to_vec()).unwrap();
    assert_eq!(data_lines(&before), data_lines(&after));
    // An honest empty list is accepted.
    server.faults().set_count_off_by(0);
    assert!(matches!(
        exporter.refresh(0, &mut sources[0]).await,
        Outcome::Ok
    ));
}

/// One unreadable value and two implausible ones in a fleet: the refresh succeeds, those
/// values alone are absent, every other device keeps its series, and the values are counted.
#[tokio::test]
async fn bad_values_cost_those_values_only_never_the_fleet() {
    let clean = crashplan_fleet::demo_fleet(chrono::Utc::now());
    let mut fleet = clean.clone();
    // Three usages of active computers with a last activity.
    let picked: Vec<usize> = (0..fleet.usages.len())
        .filter(|&i| {
            let u = &fleet.usages[i];
            !u["sourceStatus"].to_string().contains("Deactivated") && u["lastActivity"].is_string()
        })
        .take(3)
        .collect();
    assert_eq!(picked.len(), 3);
    fleet.usages[picked[0]]["selectedBytes"] = serde_json::json!("lots");
    fleet.usages[picked[1]]["lastActivity"] = serde_json::json!("9999-12-31T00:00:00.000Z");
    fleet.usages[picked[2]]["todoBytes"] = serde_json::json!(-5);

    let read = |dataset| async move {
        let server = sim(dataset, true).await;
        let (exporter, outcome) = refresh_once(&config(&server.url(), PASSWORD, "")).await;
        assert!(matches!(outcome, Outcome::Ok), "{outcome:?}");
        let text = String::from_utf8(exporter.rendered().text().to_vec()).unwrap();
        samples(&text)
    };
    let good = read(clean).await;
    let bad = read(fleet).await;
    // Only the bad values, and what is derived from them, are gone; nothing is added.
    let gone: Vec<&String> = good
        .keys()
        .filter(|k| !k.starts_with("backup_exporter_") && !bad.contains_key(*k))
        .collect();
    let derived = [
        "backup_selected_bytes{",
        "backup_todo_bytes{",
        "backup_completion_ratio{",
        "backup_last_activity_timestamp_seconds{",
        "backup_last_success_timestamp_seconds{",
        "backup_stale{",
        "backup_last_success_age",
        "backup_known_since",
    ];
    assert!(
        gone.iter()
            .all(|k| derived.iter().any(|d| k.starts_with(d))),
        "{gone:#?}"
    );
    for family in [
        "backup_selected_bytes{",
        "backup_todo_bytes{",
        "backup_last_activity_timestamp_seconds{",
    ] {
        assert_eq!(
            gone.iter().filter(|k| k.starts_with(family)).count(),
            1,
            "{family} {gone:#?}"
        );
    }
    // Nothing is added, but the first-seen time of a target whose last success went (it is
    // written while no success is known).
    let added: Vec<&String> = bad
        .keys()
        .filter(|k| !k.starts_with("backup_exporter_") && !good.contains_key(*k))
        .collect();
    for k in &added {
        let labels = k
            .strip_prefix("backup_first_seen_timestamp_seconds")
            .unwrap_or_else(|| panic!("{k} added"));
        assert!(
            gone.contains(&&format!("backup_last_success_timestamp_seconds{labels}")),
            "{k} added, yet its last success is still known"
        );
    }
    assert_eq!(
        bad[r#"backup_exporter_source_up{source="hq",system="crashplan"}"#],
        1.0
    );
    assert_eq!(
        bad[r#"backup_exporter_upstream_value_errors_total{source="hq",system="crashplan"}"#],
        3.0
    );
}

/// A usage whose identity does not read (an object where the GUID belongs) is left out and
/// counted; every other usage of the fleet is read, and the list still agrees with its count.
#[tokio::test]
async fn an_item_whose_identity_does_not_read_is_left_out_and_counted() {
    let clean = crashplan_fleet::demo_fleet(chrono::Utc::now());
    let mut fleet = clean.clone();
    let guid = fleet.usages[0]["sourceGuid"]
        .to_string()
        .trim_matches('"')
        .to_owned();
    let target = fleet.usages[0]["targetGuid"].to_string();
    fleet.usages[0]["sourceGuid"] = serde_json::json!({"not": "an id"});
    let read = |dataset| async move {
        let server = sim(dataset, true).await;
        let cfg = config(&server.url(), PASSWORD, "page_size = 3");
        let (exporter, outcome) = refresh_once(&cfg).await;
        assert!(matches!(outcome, Outcome::Ok), "{outcome:?}");
        samples(std::str::from_utf8(&exporter.rendered().text()).unwrap())
    };
    let good = read(clean).await;
    let bad = read(fleet).await;
    assert_eq!(
        bad[r#"backup_exporter_upstream_value_errors_total{source="hq",system="crashplan"}"#],
        1.0
    );
    let usage_series = |s: &std::collections::BTreeMap<String, f64>| -> Vec<String> {
        s.keys()
            .filter(|k| k.starts_with("backup_selected_bytes{"))
            .cloned()
            .collect()
    };
    let (good_usages, bad_usages) = (usage_series(&good), usage_series(&bad));
    assert!(good_usages.len() > 3, "{good_usages:?}");
    let lost: Vec<&String> = good_usages
        .iter()
        .filter(|k| !bad_usages.contains(k))
        .collect();
    assert_eq!(lost.len(), 1, "{lost:?} (target {target})");
    assert!(
        lost[0].contains(&format!("device_id=\"{guid}\"")),
        "{lost:?}"
    );
}
