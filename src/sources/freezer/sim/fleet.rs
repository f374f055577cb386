//! Data sets for the simulated OpenStack Freezer API ([`super`]): builders for
//! single items in the v2 (and v1) wire shapes, a demo deployment covering the cases the
//! exporter must tell apart, a large generated deployment for benchmarks and a small v1 one.
//!
//! Every time is Unix seconds relative to the `now` given; every id is fixed or derived from
//! names ([`hex_id`]), so the same `now` always builds the same data set.
//!
//! # The demo deployment ([`demo_deployment`])
//!
//! Two projects, `ops-prod` ([`PROD_PROJECT_ID`]) and `ops-dev` ([`DEV_PROJECT_ID`]); ten
//! registered clients (`client_id` `<project_id>_<hostname>`); every backup belongs to the job
//! named in its row (`backup_metadata.job_id`) unless it says "manual". Ages are `now - t` in
//! seconds (`D` = 86400); a backup's `time_stamp` is 5 s after its job run started (as the
//! agent writes it at backup start). "Newest available" is the newest `time_stamp` of the host's
//! `available` backups. Backups are listed in a shuffled (fixed) order, not by time.
//!
//! | Project | Host | Client | Job (`job_id`) | Schedule | Last run (`job_schedule`, ages in s) | Backups (`backup_name`: ages in s, status) | Case |
//! |---|---|---|---|---|---|---|---|
//! | prod | `web-01` | yes | [`JOB_WEB01_NIGHTLY`] | `1 days` | scheduled / success, started 11400, ended 10800 | `web-01-www`: 11395 + k·D, k = 0..5 (6, available) | healthy nightly; in session [`SESSION_PROD_WEB`] |
//! | prod | `web-01` | | [`JOB_WEB01_RESTORE`] | none (`time_created` 2 D ago only) | never ran: `time_started`/`time_ended` −1, no `status`/`result`/`event` | none | never-run restore job |
//! | prod | `web-02` | yes | [`JOB_WEB02_NIGHTLY`] | `1 days` | scheduled / success, started 15300, ended 14400 | `web-02-www`: 15295 + k·D, k = 0..3 (4, available); `web-02-predeploy`: 9 D (manual, no `job_id`) | healthy nightly; in session; a manual target beside a scheduled one |
//! | prod | `db-01` | yes | [`JOB_DB01_HOURLY`] (2 actions: exec + mysql backup) | `1 hours` | scheduled / **fail**, started 2700, ended 2400 | `db-01-mysql`: 2695 **error** (no sizes); 6295, 9895, 13495, 17095 available | failing hourly job; an `error` backup newer than the newest available one; last success only from backups: 6295 |
//! | prod | `files-01` | yes | [`JOB_FILES01_NIGHTLY`] (storage ssh) | `1 days` | scheduled / success, started 392400, ended 388800 (4.5 D) | `files-01-srv`: 392395 + k·D, k = 0..2 (3, available) | **stale** daily host (newest available ≈ 4.54 days old) |
//! | prod | `mail-01` | yes | [`JOB_MAIL01_WEEKLY`] | `7 days` | scheduled / success, started 433800, ended 432000 (5 D) | `mail-01-maildir`: 433795, 433795 + 7 D (2, available) | weekly job with a 5-day-old backup: not stale for its schedule |
//! | prod | `app-01` | yes | [`JOB_APP01_NIGHTLY`] | `1 days` | **running**: status running, result `""`, started 900, `time_ended` −1, `current_pid` [`RUNNING_PID`] | `app-01-app`: 87295, 87295 + D (2, available) | running job |
//! | prod | `legacy-01` | yes | [`JOB_LEGACY01_NIGHTLY`] | `1 days` | scheduled / success, started 21900, ended 21600 | `legacy-01-etc`: 21895 + k·D, k = 0..2 (3, available, **no size fields**, agent `9.0.0`) | backups without sizes |
//! | prod | `nas-old-01` | **no** | none (its backups name [`JOB_NAS_DELETED`], a job that no longer exists) | | | `nas-old-01-share`: 20 D, 21 D (2, available) | client-less host: `device_id` falls back to `<project_id>_nas-old-01` |
//! | dev | `dev-app-01` | yes | [`JOB_DEVAPP01_NIGHTLY`] | `1 days` | scheduled / success, started 25800, ended 25200 | `dev-app-01-app`: 25795 + k·D, k = 0..2 (3, available) | healthy |
//! | dev | `dev-app-01` | | [`JOB_DEVAPP01_SNAPSHOT`] (mode nova) | one-shot, `schedule_date` = 2 D ago | **completed / aborted**, started 172800, ended 172500 | none | aborted one-shot job without a backup |
//! | dev | `dev-db-01` | yes | [`JOB_DEVDB01_NIGHTLY`] | `1 days` | scheduled / success, started 7800, ended 7200 | `dev-db-01-pgdump`: 7795, 7795 + D (2, available) | healthy |
//! | dev | `dev-ci-01` | yes | none | | | `dev-ci-01-manual`: 3 D (1, available, manual, no `job_id`) | manual backups only |
//! | dev | `dev-ci-01` | | [`JOB_DEVCI01_WORKDAYS`] | cron-like, [`workdays`]: five days a week at the time of its "Tuesday" run, `r` = 1800 + `now` mod 60 s ago | **running** since `r`, `current_pid` [`RUNNING_PID`] + 1 | `dev-ci-01-artifacts`: `r` + 3 D − 5 + k·D, k = 0..3 (4, available) | the API document's Tue–Sat job on a Tuesday morning: last backup 3 days 30 minutes old, not stale (threshold 4 days: the Saturday → Tuesday gap plus a day) |
//!
//! Counts: prod 7 clients, 8 jobs, 28 backups (27 available, 1 error: more than one default
//! page of 10), 1 session, 10 actions (9 from its jobs' `job_actions` + 1 stand-alone `info`);
//! dev 3 clients, 4 jobs, 10 backups (all available), 1 session, 4 actions. Every backup but the
//! `error` one and legacy-01's has the three size fields.
//!
//! Newest available backup per host (age in s): `web-01` 11395, `web-02` 15295, `db-01` 6295
//! (newest of any status: the `error` one, 2695), `files-01` 392395, `mail-01` 433795, `app-01`
//! 87295, `legacy-01` 21895, `nas-old-01` 1728000, `dev-app-01` 25795, `dev-db-01` 7795,
//! `dev-ci-01` 259200.
//!
//! Jobs by last result: success 7 ([`JOB_WEB01_NIGHTLY`], [`JOB_WEB02_NIGHTLY`],
//! [`JOB_FILES01_NIGHTLY`], [`JOB_MAIL01_WEEKLY`], [`JOB_LEGACY01_NIGHTLY`],
//! [`JOB_DEVAPP01_NIGHTLY`], [`JOB_DEVDB01_NIGHTLY`]), fail 1 ([`JOB_DB01_HOURLY`]), aborted 1
//! ([`JOB_DEVAPP01_SNAPSHOT`]), `""` 2 ([`JOB_APP01_NIGHTLY`], [`JOB_DEVCI01_WORKDAYS`],
//! running), no `result` key 1 ([`JOB_WEB01_RESTORE`]). By status: scheduled 8, running 2,
//! completed 1, absent 1.
//!
//! Sessions: [`SESSION_PROD_WEB`] "web tier nightly" (prod): jobs web-01 and web-02 nightly,
//! both completed / success, session `status` completed, `result` success, `session_tag` 1,
//! `time_start` 15300 s ago, `time_end` 10800 s ago, `time_started`/`time_ended` −1.
//! [`SESSION_DEV_UNUSED`] "dev nightly (unused)" (dev): `status` active, `result` null, no
//! `jobs` key, every time −1.
//!
//! # The large deployment ([`large_deployment`])
//!
//! `hosts` hosts `node-00000`, ... in projects of up to 1000 hosts (`bench-00`, ...; ids
//! `hex_id("bench-project-<n>")`), each a registered client with one daily job writing
//! `backups_per_host` backups one day apart (newest 1 to 9 hours old). Every 50th host is
//! stale (4 more days), every 20th host's job last failed (its newest backup is `error`).
//!
//! # The v1 deployment ([`v1_deployment`])
//!
//! One project ([`V1_PROJECT_ID`]) in the freezer-api v1 shapes: backups `{"backup_id",
//! "backup_metadata": {"host_name", "timestamp", "level", sizes, ...}}` (no top-level status),
//! jobs with a single `job_action`, clients `{"client": {"hostname", "description",
//! "client_id"}, "user_id"}`.
//!
//! | Host | Job | Last run | Backups (`backup_name`: ages) |
//! |---|---|---|---|
//! | `alpha` | [`V1_JOB_ALPHA`] `1 days` | success, ended 5h ago | `alpha-home`: 5h + k·D, k = 0..2 |
//! | `beta` | [`V1_JOB_BETA`] `1 days` | success, ended 6 D ago | `beta-etc`: 6 D, 7 D (stale) |
//! | `gamma` | [`V1_JOB_GAMMA`] `1 days` | **fail**, ended 2h ago | `gamma-db`: 1 D + 2h, 2 D + 2h |

use serde_json::{json, Map, Value};

use super::{
    hex_id, Dataset, Project, DEV_PROJECT_ID, DEV_PROJECT_NAME, PROD_PROJECT_ID, PROD_PROJECT_NAME,
};

/// Seconds in a day.
pub const DAY: i64 = 86_400;
/// Seconds in an hour.
pub const HOUR: i64 = 3_600;

/// `user_id` of the items of [`PROD_PROJECT_ID`] (the agents' user).
pub const PROD_USER_ID: &str = "b1112c8846037649a377fc871ddf4323";
/// `user_id` of the items of [`DEV_PROJECT_ID`].
pub const DEV_USER_ID: &str = "b9d3d928a923f4b8e341def4037cb7bc";

/// web-01 nightly backup (healthy, in [`SESSION_PROD_WEB`]).
pub const JOB_WEB01_NIGHTLY: &str = "4a01ce219fdd3ee5c239a941d9bba3d2";
/// web-01 restore drill, never run.
pub const JOB_WEB01_RESTORE: &str = "95db17c953653355a1b27576a38f975b";
/// web-02 nightly backup (healthy, in [`SESSION_PROD_WEB`]).
pub const JOB_WEB02_NIGHTLY: &str = "381eb5e949da87ae2e865ec3bf240ce2";
/// db-01 hourly MySQL backup, last result `fail`.
pub const JOB_DB01_HOURLY: &str = "bd8370cbbe27f932dfda7b8afe621702";
/// files-01 nightly backup, last success 4.5 days ago (stale).
pub const JOB_FILES01_NIGHTLY: &str = "4fcb9691e8ed5d2aac8ffc2f62cd7c91";
/// mail-01 weekly backup, last success 5 days ago.
pub const JOB_MAIL01_WEEKLY: &str = "a8cce01d05d4d96ed2dd9362fe130caf";
/// app-01 nightly backup, running now.
pub const JOB_APP01_NIGHTLY: &str = "ba4b9691c88cc36e5c03d820d9dc8e09";
/// legacy-01 nightly backup (backups without size fields).
pub const JOB_LEGACY01_NIGHTLY: &str = "a0db8ad11e5b8729433fc195f369f2f8";
/// The deleted job named by nas-old-01's backups (not in the jobs list).
pub const JOB_NAS_DELETED: &str = "5b6550cdddce608c642519cb8a83e347";
/// dev-app-01 nightly backup (healthy).
pub const JOB_DEVAPP01_NIGHTLY: &str = "0aedc2450175e2f16d6631d51a879f2b";
/// dev-app-01 one-shot nova snapshot, aborted.
pub const JOB_DEVAPP01_SNAPSHOT: &str = "3e7e54e3019d1ce9bbdb726be8e6821a";
/// dev-db-01 nightly backup (healthy).
pub const JOB_DEVDB01_NIGHTLY: &str = "d2912a1ea81fe3db8675ad8ef86d8a5f";
/// dev-ci-01 workday backup: cron-like, five days a week, like the API document's Tue–Sat job
/// seen on a Tuesday morning (see [`workdays`]).
pub const JOB_DEVCI01_WORKDAYS: &str = "685eab6e3a2744b6bce789fe7e71d6e7";
/// prod session "web tier nightly": web-01 and web-02 nightly, completed / success.
pub const SESSION_PROD_WEB: &str = "5015f692d706095f469957b77b494779";
/// dev session "dev nightly (unused)": no jobs, active.
pub const SESSION_DEV_UNUSED: &str = "bca4c848895c03938985cd3ddd70a8e1";
/// `job_schedule.current_pid` of [`JOB_APP01_NIGHTLY`].
pub const RUNNING_PID: i64 = 31337;

/// The v1 deployment's project.
pub const V1_PROJECT_ID: &str = "3529275b74d6a2679ce611cb5a582900";
/// Name of [`V1_PROJECT_ID`].
pub const V1_PROJECT_NAME: &str = "legacy-cloud";
/// `user_id` of the v1 deployment's items.
pub const V1_USER_ID: &str = "a3e7d9c7b66b4bc5356e2a74356f1562";
/// v1 job of host `alpha` (success).
pub const V1_JOB_ALPHA: &str = "6f6818593cc3499fb9be83ea1098036a";
/// v1 job of host `beta` (success 6 days ago: stale).
pub const V1_JOB_BETA: &str = "c41d0e8a27b94f6a8d3e5b1c9f7a2e04";
/// v1 job of host `gamma` (fail).
pub const V1_JOB_GAMMA: &str = "e95b3a7c1d2f4e6a8b0c2d4e6f8a1b3c";

/// The freezer-agent version the demo's agents report.
const AGENT_VERSION: &str = "15.0.0";

// ---------------------------------------------------------------------------------------------
// Ids
// ---------------------------------------------------------------------------------------------

/// The `user_id` of a project's items: the demo's fixed ones, else derived from the project id.
pub fn owner_user_id(project: &str) -> String {
    match project {
        PROD_PROJECT_ID => PROD_USER_ID.to_owned(),
        DEV_PROJECT_ID => DEV_USER_ID.to_owned(),
        V1_PROJECT_ID => V1_USER_ID.to_owned(),
        _ => hex_id(&format!("user:{project}")),
    }
}

/// A client's `client_id` as python-freezerclient makes it: `<project_id>_<hostname>`.
pub fn client_id(project: &str, host: &str) -> String {
    format!("{project}_{host}")
}

/// A client's `uuid` (32 hex digits, derived from its `client_id`).
pub fn client_uuid(project: &str, host: &str) -> String {
    hex_id(&format!("client:{}", client_id(project, host)))
}

/// `"%Y-%m-%dT%H:%M:%S"` (no zone), as freezer schedules write dates.
pub fn schedule_date(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// v2 item builders
// ---------------------------------------------------------------------------------------------

/// A registered client (v2 wire shape): `project_id`, `user_id`, `client` {`uuid`, `hostname`,
/// `client_id`, `is_central` false, `description`, `supported_*`}.
pub fn client(project: &str, host: &str) -> Value {
    json!({
        "project_id": project,
        "user_id": owner_user_id(project),
        "client": {
            "uuid": client_uuid(project, host),
            "hostname": host,
            "client_id": client_id(project, host),
            "is_central": false,
            "description": format!("freezer-agent on {host}"),
            "supported_actions": ["backup", "restore", "info", "admin", "exec"],
            "supported_modes": ["fs", "mysql", "cinder", "nova", "glance", "cindernative", "mongo"],
            "supported_storages": ["local", "swift", "ssh", "s3"],
            "supported_engines": ["tar", "rsync", "nova", "glance"],
        },
    })
}

/// A `freezer_action` that backs `path` up (`mode`, `storage`) under `backup_name` (container
/// `freezer_<backup_name>`, or the path on the ssh host for storage `ssh`).
pub fn backup_action(
    host: &str,
    backup_name: &str,
    mode: &str,
    path: &str,
    storage: &str,
) -> Value {
    let container = if storage == "ssh" {
        format!("/srv/backups/{host}")
    } else {
        format!("freezer_{backup_name}")
    };
    let mut action = json!({
        "action": "backup",
        "mode": mode,
        "backup_name": backup_name,
        "container": container,
        "path_to_backup": if path.is_empty() { Value::Null } else { Value::from(path) },
        "storage": storage,
        "engine": if mode == "nova" { "nova" } else { "tar" },
        "max_level": 7,
        "compression": "gzip",
        "remove_older_than": 30,
        "hostname": host,
        "log_file": format!("/var/log/freezer-agent/{backup_name}.log"),
        "timeout": null,
        "priority": null,
    });
    if storage == "ssh" {
        action["ssh_host"] = json!("backup-store.ops.internal");
        action["ssh_username"] = json!("freezer");
        action["ssh_key"] = json!("/etc/freezer/ssh_key");
    }
    action
}

/// A `freezer_action` restoring `backup_name` into `restore_path`.
pub fn restore_action(host: &str, backup_name: &str, restore_path: &str) -> Value {
    json!({
        "action": "restore",
        "mode": "fs",
        "backup_name": backup_name,
        "container": format!("freezer_{backup_name}"),
        "storage": "swift",
        "restore_abs_path": restore_path,
        "hostname": host,
        "timeout": null,
        "priority": null,
        "path_to_backup": null,
        "log_file": null,
    })
}

/// A `freezer_action` running a command (`exec`), e.g. before a backup.
pub fn exec_action(host: &str, command: &str) -> Value {
    json!({
        "action": "exec",
        "mode": "fs",
        "command": command,
        "hostname": host,
        "backup_name": null,
        "container": null,
        "path_to_backup": null,
        "log_file": null,
        "timeout": null,
        "priority": null,
    })
}

/// A backup (v2 wire shape) made by `action` (a [`backup_action`]): `project_id`, `user_id`,
/// `backup_id`, `status`, `backup_metadata` with every field freezer-agent writes, `time_stamp`
/// `ts`, `curr_backup_level` `level`, the sizes when given (`(uncompressed, compressed)`:
/// `backup_size_uncompressed`, `backup_size_compressed` and `total_backup_session_size` =
/// compressed) and `job_id` when given.
pub fn backup_from_action(
    project: &str,
    action: &Value,
    ts: i64,
    level: u32,
    status: &str,
    job_id: Option<&str>,
    sizes: Option<(u64, u64)>,
) -> Value {
    let text = |key: &str| action.get(key).cloned().unwrap_or(Value::from(""));
    let host = action["hostname"].as_str().unwrap_or_default();
    let name = action["backup_name"].as_str().unwrap_or_default();
    let path = match action.get("path_to_backup") {
        Some(Value::String(p)) => Value::from(p.as_str()),
        _ => Value::from(""),
    };
    let mut meta = json!({
        "action": "backup",
        "always_level": "",
        "backup_media": if action["mode"] == "nova" { "nova" } else { "fs" },
        "backup_name": name,
        "container": text("container"),
        "container_segments": "",
        "dry_run": "",
        "hostname": host,
        "path_to_backup": path,
        "max_level": action.get("max_level").cloned().unwrap_or(json!(7)),
        "time_stamp": ts,
        "log_file": text("log_file"),
        "storage": text("storage"),
        "mode": text("mode"),
        "proxy": "",
        "compression": "gzip",
        "ssh_key": text("ssh_key"),
        "ssh_username": text("ssh_username"),
        "ssh_host": text("ssh_host"),
        "ssh_port": "",
        "consistency_checksum": "",
        "cindernative_backup_az": "",
        "cindernative_backup_container": "",
        "curr_backup_level": level,
        "fs_real_path": path,
        "vol_snap_path": path,
        "client_os": "linux",
        "client_version": AGENT_VERSION,
    });
    if let Some((uncompressed, compressed)) = sizes {
        meta["backup_size_uncompressed"] = json!(uncompressed);
        meta["backup_size_compressed"] = json!(compressed);
        meta["total_backup_session_size"] = json!(compressed);
    }
    if let Some(job_id) = job_id {
        meta["job_id"] = json!(job_id);
    }
    json!({
        "project_id": project,
        "user_id": owner_user_id(project),
        "backup_id": hex_id(&format!("backup:{project}:{host}:{name}:{ts}:{status}")),
        "status": status,
        "backup_metadata": meta,
    })
}

/// A file system backup of `host` to swift under `name` (path `/srv/<host>`); see
/// [`backup_from_action`]. `sizes` is `(uncompressed, compressed)` bytes.
#[allow(clippy::too_many_arguments)]
pub fn backup(
    project: &str,
    host: &str,
    name: &str,
    ts: i64,
    level: u32,
    status: &str,
    job_id: Option<&str>,
    sizes: Option<(u64, u64)>,
) -> Value {
    let action = backup_action(host, name, "fs", &format!("/srv/{host}"), "swift");
    backup_from_action(project, &action, ts, level, status, job_id, sizes)
}

/// A job's last run, as `job_schedule` keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    /// Never started: `time_started` and `time_ended` −1, no `status`, `result` or `event`.
    Never,
    /// Running: `status` `running`, `result` `""`, `time_ended` −1, `current_pid`.
    Running { started: i64, pid: i64 },
    /// Finished: `status` (`scheduled` for recurring jobs, `completed` for one-shot ones),
    /// `result` (`success`, `fail`, `aborted`), start and end times.
    Finished {
        status: &'static str,
        result: &'static str,
        started: i64,
        ended: i64,
    },
}

/// A recurring schedule: `{"schedule_interval": interval, "time_created": created}`.
pub fn every(interval: &str, created: i64) -> Value {
    json!({"schedule_interval": interval, "time_created": created})
}

/// The API document's workday schedule (Tue–Sat at 03:20: `schedule_day_of_week`,
/// `schedule_hour`, `schedule_minute`) moved so that `at` is its "Tuesday" run: five days a
/// week from `at`'s weekday, at `at`'s hour and minute (UTC). The run before `at` is 3 days
/// earlier ("Saturday"), the longest gap.
pub fn workdays(at: i64, created: i64) -> Value {
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let t = chrono::DateTime::from_timestamp(at, 0).unwrap_or_default();
    let first = chrono::Datelike::weekday(&t).num_days_from_monday() as usize;
    let days: Vec<&str> = (0..5).map(|k| NAMES[(first + k) % 7]).collect();
    json!({
        "schedule_day_of_week": days.join(","),
        "schedule_hour": format!("{:02}", chrono::Timelike::hour(&t)),
        "schedule_minute": format!("{:02}", chrono::Timelike::minute(&t)),
        "time_created": created,
    })
}

/// A one-shot schedule: `{"schedule_date": <date of at>, "time_created": created}`.
pub fn once(at: i64, created: i64) -> Value {
    json!({"schedule_date": schedule_date(at), "time_created": created})
}

/// A job (v2 wire shape): `job_id`, `project_id`, `user_id`, `job_schedule` (`schedule` — the
/// user's `schedule_*` keys and `time_created` — plus the run fields of `run`), `client_id`
/// (`<project>_<host>`), `session_id` `""`, `session_tag` 0, `description` and `job_actions`,
/// one per `freezer_action` in `actions` (action ids derived from the job id).
pub fn job(
    project: &str,
    host: &str,
    job_id: &str,
    description: &str,
    schedule: Value,
    run: Run,
    actions: Vec<Value>,
) -> Value {
    let mut schedule = match schedule {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let mut set = |key: &str, value: Value| {
        schedule.insert(key.to_owned(), value);
    };
    match run {
        Run::Never => {
            set("time_started", json!(-1));
            set("time_ended", json!(-1));
        }
        Run::Running { started, pid } => {
            set("status", json!("running"));
            set("result", json!(""));
            set("event", json!(""));
            set("time_started", json!(started));
            set("time_ended", json!(-1));
            set("current_pid", json!(pid));
        }
        Run::Finished {
            status,
            result,
            started,
            ended,
        } => {
            set("status", json!(status));
            set("result", json!(result));
            set("event", json!(""));
            set("time_started", json!(started));
            set("time_ended", json!(ended));
        }
    }
    let user = owner_user_id(project);
    let job_actions: Vec<Value> = actions
        .into_iter()
        .enumerate()
        .map(|(i, freezer_action)| {
            json!({
                "project_id": project,
                "action_id": hex_id(&format!("action:{job_id}:{i}")),
                "user_id": user,
                "max_retries": 3,
                "max_retries_interval": 60,
                "freezer_action": freezer_action,
            })
        })
        .collect();
    json!({
        "job_id": job_id,
        "project_id": project,
        "user_id": user,
        "job_schedule": schedule,
        "client_id": client_id(project, host),
        "session_id": "",
        "session_tag": 0,
        "description": description,
        "job_actions": job_actions,
    })
}

/// Puts `job` in session `session_id` (`session_id`, `session_tag`).
pub fn set_session(job: &mut Value, session_id: &str, tag: i64) {
    job["session_id"] = json!(session_id);
    job["session_tag"] = json!(tag);
}

/// The last run of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRun {
    pub result: &'static str,
    pub started: i64,
    pub ended: i64,
}

/// A session (v2 wire shape). Without `last`: `status` active, `result` null, `session_tag` 0,
/// times −1. With it: `status` completed, `result`, `session_tag` 1, `time_start`/`time_end`
/// from it (`time_started`/`time_ended` stay −1, as the API leaves them). The `jobs` map (one
/// entry per job: `client_id`, `status`, `result`, `time_started`, `time_ended`, from the job's
/// schedule) is present only when `jobs` is not empty.
pub fn session(
    project: &str,
    session_id: &str,
    description: &str,
    schedule: Value,
    jobs: &[&Value],
    last: Option<SessionRun>,
) -> Value {
    let mut doc = json!({
        "project_id": project,
        "user_id": owner_user_id(project),
        "session_id": session_id,
        "description": description,
        "session_tag": if last.is_some() { 1 } else { 0 },
        "result": last.map_or(Value::Null, |l| json!(l.result)),
        "hold_off": 60,
        "status": if last.is_some() { "completed" } else { "active" },
        "time_ended": -1,
        "time_end": last.map_or(-1, |l| l.ended),
        "time_started": -1,
        "time_start": last.map_or(-1, |l| l.started),
        "schedule": schedule,
    });
    if !jobs.is_empty() {
        let map: Map<String, Value> = jobs
            .iter()
            .map(|job| {
                let schedule = &job["job_schedule"];
                let status = schedule.get("status").cloned().unwrap_or_else(|| json!(""));
                let status = if status == "scheduled" {
                    json!("completed")
                } else {
                    status
                };
                (
                    job["job_id"].as_str().unwrap_or_default().to_owned(),
                    json!({
                        "client_id": job["client_id"],
                        "status": status,
                        "result": schedule.get("result").cloned().unwrap_or_else(|| json!("")),
                        "time_started": schedule["time_started"],
                        "time_ended": schedule["time_ended"],
                    }),
                )
            })
            .collect();
        doc["jobs"] = Value::Object(map);
    }
    doc
}

/// The `actions` list entries of `jobs`' `job_actions` (each with the list's extra top-level
/// `timeout` null and `mandatory` false), in order.
pub fn actions_of(jobs: &[Value]) -> Vec<Value> {
    jobs.iter()
        .filter_map(|job| job["job_actions"].as_array())
        .flatten()
        .map(|action| {
            let mut action = action.clone();
            action["timeout"] = Value::Null;
            action["mandatory"] = json!(false);
            action
        })
        .collect()
}

/// Sizes `(uncompressed, compressed)` that vary a little with `seed` around `base` bytes.
fn sizes_around(base: u64, seed: &str) -> (u64, u64) {
    let h = u64::from_str_radix(&hex_id(seed)[..8], 16).unwrap_or(0);
    let uncompressed = base + h % (base / 5 + 1);
    (uncompressed, uncompressed * 38 / 100)
}

// ---------------------------------------------------------------------------------------------
// The demo deployment
// ---------------------------------------------------------------------------------------------

/// The backups of `action` for `job_id`: one per age, `curr_backup_level` counting down from the
/// newest (ages newest first), every one available, with sizes around `size` (none when 0).
fn history(
    project: &str,
    action: &Value,
    job_id: Option<&str>,
    ages: &[i64],
    now: i64,
    size: u64,
) -> Vec<Value> {
    let n = ages.len();
    ages.iter()
        .enumerate()
        .map(|(i, age)| {
            let ts = now - age;
            let level = u32::try_from(n - 1 - i).unwrap_or(0);
            let sizes =
                (size > 0).then(|| sizes_around(size, &format!("{}:{ts}", action["backup_name"])));
            backup_from_action(project, action, ts, level, "available", job_id, sizes)
        })
        .collect()
}

/// Ages `first`, `first + step`, ... (`count` of them).
fn ages(first: i64, step: i64, count: i64) -> Vec<i64> {
    (0..count).map(|k| first + k * step).collect()
}

/// Shuffles `items` with a fixed seed: list order is not time order.
fn shuffled(mut items: Vec<Value>, seed: u64) -> Vec<Value> {
    fastrand::Rng::with_seed(seed).shuffle(&mut items);
    items
}

/// The demo deployment (see the module documentation for its table of cases).
pub fn demo_deployment(now: i64) -> Dataset {
    let mut dataset = Dataset::default();
    dataset
        .projects
        .insert(PROD_PROJECT_ID.to_owned(), demo_prod(now));
    dataset
        .projects
        .insert(DEV_PROJECT_ID.to_owned(), demo_dev(now));
    dataset
}

fn demo_prod(now: i64) -> Project {
    let p = PROD_PROJECT_ID;
    let created = now - 60 * DAY;
    let mut jobs = Vec::new();
    let mut backups = Vec::new();

    // web-01: healthy nightly, in the web session; plus a never-run restore drill.
    let web01 = backup_action("web-01", "web-01-www", "fs", "/var/www", "swift");
    backups.extend(history(
        p,
        &web01,
        Some(JOB_WEB01_NIGHTLY),
        &ages(3 * HOUR + 600 - 5, DAY, 6),
        now,
        60_000_000,
    ));
    let mut web01_job = job(
        p,
        "web-01",
        JOB_WEB01_NIGHTLY,
        "web-01 /var/www nightly",
        json!({"schedule_interval": "1 days", "schedule_start_date": "2025-03-01T01:00:00", "time_created": created}),
        Run::Finished {
            status: "scheduled",
            result: "success",
            started: now - 3 * HOUR - 600,
            ended: now - 3 * HOUR,
        },
        vec![web01.clone()],
    );
    set_session(&mut web01_job, SESSION_PROD_WEB, 1);

    // web-02: healthy nightly, in the web session; plus a manual pre-deploy backup.
    let web02 = backup_action("web-02", "web-02-www", "fs", "/var/www", "swift");
    backups.extend(history(
        p,
        &web02,
        Some(JOB_WEB02_NIGHTLY),
        &ages(4 * HOUR + 900 - 5, DAY, 4),
        now,
        45_000_000,
    ));
    let web02_manual = backup_action("web-02", "web-02-predeploy", "fs", "/var/www", "swift");
    backups.extend(history(p, &web02_manual, None, &[9 * DAY], now, 44_000_000));
    let mut web02_job = job(
        p,
        "web-02",
        JOB_WEB02_NIGHTLY,
        "web-02 /var/www nightly",
        json!({"schedule_interval": "1 days", "schedule_start_date": "2025-03-01T01:00:00", "time_created": created}),
        Run::Finished {
            status: "scheduled",
            result: "success",
            started: now - 4 * HOUR - 900,
            ended: now - 4 * HOUR,
        },
        vec![web02.clone()],
    );
    set_session(&mut web02_job, SESSION_PROD_WEB, 1);

    // db-01: hourly MySQL job whose last run failed and left an `error` backup.
    let mut db01 = backup_action("db-01", "db-01-mysql", "mysql", "/var/lib/mysql", "swift");
    db01["max_level"] = json!(24);
    db01["mysql_conf"] = json!("/etc/freezer/mysql.conf");
    backups.push(backup_from_action(
        p,
        &db01,
        now - 45 * 60 + 5,
        4,
        "error",
        Some(JOB_DB01_HOURLY),
        None,
    ));
    backups.extend(history(
        p,
        &db01,
        Some(JOB_DB01_HOURLY),
        &ages(105 * 60 - 5, HOUR, 4),
        now,
        240_000_000,
    ));
    let db01_job = job(
        p,
        "db-01",
        JOB_DB01_HOURLY,
        "db-01 mysql hourly",
        every("1 hours", created),
        Run::Finished {
            status: "scheduled",
            result: "fail",
            started: now - 45 * 60,
            ended: now - 40 * 60,
        },
        vec![
            exec_action("db-01", "/usr/local/bin/mysql-flush-logs"),
            db01.clone(),
        ],
    );

    // files-01: daily job whose last success ended 4.5 days ago (stale).
    let files01 = backup_action("files-01", "files-01-srv", "fs", "/srv/files", "ssh");
    let stale = DAY * 9 / 2;
    backups.extend(history(
        p,
        &files01,
        Some(JOB_FILES01_NIGHTLY),
        &ages(stale + HOUR - 5, DAY, 3),
        now,
        8_000_000_000,
    ));
    let files01_job = job(
        p,
        "files-01",
        JOB_FILES01_NIGHTLY,
        "files-01 /srv/files nightly",
        json!({"schedule_interval": "1 days", "schedule_start_date": "2025-03-01T02:00:00", "time_created": created}),
        Run::Finished {
            status: "scheduled",
            result: "success",
            started: now - stale - HOUR,
            ended: now - stale,
        },
        vec![files01.clone()],
    );

    // mail-01: weekly job, last backup 5 days ago (fine for a weekly schedule).
    let mail01 = backup_action("mail-01", "mail-01-maildir", "fs", "/var/mail", "swift");
    backups.extend(history(
        p,
        &mail01,
        Some(JOB_MAIL01_WEEKLY),
        &ages(5 * DAY + 1800 - 5, 7 * DAY, 2),
        now,
        2_500_000_000,
    ));
    let mail01_job = job(
        p,
        "mail-01",
        JOB_MAIL01_WEEKLY,
        "mail-01 maildirs weekly",
        every("7 days", created),
        Run::Finished {
            status: "scheduled",
            result: "success",
            started: now - 5 * DAY - 1800,
            ended: now - 5 * DAY,
        },
        vec![mail01.clone()],
    );

    // app-01: running now; earlier runs left backups.
    let app01 = backup_action("app-01", "app-01-app", "fs", "/opt/app", "swift");
    backups.extend(history(
        p,
        &app01,
        Some(JOB_APP01_NIGHTLY),
        &ages(DAY + 900 - 5, DAY, 2),
        now,
        120_000_000,
    ));
    let app01_job = job(
        p,
        "app-01",
        JOB_APP01_NIGHTLY,
        "app-01 /opt/app nightly",
        every("1 days", created),
        Run::Running {
            started: now - 900,
            pid: RUNNING_PID,
        },
        vec![app01.clone()],
    );

    // legacy-01: an old agent that writes no size fields.
    let legacy01 = backup_action("legacy-01", "legacy-01-etc", "fs", "/etc", "swift");
    let mut legacy_backups = history(
        p,
        &legacy01,
        Some(JOB_LEGACY01_NIGHTLY),
        &ages(6 * HOUR + 300 - 5, DAY, 3),
        now,
        0,
    );
    for b in &mut legacy_backups {
        b["backup_metadata"]["client_version"] = json!("9.0.0");
    }
    backups.extend(legacy_backups);
    let legacy01_job = job(
        p,
        "legacy-01",
        JOB_LEGACY01_NIGHTLY,
        "legacy-01 /etc nightly",
        every("1 days", created),
        Run::Finished {
            status: "scheduled",
            result: "success",
            started: now - 6 * HOUR - 300,
            ended: now - 6 * HOUR,
        },
        vec![legacy01.clone()],
    );

    // nas-old-01: no client and no job any more, only its old backups.
    let nas = backup_action(
        "nas-old-01",
        "nas-old-01-share",
        "fs",
        "/export/share",
        "swift",
    );
    backups.extend(history(
        p,
        &nas,
        Some(JOB_NAS_DELETED),
        &[20 * DAY, 21 * DAY],
        now,
        30_000_000_000,
    ));

    let web01_restore = job(
        p,
        "web-01",
        JOB_WEB01_RESTORE,
        "web-01 /var/www restore drill",
        json!({"time_created": now - 2 * DAY}),
        Run::Never,
        vec![restore_action("web-01", "web-01-www", "/var/www-restore")],
    );

    let session = session(
        p,
        SESSION_PROD_WEB,
        "web tier nightly",
        json!({"schedule_interval": "1 days", "schedule_start_date": "2025-03-01T01:00:00"}),
        &[&web01_job, &web02_job],
        Some(SessionRun {
            result: "success",
            started: now - 4 * HOUR - 900,
            ended: now - 3 * HOUR,
        }),
    );

    jobs.extend([
        web01_job,
        web02_job,
        db01_job,
        files01_job,
        mail01_job,
        app01_job,
        legacy01_job,
        web01_restore,
    ]);
    let mut actions = actions_of(&jobs);
    actions.push(json!({
        "project_id": p,
        "user_id": PROD_USER_ID,
        "timeout": null,
        "max_retries_interval": 10,
        "max_retries": 1,
        "action_id": hex_id("action:prod:info"),
        "mandatory": false,
        "freezer_action": {
            "action": "info",
            "mode": "fs",
            "backup_name": "web-01-www",
            "container": "freezer_web-01-www",
            "storage": "swift",
            "timeout": null,
            "priority": null,
            "path_to_backup": null,
            "log_file": null,
        },
    }));
    let clients = [
        "web-01",
        "web-02",
        "db-01",
        "files-01",
        "mail-01",
        "app-01",
        "legacy-01",
    ]
    .iter()
    .map(|host| client(p, host))
    .collect();
    Project {
        name: PROD_PROJECT_NAME.to_owned(),
        backups: shuffled(backups, 0x0f5e_ed01),
        jobs,
        clients,
        sessions: vec![session],
        actions,
    }
}

fn demo_dev(now: i64) -> Project {
    let p = DEV_PROJECT_ID;
    let created = now - 45 * DAY;
    let mut backups = Vec::new();

    let app = backup_action("dev-app-01", "dev-app-01-app", "fs", "/opt/app", "swift");
    backups.extend(history(
        p,
        &app,
        Some(JOB_DEVAPP01_NIGHTLY),
        &ages(7 * HOUR + 600 - 5, DAY, 3),
        now,
        80_000_000,
    ));
    let app_job = job(
        p,
        "dev-app-01",
        JOB_DEVAPP01_NIGHTLY,
        "dev-app-01 /opt/app nightly",
        every("1 days", created),
        Run::Finished {
            status: "scheduled",
            result: "success",
            started: now - 7 * HOUR - 600,
            ended: now - 7 * HOUR,
        },
        vec![app.clone()],
    );
    let mut snapshot = backup_action("dev-app-01", "dev-app-01-instance", "nova", "", "swift");
    snapshot["nova_inst_id"] = json!("6c1f2a9e-4b7d-4e3a-9f20-8d5b1c7e3a64");
    let snapshot_job = job(
        p,
        "dev-app-01",
        JOB_DEVAPP01_SNAPSHOT,
        "dev-app-01 instance snapshot before upgrade",
        once(now - 2 * DAY, now - 3 * DAY),
        Run::Finished {
            status: "completed",
            result: "aborted",
            started: now - 2 * DAY,
            ended: now - 2 * DAY + 300,
        },
        vec![snapshot],
    );

    let db = backup_action(
        "dev-db-01",
        "dev-db-01-pgdump",
        "fs",
        "/var/backups/pgdump",
        "swift",
    );
    backups.extend(history(
        p,
        &db,
        Some(JOB_DEVDB01_NIGHTLY),
        &ages(2 * HOUR + 600 - 5, DAY, 2),
        now,
        150_000_000,
    ));
    let db_job = job(
        p,
        "dev-db-01",
        JOB_DEVDB01_NIGHTLY,
        "dev-db-01 pg_dump nightly",
        every("1 days", created),
        Run::Finished {
            status: "scheduled",
            result: "success",
            started: now - 2 * HOUR - 600,
            ended: now - 2 * HOUR,
        },
        vec![db.clone()],
    );

    let ci = backup_action(
        "dev-ci-01",
        "dev-ci-01-manual",
        "fs",
        "/var/lib/ci",
        "swift",
    );
    backups.extend(history(p, &ci, None, &[3 * DAY], now, 700_000_000));
    // The "Tuesday" run started 30 minutes ago (on the minute) and is still running; the last
    // backup is the "Saturday" one, 3 days and 30 minutes old.
    let tuesday = (now - 1800) / 60 * 60;
    let workday = backup_action(
        "dev-ci-01",
        "dev-ci-01-artifacts",
        "fs",
        "/srv/artifacts",
        "swift",
    );
    backups.extend(history(
        p,
        &workday,
        Some(JOB_DEVCI01_WORKDAYS),
        &ages(now - tuesday + 3 * DAY - 5, DAY, 4),
        now,
        60_000_000,
    ));
    let workday_job = job(
        p,
        "dev-ci-01",
        JOB_DEVCI01_WORKDAYS,
        "dev-ci-01 artifacts, workdays",
        workdays(tuesday, created),
        Run::Running {
            started: tuesday,
            pid: RUNNING_PID + 1,
        },
        vec![workday.clone()],
    );

    let session = session(
        p,
        SESSION_DEV_UNUSED,
        "dev nightly (unused)",
        json!({"schedule_interval": "12 hours"}),
        &[],
        None,
    );
    let jobs = vec![app_job, snapshot_job, db_job, workday_job];
    let actions = actions_of(&jobs);
    Project {
        name: DEV_PROJECT_NAME.to_owned(),
        backups: shuffled(backups, 0x0de7_0001),
        jobs,
        clients: ["dev-app-01", "dev-db-01", "dev-ci-01"]
            .iter()
            .map(|host| client(p, host))
            .collect(),
        sessions: vec![session],
        actions,
    }
}

// ---------------------------------------------------------------------------------------------
// The large deployment
// ---------------------------------------------------------------------------------------------

/// Hosts per project of [`large_deployment`].
pub const LARGE_HOSTS_PER_PROJECT: usize = 1000;

/// The id of project `n` of [`large_deployment`].
pub fn large_project_id(n: usize) -> String {
    hex_id(&format!("bench-project-{n}"))
}

/// `hosts` hosts with one daily job and `backups_per_host` backups each (see the module
/// documentation).
pub fn large_deployment(now: i64, hosts: usize, backups_per_host: usize) -> Dataset {
    let mut dataset = Dataset::default();
    let project_count = hosts.div_ceil(LARGE_HOSTS_PER_PROJECT).max(1);
    for n in 0..project_count {
        let p = large_project_id(n);
        let first = n * LARGE_HOSTS_PER_PROJECT;
        let last = hosts.min(first + LARGE_HOSTS_PER_PROJECT);
        let mut project = Project {
            name: format!("bench-{n:02}"),
            ..Project::default()
        };
        project.backups.reserve((last - first) * backups_per_host);
        for i in first..last {
            let host = format!("node-{i:05}");
            let name = format!("{host}-data");
            let job_id = hex_id(&format!("bench-job-{i}"));
            let action = backup_action(&host, &name, "fs", "/srv/data", "swift");
            let mut age = HOUR + i64::try_from(i % 97).unwrap_or(0) * 300;
            if i % 50 == 49 {
                age += 4 * DAY;
            }
            let failed = i % 20 == 7;
            for k in 0..backups_per_host {
                let ts = now - age - i64::try_from(k).unwrap_or(0) * DAY;
                let status = if failed && k == 0 {
                    "error"
                } else {
                    "available"
                };
                let size = 1_000_000 + (i as u64 % 1000) * 10_000 + k as u64 * 1_000;
                let level = u32::try_from((backups_per_host - 1 - k) % 7).unwrap_or(0);
                let sizes = (status == "available").then_some((size, size * 38 / 100));
                project.backups.push(backup_from_action(
                    &p,
                    &action,
                    ts,
                    level,
                    status,
                    Some(&job_id),
                    sizes,
                ));
            }
            project.jobs.push(job(
                &p,
                &host,
                &job_id,
                &format!("{host} /srv/data nightly"),
                every("1 days", now - 90 * DAY),
                Run::Finished {
                    status: "scheduled",
                    result: if failed { "fail" } else { "success" },
                    started: now - age - 5,
                    ended: now - age + 600,
                },
                vec![action],
            ));
            project.clients.push(client(&p, &host));
        }
        project.actions = actions_of(&project.jobs);
        dataset.projects.insert(p, project);
    }
    dataset
}

// ---------------------------------------------------------------------------------------------
// v1 shapes
// ---------------------------------------------------------------------------------------------

/// A v1 backup: `{"backup_id", "backup_metadata": {...}}` with `host_name`, `timestamp`,
/// `level`, `backup_name`, `container`, `mode`, the sizes (`(uncompressed, compressed)`) when
/// given and the other v1 fields; no top-level status.
pub fn v1_backup(host: &str, name: &str, ts: i64, level: u32, sizes: Option<(u64, u64)>) -> Value {
    let mut meta = json!({
        "backup_name": name,
        "backup_session": ts,
        "client_os": "linux",
        "compression_alg": "gzip",
        "container": format!("freezer_{name}"),
        "encrypted": "false",
        "fs_real_path": format!("/srv/{host}"),
        "host_name": host,
        "level": level,
        "max_level": 5,
        "mode": "fs",
        "timestamp": ts,
        "total_broken_links": 0,
        "total_directories": 12,
        "total_fs_files": 240,
        "vol_snap_path": format!("/srv/{host}"),
    });
    if let Some((uncompressed, compressed)) = sizes {
        meta["backup_size_uncompressed"] = json!(uncompressed);
        meta["backup_size_compressed"] = json!(compressed);
        meta["total_backup_session_size"] = json!(compressed);
    }
    json!({
        "backup_id": hex_id(&format!("v1-backup:{host}:{name}:{ts}")),
        "backup_metadata": meta,
    })
}

/// A v1 job: `client_id`, `description`, `job_action` (one: `action` backup, `backup_name`,
/// `container`, `max_level`, `path_to_backup`, `mode`), `job_id`, `job_schedule` (as for
/// [`job`]) and `user_id`.
pub fn v1_job(
    project: &str,
    host: &str,
    job_id: &str,
    name: &str,
    schedule: Value,
    run: Run,
) -> Value {
    let v2 = job(project, host, job_id, "", schedule, run, Vec::new());
    json!({
        "client_id": client_id(project, host),
        "description": format!("{host} nightly"),
        "job_action": {
            "action": "backup",
            "backup_name": name,
            "container": format!("freezer_{name}"),
            "max_level": "5",
            "mode": "fs",
            "path_to_backup": format!("/srv/{host}"),
        },
        "job_id": job_id,
        "job_schedule": v2["job_schedule"],
        "user_id": owner_user_id(project),
    })
}

/// A v1 client: `{"client": {"hostname", "description", "client_id"}, "user_id"}`.
pub fn v1_client(project: &str, host: &str) -> Value {
    json!({
        "client": {
            "hostname": host,
            "description": format!("freezer-agent on {host}"),
            "client_id": client_id(project, host),
        },
        "user_id": owner_user_id(project),
    })
}

/// The v1 deployment (see the module documentation).
pub fn v1_deployment(now: i64) -> Dataset {
    let p = V1_PROJECT_ID;
    let created = now - 30 * DAY;
    let mut project = Project {
        name: V1_PROJECT_NAME.to_owned(),
        ..Project::default()
    };
    let hosts: [(&str, &str, &str, i64, &'static str, usize); 3] = [
        ("alpha", "alpha-home", V1_JOB_ALPHA, 5 * HOUR, "success", 3),
        ("beta", "beta-etc", V1_JOB_BETA, 6 * DAY, "success", 2),
        ("gamma", "gamma-db", V1_JOB_GAMMA, 2 * HOUR, "fail", 2),
    ];
    for (host, name, job_id, ended_ago, result, count) in hosts {
        let first = if result == "fail" {
            DAY + ended_ago
        } else {
            ended_ago
        };
        for k in 0..count {
            let ts = now - first - i64::try_from(k).unwrap_or(0) * DAY;
            let level = u32::try_from(count - 1 - k).unwrap_or(0);
            let sizes = sizes_around(20_000_000, &format!("{name}:{ts}"));
            project
                .backups
                .push(v1_backup(host, name, ts, level, Some(sizes)));
        }
        project.jobs.push(v1_job(
            p,
            host,
            job_id,
            name,
            every("1 days", created),
            Run::Finished {
                status: "scheduled",
                result,
                started: now - ended_ago - 600,
                ended: now - ended_ago,
            },
        ));
        project.clients.push(v1_client(p, host));
    }
    let mut session = session(
        p,
        &hex_id("v1-session"),
        "legacy nightly",
        json!({}),
        &[],
        None,
    );
    if let Some(map) = session.as_object_mut() {
        map.remove("project_id");
    }
    project.sessions.push(session);
    let mut dataset = Dataset::default();
    dataset.projects.insert(p.to_owned(), project);
    dataset
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn keys(v: &Value) -> BTreeSet<&str> {
        v.as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    fn set<'a>(items: &[&'a str]) -> BTreeSet<&'a str> {
        items.iter().copied().collect()
    }

    /// Newest `time_stamp` of `status` backups (any status when `None`) per host.
    fn newest(dataset: &Dataset, status: Option<&str>) -> BTreeMap<String, i64> {
        let mut out = BTreeMap::new();
        for project in dataset.projects.values() {
            for b in &project.backups {
                if status.is_some_and(|s| b["status"] != s) {
                    continue;
                }
                let host = b["backup_metadata"]["hostname"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                let ts = b["backup_metadata"]["time_stamp"].as_i64().unwrap();
                let e = out.entry(host).or_insert(ts);
                *e = (*e).max(ts);
            }
        }
        out
    }

    fn find_job<'a>(dataset: &'a Dataset, id: &str) -> &'a Value {
        dataset
            .projects
            .values()
            .flat_map(|p| &p.jobs)
            .find(|j| j["job_id"] == id)
            .unwrap_or_else(|| panic!("no job {id}"))
    }

    #[test]
    fn hex_ids_are_stable_and_distinct() {
        let a = hex_id("a");
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, hex_id("a"));
        assert_ne!(a, hex_id("b"));
        let many: BTreeSet<String> = (0..5000).map(|i| hex_id(&format!("x{i}"))).collect();
        assert_eq!(many.len(), 5000);
    }

    #[test]
    fn demo_items_have_the_wire_keys() {
        let d = demo_deployment(NOW);
        let prod = &d.projects[PROD_PROJECT_ID];
        for b in &prod.backups {
            assert_eq!(
                keys(b),
                set(&[
                    "project_id",
                    "user_id",
                    "backup_id",
                    "status",
                    "backup_metadata"
                ])
            );
            let meta = &b["backup_metadata"];
            for k in [
                "time_stamp",
                "curr_backup_level",
                "hostname",
                "backup_name",
                "container",
                "mode",
                "storage",
                "client_os",
                "client_version",
                "path_to_backup",
                "always_level",
            ] {
                assert!(meta.get(k).is_some(), "{k} missing in {meta}");
            }
            assert!(meta.get("status").is_none());
        }
        for j in &prod.jobs {
            assert_eq!(
                keys(j),
                set(&[
                    "job_id",
                    "project_id",
                    "user_id",
                    "job_schedule",
                    "client_id",
                    "session_id",
                    "session_tag",
                    "description",
                    "job_actions"
                ])
            );
            for a in j["job_actions"].as_array().unwrap() {
                assert_eq!(
                    keys(a),
                    set(&[
                        "project_id",
                        "action_id",
                        "user_id",
                        "max_retries",
                        "max_retries_interval",
                        "freezer_action"
                    ])
                );
                for k in [
                    "action",
                    "mode",
                    "backup_name",
                    "container",
                    "path_to_backup",
                ] {
                    assert!(a["freezer_action"].get(k).is_some(), "{k}");
                }
                assert!(a["freezer_action"]["timeout"].is_null());
                assert!(a["freezer_action"]["priority"].is_null());
            }
        }
        for c in &prod.clients {
            assert_eq!(keys(c), set(&["project_id", "user_id", "client"]));
            let inner = &c["client"];
            assert_eq!(
                inner["client_id"],
                format!("{PROD_PROJECT_ID}_{}", inner["hostname"].as_str().unwrap())
            );
            assert_eq!(inner["is_central"], false);
            assert_eq!(inner["uuid"].as_str().unwrap().len(), 32);
        }
        for a in &prod.actions {
            assert_eq!(a["mandatory"], false);
            assert!(a["timeout"].is_null());
        }
        let never = find_job(&d, JOB_WEB01_RESTORE);
        assert_eq!(
            keys(&never["job_schedule"]),
            set(&["time_created", "time_started", "time_ended"])
        );
        assert_eq!(never["job_schedule"]["time_started"], -1);
        let sessions_keys = set(&[
            "project_id",
            "user_id",
            "session_id",
            "description",
            "session_tag",
            "result",
            "hold_off",
            "status",
            "time_ended",
            "time_end",
            "time_started",
            "time_start",
            "schedule",
        ]);
        let unused = &d.projects[DEV_PROJECT_ID].sessions[0];
        assert_eq!(keys(unused), sessions_keys);
        assert!(unused["result"].is_null());
        assert_eq!(unused["status"], "active");
        let used = &prod.sessions[0];
        let mut with_jobs = sessions_keys.clone();
        with_jobs.insert("jobs");
        assert_eq!(keys(used), with_jobs);
        assert_eq!(used["jobs"].as_object().unwrap().len(), 2);
        for (_, entry) in used["jobs"].as_object().unwrap() {
            assert_eq!(entry["status"], "completed");
            assert_eq!(entry["result"], "success");
        }
    }

    #[test]
    fn demo_facts() {
        let d = demo_deployment(NOW);
        let prod = &d.projects[PROD_PROJECT_ID];
        let dev = &d.projects[DEV_PROJECT_ID];
        assert_eq!(
            (prod.clients.len(), prod.jobs.len(), prod.backups.len()),
            (7, 8, 28)
        );
        assert_eq!(
            (dev.clients.len(), dev.jobs.len(), dev.backups.len()),
            (3, 4, 10)
        );
        assert_eq!((prod.actions.len(), dev.actions.len()), (10, 4));
        let available = newest(&d, Some("available"));
        let expected: BTreeMap<String, i64> = [
            ("web-01", 11395),
            ("web-02", 15295),
            ("db-01", 6295),
            ("files-01", 392395),
            ("mail-01", 433795),
            ("app-01", 87295),
            ("legacy-01", 21895),
            ("nas-old-01", 1728000),
            ("dev-app-01", 25795),
            ("dev-db-01", 7795),
            ("dev-ci-01", 259200),
        ]
        .iter()
        .map(|(h, age)| ((*h).to_owned(), NOW - age))
        .collect();
        assert_eq!(available, expected);
        let any = newest(&d, None);
        assert_eq!(any["db-01"], NOW - 2695);
        let errors: Vec<_> = prod
            .backups
            .iter()
            .filter(|b| b["status"] == "error")
            .collect();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0]["backup_metadata"]["job_id"], JOB_DB01_HOURLY);

        let result = |id: &str| find_job(&d, id)["job_schedule"].get("result").cloned();
        for id in [
            JOB_WEB01_NIGHTLY,
            JOB_WEB02_NIGHTLY,
            JOB_FILES01_NIGHTLY,
            JOB_MAIL01_WEEKLY,
            JOB_LEGACY01_NIGHTLY,
            JOB_DEVAPP01_NIGHTLY,
            JOB_DEVDB01_NIGHTLY,
        ] {
            assert_eq!(result(id), Some(json!("success")), "{id}");
        }
        assert_eq!(result(JOB_DB01_HOURLY), Some(json!("fail")));
        assert_eq!(result(JOB_DEVAPP01_SNAPSHOT), Some(json!("aborted")));
        assert_eq!(result(JOB_APP01_NIGHTLY), Some(json!("")));
        assert_eq!(result(JOB_WEB01_RESTORE), None);
        let running = &find_job(&d, JOB_APP01_NIGHTLY)["job_schedule"];
        assert_eq!(running["time_ended"], -1);
        assert_eq!(running["current_pid"], RUNNING_PID);
        let snapshot = &find_job(&d, JOB_DEVAPP01_SNAPSHOT)["job_schedule"];
        assert_eq!(snapshot["status"], "completed");
        assert!(snapshot["schedule_date"].is_string());
        assert_eq!(
            find_job(&d, JOB_MAIL01_WEEKLY)["job_schedule"]["schedule_interval"],
            "7 days"
        );
        assert_eq!(
            find_job(&d, JOB_FILES01_NIGHTLY)["job_schedule"]["time_ended"],
            NOW - DAY * 9 / 2
        );
        // No backup of the aborted snapshot, a manual backup, the client-less host, no sizes.
        let all: Vec<&Value> = d.projects.values().flat_map(|p| &p.backups).collect();
        assert!(!all
            .iter()
            .any(|b| b["backup_metadata"]["job_id"] == JOB_DEVAPP01_SNAPSHOT));
        let manual: BTreeSet<&str> = all
            .iter()
            .filter(|b| b["backup_metadata"].get("job_id").is_none())
            .map(|b| b["backup_metadata"]["backup_name"].as_str().unwrap())
            .collect();
        assert_eq!(manual, set(&["web-02-predeploy", "dev-ci-01-manual"]));
        assert!(!prod
            .clients
            .iter()
            .any(|c| c["client"]["hostname"] == "nas-old-01"));
        assert!(!prod.jobs.iter().any(|j| j["job_id"] == JOB_NAS_DELETED));
        for b in &all {
            let meta = &b["backup_metadata"];
            let legacy = meta["hostname"] == "legacy-01";
            let has_sizes = meta.get("backup_size_compressed").is_some();
            assert_eq!(has_sizes, !legacy && b["status"] == "available", "{meta}");
        }
        // Backup action names match the backups they write.
        for j in prod.jobs.iter().chain(&dev.jobs) {
            for a in j["job_actions"].as_array().unwrap() {
                let fa = &a["freezer_action"];
                if fa["action"] == "backup" {
                    assert_eq!(
                        fa["hostname"],
                        j["client_id"].as_str().unwrap().split('_').nth(1).unwrap()
                    );
                }
            }
        }
        // Not in time order.
        let ts: Vec<i64> = prod
            .backups
            .iter()
            .map(|b| b["backup_metadata"]["time_stamp"].as_i64().unwrap())
            .collect();
        let mut sorted = ts.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        assert_ne!(ts, sorted);
        // Deterministic.
        assert_eq!(demo_deployment(NOW), d);
    }

    #[test]
    fn large_deployment_shape() {
        let d = large_deployment(NOW, 1050, 1);
        assert_eq!(d.projects.len(), 2);
        let backups: usize = d.projects.values().map(|p| p.backups.len()).sum();
        let clients: usize = d.projects.values().map(|p| p.clients.len()).sum();
        let jobs: usize = d.projects.values().map(|p| p.jobs.len()).sum();
        assert_eq!((backups, clients, jobs), (1050, 1050, 1050));
        assert_eq!(d.projects[&large_project_id(0)].clients.len(), 1000);
        assert_eq!(d.projects[&large_project_id(1)].clients.len(), 50);

        let d = large_deployment(NOW, 50, 3);
        let p = &d.projects[&large_project_id(0)];
        assert_eq!(p.backups.len(), 150);
        assert_eq!(p.backups[0]["backup_metadata"]["hostname"], "node-00000");
        let ts: Vec<i64> = p.backups[..3]
            .iter()
            .map(|b| b["backup_metadata"]["time_stamp"].as_i64().unwrap())
            .collect();
        assert_eq!(ts[0] - ts[1], DAY);
        assert!(NOW - ts[0] >= HOUR && NOW - ts[0] < 10 * HOUR);
        // Host 7 failed (newest backup error), host 49 is stale.
        assert_eq!(p.jobs[7]["job_schedule"]["result"], "fail");
        assert_eq!(p.backups[7 * 3]["status"], "error");
        let stale = p.backups[49 * 3]["backup_metadata"]["time_stamp"]
            .as_i64()
            .unwrap();
        assert!(NOW - stale > 4 * DAY);
        assert_eq!(large_deployment(NOW, 0, 0).projects.len(), 1);
    }

    #[test]
    fn v1_shapes() {
        let d = v1_deployment(NOW);
        let p = &d.projects[V1_PROJECT_ID];
        assert_eq!((p.backups.len(), p.jobs.len(), p.clients.len()), (7, 3, 3));
        for b in &p.backups {
            assert_eq!(keys(b), set(&["backup_id", "backup_metadata"]));
            let meta = &b["backup_metadata"];
            for k in ["host_name", "timestamp", "level", "backup_size_compressed"] {
                assert!(meta.get(k).is_some(), "{k}");
            }
            assert!(meta.get("hostname").is_none() && meta.get("time_stamp").is_none());
        }
        for j in &p.jobs {
            assert!(j.get("job_action").is_some() && j.get("job_actions").is_none());
            assert!(j.get("project_id").is_none());
        }
        assert_eq!(find_job(&d, V1_JOB_GAMMA)["job_schedule"]["result"], "fail");
        for c in &p.clients {
            assert_eq!(keys(c), set(&["client", "user_id"]));
            assert_eq!(
                keys(&c["client"]),
                set(&["hostname", "description", "client_id"])
            );
        }
        assert!(p.sessions[0].get("project_id").is_none());
    }
}
