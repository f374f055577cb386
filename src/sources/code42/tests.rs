use super::model::tests::ALPHA;
use super::*;
use crate::sources::values::{Flag, Num};

fn computer(json: &str) -> Computer {
    serde_json::from_str(json).unwrap()
}

/// The document's computer list (shared with the simulator).
const DOC_COMPUTER_LIST: &str = include_str!("fixtures/computer_list.json");

/// The document's second computer, Beta.
fn beta() -> Computer {
    let list: serde_json::Value = serde_json::from_str(DOC_COMPUTER_LIST).unwrap();
    serde_json::from_value(list["data"]["computers"][1].clone()).unwrap()
}

fn options() -> Options {
    Options {
        include_deactivated: false,
        connected_within: Duration::from_secs(15 * 60),
        org_rollups: true,
    }
}

fn document() -> Raw {
    Raw {
        computers: vec![computer(ALPHA), beta()],
        server_time: Some("2014-08-07T15:31:21.466-05:00".into()),
        ..Default::default()
    }
}

fn render(raw: &Raw, options: &Options) -> (Snapshot, String) {
    let snap = map(raw, "console", options, 2e9);
    let mut out = String::new();
    crate::exposition::assemble(&mut out, &[&snap.metrics]);
    (snap, out)
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

const ALPHA_T: &str = r#"{system="code42",source="console",device="Alpha",device_id="619174385806213377",target="Code42 Server"}"#;
const BETA_T: &str = r#"{system="code42",source="console",device="Beta",device_id="631663249095393537",target="Code42 Server"}"#;

#[test]
fn the_document_fleet() {
    let (snap, text) = render(&document(), &options());
    assert_eq!(snap.devices.len(), 2);
    assert_eq!(snap.targets.len(), 2);
    assert_eq!(snap.warnings.count, 0, "{}", snap.warnings);
    let at = |family: &str, labels: &str| value(&text, &format!("{family}{labels}"));
    // 2014-08-07T15:14:12.802-05:00
    assert_eq!(
        at("backup_last_success_timestamp_seconds", ALPHA_T),
        Some(1_407_442_452.802)
    );
    assert_eq!(at("backup_last_success_timestamp_seconds", BETA_T), None);
    assert_eq!(
        at("backup_last_activity_timestamp_seconds", BETA_T),
        Some(1_407_443_228.191)
    );
    assert_eq!(
        at("backup_last_connected_timestamp_seconds", BETA_T),
        Some(1_407_443_385.648)
    );
    assert_eq!(at("backup_completion_ratio", ALPHA_T), Some(1.0));
    assert_eq!(at("backup_completion_ratio", BETA_T), Some(0.0));
    assert_eq!(at("backup_todo_bytes", BETA_T), Some(798_675_763.0));
    assert_eq!(at("backup_selected_files", BETA_T), Some(588.0));
    assert_eq!(at("backup_archive_bytes", ALPHA_T), Some(111_170.0));
    let vendor = |labels: &str| labels.replace("system=\"code42\",", "");
    assert_eq!(
        at("code42_backup_billable_bytes", &vendor(BETA_T)),
        Some(357.0)
    );
    assert_eq!(
        at("code42_backup_send_rate_bytes_per_second", &vendor(ALPHA_T)),
        Some(70_139.0)
    );
    assert_eq!(at("code42_backup_in_use", &vendor(ALPHA_T)), Some(1.0));
    let alert = |labels: &str, state: &str| {
        at(
            "backup_alert_state",
            &labels.replace('}', &format!(",state=\"{state}\"}}")),
        )
    };
    assert_eq!(alert(ALPHA_T, "OK"), Some(1.0));
    assert_eq!(alert(ALPHA_T, "CriticalBackupAlert"), None);
    assert_eq!(alert(BETA_T, "WarningConnectionAlert"), None);
    // Device level: 17 min since Alpha checked in (not connected), 5 min for Beta.
    let alpha = r#"{source="console",device="Alpha",device_id="619174385806213377"}"#;
    let beta = r#"{source="console",device="Beta",device_id="631663249095393537"}"#;
    assert_eq!(at("code42_device_connected", alpha), Some(0.0));
    assert_eq!(at("code42_device_connected", beta), Some(1.0));
    assert_eq!(
        at("code42_device_last_connected_timestamp_seconds", alpha),
        Some(1_407_442_444.234)
    );
    assert_eq!(at("code42_device_blocked", beta), Some(0.0));
    assert!(text.contains(
        r#"backup_device_info{system="code42",source="console",device="Alpha",device_id="619174385806213377",user="2",org="2",status="Active",os="Linux",os_version="3.2.0-4-686-pae",version="3.6.1.4"} 1"#
    ), "{text}");
    // Org roll-up: both devices OK, bytes summed.
    let org = r#"{source="console",org="2",org_id="2""#;
    assert_eq!(
        at("code42_org_devices", &format!("{org},state=\"OK\"}}")),
        Some(2.0)
    );
    assert_eq!(
        at("code42_org_selected_bytes", &format!("{org}}}")),
        Some(798_697_707.0)
    );
}

#[test]
fn names_from_the_user_and_org_lists() {
    let mut raw = document();
    raw.users = Some(vec![serde_json::from_str(
        r#"{"userId": 2, "username": "alpha@example.com", "orgId": 2, "orgName": "Eng (from user)"}"#,
    )
    .unwrap()]);
    let (_, text) = render(&raw, &options());
    assert!(text.contains(r#"device="Alpha",device_id="619174385806213377",user="alpha@example.com",org="Eng (from user)""#), "{text}");
    // Beta's user is not in the list: its id stays.
    assert!(text.contains(r#"device="Beta",device_id="631663249095393537",user="3",org="2""#));
    raw.orgs = Some(vec![serde_json::from_str(
        r#"{"orgId": 2, "orgName": "Engineering"}"#,
    )
    .unwrap()]);
    let (_, text) = render(&raw, &options());
    assert!(text.contains(r#"user="3",org="Engineering""#), "{text}");
    assert!(
        text.contains(
            r#"code42_org_archive_bytes{source="console",org="Engineering",org_id="2"} 111527"#
        ),
        "{text}"
    );
}

#[test]
fn deactivated_devices_are_left_out_unless_asked_for() {
    let mut raw = document();
    raw.computers[1].active = Some(Flag::Is(false));
    raw.computers[1].status = Some("Deactivated".into());
    let (snap, text) = render(&raw, &options());
    assert_eq!(snap.devices.len(), 1);
    assert!(!text.contains("Beta"));
    let (snap, _) = render(
        &raw,
        &Options {
            include_deactivated: true,
            ..options()
        },
    );
    assert_eq!(snap.devices.len(), 2);
}

#[test]
fn alert_states_per_destination_with_the_device_as_fallback() {
    let mut c = beta();
    c.alert_states = vec!["CriticalConnectionAlert".into()];
    c.backup_usage[0].alert_states = vec!["OK".into(), "WarningBackupAlert".into()];
    let mut second = c.backup_usage[0].clone();
    second.target_computer_name = Some("CrashPlan Cloud".into());
    second.alert_states = Vec::new();
    second.alert_state = None;
    c.backup_usage.push(second);
    let raw = Raw {
        computers: vec![c],
        ..Default::default()
    };
    let (snap, text) = render(&raw, &options());
    assert_eq!(snap.targets[0].alert_states, vec!["WarningBackupAlert"]);
    assert_eq!(
        snap.targets[1].alert_states,
        vec!["CriticalConnectionAlert"]
    );
    assert!(text.contains(r#"code42_device_alert_state{source="console",device="Beta",device_id="631663249095393537",state="CriticalConnectionAlert"} 1"#));
    // The device counts once per state it holds; OK is not among them.
    assert!(text.contains(
        r#"code42_org_devices{source="console",org="2",org_id="2",state="WarningBackupAlert"} 1"#
    ));
    assert!(
        text.contains(r#"code42_org_devices{source="console",org="2",org_id="2",state="OK"} 0"#)
    );
}

#[test]
fn states_from_lists_and_codes() {
    let list = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(states(&list(&["OK"]), Some(0.0)).as_slice(), ["OK"]);
    assert_eq!(states(&list(&[]), Some(0.0)).as_slice(), ["OK"]);
    assert!(states(&list(&[]), Some(2.0)).is_empty());
    assert!(states(&list(&[]), None).is_empty());
    assert_eq!(
        states(&list(&["OK", "NewVendorState", "NewVendorState"]), None).as_slice(),
        ["NewVendorState"]
    );
    assert_eq!(
        states(
            &list(&[
                "WarningCritical",
                "OK",
                "ConnectionAlert",
                "WarningCritical"
            ]),
            None
        )
        .as_slice(),
        ["WarningCritical", "ConnectionAlert"]
    );
}

#[test]
fn unknown_states_still_get_a_series() {
    let mut c = computer(ALPHA);
    c.backup_usage[0].alert_states = vec!["SomeFutureAlert".into()];
    let raw = Raw {
        computers: vec![c],
        ..Default::default()
    };
    let (_, text) = render(&raw, &options());
    assert_eq!(
        value(
            &text,
            &format!(
                "backup_alert_state{}",
                ALPHA_T.replace('}', ",state=\"SomeFutureAlert\"}")
            )
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            &format!(
                "backup_alert_state{}",
                ALPHA_T.replace('}', ",state=\"OK\"}")
            )
        ),
        None
    );
}

#[test]
fn destinations_of_one_name_stay_apart() {
    let mut c = computer(ALPHA);
    let mut other = c.backup_usage[0].clone();
    other.store_point_name = Some("Archive2".into());
    other.percent_complete = Some(Num::Is(42.5));
    c.backup_usage.push(other);
    let raw = Raw {
        computers: vec![c],
        ..Default::default()
    };
    let (snap, text) = render(&raw, &options());
    let names: Vec<&str> = snap.targets.iter().map(|t| t.target.as_str()).collect();
    assert_eq!(names, vec!["Code42 Server", "Code42 Server (Archive2)"]);
    assert_eq!(snap.targets[1].completion_ratio, Some(0.425));
    // No series twice.
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    let n = lines.len();
    lines.sort();
    lines.dedup();
    assert_eq!(lines.len(), n);
}

#[test]
fn unreadable_values_are_absent_and_counted() {
    let mut c = computer(ALPHA);
    c.backup_usage[0].last_completed_backup = Some(crate::sources::values::Time::Unreadable(
        "yesterday-ish".into(),
    ));
    c.backup_usage[0].percent_complete = Some(Num::Is(250.0));
    let raw = Raw {
        computers: vec![c],
        ..Default::default()
    };
    let (snap, text) = render(&raw, &options());
    assert_eq!(snap.warnings.count, 1);
    assert_eq!(
        snap.warnings
            .of("computers.backupUsage.lastCompletedBackup"),
        1,
        "{}",
        snap.warnings
    );
    assert!(!text.contains("backup_last_success_timestamp_seconds{"));
    assert_eq!(snap.targets[0].completion_ratio, Some(1.0));
}

#[test]
fn identities_fall_back_and_duplicates_are_kept_once() {
    let raw = Raw {
        computers: vec![
            computer(
                r#"{"computerId": 5, "name": " ", "backupUsage": [{"targetComputerGuid": "9"}]}"#,
            ),
            computer(r#"{"name": "no identity"}"#),
            computer(r#"{"computerId": 5, "name": "again"}"#),
        ],
        ..Default::default()
    };
    let (snap, _) = render(&raw, &options());
    assert_eq!(snap.devices.len(), 1);
    assert_eq!(snap.devices[0].name, "5");
    assert_eq!(snap.targets[0].target, "9");
    assert_eq!(snap.warnings.count, 2);
}

#[test]
fn store_points_and_servers() {
    let mut raw = document();
    raw.store_points = Some(vec![serde_json::from_str(
        r#"{"storePointId": 1, "storePointName": "Default", "serverName": "Code42 Server", "online": true,
            "totalBytes": 1000, "usedBytes": 950}"#,
    )
    .unwrap()]);
    raw.servers = Some(vec![serde_json::from_str(
        r#"{"serverId": 3, "guid": "647903643760066817", "serverName": "Code42 Server", "type": "SERVER",
            "online": false, "totalBytes": 1000, "freeBytes": 50, "backupSessionCount": 4}"#,
    )
    .unwrap()]);
    let (_, text) = render(&raw, &options());
    let mp = r#"{source="console",mount_point="Default",mount_point_id="1"}"#;
    assert_eq!(
        value(&text, &format!("crashplan_mount_point_free_bytes{mp}")),
        Some(50.0)
    );
    assert_eq!(
        value(&text, &format!("crashplan_mount_point_free_ratio{mp}")),
        Some(0.05)
    );
    assert_eq!(
        value(&text, &format!("crashplan_mount_point_enabled{mp}")),
        Some(1.0)
    );
    let srv = r#"{source="console",server="Code42 Server",server_id="3"}"#;
    assert_eq!(
        value(&text, &format!("code42_server_online{srv}")),
        Some(0.0)
    );
    assert_eq!(
        value(&text, &format!("code42_server_used_bytes{srv}")),
        Some(950.0)
    );
    assert_eq!(
        value(&text, &format!("code42_server_backup_sessions{srv}")),
        Some(4.0)
    );
    assert!(text.contains(r#"guid="647903643760066817",type="SERVER"} 1"#));
}

#[test]
fn connected_falls_back_to_the_local_clock() {
    let mut raw = document();
    raw.server_time = None;
    // `now` in render() is 2e9 (2033): nobody connected within 15 minutes.
    let (_, text) = render(&raw, &options());
    assert!(text.contains(r#"code42_device_connected{source="console",device="Beta",device_id="631663249095393537"} 0"#));
}

/// Three computers, each backing up to one destination; computer `c2`'s usage `field` is
/// written `bad` (raw JSON text). The page is decoded as a real one is.
fn fleet_with(field: &str, bad: &str) -> Raw {
    let computers: Vec<String> = (1..=3)
        .map(|i| {
            let mut usage = vec![
                ("targetComputerGuid", "\"42\"".to_owned()),
                ("targetComputerName", "\"Server\"".into()),
                ("selectedFiles", "10".into()),
                ("selectedBytes", "5000".into()),
                ("todoFiles", "0".into()),
                ("todoBytes", "0".into()),
                ("archiveBytes", "4000".into()),
                ("billableBytes", "4000".into()),
                ("percentComplete", "100".into()),
                ("using", "true".into()),
                ("lastBackup", format!("\"2024-01-0{i}T00:00:00Z\"")),
                ("lastCompletedBackup", format!("\"2024-01-0{i}T00:00:00Z\"")),
            ];
            if i == 2 {
                for (k, v) in &mut usage {
                    if *k == field {
                        *v = bad.to_owned();
                    }
                }
            }
            let usage: Vec<String> = usage.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
            format!(
                r#"{{"computerId": {i}, "guid": "{}", "name": "c{i}", "active": true,
                    "alertStates": ["OK"], "backupUsage": [{{{}}}]}}"#,
                100 + i,
                usage.join(", ")
            )
        })
        .collect();
    let body = format!(
        r#"{{"data": {{"totalCount": 3, "computers": [{}]}}}}"#,
        computers.join(", ")
    );
    let page = model::computers_page("computers", body.as_bytes())
        .expect("one bad value never fails the page");
    Raw {
        computers: page.items,
        server_time: Some("2024-01-04T00:00:00Z".into()),
        ..Default::default()
    }
}

fn assert_fleet_intact(text: &str, missing: &str) {
    for family in [
        "backup_selected_bytes",
        "backup_todo_bytes",
        "backup_archive_bytes",
        "backup_last_success_timestamp_seconds",
    ] {
        for i in 1..=3 {
            let series = format!(
                r#"{family}{{system="code42",source="console",device="c{i}",device_id="{}",target="Server"}}"#,
                100 + i
            );
            let present = value(text, &series).is_some();
            assert_eq!(present, i != 2 || family != missing, "{series}\n{text}");
        }
    }
}

#[test]
fn one_bad_device_value_costs_that_value_only() {
    for bad in ["1e400", "-1e400", "\"lots\"", "{\"a\": 1}", "[1, 2]"] {
        let (snap, text) = render(&fleet_with("selectedBytes", bad), &options());
        assert_fleet_intact(&text, "backup_selected_bytes");
        assert_eq!(snap.targets.len(), 3);
        assert_eq!(
            snap.warnings.of("computers.backupUsage.selectedBytes"),
            1,
            "{bad}: {}",
            snap.warnings
        );
        assert_eq!(snap.warnings.count, 1, "{bad}: {}", snap.warnings);
    }
}

#[test]
fn implausible_device_values_are_absent_and_counted() {
    for (field, bad, family) in [
        (
            "lastCompletedBackup",
            "\"9999-12-31T00:00:00Z\"",
            "backup_last_success_timestamp_seconds",
        ),
        (
            "lastCompletedBackup",
            "1e300",
            "backup_last_success_timestamp_seconds",
        ),
        ("todoBytes", "-5", "backup_todo_bytes"),
        ("archiveBytes", "\"-1\"", "backup_archive_bytes"),
    ] {
        let (snap, text) = render(&fleet_with(field, bad), &options());
        assert_fleet_intact(&text, family);
        assert_eq!(
            snap.warnings.of(&format!("computers.backupUsage.{field}")),
            1,
            "{field} {bad}: {}",
            snap.warnings
        );
        assert_eq!(snap.warnings.count, 1, "{field} {bad}: {}", snap.warnings);
    }
}

#[test]
fn pages_mapped_at_once_make_the_snapshot_of_pages_mapped_in_turn() {
    let now = chrono::Utc::now();
    let mut data = sim::fleet::large_console(2_600, 2, now);
    // Values to warn about, a computer listed twice within its page (of 500), one deactivated.
    data.computers[7]["lastConnected"] = serde_json::json!("yesterday");
    data.computers[900]["backupUsage"][0]["selectedBytes"] = serde_json::json!("lots");
    data.computers[1000]["active"] = serde_json::json!(true);
    data.computers[1001] = data.computers[1000].clone();
    data.computers[30]["active"] = serde_json::json!(false);
    let active = data
        .computers
        .iter()
        .filter(|c| c["active"] != serde_json::json!(false))
        .count();
    fn read<T: serde::de::DeserializeOwned>(list: &[serde_json::Value]) -> Vec<T> {
        list.iter()
            .map(|v| serde_json::from_value(v.clone()).unwrap())
            .collect()
    }
    let computers: Vec<Computer> = read(&data.computers);
    let lists = Arc::new(Raw {
        users: Some(read(&data.users)),
        orgs: Some(read(&data.orgs)),
        ..Default::default()
    });
    let run = move |parallel: usize| {
        let at = Some(now.timestamp() as f64);
        let mut mapper = Mapper::new("console", &options(), at).parallel(parallel);
        mapper.begin(Some(computers.len() as u64), None);
        for page in computers.chunks(500) {
            mapper.page(page.to_vec());
        }
        let snap = mapper.finish(&lists);
        let mut text = String::new();
        crate::exposition::assemble(&mut text, &[&snap.metrics]);
        (snap, text)
    };
    let in_turn = run.clone()(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let at_once = runtime
        .block_on(runtime.spawn_blocking(move || run(3)))
        .unwrap();
    assert_eq!(in_turn.0.devices.len(), active - 1, "the repeat kept once");
    assert_eq!(in_turn.0.warnings.count, 3, "{}", in_turn.0.warnings);
    assert_eq!(at_once.1, in_turn.1);
    assert_eq!(at_once.0.devices, in_turn.0.devices);
    assert_eq!(at_once.0.targets, in_turn.0.targets);
    assert_eq!(
        at_once.0.warnings.to_string(),
        in_turn.0.warnings.to_string()
    );
    assert!(in_turn.1.contains("code42_org_devices"), "rollups written");
}
