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
