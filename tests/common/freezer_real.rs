//! The real OpenStack freezer-api 19.0.0 (from PyPI, in the venv `scripts/test.sh` prepares
//! with `scripts/freezer-api.sh install`) and a seeder that fills it through its v2 HTTP API
//! the way freezer-scheduler and freezer-agent do, returning what an exporter must then read.
//!
//! ```ignore
//! let api = FreezerApi::start("member,reader");
//! let facts = seed(api.url()).await;
//! // configure a `kind = "freezer"` source with endpoint = api.url(), auth = "none",
//! // projects = [PROJECT_A, PROJECT_B]; compare its exposition with `facts`.
//! ```
//!
//! The server is started and stopped by `scripts/freezer-api.sh` (which waits until it
//! answers): 127.0.0.1 only, a port picked free just before, an SQLite database and logs in a
//! state directory of its own under the cargo target's tmp dir, left there after the test for
//! inspection. Keystone is replaced by `scripts/freezer/noauth.py`, so requests need no token;
//! the server's own context filter and policy rules still apply.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::Method;
use serde_json::{json, Value};

use super::stack::{free_port, repo_path};

/// Project A of the seeded fleet ("northwind-prod").
pub const PROJECT_A: &str = "7e2b9c41d0a84f56b3e1c8d92a4f6b07";
/// Project B of the seeded fleet ("northwind-lab").
pub const PROJECT_B: &str = "c5d81a3f6e9b42d7a0f4b2e86c13d95a";
const USER_A: &str = "1d4e7a2b9c0f4e8a8b5c3d6e2f1a0b9c";
const USER_B: &str = "a8f3e5c1b7d94a62b0e4f1c9d8a7b6e5";

/// Backup statuses freezer-api knows (its schema's enum), in the exporter's order.
pub const BACKUP_STATUSES: &[&str] = &["available", "creating", "error", "deleting", "deleted"];

const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// The venv `scripts/freezer-api.sh` uses.
pub fn venv() -> PathBuf {
    std::env::var_os("FREEZER_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_path("target/freezer-venv"))
}

/// A running freezer-api. Dropping it stops the server (`scripts/freezer-api.sh stop`, which
/// kills only the pid it started); the state directory stays.
pub struct FreezerApi {
    url: String,
    state: PathBuf,
}

impl FreezerApi {
    /// Starts freezer-api on a free 127.0.0.1 port; `roles` are the roles of requests that
    /// send no `X-Roles` (`"member,reader"`: one project; `"admin"`: job lists span every
    /// project). Returns once `GET /` answers. Panics (with the script's output, which ends
    /// with the server's log) when it does not start.
    pub fn start(roles: &str) -> FreezerApi {
        let venv = venv();
        if !venv.join("bin/freezer-api").is_file() {
            panic!(
                "no freezer-api in {}: run scripts/test.sh, which installs freezer-api 19.0.0 \
                 there (or run `bash scripts/freezer-api.sh install`)",
                venv.display()
            );
        }
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let mut last = String::new();
        // A port picked free can be taken before the server binds it: try another.
        for _ in 0..3 {
            let port = free_port();
            let state = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
                "freezer-api-{}-{}",
                std::process::id(),
                STARTED.fetch_add(1, Ordering::Relaxed)
            ));
            let out = Command::new("bash")
                .arg(repo_path("scripts/freezer-api.sh"))
                .args(["start", "--port", &port.to_string(), "--state"])
                .arg(&state)
                .args(["--roles", roles])
                // Stops the server should this test process die without dropping it.
                .args(["--watch-pid", &std::process::id().to_string()])
                .stdin(Stdio::null())
                .output()
                .expect("run bash scripts/freezer-api.sh start");
            let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            if out.status.success() {
                assert_eq!(stdout, format!("http://127.0.0.1:{port}"), "start's output");
                return FreezerApi { url: stdout, state };
            }
            last = format!("{}:\n{stderr}", out.status);
            if !stderr.contains("already listens") {
                break;
            }
        }
        panic!("scripts/freezer-api.sh start failed: {last}");
    }

    /// "http://127.0.0.1:PORT" (no /v2).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The state directory: configuration, database, logs.
    pub fn state_dir(&self) -> &Path {
        &self.state
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.state.join("freezer-api.log")).unwrap_or_default()
    }
}

impl Drop for FreezerApi {
    fn drop(&mut self) {
        let out = Command::new("bash")
            .arg(repo_path("scripts/freezer-api.sh"))
            .arg("stop")
            .arg("--state")
            .arg(&self.state)
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!(
                "scripts/freezer-api.sh stop --state {}: {}: {}",
                self.state.display(),
                o.status,
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => eprintln!("scripts/freezer-api.sh stop: {e}"),
        }
    }
}

// ------------------------------------------------------------------------------------------
// The fleet
// ------------------------------------------------------------------------------------------

fn project_id(key: char) -> &'static str {
    match key {
        'A' => PROJECT_A,
        _ => PROJECT_B,
    }
}

fn user_id(project: &str) -> &'static str {
    if project == PROJECT_A {
        USER_A
    } else {
        USER_B
    }
}

/// A backed-up machine. `registered: false`: no freezer-scheduler registered it (a
/// decommissioned host whose backups remain). `custom_client_id`: registered with a
/// `--client-id` of its own instead of freezerclient's default `<project_id>_<hostname>`.
struct HostSpec {
    hostname: &'static str,
    project: char,
    registered: bool,
    custom_client_id: Option<&'static str>,
}

const HOSTS: &[HostSpec] = &[
    HostSpec {
        hostname: "web-a1",
        project: 'A',
        registered: true,
        custom_client_id: None,
    },
    HostSpec {
        hostname: "web-a2",
        project: 'A',
        registered: true,
        custom_client_id: None,
    },
    HostSpec {
        hostname: "ledger-db",
        project: 'A',
        registered: true,
        custom_client_id: Some("ledger-db.northwind.internal"),
    },
    HostSpec {
        hostname: "archive-01",
        project: 'A',
        registered: true,
        custom_client_id: None,
    },
    HostSpec {
        hostname: "lab-app1",
        project: 'B',
        registered: true,
        custom_client_id: None,
    },
    HostSpec {
        hostname: "lab-app2",
        project: 'B',
        registered: true,
        custom_client_id: None,
    },
    HostSpec {
        hostname: "kiosk-07",
        project: 'B',
        registered: false,
        custom_client_id: None,
    },
];

fn host_spec(hostname: &str) -> &'static HostSpec {
    HOSTS
        .iter()
        .find(|h| h.hostname == hostname)
        .unwrap_or_else(|| panic!("unknown host {hostname}"))
}

/// The device id of a host: its client's `client_id`, else `<project_id>_<hostname>`.
fn device_id(h: &HostSpec) -> String {
    match h.custom_client_id {
        Some(id) => id.to_owned(),
        None => format!("{}_{}", project_id(h.project), h.hostname),
    }
}

/// The last run freezer-scheduler reported for a job (`ended_ago: None`: still running).
struct RunSpec {
    status: &'static str,
    result: &'static str,
    started_ago: i64,
    ended_ago: Option<i64>,
    current_pid: Option<i64>,
}

/// A backup freezer-agent reported: `ago` seconds before now, at `level`, in `status`.
struct BackupSpec {
    ago: i64,
    level: i64,
    status: &'static str,
}

fn backups(first_ago: i64, every: i64, n: i64, status: &'static str) -> Vec<BackupSpec> {
    (0..n)
        .map(|k| BackupSpec {
            ago: first_ago + k * every,
            level: k % 7,
            status,
        })
        .collect()
}

struct JobSpec {
    key: &'static str,
    host: &'static str,
    description: &'static str,
    schedule: Value,
    /// Actions before the backup action (e.g. an `exec` that flushes a database).
    pre_actions: Vec<Value>,
    /// The backup action's `freezer_action` (hostname added).
    backup: Value,
    run: Option<RunSpec>,
    session: Option<&'static str>,
    /// Backups this job's runs wrote (they carry its `job_id`).
    backups: Vec<BackupSpec>,
}

/// A backup freezer-agent made when run by hand (no scheduler: no `job_id`), without the
/// size fields (the real agent never writes them).
struct ManualBackupSpec {
    host: &'static str,
    backup_name: &'static str,
    path: &'static str,
    ago: i64,
    status: &'static str,
}

struct SessionSpec {
    key: &'static str,
    project: char,
    description: &'static str,
    hold_off: i64,
    /// Jobs added to the session, each run once through it (start, then end with success).
    jobs: &'static [&'static str],
}

fn fs_backup(name: &str, path: &str, storage: &str, container: &str) -> Value {
    json!({
        "action": "backup",
        "mode": "fs",
        "backup_name": name,
        "path_to_backup": path,
        "container": container,
        "storage": storage,
        "engine": "tar",
        "compression": "gzip",
        "max_level": 7,
        "remove_older_than": 30,
        "log_file": format!("/var/log/freezer-agent/{name}.log"),
    })
}

/// The longest wait between two runs of each schedule the fleet uses, worked out by hand.
fn longest_gap(schedule: &Value) -> Option<i64> {
    if schedule.get("schedule_date").is_some() {
        return None;
    }
    if let Some(every) = schedule.get("schedule_interval") {
        return Some(match every.as_str() {
            Some("1 days") => DAY,
            Some("1 hours") => HOUR,
            other => panic!("no gap known for schedule_interval {other:?}"),
        });
    }
    let field = |k: &str| schedule.get(k).and_then(Value::as_str);
    match (
        field("schedule_day_of_week"),
        field("schedule_hour"),
        field("schedule_minute"),
    ) {
        // Daily at a time.
        (None, Some(_), Some(_)) => Some(DAY),
        // The API document's job: Saturday to Tuesday.
        (Some("tue,wed,thu,fri,sat"), Some(_), Some(_)) => Some(3 * DAY),
        (None, None, None) => None,
        other => panic!("no gap known for {other:?}"),
    }
}

fn daily(start: &str) -> Value {
    json!({"schedule_interval": "1 days", "schedule_start_date": start})
}

fn jobs() -> Vec<JobSpec> {
    vec![
        // web-a1: healthy nightly job (in the nightly session), 7 available backups.
        JobSpec {
            key: "web-a1-nightly",
            host: "web-a1",
            description: "web-a1 htdocs nightly",
            schedule: daily("2026-01-05T01:30:00"),
            pre_actions: vec![],
            backup: fs_backup(
                "web-a1-htdocs",
                "/srv/htdocs",
                "swift",
                "northwind_web-a1-htdocs",
            ),
            run: Some(RunSpec {
                status: "scheduled",
                result: "success",
                started_ago: 2 * HOUR + 15 * MINUTE,
                ended_ago: Some(2 * HOUR),
                current_pid: None,
            }),
            session: Some("nightly"),
            backups: backups(2 * HOUR + 15 * MINUTE - 7, DAY, 7, "available"),
        },
        // web-a1: a job created for the same target that never ran (no status/result keys).
        JobSpec {
            key: "web-a1-nightly-new",
            host: "web-a1",
            description: "web-a1 htdocs nightly (moved to the new scheduler, not run yet)",
            schedule: daily("2026-12-01T01:30:00"),
            pre_actions: vec![],
            backup: fs_backup(
                "web-a1-htdocs",
                "/srv/htdocs",
                "swift",
                "northwind_web-a1-htdocs",
            ),
            run: None,
            session: None,
            backups: vec![],
        },
        // web-a2: healthy nightly job (in the nightly session); a manual backup beside it.
        JobSpec {
            key: "web-a2-nightly",
            host: "web-a2",
            description: "web-a2 htdocs nightly",
            schedule: daily("2026-01-05T01:30:00"),
            pre_actions: vec![],
            backup: fs_backup(
                "web-a2-htdocs",
                "/srv/htdocs",
                "swift",
                "northwind_web-a2-htdocs",
            ),
            run: Some(RunSpec {
                status: "scheduled",
                result: "success",
                started_ago: 3 * HOUR + 20 * MINUTE,
                ended_ago: Some(3 * HOUR),
                current_pid: None,
            }),
            session: Some("nightly"),
            backups: backups(3 * HOUR + 20 * MINUTE - 9, DAY, 4, "available"),
        },
        // ledger-db: hourly mysql job whose last run failed and left an `error` backup newer
        // than the host's newest available one; earlier runs succeeded.
        JobSpec {
            key: "ledger-mysql-hourly",
            host: "ledger-db",
            description: "ledger mysql hourly",
            schedule: json!({"schedule_interval": "1 hours"}),
            pre_actions: vec![json!({
                "freezer_action": {"action": "exec", "command": "sync"},
                "max_retries": 1,
                "max_retries_interval": 10,
            })],
            backup: json!({
                "action": "backup",
                "mode": "mysql",
                "backup_name": "ledger-db-mysql",
                "path_to_backup": "/var/lib/mysql",
                "container": "northwind_ledger-db-mysql",
                "storage": "swift",
                "engine": "tar",
                "compression": "gzip",
                "max_level": 24,
                "mysql_conf": "/etc/freezer/ledger-mysql.cnf",
                "log_file": "/var/log/freezer-agent/ledger-db-mysql.log",
            }),
            run: Some(RunSpec {
                status: "scheduled",
                result: "fail",
                started_ago: 42 * MINUTE,
                ended_ago: Some(40 * MINUTE),
                current_pid: None,
            }),
            session: None,
            backups: {
                let mut b = vec![BackupSpec {
                    ago: 42 * MINUTE - 4,
                    level: 5,
                    status: "error",
                }];
                b.extend(backups(HOUR + 42 * MINUTE - 4, HOUR, 5, "available"));
                b
            },
        },
        // ledger-db: cron-style daily /etc job to local storage.
        JobSpec {
            key: "ledger-etc-daily",
            host: "ledger-db",
            description: "ledger /etc daily",
            schedule: json!({"schedule_hour": "3", "schedule_minute": "15"}),
            pre_actions: vec![],
            backup: fs_backup("ledger-db-etc", "/etc", "local", "/var/backups/freezer"),
            run: Some(RunSpec {
                status: "scheduled",
                result: "success",
                started_ago: DAY + 10 * MINUTE,
                ended_ago: Some(DAY + 9 * MINUTE),
                current_pid: None,
            }),
            session: None,
            backups: backups(DAY + 10 * MINUTE - 3, DAY, 2, "available"),
        },
        // ledger-db: the API document's Tue-Sat job at 03:20 (its own schedule payload), whose
        // last backup is 3 days 30 minutes old, as on a Tuesday morning after Saturday's run:
        // not stale, its threshold is the Saturday -> Tuesday gap plus a day.
        JobSpec {
            key: "ledger-reports-workdays",
            host: "ledger-db",
            description: "workday_backup_of_my_work_stuff",
            schedule: json!({"schedule_day_of_week": "tue,wed,thu,fri,sat",
                             "schedule_hour": "03", "schedule_minute": "20"}),
            pre_actions: vec![],
            backup: fs_backup(
                "ledger-db-reports",
                "/srv/reports",
                "swift",
                "northwind_ledger-db-reports",
            ),
            run: Some(RunSpec {
                status: "scheduled",
                result: "success",
                started_ago: 3 * DAY + 30 * MINUTE,
                ended_ago: Some(3 * DAY + 10 * MINUTE),
                current_pid: None,
            }),
            session: None,
            // Five, so project A keeps a multiple of five backups (an exact last page).
            backups: backups(3 * DAY + 30 * MINUTE - 3, DAY, 5, "available"),
        },
        // archive-01: STALE. Its scheduler died four days ago: last success 4 days 2 hours
        // ago; the oldest backup was deleted by retention.
        JobSpec {
            key: "archive-nightly",
            host: "archive-01",
            description: "archive-01 /data nightly (scheduler down)",
            schedule: daily("2026-01-05T02:00:00"),
            pre_actions: vec![],
            backup: fs_backup("archive-01-data", "/data", "ssh", "/backups/archive-01"),
            run: Some(RunSpec {
                status: "scheduled",
                result: "success",
                started_ago: 4 * DAY + 3 * HOUR,
                ended_ago: Some(4 * DAY + 2 * HOUR),
                current_pid: None,
            }),
            session: None,
            backups: {
                let mut b = backups(4 * DAY + 3 * HOUR - 6, DAY, 4, "available");
                b.push(BackupSpec {
                    ago: 8 * DAY + 3 * HOUR - 6,
                    level: 0,
                    status: "deleted",
                });
                b
            },
        },
        // lab-app1: healthy nightly job.
        JobSpec {
            key: "lab-app1-nightly",
            host: "lab-app1",
            description: "lab-app1 /opt/lab nightly",
            schedule: json!({"schedule_interval": "1 days"}),
            pre_actions: vec![],
            backup: fs_backup(
                "lab-app1-lab",
                "/opt/lab",
                "swift",
                "northwind_lab-app1-lab",
            ),
            run: Some(RunSpec {
                status: "scheduled",
                result: "success",
                started_ago: 5 * HOUR + 15 * MINUTE,
                ended_ago: Some(5 * HOUR),
                current_pid: None,
            }),
            session: None,
            backups: backups(5 * HOUR + 15 * MINUTE - 5, DAY, 4, "available"),
        },
        // lab-app1: cinder volume job running now; yesterday's run left one backup.
        JobSpec {
            key: "lab-app1-volume",
            host: "lab-app1",
            description: "lab-app1 data volume nightly",
            schedule: json!({"schedule_interval": "1 days"}),
            pre_actions: vec![],
            backup: json!({
                "action": "backup",
                "mode": "cinder",
                "backup_name": "lab-app1-volume",
                "cinder_vol_id": "3c9e2a71-8b4d-4f06-a1e5-7d2c9b8a6f40",
                "container": "northwind_lab-app1-volume",
                "storage": "swift",
                "engine": "tar",
                "max_level": 0,
                "log_file": "/var/log/freezer-agent/lab-app1-volume.log",
            }),
            run: Some(RunSpec {
                status: "running",
                result: "",
                started_ago: 10 * MINUTE,
                ended_ago: None,
                current_pid: Some(31337),
            }),
            session: None,
            backups: vec![BackupSpec {
                ago: DAY + 10 * MINUTE - 8,
                level: 0,
                status: "available",
            }],
        },
        // lab-app2: nightly job whose last run failed without a backup record; the three
        // nights before succeeded.
        JobSpec {
            key: "lab-app2-nightly",
            host: "lab-app2",
            description: "lab-app2 /opt/lab nightly",
            schedule: json!({"schedule_interval": "1 days"}),
            pre_actions: vec![],
            backup: fs_backup(
                "lab-app2-lab",
                "/opt/lab",
                "swift",
                "northwind_lab-app2-lab",
            ),
            run: Some(RunSpec {
                status: "scheduled",
                result: "fail",
                started_ago: HOUR + 20 * MINUTE,
                ended_ago: Some(HOUR),
                current_pid: None,
            }),
            session: None,
            backups: backups(DAY + HOUR + 20 * MINUTE - 5, DAY, 3, "available"),
        },
        // lab-app2: one-shot instance backup, aborted two days ago (its run left an `error`
        // backup record); finished, so not expected to run again.
        JobSpec {
            key: "lab-app2-instance-once",
            host: "lab-app2",
            description: "lab-app2 instance snapshot before the kernel upgrade",
            schedule: json!({"schedule_date": "2026-11-21T04:00:00"}),
            pre_actions: vec![],
            backup: json!({
                "action": "backup",
                "mode": "nova",
                "backup_name": "lab-app2-instance",
                "nova_inst_id": "b7e41f2a-0c93-4d58-9e6a-2f1b3c4d5e6f",
                "container": "northwind_lab-app2-instance",
                "storage": "swift",
                "engine": "nova",
                "log_file": "/var/log/freezer-agent/lab-app2-instance.log",
            }),
            run: Some(RunSpec {
                status: "completed",
                result: "aborted",
                started_ago: 2 * DAY,
                ended_ago: Some(2 * DAY - 5 * MINUTE),
                current_pid: None,
            }),
            session: None,
            backups: vec![BackupSpec {
                ago: 2 * DAY - 6,
                level: 0,
                status: "error",
            }],
        },
    ]
}

fn manual_backups() -> Vec<ManualBackupSpec> {
    vec![
        ManualBackupSpec {
            host: "web-a2",
            backup_name: "web-a2-pre-upgrade",
            path: "/srv/htdocs",
            ago: 9 * DAY + 4 * HOUR,
            status: "available",
        },
        // kiosk-07 has no client any more; an operator's two manual runs remain, the newer
        // one failed.
        ManualBackupSpec {
            host: "kiosk-07",
            backup_name: "kiosk-07-home",
            path: "/home",
            ago: 20 * DAY,
            status: "available",
        },
        ManualBackupSpec {
            host: "kiosk-07",
            backup_name: "kiosk-07-home",
            path: "/home",
            ago: 19 * DAY + 2 * HOUR,
            status: "error",
        },
    ]
}

const SESSIONS: &[SessionSpec] = &[
    SessionSpec {
        key: "nightly",
        project: 'A',
        description: "northwind web tier nightly",
        hold_off: 60,
        jobs: &["web-a1-nightly", "web-a2-nightly"],
    },
    SessionSpec {
        key: "spare",
        project: 'B',
        description: "northwind lab spare (unused)",
        hold_off: 30,
        jobs: &[],
    },
];

/// A session's schedule. The nightly session's is its jobs' own: adding a job to a session
/// overwrites the job's `job_schedule` with the session's.
fn session_schedule(key: &str) -> Value {
    match key {
        "nightly" => daily("2026-01-05T01:30:00"),
        _ => json!({"schedule_interval": "12 hours"}),
    }
}

/// Deterministic, plausible sizes (bytes) of a backup: (uncompressed, compressed).
fn sizes(hostname: &str, backup_name: &str, level: i64) -> (u64, u64) {
    let full: u64 = 1_000_000_000
        + hostname.bytes().map(u64::from).sum::<u64>() * 7_000_000
        + backup_name.len() as u64 * 13_000_000;
    let uncompressed = if level == 0 {
        full
    } else {
        full / (10 + 3 * level as u64)
    };
    (uncompressed, uncompressed * 37 / 100)
}

// ------------------------------------------------------------------------------------------
// Facts
// ------------------------------------------------------------------------------------------

/// What was seeded, and what an exporter reading it must report. Times are Unix seconds.
#[derive(Debug, Clone)]
pub struct Facts {
    /// "Now" of the seeding; every seeded time is relative to it.
    pub now: i64,
    pub hosts: Vec<HostFacts>,
    pub clients: Vec<ClientFacts>,
    pub jobs: Vec<JobFacts>,
    pub sessions: Vec<SessionFacts>,
    pub backups: Vec<BackupFacts>,
    pub targets: Vec<TargetFacts>,
}

/// One machine that has backups (per project).
#[derive(Debug, Clone)]
pub struct HostFacts {
    pub project: String,
    pub hostname: String,
    /// The registered client's `client_id` (None: no client registered).
    pub client_id: Option<String>,
    /// The exporter's `device_id`: the client id, else `<project_id>_<hostname>`.
    pub device_id: String,
    /// Backups per status, every status of [`BACKUP_STATUSES`] included (0 too).
    pub counts: BTreeMap<String, usize>,
    /// Newest `time_stamp` per status, for the statuses present.
    pub newest: BTreeMap<String, i64>,
    pub newest_available: Option<i64>,
    pub newest_any: Option<i64>,
    /// Sums over `available` backups that carry the size fields (None: none does).
    pub compressed_bytes: Option<u64>,
    pub uncompressed_bytes: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct ClientFacts {
    pub project: String,
    pub hostname: String,
    pub client_id: String,
    /// Generated by the server (freezer-scheduler sends none).
    pub uuid: String,
    pub description: String,
    pub is_central: bool,
}

#[derive(Debug, Clone)]
pub struct JobFacts {
    /// The fleet's name for the job (not sent to the server).
    pub key: String,
    pub project: String,
    /// Generated by the server.
    pub job_id: String,
    pub hostname: String,
    pub client_id: String,
    pub description: String,
    /// "" when the job is in no session.
    pub session_id: String,
    pub backup_name: String,
    /// The `action` of each job action, in order.
    pub actions: Vec<String>,
    /// `job_schedule.status` / `.result` as stored (None: the key is absent, never run).
    pub status: Option<String>,
    pub result: Option<String>,
    /// -1: never.
    pub time_started: i64,
    pub time_ended: i64,
    pub time_created: i64,
    /// Has a recurring schedule (interval or cron fields), not a one-shot `schedule_date`.
    pub recurring: bool,
    /// The longest wait between two of its runs in seconds, as the fleet's author reads its
    /// schedule ([`longest_gap`]); None: one-shot or none.
    pub longest_gap: Option<i64>,
    /// `time_ended` when the last result is success, else the newest `available` backup
    /// carrying the job's id (None: none).
    pub last_success: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct SessionFacts {
    pub key: String,
    pub project: String,
    pub session_id: String,
    pub description: String,
    pub status: String,
    /// None: `null` (never run).
    pub result: Option<String>,
    /// `time_start` / `time_end` as stored (-1: never).
    pub time_start: i64,
    pub time_end: i64,
    pub jobs: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct BackupFacts {
    pub project: String,
    pub backup_id: String,
    pub hostname: String,
    pub backup_name: String,
    /// None: a manual run (no scheduler).
    pub job_id: Option<String>,
    pub status: String,
    pub time_stamp: i64,
    /// (uncompressed, compressed); None: the metadata has no size fields.
    pub sizes: Option<(u64, u64)>,
}

/// One (device, device_id, target) of the vendor-neutral families.
#[derive(Debug, Clone)]
pub struct TargetFacts {
    pub project: String,
    pub device: String,
    pub device_id: String,
    pub target: String,
    /// Newest `available` backup.
    pub last_success: Option<i64>,
    /// Newest backup, any status.
    pub last_activity: Option<i64>,
    /// Σ compressed size of the `available` backups (None: none with sizes).
    pub archive_bytes: Option<u64>,
    /// From the newest-ended job writing the target (success → false; fail, aborted →
    /// true), else the newest backup's status (error → true, available → false). The one
    /// aborted job's target has an `error` backup as its newest, so reading "aborted" as a
    /// failure or skipping it to the backups gives the same answer.
    pub last_run_failed: Option<bool>,
    /// Some active job with a recurring schedule writes the target (else: manual backups,
    /// finished one-shot job → no stale threshold).
    pub scheduled: bool,
    /// The shortest longest-gap of those jobs (None: none known): the stale threshold is
    /// at least that plus a day.
    pub longest_gap: Option<i64>,
}

impl Facts {
    pub fn host(&self, hostname: &str) -> &HostFacts {
        self.hosts
            .iter()
            .find(|h| h.hostname == hostname)
            .unwrap_or_else(|| panic!("no host {hostname} in the facts"))
    }

    pub fn job(&self, key: &str) -> &JobFacts {
        self.jobs
            .iter()
            .find(|j| j.key == key)
            .unwrap_or_else(|| panic!("no job {key} in the facts"))
    }

    pub fn session(&self, key: &str) -> &SessionFacts {
        self.sessions
            .iter()
            .find(|s| s.key == key)
            .unwrap_or_else(|| panic!("no session {key} in the facts"))
    }

    pub fn target(&self, device: &str, target: &str) -> &TargetFacts {
        self.targets
            .iter()
            .find(|t| t.device == device && t.target == target)
            .unwrap_or_else(|| panic!("no target {device}/{target} in the facts"))
    }

    /// Backups seeded in `project`.
    pub fn backup_count(&self, project: &str) -> usize {
        self.backups.iter().filter(|b| b.project == project).count()
    }

    /// The facts as text tables, times as "now-<age>".
    pub fn table(&self) -> String {
        let t = |v: i64| -> String {
            if v < 0 {
                "-1".into()
            } else if v > self.now {
                format!("now+{}", age(v - self.now))
            } else {
                format!("now-{}", age(self.now - v))
            }
        };
        let ot = |v: Option<i64>| v.map_or("-".into(), t);
        let mut s = String::new();
        writeln!(s, "now = {}", self.now).unwrap();
        writeln!(s, "\nhosts (project, device_id, counts available/error/deleted, newest available, newest any, Σ compressed, Σ uncompressed):").unwrap();
        for h in &self.hosts {
            writeln!(
                s,
                "  {:<10} {} {:<44} {}/{}/{}  {:<14} {:<14} {:>12} {:>12}",
                h.hostname,
                short(&h.project),
                h.device_id,
                h.counts["available"],
                h.counts["error"],
                h.counts["deleted"],
                ot(h.newest_available),
                ot(h.newest_any),
                h.compressed_bytes.map_or("-".into(), |v| v.to_string()),
                h.uncompressed_bytes.map_or("-".into(), |v| v.to_string()),
            )
            .unwrap();
        }
        writeln!(
            s,
            "\njobs (project, host, job_id, status, result, started, ended, last success):"
        )
        .unwrap();
        for j in &self.jobs {
            writeln!(
                s,
                "  {:<22} {} {:<10} {} {:<9} {:<7} {:<14} {:<14} {}",
                j.key,
                short(&j.project),
                j.hostname,
                j.job_id,
                j.status.as_deref().unwrap_or("(none)"),
                j.result
                    .as_deref()
                    .map_or("(none)", |r| if r.is_empty() { "\"\"" } else { r }),
                t(j.time_started),
                t(j.time_ended),
                ot(j.last_success),
            )
            .unwrap();
        }
        writeln!(s, "\nsessions:").unwrap();
        for x in &self.sessions {
            writeln!(
                s,
                "  {:<8} {} {} {:<9} {:<7} start {} end {} jobs {}",
                x.key,
                short(&x.project),
                x.session_id,
                x.status,
                x.result.as_deref().unwrap_or("null"),
                t(x.time_start),
                t(x.time_end),
                x.jobs.len()
            )
            .unwrap();
        }
        writeln!(s, "\ntargets (last success, last activity, archive bytes, last run failed, stale threshold):").unwrap();
        for x in &self.targets {
            writeln!(
                s,
                "  {:<10} {:<20} {:<14} {:<14} {:>12} {:<5} {}",
                x.device,
                x.target,
                ot(x.last_success),
                ot(x.last_activity),
                x.archive_bytes.map_or("-".into(), |v| v.to_string()),
                x.last_run_failed.map_or("-".into(), |v| v.to_string()),
                if x.scheduled { "yes" } else { "no" },
            )
            .unwrap();
        }
        s
    }
}

fn short(project: &str) -> &'static str {
    if project == PROJECT_A {
        "A"
    } else {
        "B"
    }
}

fn age(s: i64) -> String {
    let (d, h, m, sec) = (s / DAY, s % DAY / HOUR, s % HOUR / MINUTE, s % MINUTE);
    let mut out = String::new();
    if d > 0 {
        write!(out, "{d}d").unwrap();
    }
    if h > 0 {
        write!(out, "{h}h").unwrap();
    }
    if m > 0 {
        write!(out, "{m}m").unwrap();
    }
    if sec > 0 || out.is_empty() {
        write!(out, "{sec}s").unwrap();
    }
    out
}

// ------------------------------------------------------------------------------------------
// Seeding
// ------------------------------------------------------------------------------------------

/// The v2 API as freezer-scheduler and freezer-agent call it, as a member of the URL's
/// project (what keystone's authtoken would put in the headers after checking their token).
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(
        &self,
        method: Method,
        project: &str,
        path: &str,
        body: Option<&Value>,
        expect: u16,
    ) -> Value {
        let url = format!("{}/v2/{project}{path}", self.base);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header("Accept", "application/json")
            .header("X-Project-Id", project)
            .header("X-User-Id", user_id(project))
            .header("X-Roles", "member,reader");
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(b).unwrap());
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(
            status, expect,
            "{method} {url} with {body:?}: HTTP {status}: {text}"
        );
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{method} {url}: not JSON ({e}): {text}"))
        }
    }

    async fn post(&self, project: &str, path: &str, body: &Value) -> Value {
        self.call(Method::POST, project, path, Some(body), 201)
            .await
    }

    async fn get(&self, project: &str, path: &str) -> Value {
        self.call(Method::GET, project, path, None, 200).await
    }
}

/// The document freezer-agent POSTs after a backup (`freezer/job.py`'s metadata), plus the
/// `job_id` freezer-scheduler adds and, when not `available`, the top-level `status`.
#[allow(clippy::too_many_arguments)]
fn backup_doc(
    hostname: &str,
    action: &Value,
    time_stamp: i64,
    level: i64,
    status: &str,
    job_id: Option<&str>,
    sizes: Option<(u64, u64)>,
) -> Value {
    let s = |k: &str| action[k].as_str().unwrap_or("").to_owned();
    let mode = s("mode");
    let path = s("path_to_backup");
    let storage = s("storage");
    let mut doc = json!({
        "action": "backup",
        "always_level": "",
        "backup_media": match mode.as_str() { "cinder" | "nova" => mode.as_str(), _ => "fs" },
        "backup_name": s("backup_name"),
        "container": s("container"),
        "container_segments": "",
        "dry_run": "",
        "hostname": hostname,
        "path_to_backup": path,
        "max_level": action.get("max_level").cloned().unwrap_or(json!("")),
        "time_stamp": time_stamp,
        "log_file": s("log_file"),
        "storage": storage,
        "mode": mode,
        "proxy": "",
        "compression": action.get("compression").cloned().unwrap_or(json!("gzip")),
        "ssh_key": "",
        "ssh_username": if storage == "ssh" { json!("freezer") } else { json!("") },
        "ssh_host": if storage == "ssh" { json!("10.20.0.9") } else { json!("") },
        "ssh_port": if storage == "ssh" { json!(22) } else { json!("") },
        "consistency_checksum": "",
        "cindernative_backup_az": "",
        "cindernative_backup_container": "",
        "curr_backup_level": level,
        "fs_real_path": path,
        "vol_snap_path": path,
        "client_os": "linux",
        "client_version": "16.0.0",
    });
    let o = doc.as_object_mut().unwrap();
    if let Some((uncompressed, compressed)) = sizes {
        // Not written by the real agent (names from freezer-api's own fixtures): optional.
        o.insert("backup_size_uncompressed".into(), json!(uncompressed));
        o.insert("backup_size_compressed".into(), json!(compressed));
        o.insert("total_backup_session_size".into(), json!(compressed));
    }
    if let Some(id) = job_id {
        o.insert("job_id".into(), json!(id));
    }
    if status != "available" {
        o.insert("status".into(), json!(status));
    }
    doc
}

fn i64_of(v: &Value, what: &str) -> i64 {
    v.as_i64()
        .unwrap_or_else(|| panic!("{what}: not an integer: {v}"))
}

fn str_of(v: &Value, what: &str) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("{what}: not a string: {v}"))
        .to_owned()
}

/// Seeds an empty freezer-api at `base` ("http://127.0.0.1:PORT") with the test fleet through
/// the v2 API, reads back what the server generated (ids, creation times, session times) and
/// checks it stored what was sent. Returns the facts an exporter must report.
pub async fn seed(base: &str) -> Facts {
    backup_exporter::tls::install_crypto_provider();
    let api = Api {
        base: base.trim_end_matches('/').to_owned(),
        // Longer than stack::client()'s 5 s: a loaded machine runs several servers at once.
        http: reqwest::Client::builder()
            .no_proxy()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("HTTP client"),
    };
    let now = chrono::Utc::now().timestamp();
    for p in [PROJECT_A, PROJECT_B] {
        let existing = api.get(p, "/clients").await;
        assert_eq!(
            existing["clients"].as_array().map(Vec::len),
            Some(0),
            "seed expects an empty freezer-api"
        );
    }

    // 1. Clients, as freezer-scheduler registers itself (the server picks the uuid).
    let mut clients = Vec::new();
    for h in HOSTS.iter().filter(|h| h.registered) {
        let project = project_id(h.project);
        let client_id = device_id(h);
        let description = format!(
            "{} ({})",
            h.hostname,
            if h.project == 'A' {
                "northwind-prod"
            } else {
                "northwind-lab"
            }
        );
        let r = api
            .post(
                project,
                "/clients",
                &json!({
                    "client_id": client_id,
                    "hostname": h.hostname,
                    "description": description,
                    "supported_actions": ["backup", "restore", "info", "admin", "exec"],
                    "supported_modes": ["fs", "mysql", "cinder", "nova", "glance", "cindernative"],
                    "supported_storages": ["local", "swift", "ssh", "s3"],
                    "supported_engines": ["tar", "rsync", "nova", "glance"],
                    "is_central": false,
                }),
            )
            .await;
        assert_eq!(r["client_id"], json!(client_id), "POST /clients answer");
        let got = api.get(project, &format!("/clients/{client_id}")).await;
        let c = &got["client"];
        assert_eq!(c["hostname"], json!(h.hostname));
        clients.push(ClientFacts {
            project: project.to_owned(),
            hostname: h.hostname.to_owned(),
            client_id,
            uuid: str_of(&c["uuid"], "client uuid"),
            description,
            is_central: c["is_central"].as_bool().unwrap_or(false),
        });
    }

    // 2. Jobs with their actions inline (the server picks job and action ids).
    let specs = jobs();
    let mut job_ids: BTreeMap<&str, String> = BTreeMap::new();
    let mut created: BTreeMap<&str, i64> = BTreeMap::new();
    for j in &specs {
        let h = host_spec(j.host);
        let project = project_id(h.project);
        let mut backup = j.backup.clone();
        backup["hostname"] = json!(j.host);
        let mut actions = j.pre_actions.clone();
        actions
            .push(json!({"freezer_action": backup, "max_retries": 3, "max_retries_interval": 60}));
        let r = api
            .post(
                project,
                "/jobs",
                &json!({
                    "client_id": device_id(h),
                    "description": j.description,
                    "job_schedule": j.schedule,
                    "job_actions": actions,
                }),
            )
            .await;
        let id = str_of(&r["job_id"], "POST /jobs job_id");
        assert_eq!(id.len(), 32, "job id {id}");
        let got = api.get(project, &format!("/jobs/{id}")).await;
        created.insert(
            j.key,
            i64_of(&got["job_schedule"]["time_created"], "time_created"),
        );
        job_ids.insert(j.key, id);
    }

    // 3. Sessions: jobs added, then one run through the session (start, end per job), as
    //    freezer-scheduler does when it runs a session's jobs.
    let mut session_ids: BTreeMap<&str, String> = BTreeMap::new();
    let mut session_tags: BTreeMap<&str, i64> = BTreeMap::new();
    for s in SESSIONS {
        let project = project_id(s.project);
        let schedule = session_schedule(s.key);
        let r = api
            .post(
                project,
                "/sessions",
                &json!({"description": s.description, "schedule": schedule, "hold_off": s.hold_off}),
            )
            .await;
        let sid = str_of(&r["session_id"], "POST /sessions session_id");
        let mut tag = 0;
        for key in s.jobs {
            api.call(
                Method::PUT,
                project,
                &format!("/sessions/{sid}/jobs/{}", job_ids[key]),
                None,
                204,
            )
            .await;
        }
        for key in s.jobs {
            let r = api
                .call(
                    Method::POST,
                    project,
                    &format!("/sessions/{sid}/action"),
                    Some(&json!({"start": {"job_id": job_ids[key], "current_tag": 0}})),
                    202,
                )
                .await;
            tag = i64_of(&r["session_tag"], "session_tag");
        }
        for key in s.jobs {
            api.call(
                Method::POST,
                project,
                &format!("/sessions/{sid}/action"),
                Some(&json!({"end": {"job_id": job_ids[key], "result": "success"}})),
                202,
            )
            .await;
        }
        session_ids.insert(s.key, sid);
        session_tags.insert(s.key, tag);
    }

    // 4. Each job's last run, PATCHed as freezer-scheduler reports it: the whole
    //    job_schedule (PATCH replaces it; adding the job to a session overwrote it).
    let mut jobs_facts = Vec::new();
    for j in &specs {
        let h = host_spec(j.host);
        let project = project_id(h.project);
        let id = &job_ids[j.key];
        let session_id = j
            .session
            .map(|s| session_ids[s].clone())
            .unwrap_or_default();
        if let Some(run) = &j.run {
            let mut schedule = j.schedule.clone();
            let o = schedule.as_object_mut().unwrap();
            // A job that has run was created a month ago (the server stamped it just now).
            o.insert("time_created".into(), json!(now - 30 * DAY));
            o.insert("status".into(), json!(run.status));
            o.insert("result".into(), json!(run.result));
            o.insert("event".into(), json!(""));
            o.insert("time_started".into(), json!(now - run.started_ago));
            o.insert(
                "time_ended".into(),
                json!(run.ended_ago.map_or(-1, |a| now - a)),
            );
            if let Some(pid) = run.current_pid {
                o.insert("current_pid".into(), json!(pid));
            }
            let body = json!({
                "job_schedule": schedule,
                "session_id": session_id,
                "session_tag": j.session.map_or(0, |s| session_tags[s]),
            });
            api.call(
                Method::PATCH,
                project,
                &format!("/jobs/{id}"),
                Some(&body),
                200,
            )
            .await;
        } else {
            assert!(j.session.is_none(), "a never-run job in a session");
        }

        let got = api.get(project, &format!("/jobs/{id}")).await;
        let js = &got["job_schedule"];
        let opt = |k: &str| js.get(k).map(|v| str_of(v, k));
        let (status, result) = (opt("status"), opt("result"));
        let time_started = i64_of(&js["time_started"], "time_started");
        let time_ended = i64_of(&js["time_ended"], "time_ended");
        match &j.run {
            Some(run) => {
                assert_eq!(status.as_deref(), Some(run.status), "{}: status", j.key);
                assert_eq!(result.as_deref(), Some(run.result), "{}: result", j.key);
                assert_eq!(time_started, now - run.started_ago, "{}", j.key);
                assert_eq!(
                    time_ended,
                    run.ended_ago.map_or(-1, |a| now - a),
                    "{}",
                    j.key
                );
            }
            None => {
                assert_eq!((&status, &result), (&None, &None), "{}: never run", j.key);
                assert_eq!((time_started, time_ended), (-1, -1), "{}", j.key);
            }
        }
        assert_eq!(
            got["session_id"],
            json!(session_id),
            "{}: session_id",
            j.key
        );
        let actions: Vec<String> = got["job_actions"]
            .as_array()
            .expect("job_actions")
            .iter()
            .map(|a| str_of(&a["freezer_action"]["action"], "action"))
            .collect();
        let time_created = i64_of(&js["time_created"], "time_created");
        if j.run.is_none() {
            assert_eq!(time_created, created[j.key], "{}: time_created", j.key);
        }
        jobs_facts.push(JobFacts {
            key: j.key.to_owned(),
            project: project.to_owned(),
            job_id: id.clone(),
            hostname: j.host.to_owned(),
            client_id: str_of(&got["client_id"], "client_id"),
            description: str_of(&got["description"], "description"),
            session_id,
            backup_name: str_of(&j.backup["backup_name"], "backup_name"),
            actions,
            status,
            result,
            time_started,
            time_ended,
            time_created,
            recurring: j.schedule.get("schedule_date").is_none(),
            longest_gap: longest_gap(&j.schedule),
            last_success: None, // below, once the backups are in
        });
    }

    // 5. Backups, as freezer-agent reports them (job_id from freezer-scheduler).
    let mut backups = Vec::new();
    for j in &specs {
        let project = project_id(host_spec(j.host).project);
        let name = str_of(&j.backup["backup_name"], "backup_name");
        for b in &j.backups {
            let sz = sizes(j.host, &name, b.level);
            let doc = backup_doc(
                j.host,
                &j.backup,
                now - b.ago,
                b.level,
                b.status,
                Some(&job_ids[j.key]),
                Some(sz),
            );
            let r = api.post(project, "/backups", &doc).await;
            backups.push(BackupFacts {
                project: project.to_owned(),
                backup_id: str_of(&r["backup_id"], "backup_id"),
                hostname: j.host.to_owned(),
                backup_name: name.clone(),
                job_id: Some(job_ids[j.key].clone()),
                status: b.status.to_owned(),
                time_stamp: now - b.ago,
                sizes: Some(sz),
            });
        }
    }
    for m in manual_backups() {
        let project = project_id(host_spec(m.host).project);
        let action = fs_backup(
            m.backup_name,
            m.path,
            "swift",
            &format!("northwind_{}", m.backup_name),
        );
        let doc = backup_doc(m.host, &action, now - m.ago, 0, m.status, None, None);
        let r = api.post(project, "/backups", &doc).await;
        backups.push(BackupFacts {
            project: project.to_owned(),
            backup_id: str_of(&r["backup_id"], "backup_id"),
            hostname: m.host.to_owned(),
            backup_name: m.backup_name.to_owned(),
            job_id: None,
            status: m.status.to_owned(),
            time_stamp: now - m.ago,
            sizes: None,
        });
    }
    for p in [PROJECT_A, PROJECT_B] {
        let all = api.get(p, "/backups?limit=100000").await;
        assert_eq!(
            all["backups"].as_array().map(Vec::len),
            Some(backups.iter().filter(|b| b.project == p).count()),
            "backups stored in {p}"
        );
    }

    // 6. Sessions as stored.
    let mut sessions = Vec::new();
    for s in SESSIONS {
        let project = project_id(s.project);
        let got = api
            .get(project, &format!("/sessions/{}", session_ids[s.key]))
            .await;
        let mut members: Vec<String> = got
            .get("jobs")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        members.sort();
        let mut want: Vec<String> = s.jobs.iter().map(|k| job_ids[k].clone()).collect();
        want.sort();
        assert_eq!(members, want, "session {} jobs", s.key);
        sessions.push(SessionFacts {
            key: s.key.to_owned(),
            project: project.to_owned(),
            session_id: session_ids[s.key].clone(),
            description: str_of(&got["description"], "description"),
            status: str_of(&got["status"], "session status"),
            result: got["result"].as_str().map(str::to_owned),
            time_start: i64_of(&got["time_start"], "time_start"),
            time_end: i64_of(&got["time_end"], "time_end"),
            jobs: members,
        });
    }

    derive(now, clients, jobs_facts, sessions, backups)
}

/// The per-host, per-job and per-target facts that follow from what was stored.
fn derive(
    now: i64,
    clients: Vec<ClientFacts>,
    mut jobs: Vec<JobFacts>,
    sessions: Vec<SessionFacts>,
    backups: Vec<BackupFacts>,
) -> Facts {
    for j in &mut jobs {
        j.last_success = if j.result.as_deref() == Some("success") {
            Some(j.time_ended)
        } else {
            backups
                .iter()
                .filter(|b| b.status == "available" && b.job_id.as_ref() == Some(&j.job_id))
                .map(|b| b.time_stamp)
                .max()
        };
    }

    let mut hosts = Vec::new();
    for h in HOSTS {
        let mine: Vec<&BackupFacts> = backups
            .iter()
            .filter(|b| b.hostname == h.hostname)
            .collect();
        let mut counts: BTreeMap<String, usize> = BACKUP_STATUSES
            .iter()
            .map(|s| ((*s).to_owned(), 0))
            .collect();
        let mut newest: BTreeMap<String, i64> = BTreeMap::new();
        for b in &mine {
            *counts.entry(b.status.clone()).or_default() += 1;
            let n = newest.entry(b.status.clone()).or_insert(b.time_stamp);
            *n = (*n).max(b.time_stamp);
        }
        let sized: Vec<(u64, u64)> = mine
            .iter()
            .filter(|b| b.status == "available")
            .filter_map(|b| b.sizes)
            .collect();
        hosts.push(HostFacts {
            project: project_id(h.project).to_owned(),
            hostname: h.hostname.to_owned(),
            client_id: h.registered.then(|| device_id(h)),
            device_id: device_id(h),
            newest_available: newest.get("available").copied(),
            newest_any: mine.iter().map(|b| b.time_stamp).max(),
            counts,
            newest,
            compressed_bytes: (!sized.is_empty()).then(|| sized.iter().map(|s| s.1).sum()),
            uncompressed_bytes: (!sized.is_empty()).then(|| sized.iter().map(|s| s.0).sum()),
        });
    }

    // Targets: every (host, backup_name) a backup or a job's backup action names.
    let mut keys: Vec<(String, String)> = backups
        .iter()
        .map(|b| (b.hostname.clone(), b.backup_name.clone()))
        .chain(
            jobs.iter()
                .map(|j| (j.hostname.clone(), j.backup_name.clone())),
        )
        .collect();
    keys.sort();
    keys.dedup();
    let targets =
        keys.into_iter()
            .map(|(host, name)| {
                let h = host_spec(&host);
                let mine: Vec<&BackupFacts> = backups
                    .iter()
                    .filter(|b| b.hostname == host && b.backup_name == name)
                    .collect();
                let writers: Vec<&JobFacts> = jobs
                    .iter()
                    .filter(|j| j.hostname == host && j.backup_name == name)
                    .collect();
                let available: Vec<&&BackupFacts> =
                    mine.iter().filter(|b| b.status == "available").collect();
                let sized: Vec<u64> = available
                    .iter()
                    .filter_map(|b| b.sizes.map(|s| s.1))
                    .collect();
                let from_job = writers
                    .iter()
                    .filter(|j| j.time_ended > 0)
                    // An aborted run says nothing about failure: the backups then decide.
                    .filter(|j| matches!(j.result.as_deref(), Some("success" | "fail")))
                    .max_by_key(|j| j.time_ended)
                    .map(|j| j.result.as_deref() != Some("success"));
                let from_backup = mine.iter().max_by_key(|b| b.time_stamp).and_then(|b| {
                    match b.status.as_str() {
                        "error" => Some(true),
                        "available" => Some(false),
                        _ => None,
                    }
                });
                TargetFacts {
                    project: project_id(h.project).to_owned(),
                    device: host.clone(),
                    device_id: device_id(h),
                    target: name.clone(),
                    last_success: available.iter().map(|b| b.time_stamp).max(),
                    // A backup of any status, or a run started by a job writing the name.
                    last_activity: mine
                        .iter()
                        .map(|b| b.time_stamp)
                        .chain(writers.iter().map(|j| j.time_started).filter(|t| *t > 0))
                        .max(),
                    archive_bytes: (!sized.is_empty()).then(|| sized.iter().sum()),
                    last_run_failed: from_job.or(from_backup),
                    // A job the scheduler will run (again): not finished, stopped or removed.
                    scheduled: writers.iter().any(|j| {
                        !matches!(j.status.as_deref(), Some("completed" | "stop" | "removed"))
                    }),
                    longest_gap: writers
                        .iter()
                        .filter(|j| {
                            !matches!(j.status.as_deref(), Some("completed" | "stop" | "removed"))
                        })
                        .filter_map(|j| j.longest_gap)
                        .min(),
                }
            })
            .collect();

    Facts {
        now,
        hosts,
        clients,
        jobs,
        sessions,
        backups,
        targets,
    }
}
