//! Mapping tests on the vendor document's own payloads.

use super::*;
use crate::sources::values::{Num, Time};

fn usage(json: &str) -> Usage {
    serde_json::from_str(json).unwrap()
}

fn computer(json: &str) -> Computer {
    serde_json::from_str(json).unwrap()
}

/// The document's usage (times closed), its computer, and the PRO server as target; the
/// user, org, mount point and server statistics are the document's (shared with the simulator).
fn document_raw() -> Raw {
    Raw {
        usages: vec![usage(
            r#"{ "sourceId": 2, "sourceGuid": 343195742699662015, "sourceConnectedToServer": true,
                "sourceLastConnectedToServer": "2010-09-01T19:20:59.738-05:00",
                "sourceStatus": "Blocked,Active", "sourceUserId": 69, "sourceOrgId": 43,
                "targetId": 1, "targetGuId": 345095742699645987, "selectedFiles": 1513,
                "selectedBytes": 19839461229438, "todoFiles": 0, "todoBytes": 0,
                "archiveBytes": 1828461229332, "lastConnected": "2010-09-01T19:23:58.779-05:00",
                "lastActivity": "2010-09-01T19:10:13.450-05:00", "isUsing": true, "alertStates": [] }"#,
        )],
        computers: vec![
            computer(
                r#"{"id": 2, "name": "c42-dhcp-191.c42", "guid": 343195742699662015, "status": "Active",
                    "alertStates": ["OK"], "userId": 69, "mountPointId": 1,
                    "creationDate": "2008-10-29T14:23:58.779-05:00"}"#,
            ),
            computer(
                r#"{"id": 1, "name": "proserver", "guid": 345095742699645987, "status": "Active",
                    "alertStates": ["OK"], "userId": 1, "mountPointId": null}"#,
            ),
        ],
        users: Some(vec![serde_json::from_str(include_str!(
            "fixtures/user_69.json"
        ))
        .unwrap()]),
        orgs: Some(vec![serde_json::from_str(include_str!(
            "fixtures/org_43.json"
        ))
        .unwrap()]),
        mount_points: Some(vec![serde_json::from_str(include_str!(
            "fixtures/mount_point_1.json"
        ))
        .unwrap()]),
        server_stats: Some(
            serde_json::from_str(include_str!("fixtures/server_stats.json")).unwrap(),
        ),
        details: HashMap::new(),
    }
}

/// The document's computer detail view (`GET /rest/computers/2`), as read.
fn document_detail() -> Detail {
    Detail::of(computer(include_str!("fixtures/computer_2.json")))
}

/// The samples of the snapshot as `name{labels} value` lines.
fn lines(snapshot: &Snapshot) -> Vec<String> {
    let mut out = String::new();
    crate::exposition::assemble(&mut out, &[&snapshot.metrics]);
    out.lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

fn value(lines: &[String], name_and_labels: &str) -> Option<f64> {
    lines
        .iter()
        .find(|l| l.rsplit_once(' ').map(|(k, _)| k) == Some(name_and_labels))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse().unwrap())
}

const T: &str = r#"system="crashplan",source="hq",device="c42-dhcp-191.c42",device_id="343195742699662015",target="proserver""#;

#[test]
fn the_documents_usage_maps_to_every_neutral_family() {
    let snap = map(&document_raw(), "hq", false, 0.0, &mut HashMap::new());
    let l = lines(&snap);
    let at = |name: &str| value(&l, &format!("{name}{{{T}}}"));
    // 2010-09-01T19:10:13.450-05:00 = 2010-09-02T00:10:13.450Z
    assert_eq!(
        at("backup_last_activity_timestamp_seconds"),
        Some(1_283_386_213.45)
    );
    assert_eq!(
        at("backup_last_success_timestamp_seconds"),
        Some(1_283_386_213.45)
    );
    assert_eq!(
        at("backup_last_connected_timestamp_seconds"),
        Some(1_283_387_038.779)
    );
    assert_eq!(at("backup_selected_bytes"), Some(19_839_461_229_438.0));
    assert_eq!(at("backup_selected_files"), Some(1513.0));
    assert_eq!(at("backup_todo_bytes"), Some(0.0));
    assert_eq!(at("backup_todo_files"), Some(0.0));
    assert_eq!(at("backup_archive_bytes"), Some(1_828_461_229_332.0));
    assert_eq!(at("backup_completion_ratio"), Some(1.0));
    assert_eq!(
        at("crashplan_target_in_use").map(|v| v as u8),
        None,
        "vendor family has no system label"
    );
    let vt = T.replace("system=\"crashplan\",", "");
    assert_eq!(
        value(&l, &format!("crashplan_target_in_use{{{vt}}}")),
        Some(1.0)
    );
    for (state, v) in [("OK", 1.0), ("WARN", 0.0), ("ALERT", 0.0)] {
        assert_eq!(
            value(&l, &format!("backup_alert_state{{{T},state=\"{state}\"}}")),
            (v > 0.0).then_some(v),
            "{state}"
        );
    }
}

#[test]
fn device_level_families() {
    let snap = map(&document_raw(), "hq", false, 0.0, &mut HashMap::new());
    let l = lines(&snap);
    let d = r#"source="hq",device="c42-dhcp-191.c42",device_id="343195742699662015""#;
    assert_eq!(
        value(&l, &format!("crashplan_device_connected{{{d}}}")),
        Some(1.0)
    );
    assert_eq!(
        value(
            &l,
            &format!("crashplan_device_last_connected_to_server_timestamp_seconds{{{d}}}")
        ),
        Some(1_283_386_859.738)
    );
    for (status, v) in [("Active", 1.0), ("Deactivated", 0.0), ("Blocked", 1.0)] {
        assert_eq!(
            value(
                &l,
                &format!("crashplan_device_status{{{d},status=\"{status}\"}}")
            ),
            (v > 0.0).then_some(v)
        );
    }
    assert_eq!(
        value(
            &l,
            &format!("crashplan_computer_alert_state{{{d},state=\"OK\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &l,
            r#"backup_device_info{system="crashplan",source="hq",device="c42-dhcp-191.c42",device_id="343195742699662015",user="userthree@testorg.org",org="SubOrg1",status="Active",mount_point="manifest"}"#
        ),
        Some(1.0)
    );
    // The PRO server is only a destination: a target, not a device.
    assert_eq!(snap.devices.len(), 1);
    assert_eq!(snap.targets.len(), 1);
    assert!(!l.iter().any(|x| x.contains("device=\"proserver\"")));
}

#[test]
fn an_empty_alert_list_is_ok_at_both_levels() {
    let mut raw = document_raw();
    raw.computers[0].alert_states.clear();
    let l = lines(&map(&raw, "hq", false, 0.0, &mut HashMap::new()));
    let d = r#"source="hq",device="c42-dhcp-191.c42",device_id="343195742699662015""#;
    assert_eq!(
        value(
            &l,
            &format!("crashplan_computer_alert_state{{{d},state=\"OK\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&l, &format!("backup_alert_state{{{T},state=\"OK\"}}")),
        Some(1.0)
    );
}

#[test]
fn a_computer_deactivated_in_its_usage_is_left_out_everywhere() {
    let mut raw = document_raw();
    raw.usages[0].source_status = vec!["Deactivated".into()];
    let snap = map(&raw, "hq", false, 0.0, &mut HashMap::new());
    assert!(snap.targets.is_empty());
    assert!(snap.devices.is_empty(), "{:?}", snap.devices);
}

#[test]
fn capacity_orgs_and_server_stats() {
    let snap = map(&document_raw(), "hq", false, 0.0, &mut HashMap::new());
    let l = lines(&snap);
    let mp = r#"source="hq",mount_point="manifest",mount_point_id="1""#;
    assert_eq!(
        value(&l, &format!("crashplan_mount_point_total_bytes{{{mp}}}")),
        Some(99_424_124_928.0)
    );
    assert_eq!(
        value(&l, &format!("crashplan_mount_point_used_bytes{{{mp}}}")),
        Some(97_548_881_920.0)
    );
    assert_eq!(
        value(&l, &format!("crashplan_mount_point_free_bytes{{{mp}}}")),
        Some(1_875_243_008.0)
    );
    assert_eq!(
        value(&l, &format!("crashplan_mount_point_free_ratio{{{mp}}}")),
        Some(0.019)
    );
    assert_eq!(
        value(&l, &format!("crashplan_mount_point_enabled{{{mp}}}")),
        Some(1.0)
    );
    assert_eq!(
        value(
            &l,
            &format!("crashplan_mount_point_write_bytes_per_second{{{mp}}}")
        ),
        None
    );
    assert_eq!(
        value(&l, &format!("crashplan_mount_point_info{{{mp},type=\"DIR\",volume_label=\"manifest\",status=\"ENABLED\"}}")),
        Some(1.0)
    );

    let org = r#"source="hq",org="SubOrg1",org_id="43""#;
    assert_eq!(
        value(&l, &format!("crashplan_org_archive_bytes{{{org}}}")),
        Some(78_213_557.0)
    );
    assert_eq!(
        value(&l, &format!("crashplan_org_selected_bytes{{{org}}}")),
        Some(88_879_043.0)
    );
    assert_eq!(
        value(&l, &format!("crashplan_org_selected_files{{{org}}}")),
        Some(5183.0)
    );
    assert_eq!(
        value(&l, &format!("crashplan_org_quota_bytes{{{org}}}")),
        Some(250.0 * 1_073_741_824.0)
    );
    assert_eq!(
        value(&l, &format!("crashplan_org_quota_seats{{{org}}}")),
        Some(10.0)
    );
    assert_eq!(
        value(
            &l,
            &format!("crashplan_org_info{{{org},parent_org_id=\"2\",status=\"Active\"}}")
        ),
        Some(1.0)
    );

    let s = |name: &str| value(&l, &format!("{name}{{source=\"hq\"}}"));
    assert_eq!(
        s("crashplan_server_archive_bytes"),
        Some(37_724_715_178_678.0)
    );
    assert_eq!(
        s("crashplan_server_previous_month_archive_bytes"),
        Some(43_128_889_830_903.0)
    );
    assert_eq!(s("crashplan_server_orgs"), Some(1304.0));
    assert_eq!(s("crashplan_server_seats"), Some(18642.0));
    assert_eq!(s("crashplan_server_backup_sessions"), Some(90.0));
    assert_eq!(s("crashplan_server_connected_clients"), Some(4755.0));
    let gib = 1_073_741_824.0f64;
    assert_eq!(
        s("crashplan_server_host_memory_total_bytes"),
        Some((7.9 * gib).round())
    );
    assert_eq!(
        s("crashplan_server_host_memory_free_bytes"),
        Some((44.3 * 1_048_576.0f64).round())
    );
    assert_eq!(
        s("crashplan_server_host_memory_cached_bytes"),
        Some((3.3 * gib).round())
    );
    assert_eq!(
        s("crashplan_server_engine_memory_total_bytes"),
        Some((3.6 * gib).round())
    );
    assert_eq!(
        s("crashplan_server_engine_memory_free_bytes"),
        Some((2.1 * gib).round())
    );
    assert_eq!(
        s("crashplan_server_disk_total_bytes"),
        Some((89.2 * gib).round())
    );
    assert_eq!(
        s("crashplan_server_disk_free_bytes"),
        Some((28.8 * gib).round())
    );
    assert_eq!(s("crashplan_server_cpu_utilization_ratio"), Some(0.29));
    assert_eq!(s("crashplan_server_disk_utilization_ratio"), Some(0.68));
    // uptimeMilliseconds here is a 2008 Unix time, not a duration: the human "1.5 hrs" wins.
    assert_eq!(s("crashplan_server_uptime_seconds"), Some(5400.0));
    assert_eq!(s("crashplan_server_load1"), Some(5.14));
    assert_eq!(s("crashplan_server_load5"), Some(4.38));
    assert_eq!(s("crashplan_server_load15"), Some(3.95));
    assert_eq!(
        value(
            &l,
            r#"crashplan_server_info{source="hq",host="proserver.acme.com",port="4242",version="10.29.2008",addresses="10.10.10.4,69.54.39.68,69.54.39.67,69.54.39.66,69.54.39.76"}"#
        ),
        Some(1.0)
    );
    assert_eq!(snap.warnings.count, 0, "{}", snap.warnings);
}

#[test]
fn a_plausible_uptime_in_milliseconds_is_used() {
    let mut raw = document_raw();
    raw.server_stats.as_mut().unwrap().uptime_milliseconds = Some(Num::Is(5_400_000.0));
    raw.server_stats.as_mut().unwrap().uptime = Some("garbage".into());
    let l = lines(&map(&raw, "hq", false, 0.0, &mut HashMap::new()));
    assert_eq!(
        value(&l, "crashplan_server_uptime_seconds{source=\"hq\"}"),
        Some(5400.0)
    );
}

#[test]
fn null_times_are_absent_never_zero() {
    let mut raw = document_raw();
    raw.usages[0].last_activity = None;
    raw.usages[0].last_connected = None;
    raw.usages[0].source_last_connected_to_server = None;
    let l = lines(&map(&raw, "hq", false, 0.0, &mut HashMap::new()));
    for name in [
        "backup_last_activity_timestamp_seconds",
        "backup_last_success_timestamp_seconds",
        "backup_last_connected_timestamp_seconds",
        "crashplan_device_last_connected_to_server_timestamp_seconds",
    ] {
        assert!(
            !l.iter().any(|x| x.starts_with(&format!("{name}{{"))),
            "{name} present"
        );
    }
}

#[test]
fn unreadable_values_are_absent_and_counted() {
    let mut raw = document_raw();
    raw.usages[0].last_activity = Some(Time::Unreadable("last tuesday".into()));
    raw.server_stats.as_mut().unwrap().host_memory_total = Some("lots".into());
    let snap = map(&raw, "hq", false, 0.0, &mut HashMap::new());
    assert_eq!(snap.warnings.count, 2);
    assert_eq!(
        snap.warnings.of("usages.lastActivity"),
        1,
        "{}",
        snap.warnings
    );
    let l = lines(&snap);
    assert!(!l
        .iter()
        .any(|x| x.starts_with("backup_last_activity_timestamp_seconds{")));
    assert!(!l
        .iter()
        .any(|x| x.starts_with("crashplan_server_host_memory_total_bytes{")));
    assert!(l.iter().any(|x| x.starts_with("backup_selected_bytes{")));
}

/// A busy computer, never at nothing-to-do when read, after a restart (nothing carried): its
/// detail view's `serverBackupStats.lastBackup` is its last completed backup to the PRO
/// server.
#[test]
fn a_busy_computer_gets_its_last_success_from_the_detail_view() {
    let mut busy = document_raw();
    busy.usages[0].todo_files = Some(Num::Is(10.0));
    busy.usages[0].todo_bytes = Some(Num::Is(4_000_000_000_000.0));
    busy.details.insert("2".into(), document_detail());
    let snap = map(&busy, "hq", false, 0.0, &mut HashMap::new());
    // 2010-03-30T18:36:10.221Z
    assert_eq!(snap.targets[0].last_success, Some(1_269_974_170.221));

    // A later completed activity wins; the last success never moves back.
    let mut carried = HashMap::new();
    let mut done = document_raw();
    done.details.insert("2".into(), document_detail());
    let snap = map(&done, "hq", false, 0.0, &mut carried);
    assert_eq!(snap.targets[0].last_success, Some(1_283_386_213.45));
    let snap = map(&busy, "hq", false, 0.0, &mut carried);
    assert_eq!(snap.targets[0].last_success, Some(1_283_386_213.45));

    // `serverBackupStats` is about the PRO server only: a second destination gets nothing
    // from it.
    let mut raw = two_destinations(&["OK"], &[]);
    for u in &mut raw.usages {
        u.todo_files = Some(Num::Is(10.0));
        u.todo_bytes = Some(Num::Is(4_000_000_000_000.0));
    }
    // Another client of the PRO server makes it the target most sources back up to.
    let mut other = raw.usages[0].clone();
    other.source_id = Some("7".into());
    other.source_guid = Some("7007".into());
    raw.usages.push(other);
    raw.details.insert("2".into(), document_detail());
    let snap = map(&raw, "hq", false, 0.0, &mut HashMap::new());
    let success = |target: &str| {
        snap.targets
            .iter()
            .find(|t| t.device_id == "343195742699662015" && t.target == target)
            .unwrap()
            .last_success
    };
    assert_eq!(success("proserver"), Some(1_269_974_170.221));
    assert_eq!(success("offsite"), None);
}

/// `os`, `os_version` and `version` of `backup_device_info` are in the detail view only.
#[test]
fn os_and_version_come_from_the_detail_view() {
    let mut raw = document_raw();
    let info = |raw: &Raw| {
        let l = lines(&map(raw, "hq", false, 0.0, &mut HashMap::new()));
        l.into_iter()
            .find(|l| l.starts_with("backup_device_info{") && l.contains("c42-dhcp-191.c42"))
            .unwrap()
    };
    assert!(!info(&raw).contains("os="), "{}", info(&raw));
    raw.details.insert("2".into(), document_detail());
    let with = info(&raw);
    for label in [
        r#"os="Linux""#,
        r#"os_version="2.6.31-14-generic""#,
        r#"version="3.8.2010""#,
    ] {
        assert!(with.contains(label), "{label} in {with}");
    }
}

#[test]
fn last_success_needs_nothing_left_to_do_and_is_carried_forward() {
    let mut carried = HashMap::new();
    let raw = document_raw();
    let first = map(&raw, "hq", false, 0.0, &mut carried);
    assert_eq!(first.targets[0].last_success, Some(1_283_386_213.45));

    // A later backup in progress: activity moves on, the last success stays.
    let mut busy = document_raw();
    busy.usages[0].todo_files = Some(Num::Is(10.0));
    busy.usages[0].todo_bytes = Some(Num::Is(4_000_000_000_000.0));
    busy.usages[0].last_activity = Some(Time::At(1_283_472_613.45));
    let second = map(&busy, "hq", false, 0.0, &mut carried);
    assert_eq!(second.targets[0].last_activity, Some(1_283_472_613.45));
    assert_eq!(second.targets[0].last_success, Some(1_283_386_213.45));
    let ratio = second.targets[0].completion_ratio.unwrap();
    assert!(
        (ratio - (1.0 - 4e12 / 19_839_461_229_438.0)).abs() < 1e-12,
        "{ratio}"
    );

    // Without history (a restart), an incomplete target has no known success.
    let fresh = map(&busy, "hq", false, 0.0, &mut HashMap::new());
    assert_eq!(fresh.targets[0].last_success, None);

    // A target that disappears is forgotten.
    let mut gone = document_raw();
    gone.usages.clear();
    map(&gone, "hq", false, 0.0, &mut carried);
    assert!(carried.is_empty());
}

/// The document's computer backing up to two destinations: the PRO server (healthy, usage
/// `alertStates` `[]`) and an offsite one (usage `["ALERT"]`); the computer-wide list says
/// `["ALERT"]`. Only the failing destination is in ALERT; the computer's own state stays a
/// device-level fact.
fn two_destinations(computer_states: &[&str], offsite_states: &[&str]) -> Raw {
    let mut raw = document_raw();
    raw.computers[0].alert_states = computer_states.iter().map(|s| s.to_string()).collect();
    let mut offsite = raw.usages[0].clone();
    offsite.target_id = Some("3".into());
    offsite.target_guid = Some("42".into());
    offsite.alert_states = offsite_states.iter().map(|s| s.to_string()).collect();
    raw.usages.push(offsite);
    raw.computers.push(computer(
        r#"{"id": 3, "name": "offsite", "guid": 42, "status": "Active",
            "alertStates": ["OK"], "userId": 1, "mountPointId": null}"#,
    ));
    raw
}

#[test]
fn alert_states_are_kept_per_destination() {
    let raw = two_destinations(&["ALERT"], &["ALERT"]);
    let l = lines(&map(&raw, "hq", false, 0.0, &mut HashMap::new()));
    let offsite = T.replace("target=\"proserver\"", "target=\"offsite\"");
    for (target, state, v) in [
        (T, "OK", 1.0),
        (T, "ALERT", 0.0),
        (offsite.as_str(), "OK", 0.0),
        (offsite.as_str(), "ALERT", 1.0),
    ] {
        assert_eq!(
            value(
                &l,
                &format!("backup_alert_state{{{target},state=\"{state}\"}}")
            ),
            (v > 0.0).then_some(v),
            "{target} {state}"
        );
    }
    let d = r#"source="hq",device="c42-dhcp-191.c42",device_id="343195742699662015""#;
    assert_eq!(
        value(
            &l,
            &format!("crashplan_computer_alert_state{{{d},state=\"ALERT\"}}")
        ),
        Some(1.0)
    );

    // Several states of one usage, an unknown one included, are kept as listed.
    let mut raw = document_raw();
    raw.usages[0].alert_states = vec!["WARN".into(), "SomethingNew".into()];
    let l = lines(&map(&raw, "hq", false, 0.0, &mut HashMap::new()));
    for (state, v) in [
        ("OK", 0.0),
        ("WARN", 1.0),
        ("ALERT", 0.0),
        ("SomethingNew", 1.0),
    ] {
        assert_eq!(
            value(&l, &format!("backup_alert_state{{{T},state=\"{state}\"}}")),
            (v > 0.0).then_some(v),
            "{state}"
        );
    }
}

#[test]
fn deactivated_devices_are_left_out_unless_asked_for() {
    let mut raw = document_raw();
    raw.usages[0].source_status = vec!["Deactivated".into()];
    raw.computers[0].status = Some("Deactivated".into());
    let snap = map(&raw, "hq", false, 0.0, &mut HashMap::new());
    assert!(snap.targets.is_empty());
    assert!(snap.devices.is_empty());
    let snap = map(&raw, "hq", true, 0.0, &mut HashMap::new());
    assert_eq!(snap.targets.len(), 1);
    assert_eq!(snap.devices.len(), 1);
}

#[test]
fn unknown_computers_fall_back_to_guids() {
    let mut raw = document_raw();
    raw.computers.clear();
    raw.users = None;
    raw.orgs = None;
    let snap = map(&raw, "hq", false, 0.0, &mut HashMap::new());
    let t = &snap.targets[0];
    assert_eq!(t.device, "343195742699662015");
    assert_eq!(t.device_id, "343195742699662015");
    assert_eq!(t.target, "345095742699645987");
}

#[test]
fn negative_quota_means_unlimited() {
    let mut raw = document_raw();
    raw.orgs.as_mut().unwrap()[0].quota = Some(model::Quota {
        bytes: Some(Num::Is(-1.0)),
        seats: Some(Num::Is(-1.0)),
    });
    let l = lines(&map(&raw, "hq", false, 0.0, &mut HashMap::new()));
    assert!(!l.iter().any(|x| x.starts_with("crashplan_org_quota_")));
}

/// Three computers backing up to the PRO server; computer `c2`'s `field` is written `bad`
/// (raw JSON text), decoded as a real page is.
fn fleet_with(field: &str, bad: &str) -> Raw {
    let usages: Vec<String> = (1..=3)
        .map(|i| {
            let mut fields = vec![
                ("sourceId", format!("{}", 10 + i)),
                ("sourceGuid", format!("{}", 1000 + i)),
                ("targetId", "1".into()),
                ("targetGuId", "999".into()),
                ("selectedFiles", "100".into()),
                ("selectedBytes", "5000".into()),
                ("todoFiles", "0".into()),
                ("todoBytes", "0".into()),
                ("archiveBytes", "4000".into()),
                ("lastConnected", format!("\"2024-01-0{i}T00:00:00Z\"")),
                ("lastActivity", format!("\"2024-01-0{i}T00:00:00Z\"")),
                ("sourceConnectedToServer", "true".into()),
                ("isUsing", "true".into()),
            ];
            if i == 2 {
                for (k, v) in &mut fields {
                    if *k == field {
                        *v = bad.to_owned();
                    }
                }
            }
            let body: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("\"{k}\": {v}"))
                .collect();
            format!("{{{}}}", body.join(", "))
        })
        .collect();
    let body = format!("{{\"usages\": [{}]}}", usages.join(", "));
    let usages = crate::sources::http::decode_list::<Usage>("usages", "usages", body.as_bytes())
        .expect("one bad value never fails the page");
    let mut computers: Vec<Computer> = (1..=3)
        .map(|i| {
            computer(&format!(
                r#"{{"id": {}, "name": "c{i}", "guid": {}}}"#,
                10 + i,
                1000 + i
            ))
        })
        .collect();
    computers.push(computer(r#"{"id": 1, "name": "proserver", "guid": 999}"#));
    Raw {
        usages,
        computers,
        ..Default::default()
    }
}

fn value_of(lines: &[String], name: &str, device: &str) -> Option<String> {
    let needle = format!("device=\"{device}\"");
    lines
        .iter()
        .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(&needle))
        .map(|l| l.rsplit(' ').next().unwrap().to_owned())
}

/// The other devices keep every series, and `c2` every series but the bad one's.
fn assert_fleet_intact(snap: &Snapshot, missing: &str) {
    let l = lines(snap);
    for name in [
        "backup_selected_bytes",
        "backup_todo_bytes",
        "backup_archive_bytes",
        "backup_last_activity_timestamp_seconds",
    ] {
        for device in ["c1", "c3"] {
            assert!(
                value_of(&l, name, device).is_some(),
                "{name} of {device}: {l:#?}"
            );
        }
        assert_eq!(
            value_of(&l, name, "c2").is_some(),
            name != missing,
            "{name} of c2: {l:#?}"
        );
    }
    assert_eq!(snap.targets.len(), 3);
}

#[test]
fn one_bad_selected_bytes_costs_that_value_only() {
    for bad in ["1e400", "-1e400", "\"lots\"", "{\"a\": [1]}", "true"] {
        let snap = map(
            &fleet_with("selectedBytes", bad),
            "hq",
            false,
            0.0,
            &mut HashMap::new(),
        );
        assert_fleet_intact(&snap, "backup_selected_bytes");
        assert_eq!(
            snap.warnings.of("usages.selectedBytes"),
            1,
            "{bad}: {}",
            snap.warnings
        );
        assert_eq!(snap.warnings.count, 1, "{bad}: {}", snap.warnings);
    }
}

#[test]
fn implausible_values_are_absent_and_counted() {
    for (field, bad, family) in [
        (
            "lastActivity",
            "\"9999-12-31T00:00:00Z\"",
            "backup_last_activity_timestamp_seconds",
        ),
        (
            "lastActivity",
            "1e300",
            "backup_last_activity_timestamp_seconds",
        ),
        (
            "lastActivity",
            "\"1970-01-02T00:00:00Z\"",
            "backup_last_activity_timestamp_seconds",
        ),
        ("todoBytes", "-5", "backup_todo_bytes"),
        ("archiveBytes", "-1e400", "backup_archive_bytes"),
    ] {
        let mut carried = HashMap::new();
        let snap = map(&fleet_with(field, bad), "hq", false, 0.0, &mut carried);
        assert_fleet_intact(&snap, family);
        assert_eq!(
            snap.warnings.of(&format!("usages.{field}")),
            1,
            "{bad}: {}",
            snap.warnings
        );
        assert_eq!(snap.warnings.count, 1, "{bad}: {}", snap.warnings);
        let c2 = snap.targets.iter().find(|t| t.device == "c2").unwrap();
        if field != "archiveBytes" {
            assert_eq!(c2.last_success, None, "{field} {bad}");
        }
    }
}

#[test]
fn never_placeholders_are_absent_and_not_counted() {
    for never in ["0", "-1", "null", "\"\""] {
        let snap = map(
            &fleet_with("lastActivity", never),
            "hq",
            false,
            0.0,
            &mut HashMap::new(),
        );
        assert_fleet_intact(&snap, "backup_last_activity_timestamp_seconds");
        assert_eq!(snap.warnings.count, 0, "{never}: {}", snap.warnings);
    }
}

/// The alerting bridge on what the source maps, as `alerts/tests/crashplan.test.yml` checks
/// the rules: one failing destination pages for that destination only; a busy computer whose
/// detail view gives its last completed backup is neither stale nor never completed.
#[test]
fn the_bridge_pages_only_for_what_is_at_risk() {
    use crate::alerting::rules::{Evaluator, SourceView};
    // The document's 2010-03-30T18:36:10.221Z.
    const LAST_BACKUP: f64 = 1_269_974_170.221;
    // (The document's mount point, 1.9 % free, is left out: its alert is not about devices.)
    let evaluate = |raw: &Raw, now: f64| {
        let raw = Raw {
            mount_points: None,
            usages: raw.usages.clone(),
            computers: raw.computers.clone(),
            details: raw.details.clone(),
            ..Default::default()
        };
        let mut snap = map(&raw, "hq", false, 0.0, &mut HashMap::new());
        for t in &mut snap.targets {
            t.stale_threshold = Some(3.0 * 86_400.0);
            t.first_seen = Some(now - 400.0 * 86_400.0);
        }
        let view = SourceView {
            name: "hq",
            system: "crashplan",
            snapshot: &snap,
        };
        Evaluator::default()
            .evaluate(&[view], now)
            .into_iter()
            .map(|c| {
                let target = c
                    .labels
                    .iter()
                    .find(|(k, _)| *k == "target")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                (c.rule.name, target)
            })
            .collect::<Vec<_>>()
    };

    // Both destinations active a minute ago, nothing left to do; the offsite one in ALERT.
    let mut raw = two_destinations(&["ALERT"], &["ALERT"]);
    let activity = raw.usages[0].last_activity.as_ref().unwrap().get().unwrap();
    assert_eq!(
        evaluate(&raw, activity + 60.0),
        [("BackupFailing", "offsite".to_owned())]
    );

    // Busy: files left to do at every reading, the last completed backup 20 hours ago.
    for u in &mut raw.usages {
        u.alert_states.clear();
        u.todo_files = Some(Num::Is(10.0));
        u.todo_bytes = Some(Num::Is(4_000_000_000_000.0));
    }
    raw.usages.truncate(1);
    raw.details.insert("2".into(), document_detail());
    assert!(evaluate(&raw, LAST_BACKUP + 20.0 * 3600.0).is_empty());
    // Without the detail view it would have been "never completed".
    raw.details.clear();
    assert_eq!(
        evaluate(&raw, LAST_BACKUP + 20.0 * 3600.0),
        [("BackupNeverCompleted", "proserver".to_owned())]
    );
    // And with it, stale once no backup completes for longer than the threshold.
    raw.details.insert("2".into(), document_detail());
    assert_eq!(
        evaluate(&raw, LAST_BACKUP + 73.0 * 3600.0),
        [("BackupStale", "proserver".to_owned())]
    );
}
