use super::model::*;
use super::*;
use crate::exposition::assemble;

fn text(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    assemble(&mut out, &[&snapshot.metrics]);
    out
}

fn line(out: &str, family: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{family}{{{labels}}} ");
    out.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.parse().unwrap())
}

const SRC: &str = "system=\"rackspace\",source=\"rax\",";

#[test]
fn repair_quotes_leading_zero_numbers_and_drops_invalid_escapes() {
    let body = br#"{"a": 09528, "b": [0, -0.5, 10, 1e5, -012], "c": "keep 09528 \" and \\ \/", "d": "x\_y\_z"}"#;
    let fixed = repair(body).expect("needs repair");
    let v: serde_json::Value = serde_json::from_slice(&fixed).unwrap();
    assert_eq!(v["a"], "09528");
    assert_eq!(v["b"], serde_json::json!([0, -0.5, 10, 1e5, "-012"]));
    assert_eq!(v["c"], "keep 09528 \" and \\ /");
    assert_eq!(v["d"], "x_y_z");
    // Valid JSON is left alone.
    assert_eq!(repair(br#"{"a": 0, "b": "\u00e9\n", "c": 0.5}"#), None);
    // A string that ends the body with a stray backslash does not panic.
    assert!(repair(b"\"abc\\").is_none());
}

/// The document's agent list, verbatim (shared with the simulator): invalid JSON.
const DOC_AGENT_LIST: &str = include_str!("fixtures/agent_list.json");
/// The agent details example of the document (shared with the simulator).
const DETAIL: &str = include_str!("fixtures/agent_details.json");
/// The backup report example of the document (shared with the simulator).
const REPORT: &str = include_str!("fixtures/backup_report.json");

/// An agent spelling its booleans and its id as strings.
const STRING_TYPED_AGENT: &str = r#"{
"BackupVaultSize": "0 B",
"IsDisabled": "true",
"IsEncrypted": "false",
"MachineAgentId": "213564",
"MachineName": "Web Server",
"Status": "Offline",
"TimeOfLastSuccessfulBackup": "\/Date(1357817400000)\/"
}"#;

/// The document's first agent (a number with a leading zero and `\_` escapes),
/// [`STRING_TYPED_AGENT`] and an agent without an id.
fn agent_list() -> String {
    let first = crate::sources::rackspace::sim::array_elements(DOC_AGENT_LIST.as_bytes())
        .and_then(|elements| elements.into_iter().next())
        .map(|range| &DOC_AGENT_LIST[range])
        .unwrap();
    format!("[\n{first},\n{STRING_TYPED_AGENT},\n{{\"MachineName\": \"no id\"}}\n]")
}

#[test]
fn the_documents_agent_list_decodes_and_a_bad_item_is_skipped_alone() {
    let mut w = Warnings::default();
    let agents: Vec<Agent> = decode_items("agents", agent_list().as_bytes(), &mut w).unwrap();
    assert_eq!(agents.len(), 2);
    assert_eq!(agents[0].machine_agent_id, "213563");
    assert_eq!(agents[0].is_disabled, Some(Flag::Is(false)));
    assert_eq!(agents[1].machine_agent_id, "213564");
    assert_eq!(agents[1].is_disabled, Some(Flag::Is(true)));
    assert_eq!(agents[1].is_encrypted, Some(Flag::Is(false)));
    assert_eq!(w.count, 1);
    assert!(w.to_string().contains("agents[2] skipped"), "{w}");
    assert!(w.to_string().contains("MachineAgentId"), "{w}");
    // Not an array at all: the call fails.
    let err = decode_items::<Agent>("agents", b"{\"error\": 1}", &mut w).unwrap_err();
    assert_eq!(err.reason(), "parse");
}

#[test]
fn states_sizes_and_spellings() {
    assert_eq!(backup_state("Completed WithErrors"), "CompletedWithErrors");
    assert_eq!(backup_state("completedwitherrors"), "CompletedWithErrors");
    assert_eq!(backup_state(" startRequested"), "StartRequested");
    assert_eq!(backup_state("Stoprequested"), "StopRequested");
    assert_eq!(backup_state("In Progress"), "InProgress");
    assert_eq!(backup_state("Not Available "), "Not Available");
    assert_eq!(vault_size("35.3 MB"), Ok((35.3 * 1_048_576.0_f64).round()));
    assert_eq!(vault_size("0 B"), Ok(0.0));
    assert_eq!(
        vault_size("3.7 GB"),
        Ok((3.7 * 1_073_741_824.0_f64).round())
    );
    // The document gives the field's unit as MB: a bare number is megabytes.
    assert_eq!(vault_size("12"), Ok(12.0 * 1_048_576.0));
    assert!(vault_size("lots").is_err());
}

fn agent(json: &str) -> Agent {
    decode("agent", json.as_bytes()).unwrap()
}

fn configuration(json: &str) -> Configuration {
    decode("configurations", json.as_bytes()).unwrap()
}

fn activity(id: u64, config: u64, state: &str, ms: i64) -> Activity {
    decode(
        "activity",
        format!(
            r#"{{"ID": {id}, "Type": "Backup", "ParentId": {config}, "DisplayName": "x",
                "IsBackupConfigurationDeleted": false, "SourceMachineAgentId": 213564,
                "CurrentState": "{state}", "TimeOfActivity": "\/Date({ms})\/", "BackupId": 0}}"#
        )
        .as_bytes(),
    )
    .unwrap()
}

fn config_json(id: u64, name: &str, extra: &str) -> String {
    let mut v = serde_json::json!({
        "BackupConfigurationId": id, "MachineAgentId": 213564, "MachineName": "Web Server",
        "BackupConfigurationName": name, "IsActive": true, "IsDeleted": false,
        "Frequency": "Daily", "TimeZoneId": "Eastern Standard Time",
        "NextScheduledRunTime": "/Date(1357817400000)/", "LastRunTime": null,
        "LastRunBackupReportId": null
    });
    let extra: serde_json::Value = serde_json::from_str(&format!("{{{extra}}}")).unwrap();
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v.to_string()
}

#[test]
fn an_agent_with_its_configurations_runs_and_report() {
    let raw = Raw {
        agents: vec![AgentRead {
            agent: agent(DETAIL),
            details: Details::Fresh(1_700_000_000.0),
        }],
        configurations: vec![
            configuration(&config_json(1, "Weekly Website Backup", "")),
            configuration(&config_json(
                2,
                "Nightly DB",
                r#""LastRunTime": "/Date(1357900000000-0600)/", "IsActive": "false""#,
            )),
            configuration(&config_json(3, "Gone", r#""IsDeleted": true"#)),
        ],
        activity: vec![
            activity(10, 1, "Completed", 1_357_000_000_000),
            activity(11, 1, "Completed", 1_357_500_000_000),
            // The latest run finished with errors (spelled with a space); the success stays.
            activity(12, 1, "Completed WithErrors", 1_357_600_000_000),
            activity(20, 2, "Completed", 1_357_100_000_000),
            activity(21, 2, "Failed", 1_357_900_000_000),
            activity(30, 3, "Completed", 1_357_900_000_000),
        ],
        reports: HashMap::from([(
            "1".to_owned(),
            decode::<Report>("report", REPORT.as_bytes()).unwrap(),
        )]),
        restorable: Vec::new(),
        warnings: Warnings::default(),
    };
    assert_eq!(
        report_candidates(&raw.configurations, &raw.activity),
        vec![
            ("1".to_owned(), vec!["12".to_owned()]),
            ("2".to_owned(), vec!["21".to_owned()])
        ]
    );
    let snap = map(raw, "rax");
    let out = text(&snap);
    let dev = "device=\"Web Server\",device_id=\"213564\"";
    assert_eq!(
        line(
            &out,
            "rackspace_backup_agent_online",
            &format!("source=\"rax\",{dev}")
        ),
        Some(1.0)
    );
    assert_eq!(
        line(
            &out,
            "rackspace_backup_agent_enabled",
            &format!("source=\"rax\",{dev}")
        ),
        Some(1.0)
    );
    assert_eq!(
        line(
            &out,
            "rackspace_backup_agent_encrypted",
            &format!("source=\"rax\",{dev}")
        ),
        Some(1.0)
    );
    assert_eq!(
        line(
            &out,
            "rackspace_backup_agent_vault_size_bytes",
            &format!("source=\"rax\",{dev}")
        ),
        Some((35.3 * 1_048_576.0_f64).round())
    );
    assert_eq!(
        line(
            &out,
            "backup_last_success_timestamp_seconds",
            &format!("{SRC}{dev},target=\"\"")
        ),
        Some(1_357_817_400.0)
    );
    assert_eq!(
        line(
            &out,
            "backup_archive_bytes",
            &format!("{SRC}{dev},target=\"\"")
        ),
        Some((35.3 * 1_048_576.0_f64).round())
    );
    assert!(out.contains("backup_device_info{system=\"rackspace\",source=\"rax\",device=\"Web Server\",device_id=\"213564\",os=\"Windows Server 2012\",version=\"1.05.005848\"} 1\n"), "{out}");
    assert!(out.contains("rackspace_backup_agent_info{source=\"rax\",device=\"Web Server\",device_id=\"213564\",datacenter=\"DFW\",architecture=\"64-bit\",flavor=\"RaxCloudServer\",host_server_id=\"87c3b6e1-fb1a-41f9-91e5-313ae35a5a06\",ip_address=\"192.168.1.1\"} 1\n"), "{out}");

    let web = format!("{dev},target=\"Weekly Website Backup\"");
    assert_eq!(
        line(
            &out,
            "backup_last_success_timestamp_seconds",
            &format!("{SRC}{web}")
        ),
        Some(1_357_500_000.0)
    );
    assert_eq!(
        line(
            &out,
            "backup_last_activity_timestamp_seconds",
            &format!("{SRC}{web}")
        ),
        Some(1_357_600_000.0)
    );
    let st = |state: &str| {
        line(
            &out,
            "rackspace_backup_last_state",
            &format!("source=\"rax\",{web},state=\"{state}\""),
        )
    };
    assert_eq!(st("CompletedWithErrors"), Some(1.0));
    assert_eq!(st("Completed"), None);
    assert_eq!(st("Failed"), None);
    let rep = |family: &str| line(&out, family, &format!("source=\"rax\",{web}"));
    assert_eq!(rep("rackspace_backup_last_errors"), Some(2.0));
    assert_eq!(rep("rackspace_backup_last_duration_seconds"), Some(273.0));
    assert_eq!(
        rep("rackspace_backup_last_bytes"),
        Some((178.1 * 1_048_576.0_f64).round())
    );
    assert_eq!(rep("rackspace_backup_last_files"), Some(6.0));
    assert_eq!(rep("rackspace_backup_configuration_active"), Some(1.0));
    assert_eq!(
        rep("rackspace_backup_configuration_next_run_timestamp_seconds"),
        Some(1_357_817_400.0)
    );
    assert_eq!(
        rep("rackspace_backup_configuration_last_run_timestamp_seconds"),
        None
    );
    assert_eq!(
        line(&out, "backup_selected_bytes", &format!("{SRC}{web}")),
        Some((3.7 * 1_073_741_824.0_f64).round())
    );
    assert_eq!(
        line(&out, "backup_selected_files", &format!("{SRC}{web}")),
        Some(11936.0)
    );

    let db = format!("{dev},target=\"Nightly DB\"");
    let dbv = |family: &str| line(&out, family, &format!("source=\"rax\",{db}"));
    assert_eq!(dbv("rackspace_backup_configuration_active"), Some(0.0));
    // The offset names the zone; the milliseconds are UTC.
    assert_eq!(
        dbv("rackspace_backup_configuration_last_run_timestamp_seconds"),
        Some(1_357_900_000.0)
    );
    assert_eq!(
        line(
            &out,
            "rackspace_backup_last_state",
            &format!("source=\"rax\",{db},state=\"Failed\"")
        ),
        Some(1.0)
    );
    // The failed run has no report here: no report values.
    assert_eq!(dbv("rackspace_backup_last_errors"), None);
    assert_eq!(
        line(
            &out,
            "backup_last_success_timestamp_seconds",
            &format!("{SRC}{db}")
        ),
        Some(1_357_100_000.0)
    );
    // The deleted configuration is not exported.
    assert!(!out.contains("target=\"Gone\""), "{out}");
    assert_eq!(snap.warnings.count, 0, "{}", snap.warnings);
}

#[test]
fn agents_without_fresh_details() {
    let mut stale = agent(DETAIL);
    stale.machine_agent_id = "1".into();
    stale.machine_name = Some("stale".into());
    let mut missing = agent(DETAIL);
    missing.machine_agent_id = "2".into();
    missing.machine_name = Some("missing".into());
    let raw = Raw {
        agents: vec![
            AgentRead {
                agent: stale,
                details: Details::LastKnown(1_600_000_000.0),
            },
            AgentRead {
                agent: missing,
                details: Details::Missing,
            },
        ],
        ..Default::default()
    };
    let out = text(&map(raw, "rax"));
    let s = "source=\"rax\",device=\"stale\",device_id=\"1\"";
    let mi = "source=\"rax\",device=\"missing\",device_id=\"2\"";
    assert_eq!(line(&out, "rackspace_backup_agent_online", s), Some(1.0));
    assert_eq!(
        line(&out, "rackspace_backup_agent_details_timestamp_seconds", s),
        Some(1_600_000_000.0)
    );
    // Only the list's values: its Status and last success are not to be trusted.
    assert_eq!(line(&out, "rackspace_backup_agent_online", mi), None);
    assert_eq!(
        line(&out, "rackspace_backup_agent_details_timestamp_seconds", mi),
        None
    );
    assert!(
        !out.contains(&format!(
            "backup_last_success_timestamp_seconds{{system=\"rackspace\",{mi}"
        )),
        "{out}"
    );
    assert_eq!(line(&out, "rackspace_backup_agent_enabled", mi), Some(1.0));
}

#[test]
fn never_run_configurations_and_twin_names() {
    let raw = Raw {
        configurations: vec![
            configuration(&config_json(
                158485,
                "Manual Log Backup",
                r#""Frequency": "Manually", "NextScheduledRunTime": "\/Date(-62135578800000)\/""#,
            )),
            configuration(&config_json(7, "Twin", "")),
            configuration(&config_json(8, "Twin", "")),
            configuration(&config_json(
                9,
                "Old",
                r#""LastRunTime": "\/Date(1343226053000)\/", "LastRunBackupReportId": 80071"#,
            )),
        ],
        ..Default::default()
    };
    assert_eq!(
        report_candidates(&raw.configurations, &raw.activity),
        vec![("9".to_owned(), vec!["80071".to_owned()])]
    );
    let out = text(&map(raw, "rax"));
    let manual =
        "source=\"rax\",device=\"Web Server\",device_id=\"213564\",target=\"Manual Log Backup\"";
    // .NET's minimum date: no next run.
    assert_eq!(
        line(
            &out,
            "rackspace_backup_configuration_next_run_timestamp_seconds",
            manual
        ),
        None
    );
    assert!(
        out.contains("configuration_id=\"158485\",frequency=\"Manually\""),
        "{out}"
    );
    assert!(
        !out.contains(&format!("rackspace_backup_last_state{{{manual}")),
        "{out}"
    );
    assert!(out.contains("target=\"Twin #7\""), "{out}");
    assert!(out.contains("target=\"Twin #8\""), "{out}");
    // No activity at all: the last run counts as a success when it names its report.
    assert_eq!(
        line(
            &out,
            "backup_last_success_timestamp_seconds",
            &format!("{SRC}device=\"Web Server\",device_id=\"213564\",target=\"Old\"")
        ),
        Some(1_343_226_053.0)
    );
}

#[test]
fn without_activity_the_configurations_backup_state_is_the_last_state() {
    let raw = Raw {
        configurations: vec![
            configuration(&config_json(1, "Running", r#""BackupState": "InProgress""#)),
            configuration(&config_json(
                2,
                "Unknown",
                r#""BackupState": "Not Available""#,
            )),
            configuration(&config_json(3, "Queued", r#""BackupState": "queued""#)),
        ],
        // Activity wins over BackupState.
        activity: vec![activity(30, 3, "Missed", 1_357_000_000_000)],
        ..Default::default()
    };
    let out = text(&map(raw, "rax"));
    let st = |target: &str, state: &str| {
        line(
            &out,
            "rackspace_backup_last_state",
            &format!("source=\"rax\",device=\"Web Server\",device_id=\"213564\",target=\"{target}\",state=\"{state}\""),
        )
    };
    assert_eq!(st("Running", "InProgress"), Some(1.0));
    assert_eq!(st("Unknown", "InProgress"), None);
    assert!(!out.contains("Not Available"), "{out}");
    assert_eq!(st("Queued", "Missed"), Some(1.0));
    assert_eq!(st("Queued", "Queued"), None);
}

#[test]
fn latest_run_ties_break_by_id_and_other_activity_is_ignored() {
    let mut restore = activity(99, 1, "Completed", 1_400_000_000_000);
    restore.kind = Some("Restore".into());
    let mut deleted = activity(98, 1, "Failed", 1_400_000_000_000);
    deleted.is_backup_configuration_deleted = Some(Flag::Is(true));
    let acts = vec![
        activity(9, 1, "Completed", 1_357_000_000_000),
        activity(10, 1, "InProgress", 1_357_000_000_000),
        restore,
        deleted,
    ];
    let runs = runs_by_configuration(&acts);
    let r = &runs["1"];
    assert_eq!(r.latest.unwrap().id, "10");
    assert_eq!(r.latest_finished.unwrap().id, "9");
    assert_eq!(r.last_completed, Some(1_357_000_000.0));
}

#[test]
fn finished_runs_fail_or_succeed() {
    use super::model::run_failed;
    assert_eq!(run_failed("Completed", None), Some(false));
    assert_eq!(run_failed("Failed", None), Some(true));
    assert_eq!(run_failed("Completed WithErrors", None), Some(true));
    assert_eq!(run_failed("CompletedWithErrors", Some(3.0)), Some(true));
    assert_eq!(run_failed("CompletedWithErrors", Some(0.0)), Some(false));
    assert_eq!(run_failed("InProgress", None), None);
    assert_eq!(run_failed("Missed", None), None);
}

/// One agent with three daily configurations, each with one completed run and its report;
/// configuration 2's activity `TimeOfActivity` and report `FilesSearched` are written as given
/// (raw JSON text). Lists and reports are decoded as real ones are.
fn configurations_with(activity_time: &str, files_searched: &str) -> Raw {
    let mut w = Warnings::default();
    let acts: Vec<String> = (1..=3)
        .map(|i| {
            let time = if i == 2 {
                activity_time.to_owned()
            } else {
                format!("\"/Date({})/\"", 1_357_000_000_000_i64 + i)
            };
            format!(
                r#"{{"ID": {}, "Type": "Backup", "ParentId": {i}, "IsBackupConfigurationDeleted": false,
                    "SourceMachineAgentId": 213564, "CurrentState": "Completed", "TimeOfActivity": {time}}}"#,
                10 + i
            )
        })
        .collect();
    let body = format!("[{}]", acts.join(", "));
    let activity: Vec<Activity> = decode_items("activity", body.as_bytes(), &mut w).unwrap();
    let reports = (1..=3)
        .map(|i| {
            let files = if i == 2 {
                files_searched.to_owned()
            } else {
                "10".into()
            };
            let body = format!(
                r#"{{"BackupId": {}, "State": "Completed", "FilesSearched": {files},
                    "BytesSearched": "3.7 GB", "FilesBackedUp": 6, "NumErrors": 0}}"#,
                10 + i
            );
            (
                i.to_string(),
                decode::<Report>("report", body.as_bytes()).unwrap(),
            )
        })
        .collect();
    Raw {
        agents: vec![AgentRead {
            agent: agent(DETAIL),
            details: Details::Fresh(1_700_000_000.0),
        }],
        configurations: (1..=3)
            .map(|i| configuration(&config_json(i, &format!("cfg{i}"), "")))
            .collect(),
        activity,
        reports,
        restorable: Vec::new(),
        warnings: w,
    }
}

fn series_of(out: &str, family: &str, target: &str) -> Option<f64> {
    let needle = format!("target=\"{target}\"");
    out.lines()
        .find(|l| l.starts_with(&format!("{family}{{")) && l.contains(&needle))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
}

fn assert_configurations_intact(out: &str, missing: &str) {
    for family in [
        "backup_selected_files",
        "backup_selected_bytes",
        "backup_last_success_timestamp_seconds",
    ] {
        for i in 1..=3 {
            let present = series_of(out, family, &format!("cfg{i}")).is_some();
            assert_eq!(
                present,
                i != 2 || family != missing,
                "{family} of cfg{i}\n{out}"
            );
        }
    }
}

#[test]
fn one_bad_report_count_costs_that_value_only() {
    for bad in ["1e400", "\"lots\"", "[1]", "-3"] {
        let snap = map(configurations_with("\"/Date(1357000000002)/\"", bad), "rax");
        assert_configurations_intact(&text(&snap), "backup_selected_files");
        assert_eq!(
            snap.warnings.of("reports.FilesSearched"),
            1,
            "{bad}: {}",
            snap.warnings
        );
        assert_eq!(snap.warnings.count, 1, "{bad}: {}", snap.warnings);
    }
}

#[test]
fn one_bad_activity_time_costs_that_value_only() {
    for bad in ["1e400", "\"lots\"", "1e300", "\"/Date(253402214400000)/\""] {
        let snap = map(configurations_with(bad, "10"), "rax");
        assert_configurations_intact(&text(&snap), "backup_last_success_timestamp_seconds");
        assert_eq!(snap.targets.len(), 4, "{bad}");
        assert_eq!(
            snap.warnings.of("activity.TimeOfActivity"),
            1,
            "{bad}: {}",
            snap.warnings
        );
        assert_eq!(snap.warnings.count, 1, "{bad}: {}", snap.warnings);
    }
}

// ---- Issue 18: what a run, an Offline status and a stale agent mean for the alerts ----

const HOUR: f64 = 3_600.0;
const DAY: f64 = 86_400.0;

/// The `/Date(ms)/` milliseconds of `hours` before `now`.
fn ms_ago(now: f64, hours: f64) -> i64 {
    ((now - hours * HOUR) * 1000.0).round() as i64
}

/// The snapshot's alerts as the bridge decides them (the default 3-day threshold applied
/// first, as every refresh does), by (alert, device, target).
fn alerts_of(mut snap: Snapshot, now: f64) -> Vec<(String, String, String)> {
    let cfg = crate::config::Config::from_toml_str(
        "[[source]]\nname = \"rax\"\nkind = \"crashplan\"\nurl = \"https://cp.example\"\nusername = \"u\"\npassword = \"p\"\n",
    )
    .unwrap();
    let policy = crate::stale::StalePolicy::of(&cfg.sources[0]);
    let mut seen = crate::stale::Memory::default();
    crate::stale::annotate(&mut snap, &policy, &mut seen, now);
    let view = crate::alerting::rules::SourceView {
        name: "rax",
        system: SYSTEM,
        snapshot: &snap,
    };
    let mut out: Vec<(String, String, String)> = crate::alerting::rules::Evaluator::default()
        .evaluate(&[view], now)
        .into_iter()
        .map(|c| {
            let get = |k: &str| {
                c.labels
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map_or(String::new(), |(_, v)| v.clone())
            };
            (c.rule.name.to_owned(), get("device"), get("target"))
        })
        .collect();
    out.sort();
    out
}

/// The document's report (`CompletedWithErrors`, `CanRestore` true, `Reason` "Success", two
/// locked files) with its times moved to `hours` ago (start) and a few minutes later (end).
fn report_at(now: f64, hours: f64, edit: &[(&str, &str)]) -> Report {
    let mut v: serde_json::Value = serde_json::from_str(REPORT).unwrap();
    v["StartTime"] = format!("/Date({})/", ms_ago(now, hours)).into();
    v["CompletedTime"] = format!("/Date({})/", ms_ago(now, hours) + 273_000).into();
    v["BackupId"] = 92500.into();
    for (k, x) in edit {
        v[*k] = serde_json::from_str(x).unwrap();
    }
    decode("report", v.to_string().as_bytes()).unwrap()
}

/// A daily configuration that always completes with errors (a locked file) since a Completed
/// run 6 days ago; its latest run is the document's report, 5 hours ago.
fn always_with_errors(now: f64, edit: &[(&str, &str)]) -> Raw {
    let mut agent = agent(DETAIL);
    agent.time_of_last_successful_backup = None;
    let mut activity = vec![activity(
        92000,
        101145,
        "Completed",
        ms_ago(now, 6.0 * 24.0),
    )];
    for (n, day) in (0..5).rev().enumerate() {
        let state = "Completed WithErrors";
        let id = if day == 0 { 92500 } else { 92100 + n as u64 };
        activity.push(self::activity(
            id,
            101145,
            state,
            ms_ago(now, 5.0 + f64::from(day) * 24.0),
        ));
    }
    Raw {
        agents: vec![AgentRead {
            agent,
            details: Details::Fresh(now),
        }],
        configurations: vec![configuration(&config_json(
            101145,
            "Database Server Backup",
            "",
        ))],
        activity,
        reports: HashMap::from([("101145".to_owned(), report_at(now, 5.0, edit))]),
        ..Default::default()
    }
}

#[test]
fn a_restorable_run_with_errors_is_a_success_when_it_completed_and_still_a_failure() {
    let now = crate::time::unix_now().floor();
    let target = "device=\"Web Server\",device_id=\"213564\",target=\"Database Server Backup\"";
    let snap = map(always_with_errors(now, &[]), "rax");
    let out = text(&snap);
    // The success is the report's CompletedTime (5 hours ago, plus the run's 4 min 33 s), not
    // the Completed run of 6 days ago, nor the run's start.
    let completed = ((now - 5.0 * HOUR) * 1000.0).round() / 1000.0 + 273.0;
    assert_eq!(
        line(
            &out,
            "backup_last_success_timestamp_seconds",
            &format!("{SRC}{target}")
        ),
        Some(completed)
    );
    // Its errors stay visible: the run failed (BackupFailing, a warning), with its 2 errors.
    assert_eq!(
        line(&out, "backup_last_run_failed", &format!("{SRC}{target}")),
        Some(1.0)
    );
    assert_eq!(
        line(
            &out,
            "rackspace_backup_last_errors",
            &format!("source=\"rax\",{target}")
        ),
        Some(2.0)
    );
    // BackupFailing, and no BackupStale: a restorable backup completed 5 hours ago.
    assert_eq!(
        alerts_of(snap, now),
        [(
            "BackupFailing".to_owned(),
            "Web Server".to_owned(),
            "Database Server Backup".to_owned()
        )]
    );

    // A run that cannot be restored is no success, whatever its Reason: stale and failing.
    for edit in [
        &[("CanRestore", "false")][..],
        &[
            ("CanRestore", "null"),
            ("Reason", "\"UnableToProcessSomeFiles\""),
        ][..],
        &[("State", "\"Failed\""), ("CanRestore", "true")][..],
    ] {
        let snap = map(always_with_errors(now, edit), "rax");
        let out = text(&snap);
        assert_eq!(
            line(
                &out,
                "backup_last_success_timestamp_seconds",
                &format!("{SRC}{target}")
            ),
            Some(((now - 6.0 * DAY) * 1000.0).round() / 1000.0),
            "{edit:?}"
        );
        let names: Vec<String> = alerts_of(snap, now).into_iter().map(|a| a.0).collect();
        assert_eq!(names, ["BackupFailing", "BackupStale"], "{edit:?}");
    }
    // Without CanRestore, the Reason "Success" says it completed.
    let snap = map(always_with_errors(now, &[("CanRestore", "null")]), "rax");
    assert_eq!(
        line(
            &text(&snap),
            "backup_last_success_timestamp_seconds",
            &format!("{SRC}{target}")
        ),
        Some(completed)
    );
}

#[test]
fn report_restorable_reads_can_restore_then_reason() {
    let now = 1_700_000_000.0;
    assert_eq!(report_at(now, 1.0, &[]).restorable(), Some(true));
    assert_eq!(
        report_at(now, 1.0, &[("CanRestore", "\"false\"")]).restorable(),
        Some(false)
    );
    assert_eq!(
        report_at(now, 1.0, &[("CanRestore", "null")]).restorable(),
        Some(true)
    );
    assert_eq!(
        report_at(now, 1.0, &[("CanRestore", "null"), ("Reason", "null")]).restorable(),
        None
    );
    assert_eq!(
        report_at(now, 1.0, &[("State", "\"Failed\"")]).restorable(),
        Some(false)
    );
    assert_eq!(
        report_at(now, 1.0, &[("State", "\"InProgress\"")]).restorable(),
        None
    );
}

#[test]
fn the_service_s_last_restorable_backup_is_a_success() {
    let now = crate::time::unix_now().floor();
    let mut raw = always_with_errors(now, &[("CanRestore", "false")]);
    // The report cannot tell (not read); the service lists a backup of 2 days ago.
    raw.reports.clear();
    raw.restorable = decode_items(
        "availableforrestore",
        format!(
            r#"[{{"BackupConfigurationId":101145,"BackupConfigurationName":"Database Server Backup",
                "MachineName":"Web Server","MachineAgentId":213564,"IsEncrypted":false,
                "PublicKeyHex":10001,"PublicKeyMod":"a5","Flavor":"RaxCloudServer",
                "LastSuccessfulBackupTime":"\/Date({})\/"}}]"#,
            ms_ago(now, 48.0)
        )
        .as_bytes(),
        &mut Warnings::default(),
    )
    .unwrap();
    let out = text(&map(raw, "rax"));
    assert_eq!(
        line(
            &out,
            "backup_last_success_timestamp_seconds",
            &format!(
                "{SRC}device=\"Web Server\",device_id=\"213564\",target=\"Database Server Backup\""
            )
        ),
        Some(((now - 48.0 * HOUR) * 1000.0).round() / 1000.0)
    );
}

/// Agent 213564 of the document, `Status` as given, with one configuration of `frequency`
/// whose runs are `(state, hours ago)`.
fn agent_with(now: f64, status: &str, frequency: &str, runs: &[(&str, f64)]) -> Raw {
    let mut a = agent(DETAIL);
    a.status = Some(status.to_owned());
    a.time_of_last_successful_backup = None;
    Raw {
        agents: vec![AgentRead {
            agent: a,
            details: Details::Fresh(now),
        }],
        configurations: vec![configuration(&config_json(
            7,
            "Files",
            &format!(r#""Frequency": "{frequency}""#),
        ))],
        activity: runs
            .iter()
            .enumerate()
            .map(|(i, (state, hours))| activity(700 + i as u64, 7, state, ms_ago(now, *hours)))
            .collect(),
        ..Default::default()
    }
}

#[test]
fn an_offline_agent_is_offline_only_when_its_scheduled_work_is_not_happening() {
    let now = crate::time::unix_now().floor();
    let offline = |raw: Raw| -> bool {
        alerts_of(map(raw, "rax"), now)
            .iter()
            .any(|a| a.0 == "BackupAgentOffline")
    };
    // Idle between weekly runs (the last one 2 days ago): Offline says nothing.
    let idle = || agent_with(now, "Offline", "Weekly", &[("Completed", 50.0)]);
    let out = text(&map(idle(), "rax"));
    let dev = "device=\"Web Server\",device_id=\"213564\"";
    assert_eq!(
        line(
            &out,
            "backup_device_last_connected_timestamp_seconds",
            &format!("{SRC}{dev}")
        ),
        Some(((now - 50.0 * HOUR) * 1000.0).round() / 1000.0)
    );
    assert_eq!(
        line(
            &out,
            "backup_device_offline_threshold_seconds",
            &format!("{SRC}{dev}")
        ),
        Some(7.0 * DAY + HOUR)
    );
    assert!(!offline(idle()));
    // Idle with only a manual configuration, its last run weeks ago: nothing is due.
    let manual = || agent_with(now, "Offline", "Manually", &[("Completed", 900.0)]);
    assert_eq!(
        line(
            &text(&map(manual(), "rax")),
            "backup_device_offline_threshold_seconds",
            &format!("{SRC}{dev}")
        ),
        Some(f64::INFINITY)
    );
    assert!(!offline(manual()));
    // Daily, its last run 20 hours ago: not late yet.
    assert!(!offline(agent_with(
        now,
        "Offline",
        "Daily",
        &[("Completed", 20.0)]
    )));
    // Daily, and the service marked the runs since Missed (the last work 49 hours ago).
    assert!(offline(agent_with(
        now,
        "Offline",
        "Daily",
        &[("Completed", 49.0), ("Missed", 25.0), ("Missed", 1.0)]
    )));
    // Hourly, queued for 3 hours with nothing started: the queue is the service's, not work.
    assert!(offline(agent_with(
        now,
        "Offline",
        "Hourly",
        &[("Completed", 3.5), ("Queued", 2.5)]
    )));
    // Online: never offline, however late.
    assert!(!offline(agent_with(
        now,
        "Online",
        "Daily",
        &[("Completed", 49.0), ("Missed", 1.0)]
    )));
}

#[test]
fn a_stale_agent_raises_one_stale_alert_per_late_configuration_and_none_for_itself() {
    let now = crate::time::unix_now().floor();
    // The agent's last success and its daily configuration's are 5 days old.
    let mut raw = agent_with(now, "Online", "Daily", &[("Completed", 120.0)]);
    raw.agents[0].agent.time_of_last_successful_backup =
        Some(crate::sources::values::Time::At(now - 120.0 * HOUR));
    let snap = map(raw, "rax");
    let out = text(&snap);
    // The agent-wide target keeps its last success (dashboards), without a threshold.
    let agent = "device=\"Web Server\",device_id=\"213564\",target=\"\"";
    assert!(line(
        &out,
        "backup_last_success_timestamp_seconds",
        &format!("{SRC}{agent}")
    )
    .is_some());
    assert_eq!(
        alerts_of(snap, now),
        [(
            "BackupStale".to_owned(),
            "Web Server".to_owned(),
            "Files".to_owned()
        )]
    );
}
