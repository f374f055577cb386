//! The mapping of Freezer items into families, on hand-built v2 and v1 items; the HTTP side
//! (keystone, paging, discovery) is tested over the simulated server in `tests/freezer.rs`.

use serde_json::json;

use super::*;
use crate::exposition::assemble;

fn text(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    assemble(&mut out, &[&snapshot.metrics]);
    out
}

fn value(out: &str, family: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{family}{{{labels}}} ");
    out.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.parse().unwrap())
}

const N: &str = "system=\"freezer\",source=\"fz\",";
const P: &str = "aaaa1111";
const NOW: f64 = 1_800_000_000.0;

fn backup(
    id: &str,
    host: &str,
    name: &str,
    ago: f64,
    status: &str,
    job: Option<&str>,
) -> serde_json::Value {
    let mut md = json!({
        "hostname": host, "backup_name": name, "container": format!("freezer_{name}"),
        "time_stamp": NOW - ago, "curr_backup_level": 0, "client_os": "linux",
        "client_version": "16.0.0", "backup_size_compressed": 100, "backup_size_uncompressed": 250,
        "ssh_port": ""
    });
    if let Some(j) = job {
        md["job_id"] = json!(j);
    }
    json!({"project_id": P, "user_id": "u", "backup_id": id, "status": status, "backup_metadata": md})
}

fn job(id: &str, host: &str, name: &str, schedule: serde_json::Value) -> serde_json::Value {
    json!({
        "job_id": id, "project_id": P, "user_id": "u", "client_id": format!("{P}_{host}"),
        "session_id": "", "session_tag": 0, "description": format!("{host} {name}"),
        "job_schedule": schedule,
        "job_actions": [{"freezer_action": {"action": "backup", "backup_name": name, "hostname": host}}]
    })
}

fn client(host: &str) -> serde_json::Value {
    json!({"project_id": P, "user_id": "u", "client": {
        "uuid": format!("uuid-{host}"), "hostname": host, "client_id": format!("{P}_{host}"),
        "is_central": false, "description": host}})
}

fn read(items: serde_json::Value) -> Raw {
    let get = |k: &str| items.get(k).cloned().unwrap_or(json!([]));
    Raw {
        projects: vec![ProjectRead {
            project_id: Some(P.into()),
            jobs: serde_json::from_value(get("jobs")).unwrap(),
            backups: serde_json::from_value(get("backups")).unwrap(),
            clients: items
                .get("clients")
                .map(|c| serde_json::from_value(c.clone()).unwrap()),
            sessions: items
                .get("sessions")
                .map(|c| serde_json::from_value(c.clone()).unwrap()),
        }],
        warnings: Warnings::at(NOW),
        read_at: Some(NOW),
    }
}

fn fleet() -> Raw {
    let daily = |status: &str, result: &str, started: f64, ended: f64| {
        json!({"schedule_interval": "1 days", "time_created": NOW - 30.0 * 86_400.0,
               "status": status, "result": result, "event": "",
               "time_started": NOW - started, "time_ended": if ended < 0.0 { -1.0 } else { NOW - ended }})
    };
    read(json!({
        "clients": [client("web1"), client("db1")],
        "jobs": [
            job("j-ok", "web1", "web1-www", daily("scheduled", "success", 7300.0, 7200.0)),
            job("j-fail", "db1", "db1-sql", daily("scheduled", "fail", 1900.0, 1800.0)),
            job("j-run", "db1", "db1-vol", daily("running", "", 600.0, -1.0)),
            job("j-never", "web1", "web1-restore", json!({"time_created": NOW - 60.0, "time_started": -1, "time_ended": -1})),
            job("j-once", "web1", "web1-img", json!({"schedule_date": "2025-06-01T04:00:00", "status": "completed",
                "result": "aborted", "time_created": NOW - 9.0 * 86_400.0,
                "time_started": NOW - 172_800.0, "time_ended": NOW - 172_500.0})),
        ],
        "backups": [
            backup("b1", "web1", "web1-www", 7205.0, "available", Some("j-ok")),
            backup("b2", "web1", "web1-www", 93_605.0, "available", Some("j-ok")),
            backup("b3", "db1", "db1-sql", 1905.0, "error", Some("j-fail")),
            backup("b4", "db1", "db1-sql", 5505.0, "available", Some("j-fail")),
            backup("b5", "web1", "web1-manual", 800_000.0, "available", None),
            backup("b6", "db1", "db1-vol", 87_000.0, "available", Some("j-run")),
            // A host with no client and no job.
            backup("b7", "lost1", "lost1-etc", 400_000.0, "available", None),
        ],
        "sessions": [{"project_id": P, "user_id": "u", "session_id": "s1", "description": "nightly",
            "session_tag": 1, "result": "success", "hold_off": 60, "status": "completed",
            "time_ended": -1, "time_end": NOW - 10.0, "time_started": -1, "time_start": NOW - 20.0,
            "schedule": {"schedule_interval": "1 days"},
            "jobs": {"j-ok": {"client_id": format!("{P}_web1"), "status": "completed", "result": "success"}}},
            {"project_id": P, "user_id": "u", "session_id": "s2", "description": "unused",
            "session_tag": 0, "result": null, "hold_off": 30, "status": "active",
            "time_ended": -1, "time_end": -1, "time_started": -1, "time_start": -1,
            "schedule": {"schedule_interval": "12 hours"}}]
    }))
}

#[test]
fn neutral_targets_per_host_and_backup_name() {
    let snap = map(fleet(), "fz");
    let out = text(&snap);
    let t = |host: &str, name: &str| {
        format!("{N}device=\"{host}\",device_id=\"{P}_{host}\",target=\"{name}\"")
    };
    let last_success = "backup_last_success_timestamp_seconds";
    assert_eq!(
        value(&out, last_success, &t("web1", "web1-www")),
        Some(NOW - 7205.0)
    );
    // The error backup is newer; the last success is the newest available one.
    assert_eq!(
        value(&out, last_success, &t("db1", "db1-sql")),
        Some(NOW - 5505.0)
    );
    assert_eq!(
        value(
            &out,
            "backup_last_activity_timestamp_seconds",
            &t("db1", "db1-sql")
        ),
        Some(NOW - 1900.0)
    );
    assert_eq!(
        value(&out, "backup_last_run_failed", &t("db1", "db1-sql")),
        Some(1.0)
    );
    assert_eq!(
        value(&out, "backup_last_run_failed", &t("web1", "web1-www")),
        Some(0.0)
    );
    assert_eq!(
        value(&out, "backup_archive_bytes", &t("web1", "web1-www")),
        Some(200.0)
    );
    assert_eq!(
        value(&out, "backup_archive_bytes", &t("db1", "db1-sql")),
        Some(100.0)
    );
    // The never-run restore job writes no backup: no target. The aborted one-shot job's
    // target exists, without a success.
    assert!(!out.contains("target=\"web1-restore\""));
    assert_eq!(value(&out, last_success, &t("web1", "web1-img")), None);
    assert_eq!(
        value(&out, last_success, &t("web1", "web1-manual")),
        Some(NOW - 800_000.0)
    );
    // A host without client: freezer-scheduler's default client id.
    assert_eq!(
        value(&out, last_success, &t("lost1", "lost1-etc")),
        Some(NOW - 400_000.0)
    );

    let by_target: HashMap<&str, &BackupTarget> = snap
        .targets
        .iter()
        .map(|t| (t.target.as_str(), t))
        .collect();
    assert!(!by_target["web1-www"].paused);
    assert_eq!(by_target["web1-www"].schedule_period, Some(86_400.0));
    assert_eq!(
        by_target["web1-www"].first_seen,
        Some(NOW - 30.0 * 86_400.0)
    );
    // Manual backups, finished one-shot jobs and client-less hosts are not expected to run.
    for paused in ["web1-manual", "web1-img", "lost1-etc"] {
        assert!(by_target[paused].paused, "{paused}");
    }
    // The running job's target: active, last activity its start.
    assert!(!by_target["db1-vol"].paused);
    assert_eq!(by_target["db1-vol"].last_activity, Some(NOW - 600.0));
    assert_eq!(by_target["db1-vol"].last_run_failed, Some(false));
    // Devices: every host, with the project as org.
    let devices: Vec<(&str, &str)> = snap
        .devices
        .iter()
        .map(|d| (d.name.as_str(), d.id.as_str()))
        .collect();
    assert_eq!(devices.len(), 3, "{devices:?}");
    assert!(out.contains(&format!("backup_device_info{{{N}device=\"web1\",device_id=\"{P}_web1\",org=\"{P}\",os=\"linux\",version=\"16.0.0\"}} 1")), "{out}");
}

#[test]
fn job_families() {
    let out = text(&map(fleet(), "fz"));
    let j = |id: &str, host: &str| {
        format!("source=\"fz\",project_id=\"{P}\",job_id=\"{id}\",device=\"{host}\",device_id=\"{P}_{host}\"")
    };
    let result = |id: &str, host: &str, r: &str| {
        value(
            &out,
            "freezer_job_last_result",
            &format!("{},result=\"{r}\"", j(id, host)),
        )
    };
    assert_eq!(result("j-ok", "web1", "success"), Some(1.0));
    assert_eq!(result("j-ok", "web1", "fail"), None);
    assert_eq!(result("j-fail", "db1", "fail"), Some(1.0));
    assert_eq!(result("j-once", "web1", "aborted"), Some(1.0));
    // Running: no result yet, all 0. Never ran: no series.
    for r in ["success", "fail", "aborted"] {
        assert_eq!(result("j-run", "db1", r), None, "{r}");
        assert_eq!(result("j-never", "web1", r), None, "{r}");
    }
    let status = |id: &str, host: &str, s: &str| {
        value(
            &out,
            "freezer_job_status",
            &format!("{},status=\"{s}\"", j(id, host)),
        )
    };
    assert_eq!(status("j-run", "db1", "running"), Some(1.0));
    assert_eq!(status("j-once", "web1", "completed"), Some(1.0));
    assert_eq!(status("j-never", "web1", "scheduled"), None);
    let ts = |family: &str, id: &str, host: &str| value(&out, family, &j(id, host));
    assert_eq!(
        ts("freezer_job_last_start_timestamp_seconds", "j-run", "db1"),
        Some(NOW - 600.0)
    );
    assert_eq!(
        ts("freezer_job_last_end_timestamp_seconds", "j-run", "db1"),
        None
    );
    assert_eq!(
        ts(
            "freezer_job_last_start_timestamp_seconds",
            "j-never",
            "web1"
        ),
        None
    );
    assert_eq!(
        ts("freezer_job_created_timestamp_seconds", "j-never", "web1"),
        Some(NOW - 60.0)
    );
    let success = "freezer_job_last_success_timestamp_seconds";
    assert_eq!(ts(success, "j-ok", "web1"), Some(NOW - 7200.0));
    // Failed last run: its newest available backup.
    assert_eq!(ts(success, "j-fail", "db1"), Some(NOW - 5505.0));
    assert_eq!(ts(success, "j-run", "db1"), Some(NOW - 87_000.0));
    assert_eq!(ts(success, "j-once", "web1"), None);
    assert_eq!(ts(success, "j-never", "web1"), None);
    assert!(out.contains(&format!("freezer_job_info{{{},client_id=\"{P}_web1\",description=\"web1 web1-www\",session_id=\"\",schedule=\"1 days\",actions=\"backup\",backup_name=\"web1-www\"}} 1", j("j-ok", "web1"))), "{out}");
    assert!(out.contains("schedule=\"once\",actions=\"backup\",backup_name=\"web1-img\"} 1"));
}

#[test]
fn backups_per_host_clients_and_sessions() {
    let out = text(&map(fleet(), "fz"));
    let h = |host: &str, id: &str| {
        format!("source=\"fz\",project_id=\"{P}\",device=\"{host}\",device_id=\"{id}\"")
    };
    let db1 = h("db1", &format!("{P}_db1"));
    let count = |status: &str| {
        value(
            &out,
            "freezer_backups",
            &format!("{db1},status=\"{status}\""),
        )
    };
    assert_eq!(
        (count("available"), count("error"), count("deleted")),
        (Some(2.0), Some(1.0), Some(0.0))
    );
    let newest = |status: &str| {
        value(
            &out,
            "freezer_backup_newest_timestamp_seconds",
            &format!("{db1},status=\"{status}\""),
        )
    };
    assert_eq!(
        (newest("available"), newest("error"), newest("creating")),
        (Some(NOW - 5505.0), Some(NOW - 1905.0), None)
    );
    assert_eq!(
        value(&out, "freezer_backup_compressed_bytes", &db1),
        Some(200.0)
    );
    assert_eq!(
        value(&out, "freezer_backup_uncompressed_bytes", &db1),
        Some(500.0)
    );
    assert_eq!(
        value(
            &out,
            "freezer_clients",
            &format!("source=\"fz\",project_id=\"{P}\"")
        ),
        Some(2.0)
    );
    assert!(out.contains(&format!("freezer_client_info{{source=\"fz\",project_id=\"{P}\",device=\"web1\",device_id=\"{P}_web1\",uuid=\"uuid-web1\",description=\"web1\",is_central=\"false\"}} 1")));
    let s = |id: &str| format!("source=\"fz\",project_id=\"{P}\",session_id=\"{id}\"");
    assert_eq!(
        value(
            &out,
            "freezer_session_status",
            &format!("{},status=\"completed\"", s("s1"))
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &out,
            "freezer_session_last_result",
            &format!("{},result=\"success\"", s("s1"))
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &out,
            "freezer_session_last_result",
            &format!("{},result=\"success\"", s("s2"))
        ),
        None
    );
    assert_eq!(
        value(
            &out,
            "freezer_session_status",
            &format!("{},status=\"active\"", s("s2"))
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&out, "freezer_session_last_end_timestamp_seconds", &s("s1")),
        Some(NOW - 10.0)
    );
    assert_eq!(
        value(
            &out,
            "freezer_session_last_start_timestamp_seconds",
            &s("s2")
        ),
        None
    );
    assert_eq!(value(&out, "freezer_session_jobs", &s("s1")), Some(1.0));
    assert_eq!(value(&out, "freezer_session_jobs", &s("s2")), Some(0.0));
}

#[test]
fn sizes_are_optional_and_an_admin_job_list_counts_each_job_once() {
    let mut raw = fleet();
    for b in &mut raw.projects[0].backups {
        b.backup_metadata.backup_size_compressed = None;
        b.backup_metadata.backup_size_uncompressed = None;
    }
    // The same jobs read again for a second project (an admin's cross-project list).
    let again = ProjectRead {
        project_id: Some("bbbb2222".into()),
        jobs: raw.projects[0].jobs.clone(),
        clients: Some(Vec::new()),
        ..ProjectRead::default()
    };
    raw.projects.push(again);
    let out = text(&map(raw, "fz"));
    assert!(!out.contains("backup_archive_bytes{"));
    assert!(!out.contains("freezer_backup_compressed_bytes{"));
    assert_eq!(out.matches("freezer_job_info{").count(), 5);
    assert_eq!(
        value(
            &out,
            "freezer_clients",
            "source=\"fz\",project_id=\"bbbb2222\""
        ),
        Some(0.0)
    );
}

#[test]
fn v1_items_map_like_v2() {
    // The document's v1 sample, its 1973 timestamps moved into the plausible window (1990 on).
    let raw = Raw {
        projects: vec![ProjectRead {
            project_id: None,
            backups: serde_json::from_value(json!([
                {"backup_id": "b740", "backup_metadata": {"backup_name": "important_data_backup",
                 "host_name": "alpha", "level": 1, "timestamp": 1123444324, "backup_size_compressed": 1212,
                 "container": "freezer_container", "encrypted": "false"}},
                {"backup_id": "b741", "backup_metadata": {"backup_name": "important_data_backup",
                 "host_name": "alpha", "level": 0, "timestamp": 1123444311, "backup_size_compressed": 1212}}
            ])).unwrap(),
            jobs: serde_json::from_value(json!([
                {"client_id": "5c86_alpha", "job_id": "685e", "user_id": "fe93",
                 "job_action": {"action": "backup", "backup_name": "important_data_backup", "max_level": "4"},
                 "job_schedule": {"schedule_interval": "1 days", "time_created": 1435064743, "time_ended": -1, "time_started": -1}}
            ])).unwrap(),
            clients: Some(serde_json::from_value(json!([
                {"client": {"hostname": "alpha", "description": "ws", "client_id": "5c86_alpha"}, "user_id": "fe93"}
            ])).unwrap()),
            sessions: None,
        }],
        warnings: Warnings::default(),
        read_at: Some(NOW),
    };
    let out = text(&map(raw, "fz"));
    let t =
        format!("{N}device=\"alpha\",device_id=\"5c86_alpha\",target=\"important_data_backup\"");
    assert_eq!(
        value(&out, "backup_last_success_timestamp_seconds", &t),
        Some(1_123_444_324.0)
    );
    assert_eq!(value(&out, "backup_archive_bytes", &t), Some(2424.0));
    assert!(out.contains("freezer_job_info{source=\"fz\",project_id=\"\",job_id=\"685e\",device=\"alpha\",device_id=\"5c86_alpha\""), "{out}");
    assert!(!out.contains("freezer_session"));
}

/// Three hosts with one available backup each; host `h2`'s metadata `field` is written `bad`
/// (raw JSON text). The page is decoded and read as a real one is.
fn backups_with(field: &str, bad: &str) -> Raw {
    let items: Vec<String> = (1..=3)
        .map(|i| {
            let mut md = vec![
                ("hostname", format!("\"h{i}\"")),
                ("backup_name", format!("\"n{i}\"")),
                ("time_stamp", format!("{}", NOW - 3600.0 * f64::from(i))),
                ("curr_backup_level", "0".to_owned()),
                ("backup_size_compressed", "100".into()),
                ("backup_size_uncompressed", "250".into()),
            ];
            if i == 2 {
                for (k, v) in &mut md {
                    if *k == field {
                        *v = bad.to_owned();
                    }
                }
            }
            let md: Vec<String> = md.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
            format!(
                r#"{{"backup_id": "b{i}", "project_id": "{P}", "status": "available",
                    "backup_metadata": {{{}}}}}"#,
                md.join(", ")
            )
        })
        .collect();
    let body = format!(r#"{{"backups": [{}]}}"#, items.join(", "));
    let mut warnings = Warnings::at(NOW);
    let page = model::decode_page::<Backup>("backups", "backups", body.as_bytes())
        .expect("one bad value never fails the page");
    let backups = model::readable("backups", page, &mut warnings);
    Raw {
        projects: vec![ProjectRead {
            project_id: Some(P.into()),
            jobs: Vec::new(),
            backups,
            clients: None,
            sessions: None,
        }],
        warnings,
        read_at: Some(NOW),
    }
}

fn assert_hosts_intact(out: &str, missing: &[&str]) {
    for family in [
        "backup_archive_bytes",
        "backup_last_success_timestamp_seconds",
        "backup_last_activity_timestamp_seconds",
    ] {
        for i in 1..=3 {
            let labels = format!("{N}device=\"h{i}\",device_id=\"{P}_h{i}\",target=\"n{i}\"");
            let present = value(out, family, &labels).is_some();
            let gone = i == 2 && missing.contains(&family);
            assert_eq!(present, !gone, "{family} of h{i}\n{out}");
        }
    }
}

#[test]
fn one_bad_backup_size_costs_that_value_only() {
    for bad in ["1e400", "\"lots\"", "{\"a\": 1}", "-100"] {
        let snap = map(backups_with("backup_size_compressed", bad), "fz");
        assert_hosts_intact(&text(&snap), &["backup_archive_bytes"]);
        assert_eq!(snap.targets.len(), 3);
        assert_eq!(
            snap.warnings
                .of("backups.backup_metadata.backup_size_compressed"),
            1,
            "{bad}: {}",
            snap.warnings
        );
        assert_eq!(snap.warnings.count, 1, "{bad}: {}", snap.warnings);
    }
}

#[test]
fn one_bad_backup_time_costs_that_value_only() {
    for bad in ["1e400", "\"lots\"", "1e300", "253402214400", "12345"] {
        let snap = map(backups_with("time_stamp", bad), "fz");
        // Without a time, h2's backup gives neither a last success nor an activity.
        assert_hosts_intact(
            &text(&snap),
            &[
                "backup_last_success_timestamp_seconds",
                "backup_last_activity_timestamp_seconds",
            ],
        );
        assert_eq!(
            snap.warnings.of("backups.backup_metadata.time_stamp"),
            1,
            "{bad}: {}",
            snap.warnings
        );
        assert_eq!(snap.warnings.count, 1, "{bad}: {}", snap.warnings);
    }
}

#[test]
fn never_times_are_absent_and_not_counted() {
    let snap = map(backups_with("time_stamp", "-1"), "fz");
    assert_eq!(snap.warnings.count, 0, "{}", snap.warnings);
}

// ---- cron-like schedules --------------------------------------------------------------------

/// Unix seconds of a UTC date like `2026-12-01T03:50:00`.
fn utc(date: &str) -> f64 {
    cron::parse_date("test", date)
        .unwrap()
        .and_utc()
        .timestamp() as f64
}

/// The document's own job (freezer-api v1, "5.2 Get job details"): Tue–Sat at 03:20, as the
/// scheduler leaves it after a run on Saturday 2026-11-28 03:20–03:50 that uploaded one
/// backup, with `extra` keys added to its `job_schedule`.
fn workday_job(extra: serde_json::Value) -> serde_json::Value {
    let mut schedule = json!({
        "schedule_day_of_week": "tue,wed,thu,fri,sat", "schedule_hour": "03",
        "schedule_minute": "20", "time_created": 1435064743,
        "status": "scheduled", "result": "success", "event": "",
        "time_started": utc("2026-11-28T03:20:00"), "time_ended": utc("2026-11-28T03:50:00")
    });
    for (k, v) in extra.as_object().unwrap() {
        schedule[k] = v.clone();
    }
    json!({
        "client_id": "5c869f05e23149e4bf18639f2dd96380_my-workstation",
        "job_action": {"action": "backup", "backup_name": "workday_backup_of_my_work_stuff",
                       "container": "my_backups", "max_level": "4",
                       "path_to_backup": "/home/me/work_stuff"},
        "job_id": "685eab6e3a2744b6bce789fe7e71d6e7",
        "job_schedule": schedule,
        "user_id": "fe93b43c374247c38b456c08041e6765"
    })
}

fn workday_backup(job_id: &str) -> serde_json::Value {
    json!({"backup_id": "b740ed9ad2b646aba304ef54c21c6774", "backup_metadata": {
        "backup_name": "workday_backup_of_my_work_stuff", "container": "my_backups",
        "host_name": "my-workstation", "hostname": "my-workstation", "level": 0,
        "max_level": 4, "mode": "fs", "time_stamp": utc("2026-11-28T03:20:05"), "job_id": job_id}})
}

/// What the bundled rules decide for a refresh of `jobs` read at `now`: the names of the
/// alerts that hold, with the snapshot.
fn decide(jobs: Vec<serde_json::Value>, now: f64) -> (Vec<&'static str>, Snapshot) {
    let backups = vec![workday_backup("685eab6e3a2744b6bce789fe7e71d6e7")];
    // The document's client ("4.2 Get client details").
    let clients = json!([{"client": {
        "client_id": "5c869f05e23149e4bf18639f2dd96380_my-workstation",
        "description": "my simple freezer client description", "hostname": "my-workstation"},
        "user_id": "fe93b43c374247c38b456c08041e6765"}]);
    let mut raw = read(json!({"jobs": jobs, "backups": backups, "clients": clients}));
    raw.read_at = Some(now);
    let mut snap = map(raw, "fz");
    let cfg = crate::config::Config::from_toml_str(
        "[[source]]\nname = \"fz\"\nkind = \"crashplan\"\nurl = \"https://cp.example\"\nusername = \"u\"\npassword = \"p\"\n",
    )
    .unwrap();
    let policy = crate::stale::StalePolicy::of(&cfg.sources[0]);
    crate::stale::annotate(
        &mut snap,
        &policy,
        &mut crate::stale::Memory::default(),
        now,
    );
    let views = [crate::alerting::rules::SourceView {
        name: "fz",
        system: SYSTEM,
        snapshot: &snap,
    }];
    let names = crate::alerting::rules::Evaluator::default()
        .evaluate(&views, now)
        .iter()
        .map(|c| c.rule.name)
        .collect();
    (names, snap)
}

#[test]
fn the_documents_tue_sat_job_is_not_stale_on_tuesday_morning() {
    // Tuesday 2026-12-01 03:50: the Tuesday run is under way, the last backup is Saturday's,
    // 3 days and 30 minutes old. The schedule's longest gap is Saturday → Tuesday, 3 days:
    // the threshold is that plus a day, not the 3-day default.
    let (alerts, snap) = decide(vec![workday_job(json!({}))], utc("2026-12-01T03:50:00"));
    assert!(alerts.is_empty(), "{alerts:?}");
    let t = &snap.targets[0];
    assert_eq!(t.target, "workday_backup_of_my_work_stuff");
    assert_eq!(t.schedule_period, Some(3.0 * 86_400.0));
    assert_eq!(t.stale_threshold, Some(4.0 * 86_400.0));
    assert_eq!(
        value(
            &text(&snap),
            "backup_stale_threshold_seconds",
            &format!("{N}device=\"my-workstation\",device_id=\"5c869f05e23149e4bf18639f2dd96380_my-workstation\",target=\"workday_backup_of_my_work_stuff\"")
        ),
        Some(345_600.0)
    );
    // Runs missed on Tuesday and Wednesday: stale by Wednesday 03:21 (4 days since Saturday
    // 03:20:05), not before.
    let (alerts, _) = decide(vec![workday_job(json!({}))], utc("2026-12-02T03:20:00"));
    assert!(alerts.is_empty(), "{alerts:?}");
    let (alerts, _) = decide(vec![workday_job(json!({}))], utc("2026-12-02T03:21:00"));
    assert_eq!(alerts, ["BackupStale"]);
}

#[test]
fn cron_schedules_set_the_period_weekly_monthly_hourly() {
    let now = utc("2026-12-03T12:00:00");
    for (schedule, period) in [
        (
            json!({"schedule_day_of_week": "sun", "schedule_hour": "1"}),
            Some(7.0 * 86_400.0),
        ),
        (
            json!({"schedule_day": "1", "schedule_hour": "1"}),
            Some(31.0 * 86_400.0),
        ),
        (json!({"schedule_minute": "0"}), Some(3600.0)),
        (
            json!({"schedule_hour": "3", "schedule_minute": "15"}),
            Some(86_400.0),
        ),
    ] {
        let mut js = workday_job(json!({}))["job_schedule"].clone();
        for k in ["schedule_day_of_week", "schedule_hour", "schedule_minute"] {
            js.as_object_mut().unwrap().remove(k);
        }
        for (k, v) in schedule.as_object().unwrap() {
            js[k] = v.clone();
        }
        let mut job = workday_job(json!({}));
        job["job_schedule"] = js;
        let (_, snap) = decide(vec![job], now);
        assert_eq!(snap.targets[0].schedule_period, period, "{schedule}");
        assert_eq!(snap.warnings.count, 0, "{}", snap.warnings);
    }
}

#[test]
fn an_unreadable_cron_schedule_is_named_and_keeps_the_default() {
    // A bad hour on one job; another job of the fleet is unaffected.
    let bad = workday_job(json!({"schedule_hour": "25"}));
    let mut good = workday_job(json!({}));
    good["job_id"] = json!("another");
    good["client_id"] = json!("5c869f05e23149e4bf18639f2dd96380_other");
    good["job_action"]["backup_name"] = json!("other");
    let (_, snap) = decide(vec![bad, good], utc("2026-12-01T03:50:00"));
    assert_eq!(snap.warnings.count, 1, "{}", snap.warnings);
    let (field, _, example) = snap.warnings.fields().next().unwrap();
    assert_eq!(field, "jobs.job_schedule.schedule_hour");
    assert!(
        example.starts_with("jobs[685eab6e3a2744b6bce789fe7e71d6e7].job_schedule.schedule_hour: ")
            && example.contains("\"25\""),
        "{example}"
    );
    let by_name = |n: &str| snap.targets.iter().find(|t| t.target == n).unwrap();
    assert_eq!(
        by_name("workday_backup_of_my_work_stuff").schedule_period,
        None
    );
    assert_eq!(
        by_name("workday_backup_of_my_work_stuff").stale_threshold,
        Some(3.0 * 86_400.0)
    );
    assert_eq!(by_name("other").schedule_period, Some(3.0 * 86_400.0));
}

#[test]
fn start_and_end_dates_decide_whether_runs_are_expected() {
    let now = utc("2026-12-01T03:50:00");
    let paused =
        |extra: serde_json::Value| decide(vec![workday_job(extra)], now).1.targets[0].paused;
    // Ended: the scheduler runs it no more, and its target is not stale however old.
    assert!(paused(json!({"schedule_start_date": "2026-01-01T00:00:00",
                           "schedule_end_date": "2026-11-29T00:00:00"})));
    // Not started yet.
    assert!(paused(
        json!({"schedule_start_date": "2026-12-10T00:00:00"})
    ));
    // An end date without a start date is ignored by freezer-scheduler.
    assert!(!paused(json!({"schedule_end_date": "2026-11-29T00:00:00"})));
    assert!(!paused(
        json!({"schedule_start_date": "2026-01-01T00:00:00",
                            "schedule_end_date": "2027-01-01T00:00:00"})
    ));
    // A schedule that never runs (no year 2020 to come).
    assert!(paused(json!({"schedule_year": "2020"})));
    // Interval schedules follow the same dates.
    assert!(paused(json!({"schedule_interval": "1 days",
                           "schedule_start_date": "2026-01-01T00:00:00",
                           "schedule_end_date": "2026-11-29T00:00:00"})));
    // A schedule_date wins over everything (a one-shot job): no period.
    let (_, snap) = decide(
        vec![workday_job(json!({"schedule_date": "2026-11-28T03:20:00"}))],
        now,
    );
    assert_eq!(snap.targets[0].schedule_period, None);
}
