//! Datasets for the simulated Code42 console: the vendor document's sample, a realistic demo
//! console and a large generated one for the benchmark.
//!
//! # The demo console ([`demo_console`])
//!
//! Northwind Traders: three orgs (`Engineering` 2, `Finance` 3, `Sales` 4), twelve users (Alan
//! Price, 108, deactivated), 36 computers (16 Windows, 12 macOS, 7 Linux, one iPhone), two
//! destinations: the on-premises `Code42 Server` (target computer 2, store point 1 `Default` on
//! server 3, nearly full: under 10 % free) and the cloud `CrashPlan Cloud US` (target computer
//! 42, store point 12 on server 11, `isProvider` true). 24 devices back up to both, 6 to the
//! on-premises server only, 5 to the cloud only, and the phone to none (empty `backupUsage`).
//!
//! Everything comes from a fixed seed; times are relative to the `now` given, ISO 8601 with
//! milliseconds and the `-05:00` offset as in the document; guids are 18-digit strings above
//! 2^53, as the document writes them. Every computer has exactly the document's keys, every
//! `backupUsage` element exactly the document's keys.
//!
//! Healthy devices (all but the ones below): status Active, not blocked, `alertState` 0,
//! `alertStates` `["OK"]` (computer and usages), last completed backup 20 minutes to 9 hours
//! ago on every target, connected within the last 20 minutes, nothing to do, `percentComplete`
//! 100 (an integer).
//!
//! | Device | Situation |
//! |---|---|
//! | `FIN-LT-0207` | stale, warning: last completed backup 3.4 days ago on every target (connected 25 minutes ago, backup not finishing: `percentComplete` 97.35, todo > 0); `alertState` 1, `["WarningBackupAlert"]` |
//! | `jchen-mbp` | stale, critical: last completed backup 11.2 days ago on every target, connected 1.5 hours ago; `alertState` 2, `["CriticalBackupAlert"]` |
//! | `ppatel-mbp-2` | never completed: registered 2 days ago, `lastCompletedBackup` null on both targets, `percentComplete` 37.6, todo > 0, active 6 minutes ago |
//! | `build-02.eng.northwind.example` | backup in progress: completed 20 hours ago, active 1 minute ago, `percentComplete` 88.9 (on-premises) and 61.25 (cloud), todo > 0 |
//! | `SALES-LT-0051` | not connected for 4.3 days (cloud only), last completed backup as long ago; `alertState` 1, `["WarningConnectionAlert"]` |
//! | `SALES-LT-0042` | not connected for 16.5 days, last completed backup as long ago; `alertState` 2, `["CriticalConnectionAlert", "CriticalBackupAlert"]` |
//! | `FIN-WS-0113` | `"blocked": true` (otherwise healthy) |
//! | `FIN-LT-0188` | `"active": false`, `"status": "Deactivated"`, last seen and last completed 64 days ago, usages `"using": false` (owner Alan Price, deactivated) |
//! | `dwhitfield-iphone` | a mobile device: `osName` `ios`, empty `backupUsage` |
//!
//! # The large console ([`large_console`], [`large_console_pairs`])
//!
//! `devices` computers, each backing up to the first `targets_per_device` destinations (or, with
//! [`large_console_pairs`], a given number of device–destination pairs: every device to the
//! first destination, some also to a second), in 10 orgs with one user per two devices; about
//! 3 % stale (warning), 1 % stale (critical), 1 % never completed, 2 % in progress, 1 %
//! connection alert, 0.5 % blocked and 2 % deactivated.
//! Same shapes as the demo; deterministic (each device has its own seed). 20 000 × 2 builds
//! in about 0.3 s on two cores (a release build; most of it is allocating the ~250 MB of
//! `serde_json` values), on up to four threads.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

pub use super::Dataset;
use super::{BACKUP_USAGE_KEYS, COMPUTER_KEYS};
use crate::sim::server_timestamp;

/// Target computer id of the on-premises destination.
pub const ON_PREM_TARGET_ID: i64 = 2;
/// Name of the on-premises destination (target computer and server).
pub const ON_PREM_TARGET_NAME: &str = "Code42 Server";
/// Guid of the on-premises destination (target computer and server).
pub const ON_PREM_TARGET_GUID: &str = "702381046312484865";
/// Store point of the on-premises destination; it is nearly full (under 10 % free).
pub const ON_PREM_STORE_POINT_ID: i64 = 1;
/// Name of [`ON_PREM_STORE_POINT_ID`].
pub const ON_PREM_STORE_POINT_NAME: &str = "Default";
/// Server id of the on-premises destination.
pub const ON_PREM_SERVER_ID: i64 = 3;
/// Target computer id of the cloud destination.
pub const CLOUD_TARGET_ID: i64 = 42;
/// Name of the cloud destination (target computer and server).
pub const CLOUD_TARGET_NAME: &str = "CrashPlan Cloud US";
/// Guid of the cloud destination.
pub const CLOUD_TARGET_GUID: &str = "841299617743765573";
/// Store point of the cloud destination.
pub const CLOUD_STORE_POINT_ID: i64 = 12;
/// Name of [`CLOUD_STORE_POINT_ID`].
pub const CLOUD_STORE_POINT_NAME: &str = "cloud-us-west-12";
/// Server id of the cloud destination.
pub const CLOUD_SERVER_ID: i64 = 11;
/// The nearly full store point (under 10 % free).
pub const NEARLY_FULL_STORE_POINT_ID: i64 = ON_PREM_STORE_POINT_ID;

/// Stale devices: `WarningBackupAlert` (3.4 days) and `CriticalBackupAlert` (11.2 days).
pub const STALE_DEVICES: &[&str] = &[STALE_WARNING_DEVICE, STALE_CRITICAL_DEVICE];
/// Last completed backup 3.4 days ago, `["WarningBackupAlert"]`.
pub const STALE_WARNING_DEVICE: &str = "FIN-LT-0207";
/// Last completed backup 11.2 days ago, `["CriticalBackupAlert"]`.
pub const STALE_CRITICAL_DEVICE: &str = "jchen-mbp";
/// Never completed a backup (`lastCompletedBackup` null, `percentComplete` 37.6).
pub const NEVER_COMPLETED_DEVICE: &str = "ppatel-mbp-2";
/// Backup in progress (`percentComplete` 88.9 and 61.25).
pub const IN_PROGRESS_DEVICE: &str = "build-02.eng.northwind.example";
/// Not connected for 4.3 days, `["WarningConnectionAlert"]`.
pub const WARNING_CONNECTION_DEVICE: &str = "SALES-LT-0051";
/// Not connected for 16.5 days, `["CriticalConnectionAlert", "CriticalBackupAlert"]`.
pub const CRITICAL_CONNECTION_DEVICE: &str = "SALES-LT-0042";
/// `"blocked": true`.
pub const BLOCKED_DEVICE: &str = "FIN-WS-0113";
/// `"active": false, "status": "Deactivated"`.
pub const DEACTIVATED_DEVICE: &str = "FIN-LT-0188";
/// A phone: no backup at all (empty `backupUsage`).
pub const MOBILE_DEVICE: &str = "dwhitfield-iphone";
/// The deactivated user (owner of [`DEACTIVATED_DEVICE`]).
pub const DEACTIVATED_USER_ID: i64 = 108;

const SEED: u64 = 0x0C42_0042_2014;
const GB: u64 = 1_000_000_000;
const TB: u64 = 1_000 * GB;
const MINUTE: f64 = 60.0;
const HOUR: f64 = 3_600.0;
const DAY: f64 = 86_400.0;

// ---------------------------------------------------------------------------------------------
// The document's sample
// ---------------------------------------------------------------------------------------------

/// The response of `GET /api/v1/Computer?active=true&incBackupUsage=true&srtKey=lastBackup` in
/// "Sample uses of the Code42 API", verbatim.
pub const DOC_COMPUTER_LIST: &str = include_str!("../fixtures/computer_list.json");

/// The document's sample: computers Alpha (10) and Beta (11) exactly as printed, with what
/// they refer to filled in plausibly: users 2 (`alice@example.com`) and 3 (`bob@example.com`)
/// in org 2 (`Engineering`), store point 1 `Default` on server 3 `Code42 Server` (guid
/// `647903643760066817`, the target guid of both usages), holding both archives.
pub fn document_sample() -> Dataset {
    let computers = serde_json::from_str::<Value>(DOC_COMPUTER_LIST)
        .ok()
        .and_then(|v| v["data"]["computers"].as_array().cloned())
        .unwrap_or_default();
    let org_uid = "650418012497306113";
    let user = |id: i64, uid: &str, first: &str, last: &str| {
        let username = format!("{}@example.com", first.to_lowercase());
        json!({
            "userId": id,
            "userUid": uid,
            "username": username,
            "email": username,
            "firstName": first,
            "lastName": last,
            "orgId": 2,
            "orgUid": org_uid,
            "orgName": "Engineering",
            "active": true,
            "status": "Active",
        })
    };
    let total: u64 = 107_374_182_400;
    let used: u64 = 111_170 + 357;
    Dataset {
        computers,
        users: vec![
            user(2, "619174383784362241", "Alice", "Anderson"),
            user(3, "631663247226405633", "Bob", "Brown"),
        ],
        orgs: vec![json!({
            "orgId": 2,
            "orgUid": org_uid,
            "orgName": "Engineering",
            "parentOrgId": null,
            "active": true,
            "status": "Active",
        })],
        store_points: vec![json!({
            "storePointId": 1,
            "storePointName": "Default",
            "serverId": 3,
            "serverName": "Code42 Server",
            "storeGroupId": 1,
            "online": true,
            "acceptingNewComputers": true,
            "totalBytes": total,
            "usedBytes": used,
            "freeBytes": total - used,
            "computerCount": 2,
        })],
        servers: vec![json!({
            "serverId": 3,
            "guid": "647903643760066817",
            "serverName": "Code42 Server",
            "type": "SERVER",
            "online": true,
            "primaryAddress": "alpha:4282",
            "version": "3.6.1.4",
            "totalBytes": total,
            "usedBytes": used,
            "freeBytes": total - used,
            "backupSessionCount": 1,
        })],
    }
}

// ---------------------------------------------------------------------------------------------
// Shared building blocks
// ---------------------------------------------------------------------------------------------

/// A backup destination as the usages name it.
struct Target {
    id: i64,
    guid: String,
    name: String,
    store_point_id: i64,
    store_point_name: String,
    server_id: i64,
    server_name: String,
    host: String,
    is_provider: bool,
}

/// How one device is doing.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Healthy,
    /// Days since the last completed backup; connected recently.
    StaleWarning(f64),
    StaleCritical(f64),
    NeverCompleted,
    InProgress,
    /// Days since the last connection (and completed backup).
    WarningConnection(f64),
    CriticalConnection(f64),
    Blocked,
    /// Days since the device was last seen.
    Deactivated(f64),
    Mobile,
}

impl State {
    fn alerts(self) -> (u8, &'static [&'static str]) {
        match self {
            State::StaleWarning(_) => (1, &["WarningBackupAlert"]),
            State::StaleCritical(_) => (2, &["CriticalBackupAlert"]),
            State::WarningConnection(_) => (1, &["WarningConnectionAlert"]),
            State::CriticalConnection(_) => {
                (2, &["CriticalConnectionAlert", "CriticalBackupAlert"])
            }
            _ => (0, &["OK"]),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Os {
    Win,
    WinServer,
    Mac,
    MacArm,
    Linux,
    Ios,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Laptop,
    Desktop,
    Server,
    Phone,
}

/// Time strings relative to `now`, through a function so the large console can use a table.
trait Clock {
    /// The time `seconds` before now, as the console writes it.
    fn ago(&mut self, seconds: f64) -> String;
}

struct ExactClock(DateTime<Utc>);

impl Clock for ExactClock {
    fn ago(&mut self, seconds: f64) -> String {
        let t = self.0 - chrono::Duration::milliseconds((seconds * 1000.0).round() as i64);
        server_timestamp(t)
    }
}

/// Every time within ~2 years, rounded to 1/4096 of a log scale: formatted once, then reused.
struct TableClock {
    now: DateTime<Utc>,
    table: Vec<Option<String>>,
}

impl TableClock {
    const SLOTS: usize = 4096;
    const MAX: f64 = 800.0 * DAY;

    fn new(now: DateTime<Utc>) -> TableClock {
        TableClock {
            now,
            table: vec![None; Self::SLOTS + 1],
        }
    }
}

impl Clock for TableClock {
    fn ago(&mut self, seconds: f64) -> String {
        let s = seconds.clamp(1.0, Self::MAX);
        let slot = (s.ln() / Self::MAX.ln() * Self::SLOTS as f64).round() as usize;
        let slot = slot.min(Self::SLOTS);
        let now = self.now;
        self.table[slot]
            .get_or_insert_with(|| {
                let s = (slot as f64 / Self::SLOTS as f64 * Self::MAX.ln()).exp();
                server_timestamp(now - chrono::Duration::milliseconds((s * 1000.0) as i64))
            })
            .clone()
    }
}

/// `[(key, value), ..]` with each value moved into a [`Value`] (`json!` would copy every string
/// it is given, which counts when building 20 000 computers).
macro_rules! pairs {
    ($($key:literal => $value:expr),* $(,)?) => {
        [$(($key, Value::from($value))),*]
    };
}

/// Empty objects of the document's shapes, cloned for every computer and usage: cloning a map
/// is several times faster than inserting its keys one by one, and packs it tighter.
struct Shapes {
    computer: Map<String, Value>,
    usage: Map<String, Value>,
}

impl Shapes {
    fn new() -> Shapes {
        let shape = |keys: &[&str]| {
            keys.iter()
                .filter(|k| **k != "backupUsage")
                .map(|k| ((*k).to_owned(), Value::Null))
                .collect()
        };
        Shapes {
            computer: shape(COMPUTER_KEYS),
            usage: shape(BACKUP_USAGE_KEYS),
        }
    }
}

/// A copy of `shape` with `pairs` filled in.
fn object<const N: usize>(
    shape: &Map<String, Value>,
    pairs: [(&str, Value); N],
) -> Map<String, Value> {
    let mut map = shape.clone();
    for (key, value) in pairs {
        match map.get_mut(key) {
            Some(slot) => *slot = value,
            None => {
                map.insert(key.to_owned(), value);
            }
        }
    }
    map
}

fn between(rng: &mut fastrand::Rng, lo: f64, hi: f64) -> f64 {
    lo + rng.f64() * (hi - lo)
}

/// `100` as an integer, anything else as the fraction it is.
fn percent(p: f64) -> Value {
    if p >= 100.0 {
        json!(100)
    } else if p.fract() == 0.0 {
        json!(p as u64)
    } else {
        json!(p)
    }
}

/// What one device looks like, before it is written out.
struct Device<'a> {
    id: i64,
    name: &'a str,
    guid: String,
    user_id: i64,
    org_id: i64,
    os: Os,
    kind: Kind,
    state: State,
    /// Index into the product table.
    release: usize,
    /// Indexes of the destinations it backs up to.
    targets: &'a [usize],
    /// A number that varies addresses and time zones.
    n: usize,
}

/// Product version, build timestamp (the document's `version`), embedded Java.
const RELEASES: &[(&str, u64, &str)] = &[
    ("11.4.1", 1_713_225_600_614, "17.0.10"),
    ("11.3.0", 1_707_955_200_118, "17.0.8"),
    ("11.2.1", 1_701_302_400_502, "11.0.20"),
    ("10.4.2", 1_689_033_600_277, "11.0.18"),
];

const TIME_ZONES: &[&str] = &[
    "America/Chicago",
    "America/New_York",
    "America/Los_Angeles",
    "America/Denver",
    "Europe/London",
];

/// Per-target figures accumulated for the store points and servers.
#[derive(Debug, Clone, Copy, Default)]
struct TargetTotals {
    archive_bytes: u64,
    computers: u64,
    sessions: u64,
}

/// Writes one computer and its usages, adding its archives to `totals`.
fn computer(
    shapes: &Shapes,
    d: &Device,
    targets: &[Target],
    totals: &mut [TargetTotals],
    rng: &mut fastrand::Rng,
    clock: &mut dyn Clock,
) -> Value {
    let (alert_state, alert_states) = d.state.alerts();
    let (release, build, java) = RELEASES[d.release % RELEASES.len()];
    let (os_name, os_version, os_arch) = match d.os {
        Os::Win => (
            "win",
            if d.n % 3 == 0 {
                "10.0.22631"
            } else {
                "10.0.19045"
            },
            "amd64",
        ),
        Os::WinServer => ("win", "10.0.20348", "amd64"),
        Os::Mac => ("mac", "13.6.7", "x86_64"),
        Os::MacArm => (
            "mac",
            if d.n % 2 == 0 { "14.5" } else { "14.4.1" },
            "aarch64",
        ),
        Os::Linux => (
            "linux",
            if d.kind == Kind::Server {
                "5.15.0-107-generic"
            } else {
                "6.5.0-35-generic"
            },
            "amd64",
        ),
        Os::Ios => ("ios", "17.5.1", "arm64"),
    };
    let office = matches!(d.kind, Kind::Desktop | Kind::Server);
    let ip = if office {
        format!("10.20.{}.{}", 10 + d.org_id, 10 + d.n % 240)
    } else {
        format!("192.168.{}.{}", 1 + d.n % 50, 20 + d.n % 200)
    };
    let remote = if office {
        ip.clone()
    } else {
        format!("203.0.113.{}", 1 + d.n % 254)
    };

    // Ages in seconds.
    let created = match d.state {
        // Enrolled five days ago, its first backup still not done: past the default
        // three-day threshold (BackupNeverCompleted).
        State::NeverCompleted => 5.0 * DAY,
        _ => between(rng, 60.0, 900.0) * DAY,
    };
    let connected = match d.state {
        State::StaleWarning(_) => 25.0 * MINUTE,
        State::StaleCritical(_) => 1.5 * HOUR,
        State::WarningConnection(days)
        | State::CriticalConnection(days)
        | State::Deactivated(days) => days * DAY,
        State::NeverCompleted => 2.0 * MINUTE,
        State::InProgress => 20.0,
        _ => between(rng, 10.0, 20.0 * MINUTE),
    };
    // Last completed backup (None = never) and last backup activity.
    let completed: Option<f64> = match d.state {
        State::Healthy | State::Blocked => Some(between(rng, 20.0 * MINUTE, 9.0 * HOUR)),
        State::StaleWarning(days) | State::StaleCritical(days) => Some(days * DAY),
        State::WarningConnection(days)
        | State::CriticalConnection(days)
        | State::Deactivated(days) => Some(days * DAY + between(rng, 5.0 * MINUTE, 2.0 * HOUR)),
        State::NeverCompleted | State::Mobile => None,
        State::InProgress => Some(20.0 * HOUR),
    };
    let activity = match d.state {
        State::NeverCompleted => 6.0 * MINUTE,
        State::InProgress => 1.0 * MINUTE,
        State::StaleWarning(_) => 40.0 * MINUTE,
        _ => completed.unwrap_or(connected),
    };

    let (lo, hi) = match d.kind {
        Kind::Laptop => (20 * GB, 140 * GB),
        Kind::Desktop => (50 * GB, 320 * GB),
        Kind::Server => (150 * GB, 900 * GB),
        Kind::Phone => (1, 2),
    };
    let selected_bytes = rng.u64(lo..hi);
    let selected_files = selected_bytes / rng.u64(180_000..900_000);
    let ratio = between(rng, 0.55, 0.88);

    let mut usages = Vec::with_capacity(d.targets.len());
    for (k, &ti) in d.targets.iter().enumerate() {
        let target = &targets[ti];
        let done: f64 = match d.state {
            State::NeverCompleted => 37.6,
            State::InProgress if k == 0 => 88.9,
            State::InProgress => 61.25,
            State::StaleWarning(_) => 97.35,
            _ => 100.0,
        };
        let todo_bytes = ((selected_bytes as f64) * (100.0 - done) / 100.0).round() as u64;
        let todo_files = ((selected_files as f64) * (100.0 - done) / 100.0).round() as u64;
        let archive_bytes = ((selected_bytes - todo_bytes) as f64 * ratio) as u64;
        let using = !matches!(d.state, State::Deactivated(_));
        if let Some(t) = totals.get_mut(ti) {
            t.archive_bytes += archive_bytes;
            if using {
                t.computers += 1;
            }
            if todo_bytes > 0 && activity < 10.0 * MINUTE {
                t.sessions += 1;
            }
        }
        let skew = between(rng, 0.0, 90.0);
        let usage_connected = connected + skew;
        let usage_created = created - between(rng, 60.0, 600.0);
        let last_completed = completed.map(|c| c + skew * 0.1);
        let compact = if rng.f64() < 0.4 {
            Value::Null
        } else {
            Value::String(clock.ago(between(rng, 5.0, 60.0) * DAY))
        };
        let (usage_alert_state, usage_alerts) = (alert_state, alert_states);
        usages.push(Value::Object(object(&shapes.usage, pairs! {
            "targetComputerId" => target.id,
            "targetComputerParentId" => Value::Null,
            "targetComputerGuid" => &*target.guid,
            "targetComputerName" => &*target.name,
            "targetComputerOsName" => Value::Null,
            "targetComputerType" => "SERVER",
            "selectedFiles" => selected_files,
            "selectedBytes" => selected_bytes,
            "todoFiles" => todo_files,
            "todoBytes" => todo_bytes,
            "archiveBytes" => archive_bytes,
            "billableBytes" => archive_bytes,
            "sendRateAverage" => rng.u64(40_000..6_000_000),
            "completionRateAverage" => if todo_bytes > 0 { rng.u64(20_000..2_000_000) } else { 0 },
            "lastBackup" => clock.ago(activity + skew * 0.1),
            "lastCompletedBackup" => last_completed.map(|c| clock.ago(c)),
            "lastConnected" => clock.ago(usage_connected),
            "lastMaintenanceDate" => clock.ago(between(rng, 1.0, 28.0).min(created / DAY) * DAY),
            "lastCompactDate" => compact,
            "modificationDate" => clock.ago(usage_connected),
            "creationDate" => clock.ago(usage_created),
            "using" => using,
            "alertState" => usage_alert_state,
            "alertStates" => usage_alerts,
            "percentComplete" => percent(done),
            "storePointId" => target.store_point_id,
            "storePointName" => &*target.store_point_name,
            "serverId" => target.server_id,
            "serverName" => &*target.server_name,
            "serverHostName" => &*target.host,
            "isProvider" => target.is_provider,
        })));
    }

    let deactivated = matches!(d.state, State::Deactivated(_));
    let mut computer = object(
        &shapes.computer,
        pairs! {
            "computerId" => d.id,
            "name" => d.name,
            "guid" => &*d.guid,
            "type" => "COMPUTER",
            "status" => if deactivated { "Deactivated" } else { "Active" },
            "active" => !deactivated,
            "blocked" => d.state == State::Blocked,
            "alertState" => alert_state,
            "alertStates" => alert_states,
            "userId" => d.user_id,
            "orgId" => d.org_id,
            "parentComputerId" => Value::Null,
            "lastConnected" => clock.ago(connected),
            "osName" => os_name,
            "osVersion" => os_version,
            "osArch" => os_arch,
            "address" => format!("{ip}:4242"),
            "remoteAddress" => remote,
            "javaVersion" => java,
            "modelInfo" => Value::Null,
            "timeZone" => TIME_ZONES[d.n % TIME_ZONES.len()],
            "version" => build,
            "productVersion" => release,
            "creationDate" => clock.ago(created),
            "modificationDate" => clock.ago(connected + 4.4),
            "loginDate" => clock.ago(connected + 4.1),
        },
    );
    computer.insert("backupUsage".to_owned(), Value::Array(usages));
    Value::Object(computer)
}

/// A guid as the console writes it: an 18-digit string above 2^53.
fn guid_string(rng: &mut fastrand::Rng) -> String {
    rng.u64(100_000_000_000_000_000..=899_999_999_999_999_999)
        .to_string()
}

fn store_point(
    t: &Target,
    total_bytes: u64,
    used_bytes: u64,
    totals: &TargetTotals,
    accepting: bool,
) -> Value {
    json!({
        "storePointId": t.store_point_id,
        "storePointName": t.store_point_name,
        "serverId": t.server_id,
        "serverName": t.server_name,
        "storeGroupId": t.store_point_id,
        "online": true,
        "acceptingNewComputers": accepting,
        "totalBytes": total_bytes,
        "usedBytes": used_bytes,
        "freeBytes": total_bytes.saturating_sub(used_bytes),
        "computerCount": totals.computers,
    })
}

fn server(
    t: &Target,
    address: &str,
    version: &str,
    total_bytes: u64,
    used_bytes: u64,
    totals: &TargetTotals,
) -> Value {
    json!({
        "serverId": t.server_id,
        "guid": t.guid,
        "serverName": t.server_name,
        "type": "SERVER",
        "online": true,
        "primaryAddress": address,
        "version": version,
        "totalBytes": total_bytes,
        "usedBytes": used_bytes,
        "freeBytes": total_bytes.saturating_sub(used_bytes),
        "backupSessionCount": totals.sessions,
    })
}

fn org_json(id: i64, uid: &str, name: &str) -> Value {
    json!({
        "orgId": id,
        "orgUid": uid,
        "orgName": name,
        "parentOrgId": null,
        "active": true,
        "status": "Active",
    })
}

// ---------------------------------------------------------------------------------------------
// The demo console
// ---------------------------------------------------------------------------------------------

const ORGS: &[(i64, &str, &str)] = &[
    (2, "702381049186672641", "Engineering"),
    (3, "702381051384488449", "Finance"),
    (4, "702381053575911425", "Sales"),
];

/// id, first name, last name, org, active.
const USERS: &[(i64, &str, &str, i64, bool)] = &[
    (101, "Dana", "Whitfield", 2, true),
    (102, "James", "Chen", 2, true),
    (103, "Priya", "Patel", 2, true),
    (104, "Tom", "Becker", 2, true),
    (105, "Build", "Service", 2, true),
    (106, "Linda", "Okafor", 3, true),
    (107, "Robert", "Hughes", 3, true),
    (108, "Alan", "Price", 3, false),
    (109, "Sarah", "Kim", 4, true),
    (110, "Kevin", "Murphy", 4, true),
    (111, "Maria", "Gonzalez", 4, true),
    (112, "Emily", "Novak", 2, true),
];

const BOTH: &[usize] = &[0, 1];
const ON_PREM: &[usize] = &[0];
const CLOUD: &[usize] = &[1];
const NONE: &[usize] = &[];

use Kind::{Desktop, Laptop, Phone, Server};
use Os::{Ios, Linux, Mac, MacArm, Win, WinServer};
use State::Healthy;

/// Name, OS, kind, user, state, destinations (indexes into the targets), release (index into
/// [`RELEASES`]).
type DeviceRow = (&'static str, Os, Kind, i64, State, &'static [usize], usize);

#[rustfmt::skip]
const DEVICES: &[DeviceRow] = &[
    // name                              os         kind     user state                                 targets  release
    ("dwhitfield-mbp",                   MacArm,    Laptop,  101, Healthy,                              BOTH,    0),
    (MOBILE_DEVICE,                      Ios,       Phone,   101, State::Mobile,                        NONE,    0),
    (STALE_CRITICAL_DEVICE,              Mac,       Laptop,  102, State::StaleCritical(11.2),           BOTH,    2),
    ("jchen-dev.eng.northwind.example",  Linux,     Desktop, 102, Healthy,                              ON_PREM, 0),
    ("ppatel-mbp",                       MacArm,    Laptop,  103, Healthy,                              BOTH,    0),
    (NEVER_COMPLETED_DEVICE,             MacArm,    Laptop,  103, State::NeverCompleted,                BOTH,    0),
    ("tbecker-x1",                       Linux,     Laptop,  104, Healthy,                              BOTH,    1),
    ("ENG-WS-0287",                      Win,       Desktop, 104, Healthy,                              BOTH,    0),
    ("ENG-WS-0311",                      Win,       Desktop, 112, Healthy,                              BOTH,    1),
    ("enovak-mbp",                       MacArm,    Laptop,  112, Healthy,                              BOTH,    0),
    ("build-01.eng.northwind.example",   Linux,     Server,  105, Healthy,                              ON_PREM, 0),
    (IN_PROGRESS_DEVICE,                 Linux,     Server,  105, State::InProgress,                    BOTH,    0),
    ("ci-runner-01.eng.northwind.example", Linux,   Server,  105, Healthy,                              ON_PREM, 1),
    ("git.eng.northwind.example",        Linux,     Server,  105, Healthy,                              BOTH,    0),
    ("ENG-LT-0142",                      Win,       Laptop,  112, Healthy,                              BOTH,    0),
    (STALE_WARNING_DEVICE,               Win,       Laptop,  106, State::StaleWarning(3.4),             BOTH,    3),
    (BLOCKED_DEVICE,                     Win,       Desktop, 106, State::Blocked,                       BOTH,    2),
    ("FIN-LT-0215",                      Win,       Laptop,  107, Healthy,                              BOTH,    0),
    ("FIN-WS-0114",                      Win,       Desktop, 107, Healthy,                              BOTH,    1),
    ("rhughes-imac",                     Mac,       Desktop, 107, Healthy,                              BOTH,    1),
    (DEACTIVATED_DEVICE,                 Win,       Laptop,  108, State::Deactivated(64.0),             BOTH,    3),
    ("FIN-SRV-01",                       WinServer, Server,  106, Healthy,                              ON_PREM, 0),
    ("okafor-surface",                   Win,       Laptop,  106, Healthy,                              CLOUD,   0),
    (CRITICAL_CONNECTION_DEVICE,         Win,       Laptop,  109, State::CriticalConnection(16.5),      BOTH,    3),
    (WARNING_CONNECTION_DEVICE,          Win,       Laptop,  110, State::WarningConnection(4.3),        CLOUD,   1),
    ("skim-mba",                         MacArm,    Laptop,  109, Healthy,                              CLOUD,   0),
    ("kmurphy-mba",                      MacArm,    Laptop,  110, Healthy,                              BOTH,    1),
    ("mgonzalez-mbp",                    MacArm,    Laptop,  111, Healthy,                              CLOUD,   0),
    ("SALES-LT-0063",                    Win,       Laptop,  111, Healthy,                              BOTH,    0),
    ("SALES-TAB-0007",                   Win,       Laptop,  110, Healthy,                              CLOUD,   2),
    ("SALES-LT-0070",                    Win,       Laptop,  110, Healthy,                              BOTH,    0),
    ("ENG-WS-0312",                      Win,       Desktop, 104, Healthy,                              BOTH,    0),
    ("ci-runner-02.eng.northwind.example", Linux,   Server,  105, Healthy,                              ON_PREM, 1),
    ("jenkins.eng.northwind.example",    Linux,     Server,  105, Healthy,                              ON_PREM, 0),
    ("FIN-LT-0221",                      Win,       Laptop,  107, Healthy,                              BOTH,    0),
    ("mgonzalez-air",                    Mac,       Laptop,  111, Healthy,                              BOTH,    2),
];

fn demo_targets() -> Vec<Target> {
    vec![
        Target {
            id: ON_PREM_TARGET_ID,
            guid: ON_PREM_TARGET_GUID.to_owned(),
            name: ON_PREM_TARGET_NAME.to_owned(),
            store_point_id: ON_PREM_STORE_POINT_ID,
            store_point_name: ON_PREM_STORE_POINT_NAME.to_owned(),
            server_id: ON_PREM_SERVER_ID,
            server_name: ON_PREM_TARGET_NAME.to_owned(),
            host: "https://c42.northwind.example:4285".to_owned(),
            is_provider: false,
        },
        Target {
            id: CLOUD_TARGET_ID,
            guid: CLOUD_TARGET_GUID.to_owned(),
            name: CLOUD_TARGET_NAME.to_owned(),
            store_point_id: CLOUD_STORE_POINT_ID,
            store_point_name: CLOUD_STORE_POINT_NAME.to_owned(),
            server_id: CLOUD_SERVER_ID,
            server_name: CLOUD_TARGET_NAME.to_owned(),
            host: "https://cloud-us-west.crashplan.com:443".to_owned(),
            is_provider: true,
        },
    ]
}

/// The demo console, every time relative to `now` (see the module documentation).
pub fn demo_console(now: DateTime<Utc>) -> Dataset {
    let mut rng = fastrand::Rng::with_seed(SEED);
    let mut clock = ExactClock(now);
    let shapes = Shapes::new();
    let targets = demo_targets();
    let mut totals = vec![TargetTotals::default(); targets.len()];

    let org_of = |user: i64| USERS.iter().find(|u| u.0 == user).map_or(2, |u| u.3);
    let computers: Vec<Value> = DEVICES
        .iter()
        .enumerate()
        .map(
            |(i, &(name, os, kind, user_id, state, device_targets, release))| {
                let device = Device {
                    id: 1041 + i as i64,
                    name,
                    guid: guid_string(&mut rng),
                    user_id,
                    org_id: org_of(user_id),
                    os,
                    kind,
                    state,
                    release,
                    targets: device_targets,
                    n: i * 7 + 3,
                };
                computer(
                    &shapes,
                    &device,
                    &targets,
                    &mut totals,
                    &mut rng,
                    &mut clock,
                )
            },
        )
        .collect();

    let org_name = |id: i64| ORGS.iter().find(|o| o.0 == id).map_or("", |o| o.2);
    let org_uid = |id: i64| ORGS.iter().find(|o| o.0 == id).map_or("", |o| o.1);
    let users = USERS
        .iter()
        .map(|&(id, first, last, org, active)| {
            let username = format!(
                "{}.{}@northwind.example",
                first.to_lowercase(),
                last.to_lowercase()
            );
            json!({
                "userId": id,
                "userUid": format!("70238106{:010}", 4_417_305_601u64 + id as u64 * 7919),
                "username": username,
                "email": username,
                "firstName": first,
                "lastName": last,
                "orgId": org,
                "orgUid": org_uid(org),
                "orgName": org_name(org),
                "active": active,
                "status": if active { "Active" } else { "Deactivated" },
            })
        })
        .collect();
    let orgs = ORGS
        .iter()
        .map(|&(id, uid, name)| org_json(id, uid, name))
        .collect();

    // The on-premises store point is 93.6 % used; the cloud has room to spare.
    let on_prem_used = totals[0].archive_bytes + 412 * GB;
    let on_prem_total = (on_prem_used as f64 / 0.936) as u64;
    let cloud_total = 2_000 * TB;
    let cloud_used = totals[1].archive_bytes + 1_130 * TB;
    Dataset {
        computers,
        users,
        orgs,
        store_points: vec![
            store_point(&targets[0], on_prem_total, on_prem_used, &totals[0], false),
            store_point(&targets[1], cloud_total, cloud_used, &totals[1], true),
        ],
        servers: vec![
            server(
                &targets[0],
                "c42.northwind.example:4282",
                "8.8.5",
                on_prem_total,
                on_prem_used,
                &totals[0],
            ),
            server(
                &targets[1],
                "cloud-us-west.crashplan.com:443",
                "11.4.1",
                cloud_total,
                cloud_used,
                &totals[1],
            ),
        ],
    }
}

// ---------------------------------------------------------------------------------------------
// The large console
// ---------------------------------------------------------------------------------------------

const LARGE_ORGS: i64 = 10;

/// Device `i` of the large console.
fn large_device(
    i: usize,
    user_count: usize,
    shapes: &Shapes,
    targets: &[Target],
    target_indexes: &[usize],
    totals: &mut [TargetTotals],
    clock: &mut TableClock,
) -> Value {
    let mut rng = fastrand::Rng::with_seed(SEED ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let state = match rng.u32(0..1000) {
        0..=29 => State::StaleWarning(between(&mut rng, 3.0, 6.0)),
        30..=39 => State::StaleCritical(between(&mut rng, 8.0, 40.0)),
        40..=49 => State::NeverCompleted,
        50..=69 => State::InProgress,
        70..=74 => State::WarningConnection(between(&mut rng, 3.0, 6.0)),
        75..=79 => State::CriticalConnection(between(&mut rng, 8.0, 60.0)),
        80..=84 => State::Blocked,
        85..=104 => State::Deactivated(between(&mut rng, 20.0, 300.0)),
        _ => Healthy,
    };
    let (os, kind) = match rng.u32(0..20) {
        0..=8 => (Win, Laptop),
        9..=11 => (Win, Desktop),
        12..=15 => (MacArm, Laptop),
        16 => (Mac, Laptop),
        17..=18 => (Linux, Server),
        _ => (WinServer, Server),
    };
    let prefix = match kind {
        Laptop => "LT",
        Desktop => "WS",
        _ => "SRV",
    };
    let name = format!("{prefix}-{i:06}");
    let user_id = 1000 + (i % user_count) as i64;
    let device = Device {
        id: 100_000 + i as i64,
        name: &name,
        guid: (600_000_000_000_000_001u64 + i as u64 * 7_919_000_003).to_string(),
        user_id,
        org_id: 2 + user_id % LARGE_ORGS,
        os,
        kind,
        state,
        release: i % RELEASES.len(),
        targets: target_indexes,
        n: i,
    };
    computer(shapes, &device, targets, totals, &mut rng, clock)
}

/// A console of `devices` computers, each backing up to `targets_per_device` destinations (the
/// first ones of `targets_per_device.max(1)` store points, one per server), for the benchmark.
/// Deterministic; times relative to `now`.
pub fn large_console(devices: usize, targets_per_device: usize, now: DateTime<Utc>) -> Dataset {
    let target_indexes: Vec<usize> = (0..targets_per_device).collect();
    build_large_console(
        devices,
        targets_per_device.max(1),
        |_| target_indexes.as_slice(),
        now,
    )
}

/// A console of `devices` computers with `pairs` device–destination pairs in all: every device
/// backs up to the first destination, and `pairs - devices` of them, spread evenly, also to a
/// second (`pairs` is held to `devices..=2 * devices`). Device `i` has the second destination
/// when `(i * extra) % devices < extra`, `extra = pairs - devices`: device 0 first, and with
/// `extra = ceil(devices / 3)` (20 000 devices, 26 667 pairs) exactly the devices whose index
/// is a multiple of 3. With `pairs == devices` this is `large_console(devices, 1, now)`.
/// Deterministic; times relative to `now`.
pub fn large_console_pairs(devices: usize, pairs: usize, now: DateTime<Utc>) -> Dataset {
    let extra = pairs.clamp(devices, 2 * devices) - devices;
    let targets_of = |i: usize| -> &'static [usize] {
        if (i as u128 * extra as u128) % (devices as u128) < extra as u128 {
            &[0, 1]
        } else {
            &[0]
        }
    };
    build_large_console(devices, if extra > 0 { 2 } else { 1 }, targets_of, now)
}

/// The large console: `devices` computers, device `i` backing up to the destinations
/// `targets_of(i)` (indexes below `destinations`), one store point and server per destination.
fn build_large_console<'a>(
    devices: usize,
    destinations: usize,
    targets_of: impl Fn(usize) -> &'a [usize] + Sync,
    now: DateTime<Utc>,
) -> Dataset {
    let shapes = Shapes::new();
    let targets: Vec<Target> = (0..destinations)
        .map(|i| {
            let i64i = i as i64;
            let cloud = i % 2 == 1;
            let name = if cloud {
                format!("CrashPlan Cloud {}", i / 2 + 1)
            } else {
                format!("Code42 Server {}", i / 2 + 1)
            };
            Target {
                id: 2 + i64i * 10,
                guid: (700_000_000_000_000_001u64 + i as u64 * 1_000_003).to_string(),
                name: name.clone(),
                store_point_id: 1 + i64i * 10,
                store_point_name: format!("sp-{:02}", i + 1),
                server_id: 3 + i64i * 10,
                server_name: name,
                host: format!("https://dest{:02}.example.com:4285", i + 1),
                is_provider: cloud,
            }
        })
        .collect();
    let user_count = devices.div_ceil(2).max(1);

    // Devices in chunks, one thread each when there are many (most of the time goes into
    // allocating and first touching some 10 KB per device). Each device has its own seed, so
    // the result does not depend on the chunking.
    let threads = if devices >= 4_096 {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
    } else {
        1
    };
    let chunk = devices.div_ceil(threads).max(1);
    let build = |range: std::ops::Range<usize>| {
        let mut clock = TableClock::new(now);
        let mut totals = vec![TargetTotals::default(); targets.len()];
        let computers: Vec<Value> = range
            .map(|i| {
                large_device(
                    i,
                    user_count,
                    &shapes,
                    &targets,
                    targets_of(i),
                    &mut totals,
                    &mut clock,
                )
            })
            .collect();
        (computers, totals)
    };
    let parts: Vec<(Vec<Value>, Vec<TargetTotals>)> = if threads == 1 {
        vec![build(0..devices)]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..devices)
                .step_by(chunk)
                .map(|start| {
                    let build = &build;
                    scope.spawn(move || build(start..(start + chunk).min(devices)))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        })
    };
    let mut computers = Vec::with_capacity(devices);
    let mut totals = vec![TargetTotals::default(); targets.len()];
    for (part, part_totals) in parts {
        computers.extend(part);
        for (t, p) in totals.iter_mut().zip(part_totals) {
            t.archive_bytes += p.archive_bytes;
            t.computers += p.computers;
            t.sessions += p.sessions;
        }
    }

    let users = (0..user_count)
        .map(|u| {
            let id = 1000 + u as i64;
            let org = 2 + id % LARGE_ORGS;
            let username = format!("user{u:06}@example.com");
            json!({
                "userId": id,
                "userUid": (800_000_000_000_000_001u64 + u as u64 * 104_729).to_string(),
                "username": username,
                "email": username,
                "firstName": "User",
                "lastName": format!("{u:06}"),
                "orgId": org,
                "orgUid": (900_000_000_000_000_001u64 + org as u64).to_string(),
                "orgName": format!("Org {org}"),
                "active": true,
                "status": "Active",
            })
        })
        .collect();
    let orgs = (2..2 + LARGE_ORGS)
        .map(|id| {
            org_json(
                id,
                &(900_000_000_000_000_001u64 + id as u64).to_string(),
                &format!("Org {id}"),
            )
        })
        .collect();
    let mut store_points = Vec::new();
    let mut servers = Vec::new();
    for (t, tot) in targets.iter().zip(&totals) {
        let used = tot.archive_bytes + 10 * TB;
        let total = used * 2;
        store_points.push(store_point(t, total, used, tot, true));
        servers.push(server(
            t,
            &t.host.replace("https://", ""),
            "11.4.1",
            total,
            used,
            tot,
        ));
    }
    Dataset {
        computers,
        users,
        orgs,
        store_points,
        servers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Simulator;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-06-03T14:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn time(v: &Value) -> Option<DateTime<Utc>> {
        v.as_str().map(|s| {
            DateTime::parse_from_rfc3339(s)
                .unwrap_or_else(|e| panic!("{s}: {e}"))
                .with_timezone(&Utc)
        })
    }

    fn days_ago(v: &Value) -> f64 {
        let t = time(v).expect("a time");
        now().signed_duration_since(t).num_milliseconds() as f64 / 86_400_000.0
    }

    fn device<'a>(d: &'a Dataset, name: &str) -> &'a Value {
        d.computers
            .iter()
            .find(|c| c["name"] == json!(name))
            .unwrap_or_else(|| panic!("no device {name}"))
    }

    fn sorted(keys: &[&str]) -> Vec<String> {
        let mut keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        keys.sort();
        keys
    }

    fn keys(v: &Value) -> Vec<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn document_sample_is_the_document() {
        let d = document_sample();
        assert_eq!(d.computers.len(), 2);
        let (alpha, beta) = (&d.computers[0], &d.computers[1]);
        assert_eq!(alpha["name"], json!("Alpha"));
        assert_eq!(beta["name"], json!("Beta"));
        assert_eq!(alpha["guid"], json!("619174385806213377"));
        assert_eq!(alpha["version"].as_u64(), Some(1375333203614));
        assert_eq!(alpha["alertState"], json!(0));
        assert_eq!(alpha["backupUsage"][0]["percentComplete"], json!(100));
        assert_eq!(beta["backupUsage"][0]["percentComplete"], json!(0));
        assert_eq!(beta["backupUsage"][0]["lastCompletedBackup"], Value::Null);
        assert_eq!(beta["backupUsage"][0]["todoBytes"], json!(798675763));
        for c in &d.computers {
            assert_eq!(keys(c), sorted(COMPUTER_KEYS));
            assert_eq!(keys(&c["backupUsage"][0]), sorted(BACKUP_USAGE_KEYS));
        }
        assert_eq!(d.store_points[0]["storePointName"], json!("Default"));
        assert_eq!(d.store_points[0]["serverId"], json!(3));
        assert_eq!(d.servers[0]["guid"], json!("647903643760066817"));
        assert_eq!(d.servers[0]["serverName"], json!("Code42 Server"));
        let user_ids: Vec<_> = d.users.iter().map(|u| u["userId"].clone()).collect();
        assert_eq!(user_ids, vec![json!(2), json!(3)]);
        assert!(d.users.iter().all(|u| u["orgId"] == json!(2)));
        assert_eq!(d.orgs[0]["orgId"], json!(2));
    }

    #[test]
    fn demo_is_deterministic_and_relative_to_now() {
        let a = demo_console(now());
        let b = demo_console(now());
        assert_eq!(a.computers, b.computers);
        let later = demo_console(now() + chrono::Duration::hours(2));
        let t = |d: &Dataset| time(&device(d, "ENG-WS-0287")["lastConnected"]).unwrap();
        assert_eq!(t(&later) - t(&a), chrono::Duration::hours(2));
    }

    #[test]
    fn demo_shapes() {
        let d = demo_console(now());
        assert!(
            (30..=40).contains(&d.computers.len()),
            "{}",
            d.computers.len()
        );
        assert_eq!(d.orgs.len(), 3);
        assert_eq!(d.users.len(), 12);
        assert_eq!(d.store_points.len(), 2);
        assert_eq!(d.servers.len(), 2);
        let mut guids = std::collections::HashSet::new();
        let mut both = 0;
        let mut fractional = 0;
        for c in &d.computers {
            assert_eq!(keys(c), sorted(COMPUTER_KEYS), "{}", c["name"]);
            let guid = c["guid"].as_str().unwrap();
            let g: u64 = guid.parse().unwrap();
            assert!(g > 1 << 53 && guid.len() == 18);
            assert!(guids.insert(g));
            let user = d.users.iter().find(|u| u["userId"] == c["userId"]).unwrap();
            assert_eq!(user["orgId"], c["orgId"]);
            let usages = c["backupUsage"].as_array().unwrap();
            if usages.len() == 2 {
                both += 1;
            }
            for u in usages {
                assert_eq!(keys(u), sorted(BACKUP_USAGE_KEYS), "{}", c["name"]);
                let p = u["percentComplete"].as_f64().unwrap();
                assert!((0.0..=100.0).contains(&p));
                if p.fract() != 0.0 {
                    fractional += 1;
                }
                assert!(time(&u["lastConnected"]).is_some());
                assert!(u["lastBackup"].as_str().unwrap().ends_with("-05:00"));
            }
        }
        for os in ["win", "mac", "linux", "ios"] {
            assert!(d.computers.iter().any(|c| c["osName"] == json!(os)), "{os}");
        }
        assert!(both * 2 > d.computers.len(), "{both}");
        assert!(fractional >= 3);
        assert_eq!(guids.len(), d.computers.len());
    }

    #[test]
    fn demo_special_devices() {
        let d = demo_console(now());
        let usage_days = |name: &str, key: &str| -> Vec<f64> {
            device(&d, name)["backupUsage"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| days_ago(&u[key]))
                .collect()
        };
        let healthy: Vec<&Value> = d
            .computers
            .iter()
            .filter(|c| {
                let name = c["name"].as_str().unwrap();
                ![
                    STALE_WARNING_DEVICE,
                    STALE_CRITICAL_DEVICE,
                    NEVER_COMPLETED_DEVICE,
                    IN_PROGRESS_DEVICE,
                    WARNING_CONNECTION_DEVICE,
                    CRITICAL_CONNECTION_DEVICE,
                    BLOCKED_DEVICE,
                    DEACTIVATED_DEVICE,
                    MOBILE_DEVICE,
                ]
                .contains(&name)
            })
            .collect();
        assert_eq!(healthy.len(), d.computers.len() - 9);
        for c in healthy.iter().chain([&device(&d, BLOCKED_DEVICE)]) {
            assert_eq!(c["alertStates"], json!(["OK"]));
            assert!(days_ago(&c["lastConnected"]) < 20.0 / 1440.0);
            for u in c["backupUsage"].as_array().unwrap() {
                assert_eq!(u["percentComplete"], json!(100));
                assert_eq!(u["todoBytes"], json!(0));
                assert!(days_ago(&u["lastCompletedBackup"]) < 9.1 / 24.0);
            }
        }

        let c = device(&d, STALE_WARNING_DEVICE);
        assert_eq!(c["alertStates"], json!(["WarningBackupAlert"]));
        assert_eq!(c["alertState"], json!(1));
        for days in usage_days(STALE_WARNING_DEVICE, "lastCompletedBackup") {
            assert!((3.3..3.5).contains(&days), "{days}");
        }
        let c = device(&d, STALE_CRITICAL_DEVICE);
        assert_eq!(c["alertStates"], json!(["CriticalBackupAlert"]));
        assert_eq!(c["alertState"], json!(2));
        for days in usage_days(STALE_CRITICAL_DEVICE, "lastCompletedBackup") {
            assert!((11.1..11.3).contains(&days), "{days}");
        }

        let c = device(&d, NEVER_COMPLETED_DEVICE);
        for u in c["backupUsage"].as_array().unwrap() {
            assert_eq!(u["lastCompletedBackup"], Value::Null);
            assert_eq!(u["percentComplete"], json!(37.6));
            assert!(u["todoFiles"].as_u64().unwrap() > 0);
            assert!(u["todoBytes"].as_u64().unwrap() > 0);
        }

        let c = device(&d, IN_PROGRESS_DEVICE);
        let percents: Vec<Value> = c["backupUsage"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["percentComplete"].clone())
            .collect();
        assert_eq!(percents, vec![json!(88.9), json!(61.25)]);
        for days in usage_days(IN_PROGRESS_DEVICE, "lastBackup") {
            assert!(days < 3.0 / 1440.0);
        }

        let c = device(&d, WARNING_CONNECTION_DEVICE);
        assert_eq!(c["alertStates"], json!(["WarningConnectionAlert"]));
        assert!((4.2..4.4).contains(&days_ago(&c["lastConnected"])));
        let c = device(&d, CRITICAL_CONNECTION_DEVICE);
        assert_eq!(
            c["alertStates"],
            json!(["CriticalConnectionAlert", "CriticalBackupAlert"])
        );
        assert!((16.4..16.6).contains(&days_ago(&c["lastConnected"])));

        assert_eq!(device(&d, BLOCKED_DEVICE)["blocked"], json!(true));
        assert_eq!(
            d.computers
                .iter()
                .filter(|c| c["blocked"] == json!(true))
                .count(),
            1
        );
        let c = device(&d, DEACTIVATED_DEVICE);
        assert_eq!(
            (&c["active"], &c["status"]),
            (&json!(false), &json!("Deactivated"))
        );
        assert_eq!(c["userId"], json!(DEACTIVATED_USER_ID));
        assert!(c["backupUsage"][0]["using"] == json!(false));
        assert_eq!(
            d.computers
                .iter()
                .filter(|c| c["active"] == json!(false))
                .count(),
            1
        );
        assert_eq!(device(&d, MOBILE_DEVICE)["backupUsage"], json!([]));
    }

    #[test]
    fn demo_destinations() {
        let d = demo_console(now());
        let sp = |id: i64| {
            d.store_points
                .iter()
                .find(|s| s["storePointId"] == json!(id))
                .unwrap()
        };
        let full = sp(NEARLY_FULL_STORE_POINT_ID);
        let free = full["freeBytes"].as_u64().unwrap() as f64;
        let total = full["totalBytes"].as_u64().unwrap() as f64;
        assert!(free / total < 0.10 && free > 0.0);
        assert_eq!(
            full["usedBytes"].as_u64().unwrap() + full["freeBytes"].as_u64().unwrap(),
            full["totalBytes"].as_u64().unwrap()
        );
        let cloud = sp(CLOUD_STORE_POINT_ID);
        assert!(cloud["freeBytes"].as_u64().unwrap() as f64 / 2e15 > 0.3);
        assert_eq!(cloud["storePointName"], json!(CLOUD_STORE_POINT_NAME));
        for (target_id, name, sp_id, server_id) in [
            (
                ON_PREM_TARGET_ID,
                ON_PREM_TARGET_NAME,
                ON_PREM_STORE_POINT_ID,
                ON_PREM_SERVER_ID,
            ),
            (
                CLOUD_TARGET_ID,
                CLOUD_TARGET_NAME,
                CLOUD_STORE_POINT_ID,
                CLOUD_SERVER_ID,
            ),
        ] {
            let usages: Vec<&Value> = d
                .computers
                .iter()
                .flat_map(|c| c["backupUsage"].as_array().unwrap())
                .filter(|u| u["targetComputerId"] == json!(target_id))
                .collect();
            assert!(usages.len() > 20, "{name}");
            for u in &usages {
                assert_eq!(u["targetComputerName"], json!(name));
                assert_eq!(u["storePointId"], json!(sp_id));
                assert_eq!(u["serverId"], json!(server_id));
                assert_eq!(u["isProvider"], json!(target_id == CLOUD_TARGET_ID));
            }
            let using = usages.iter().filter(|u| u["using"] == json!(true)).count();
            assert_eq!(sp(sp_id)["computerCount"], json!(using));
            let server = d
                .servers
                .iter()
                .find(|s| s["serverId"] == json!(server_id))
                .unwrap();
            assert_eq!(server["serverName"], json!(name));
        }
        let names: Vec<&Value> = d.servers.iter().map(|s| &s["serverName"]).collect();
        assert_eq!(
            names,
            vec![&json!("Code42 Server"), &json!("CrashPlan Cloud US")]
        );
    }

    #[test]
    fn large_console_shapes_and_speed() {
        let started = std::time::Instant::now();
        let d = large_console(2_000, 2, now());
        let elapsed = started.elapsed();
        // 20 000 × 2 in release takes well under a second; this is a tenth of that, unoptimised.
        assert!(elapsed < std::time::Duration::from_secs(3), "{elapsed:?}");
        assert_eq!(d.computers.len(), 2_000);
        assert_eq!(d.store_points.len(), 2);
        assert_eq!(d.servers.len(), 2);
        assert_eq!(d.users.len(), 1_000);
        let mut guids = std::collections::HashSet::new();
        for c in &d.computers {
            assert_eq!(keys(c), sorted(COMPUTER_KEYS));
            assert!(guids.insert(c["guid"].as_str().unwrap().to_owned()));
            assert_eq!(c["backupUsage"].as_array().unwrap().len(), 2);
            for u in c["backupUsage"].as_array().unwrap() {
                assert_eq!(keys(u), sorted(BACKUP_USAGE_KEYS));
                time(&u["lastBackup"]);
            }
        }
        let count = |pred: &dyn Fn(&Value) -> bool| d.computers.iter().filter(|c| pred(c)).count();
        assert!(count(&|c| c["active"] == json!(false)) > 10);
        assert!(count(&|c| c["alertState"] == json!(2)) > 5);
        assert!(count(&|c| c["backupUsage"][0]["lastCompletedBackup"].is_null()) > 5);
        assert_eq!(large_console(2_000, 2, now()).computers, d.computers);
        let three = large_console(10, 3, now());
        assert_eq!(three.store_points.len(), 3);
        assert!(three
            .computers
            .iter()
            .all(|c| c["backupUsage"].as_array().unwrap().len() == 3));
        assert!(large_console(0, 0, now()).computers.is_empty());
    }

    #[test]
    fn large_console_pairs_gives_every_third_device_a_second_destination() {
        let usages = |d: &Dataset| -> Vec<usize> {
            d.computers
                .iter()
                .map(|c| c["backupUsage"].as_array().unwrap().len())
                .collect()
        };
        // 2 000 devices and 2 667 pairs, as 20 000 and 26 667: the multiples of 3 have two.
        let d = large_console_pairs(2_000, 2_667, now());
        let per_device = usages(&d);
        assert_eq!(per_device.iter().sum::<usize>(), 2_667);
        for (i, n) in per_device.iter().enumerate() {
            assert_eq!(*n, if i % 3 == 0 { 2 } else { 1 }, "device {i}");
        }
        assert_eq!(d.store_points.len(), 2);
        assert_eq!(d.servers.len(), 2);
        for (k, sp) in d.store_points.iter().enumerate() {
            let using = d
                .computers
                .iter()
                .filter_map(|c| c["backupUsage"].as_array().unwrap().get(k))
                .filter(|u| u["using"] == json!(true))
                .count();
            assert_eq!(sp["computerCount"], json!(using));
        }
        assert_eq!(
            large_console_pairs(2_000, 2_667, now()).computers,
            d.computers
        );
        // Any count spreads evenly and exactly; out of range it is held to 1 or 2 per device.
        let d = large_console_pairs(10, 14, now());
        assert_eq!(usages(&d), [2, 1, 1, 2, 1, 2, 1, 1, 2, 1]);
        assert_eq!(
            large_console_pairs(50, 50, now()).computers,
            large_console(50, 1, now()).computers
        );
        assert_eq!(
            large_console_pairs(50, 0, now()).computers,
            large_console(50, 1, now()).computers
        );
        assert!(usages(&large_console_pairs(7, 100, now()))
            .iter()
            .all(|n| *n == 2));
        assert!(large_console_pairs(0, 0, now()).computers.is_empty());
    }

    #[tokio::test]
    async fn the_demo_served_end_to_end() {
        use crate::sources::code42::sim::{ConsoleConfig, SimServer};
        crate::tls::install_crypto_provider();
        let demo = demo_console(Utc::now());
        let server = SimServer::start(demo.clone(), ConsoleConfig::default())
            .await
            .unwrap();
        let client = reqwest::Client::new();
        let fetch = |rb: reqwest::RequestBuilder| async move {
            let text = rb.send().await.unwrap().text().await.unwrap();
            serde_json::from_str::<Value>(&text).unwrap()
        };
        let token = fetch(
            client
                .get(format!("{}/api/v3/auth/jwt?useBody=true", server.url()))
                .basic_auth("admin", Some("admin")),
        )
        .await;
        let token = token["data"]["v3_user_token"].as_str().unwrap().to_owned();
        let mut seen = Vec::new();
        for page in 1.. {
            let body = fetch(
                client
                    .get(format!(
                        "{}/api/v1/Computer?incBackupUsage=true&pgSize=10&pgNum={page}",
                        server.url()
                    ))
                    .bearer_auth(&token),
            )
            .await;
            assert_eq!(body["data"]["totalCount"], json!(demo.computers.len()));
            let items = body["data"]["computers"].as_array().unwrap().clone();
            if items.is_empty() {
                break;
            }
            seen.extend(items);
        }
        assert_eq!(seen, demo.computers);
        server.shutdown().await;
    }
}
