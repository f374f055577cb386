//! The demo CrashPlan PRO fleet: a deterministic, realistic data set for the simulated server.
//!
//! Acme Corp runs one CrashPlan PRO server, `cpserver01.acme.example` (computer 1), which is the
//! destination of every device, and a second destination, `cpoffsite01.dr.acme.example`
//! (computer 2), to which a few devices also back up. Four orgs: `Acme Corp` (2, the root) with
//! the children `Engineering` (3), `Finance` (4) and `Field Sales` (5, close to its size quota);
//! twelve users (one of them, Alan Price, deactivated); forty client computers (20 Windows,
//! 9 macOS, 11 Linux); three mount points; serverStats in the document's shape.
//!
//! Everything is generated from a fixed seed; times are relative to the `now` given to
//! [`demo_fleet`], so a fleet built a few minutes later looks the same, only later.
//!
//! The devices tests and the README refer to (all other clients are healthy: last backup
//! activity within the last 5 hours, nothing left to do, computer `alertStates` `["OK"]`, usage
//! `alertStates` `[]`):
//!
//! | Device | Situation |
//! |---|---|
//! | `ENG-WS-0287` | stale: last activity 4.5 days ago, yet connected right now; `["WARN"]` |
//! | `FIN-LT-0207` | stale: last activity 6.2 days ago, offline since; `["WARN"]` |
//! | `jchen-mbp` | stale and offline for days: not connected (`sourceConnectedToServer` false) for 8.3 days; `["WARN"]` |
//! | `skim-mba` | stale: last activity 12.7 days ago, offline since; `["WARN"]` |
//! | `SALES-LT-0042` | the one device in ALERT, for a long time: last activity 37 days ago, offline since; computer `["ALERT"]`, usage `["ALERT"]` (the only non-empty usage `alertStates`) |
//! | `ppatel-mbp-2` | never backed up: registered 3 hours ago, connected, usage `lastActivity` null, `archiveBytes` 0, `todoFiles`/`todoBytes` = `selectedFiles`/`selectedBytes` |
//! | `build-02.eng.acme.example` | busy: a backup in progress whenever it is read (`todoBytes` > 0, about 89 % complete, active 2 minutes ago); its last completed backup (`serverBackupStats.lastBackup`, detail view only) was 20 hours ago |
//! | `git.eng.acme.example` | one failing and one healthy destination: to the PRO server healthy (usage `alertStates` `[]`), to the offsite one nothing for 9 days (usage `["ALERT"]`); computer `["ALERT"]` |
//! | `FIN-WS-0113` | `"sourceStatus": "Blocked,Active"` (otherwise healthy, as in the document's example) |
//! | `FIN-LT-0188` | Deactivated computer (of the deactivated user Alan Price): `sourceStatus` "Deactivated", `isUsing` false, last activity 64 days ago |
//!
//! Also: the devices backing up to the offsite destination as well are [`OFFSITE_DEVICES`];
//! mount point 1 (`manifest`) is nearly full (percentFree 6.4); the two destination servers are
//! listed among the computers with `mountPointId` and `serverBackupStats` null (they are not
//! backup sources). Usage times are `-05:00` with milliseconds, except the usages of the offsite
//! destination and every `serverBackupStats` time, which are UTC (`Z`).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{server_timestamp, Dataset};

/// Computer id of the PRO server every device backs up to.
pub const PRIMARY_SERVER_ID: i64 = 1;
/// Name of the PRO server every device backs up to.
pub const PRIMARY_SERVER_NAME: &str = "cpserver01.acme.example";
/// Computer id of the offsite destination.
pub const OFFSITE_SERVER_ID: i64 = 2;
/// Name of the offsite destination.
pub const OFFSITE_SERVER_NAME: &str = "cpoffsite01.dr.acme.example";

/// Stale devices, `["WARN"]`: last activity 4.5, 6.2, 8.3 and 12.7 days ago.
pub const STALE_DEVICES: &[&str] = &["ENG-WS-0287", "FIN-LT-0207", "jchen-mbp", "skim-mba"];
/// The one device in ALERT (37 days without backup), with non-empty usage `alertStates`.
pub const LONG_ALERT_DEVICE: &str = "SALES-LT-0042";
/// The device that has never backed up (usage `lastActivity` null).
pub const NEVER_BACKED_UP_DEVICE: &str = "ppatel-mbp-2";
/// The device with a backup in progress (`todoBytes` > 0).
pub const IN_PROGRESS_DEVICE: &str = "build-02.eng.acme.example";
/// The device whose backup to the offsite destination fails (usage `["ALERT"]`) while its
/// backup to the PRO server is healthy; its computer-wide `alertStates` say `["ALERT"]`.
pub const OFFSITE_FAILING_DEVICE: &str = "git.eng.acme.example";
/// Hours since the busy device ([`IN_PROGRESS_DEVICE`]) last completed a backup.
pub const IN_PROGRESS_LAST_BACKUP_HOURS: f64 = 20.0;
/// The device with `"sourceStatus": "Blocked,Active"`.
pub const BLOCKED_DEVICE: &str = "FIN-WS-0113";
/// The Deactivated computer.
pub const DEACTIVATED_DEVICE: &str = "FIN-LT-0188";
/// The device not connected to the server for days (the stale ones but `ENG-WS-0287`, the ALERT
/// one and the Deactivated one are offline too).
pub const OFFLINE_DEVICE: &str = "jchen-mbp";
/// Devices that also back up to the offsite destination.
pub const OFFSITE_DEVICES: &[&str] = &[
    "ACME-EXCH01",
    "fileserver01.acme.example",
    "mgonzalez-mbp",
    "build-01.eng.acme.example",
    "git.eng.acme.example",
];
/// Id of the nearly full mount point (percentFree under 10).
pub const NEARLY_FULL_MOUNT_POINT_ID: i64 = 1;
/// The org close to its size quota.
pub const NEAR_QUOTA_ORG_ID: i64 = 5;

const SEED: u64 = 0x0C42_2010_0308;
const GB: u64 = 1 << 30;
const DAY: f64 = 86_400.0;
const HOUR: f64 = 3_600.0;
const MINUTE: f64 = 60.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Os {
    Win7,
    WinXp,
    WinServer,
    Mac,
    Linux,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Laptop,
    Desktop,
    Server,
    FileServer,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Healthy,
    /// Days since the last activity, and whether it is connected now.
    Stale(f64, bool),
    /// Days since the last activity.
    LongAlert(f64),
    NeverBackedUp,
    InProgress,
    Blocked,
    /// Days since the last activity (and the deactivation).
    Deactivated(f64),
}

struct Device {
    name: &'static str,
    os: Os,
    kind: Kind,
    user_id: i64,
    state: State,
    offsite: bool,
    mount_point_id: i64,
}

const fn dev(
    name: &'static str,
    os: Os,
    kind: Kind,
    user_id: i64,
    state: State,
    offsite: bool,
    mount_point_id: i64,
) -> Device {
    Device {
        name,
        os,
        kind,
        user_id,
        state,
        offsite,
        mount_point_id,
    }
}

use Kind::{Desktop, FileServer, Laptop, Server};
use Os::{Linux, Mac, Win7, WinServer, WinXp};
use State::Healthy;

#[rustfmt::skip]
const DEVICES: &[Device] = &[
    //   name                             os         kind        user state                          offsite mount point
    dev("IT-WS-0001",                     Win7,      Desktop,    101, Healthy,                       false,  1),
    dev("ACME-DC01",                      WinServer, Server,     101, Healthy,                       false,  1),
    dev("ACME-EXCH01",                    WinServer, Server,     101, Healthy,                       true,   1),
    dev("fileserver01.acme.example",      Linux,     FileServer, 101, Healthy,                       true,   2),
    dev("print01.acme.example",           Linux,     Server,     101, Healthy,                       false,  1),
    dev("CONF-ROOM-A",                    Win7,      Desktop,    101, Healthy,                       false,  1),
    dev("RECEPTION-01",                   WinXp,     Desktop,    101, Healthy,                       false,  1),
    dev("ACME-LT-0102",                   Win7,      Laptop,     102, Healthy,                       false,  1),
    dev("mgonzalez-mbp",                  Mac,       Laptop,     102, Healthy,                       true,   1),
    dev("ACME-LT-0117",                   Win7,      Laptop,     112, Healthy,                       false,  1),
    dev("enovak-mbp",                     Mac,       Laptop,     112, Healthy,                       false,  3),
    dev("MKT-LT-0009",                    Win7,      Laptop,     112, Healthy,                       false,  1),
    dev("jchen-mbp",                      Mac,       Laptop,     103, State::Stale(8.3, false),      false,  1),
    dev("ENG-WS-0311",                    Win7,      Desktop,    103, Healthy,                       false,  2),
    dev("ENG-WS-0312",                    Win7,      Desktop,    103, Healthy,                       false,  2),
    dev("jchen-dev.eng.acme.example",     Linux,     Desktop,    103, Healthy,                       false,  2),
    dev("ppatel-mbp",                     Mac,       Laptop,     104, Healthy,                       false,  1),
    dev("ppatel-mbp-2",                   Mac,       Laptop,     104, State::NeverBackedUp,          false,  3),
    dev("build-01.eng.acme.example",      Linux,     Server,     105, Healthy,                       true,   2),
    dev("build-02.eng.acme.example",      Linux,     Server,     105, State::InProgress,             false,  2),
    dev("build-03.eng.acme.example",      Linux,     Server,     105, Healthy,                       false,  3),
    dev("ci-runner-01.eng.acme.example",  Linux,     Server,     105, Healthy,                       false,  2),
    dev("ci-runner-02.eng.acme.example",  Linux,     Server,     105, Healthy,                       false,  2),
    dev("git.eng.acme.example",           Linux,     Server,     105, Healthy,                       true,   2),
    dev("jenkins.eng.acme.example",       Linux,     Server,     105, Healthy,                       false,  2),
    dev("tbecker-mbp",                    Mac,       Laptop,     106, Healthy,                       false,  1),
    dev("ENG-WS-0287",                    Win7,      Desktop,    106, State::Stale(4.5, true),       false,  1),
    dev("tbecker-x1.eng.acme.example",    Linux,     Laptop,     106, Healthy,                       false,  2),
    dev("qa-win7-01",                     Win7,      Desktop,    106, Healthy,                       false,  3),
    dev("FIN-LT-0207",                    Win7,      Laptop,     107, State::Stale(6.2, false),      false,  1),
    dev("FIN-WS-0113",                    WinXp,     Desktop,    107, State::Blocked,                false,  1),
    dev("FIN-LT-0215",                    Win7,      Laptop,     108, Healthy,                       false,  1),
    dev("FIN-WS-0114",                    Win7,      Desktop,    108, Healthy,                       false,  1),
    dev("rhughes-imac",                   Mac,       Desktop,    108, Healthy,                       false,  1),
    dev("FIN-LT-0188",                    WinXp,     Laptop,     111, State::Deactivated(64.0),      false,  1),
    dev("SALES-LT-0042",                  Win7,      Laptop,     109, State::LongAlert(37.0),        false,  1),
    dev("skim-mba",                       Mac,       Laptop,     109, State::Stale(12.7, false),     false,  3),
    dev("SALES-LT-0051",                  Win7,      Laptop,     110, Healthy,                       false,  1),
    dev("kmurphy-mba",                    Mac,       Laptop,     110, Healthy,                       false,  3),
    dev("SALES-LT-0063",                  Win7,      Laptop,     110, Healthy,                       false,  3),
];

struct Org {
    id: i64,
    name: &'static str,
    parent_id: Option<i64>,
    registration_key: &'static str,
    seats: u64,
    /// Size quota in GB; `None` = computed so that the org is close to it.
    quota_gb: Option<u64>,
    age_days: f64,
}

const ORGS: &[Org] = &[
    Org {
        id: 2,
        name: "Acme Corp",
        parent_id: None,
        registration_key: "K7QW-3MPD-X9TR-2HBN",
        seats: 80,
        quota_gb: Some(12_000),
        age_days: 1_460.0,
    },
    Org {
        id: 3,
        name: "Engineering",
        parent_id: Some(2),
        registration_key: "R4VZ-8JNC-6TQP-M2XW",
        seats: 30,
        quota_gb: Some(8_000),
        age_days: 1_421.0,
    },
    Org {
        id: 4,
        name: "Finance",
        parent_id: Some(2),
        registration_key: "W2HM-9RKT-4PQJ-7ZCN",
        seats: 12,
        quota_gb: Some(1_500),
        age_days: 1_398.0,
    },
    Org {
        id: 5,
        name: "Field Sales",
        parent_id: Some(2),
        registration_key: "P8TX-5WNR-3KJM-Q6VD",
        seats: 8,
        quota_gb: None,
        age_days: 903.0,
    },
];

struct User {
    id: i64,
    first: &'static str,
    last: &'static str,
    email: &'static str,
    org_id: i64,
    active: bool,
    quota_gb: u64,
}

const fn user(
    id: i64,
    first: &'static str,
    last: &'static str,
    email: &'static str,
    org_id: i64,
    active: bool,
    quota_gb: u64,
) -> User {
    User {
        id,
        first,
        last,
        email,
        org_id,
        active,
        quota_gb,
    }
}

#[rustfmt::skip]
const USERS: &[User] = &[
    //    id   first     last         email                          org  active quota (GB)
    user(101, "Dana",   "Whitfield", "dana.whitfield@acme.example", 2, true,  6_000),
    user(102, "Maria",  "Gonzalez",  "maria.gonzalez@acme.example", 2, true,  500),
    user(103, "James",  "Chen",      "james.chen@acme.example",     3, true,  1_000),
    user(104, "Priya",  "Patel",     "priya.patel@acme.example",    3, true,  500),
    user(105, "Build",  "Service",   "svc-build@acme.example",      3, true,  6_000),
    user(106, "Tom",    "Becker",    "tom.becker@acme.example",     3, true,  1_000),
    user(107, "Linda",  "Okafor",    "linda.okafor@acme.example",   4, true,  250),
    user(108, "Robert", "Hughes",    "robert.hughes@acme.example",  4, true,  500),
    user(109, "Sarah",  "Kim",       "sarah.kim@acme.example",      5, true,  250),
    user(110, "Kevin",  "Murphy",    "kevin.murphy@acme.example",   5, true,  250),
    user(111, "Alan",   "Price",     "alan.price@acme.example",     4, false, 250),
    user(112, "Emily",  "Novak",     "emily.novak@acme.example",    2, true,  250),
];

/// Backup figures of one source towards one destination.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    selected_files: u64,
    selected_bytes: u64,
    todo_files: u64,
    todo_bytes: u64,
    archive_bytes: u64,
    daily_change: u64,
    month_change: u64,
}

impl Figures {
    fn add(&mut self, o: &Figures) {
        self.selected_files += o.selected_files;
        self.selected_bytes += o.selected_bytes;
        self.todo_files += o.todo_files;
        self.todo_bytes += o.todo_bytes;
        self.archive_bytes += o.archive_bytes;
        self.daily_change += o.daily_change;
        self.month_change += o.month_change;
    }
}

fn ago(now: DateTime<Utc>, seconds: f64) -> DateTime<Utc> {
    now - chrono::Duration::milliseconds((seconds * 1000.0).round() as i64)
}

fn local(t: DateTime<Utc>) -> Value {
    Value::String(server_timestamp(t))
}

fn zulu(t: DateTime<Utc>) -> Value {
    Value::String(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn between(rng: &mut fastrand::Rng, lo: f64, hi: f64) -> f64 {
    lo + rng.f64() * (hi - lo)
}

/// A GUID as the server writes it: a positive 64-bit integer far above 2^53 (18 digits), which a
/// double cannot hold exactly.
fn guid(rng: &mut fastrand::Rng, taken: &mut Vec<u64>) -> u64 {
    loop {
        let g = rng.u64(100_000_000_000_000_000..=899_999_999_999_999_999);
        if (g as f64) as u64 != g && !taken.contains(&g) {
            taken.push(g);
            return g;
        }
    }
}

/// The demo fleet, with every time relative to `now`.
pub fn demo_fleet(now: DateTime<Utc>) -> Dataset {
    let mut rng = fastrand::Rng::with_seed(SEED);
    let mut guids = Vec::new();

    let primary_guid = guid(&mut rng, &mut guids);
    let offsite_guid = guid(&mut rng, &mut guids);

    let user_age: Vec<(i64, f64)> = USERS
        .iter()
        .map(|u| {
            let org_age = ORGS
                .iter()
                .find(|o| o.id == u.org_id)
                .map_or(900.0, |o| o.age_days);
            (u.id, between(&mut rng, 120.0, org_age - 10.0))
        })
        .collect();
    let user_age_of = |id: i64| {
        user_age
            .iter()
            .find(|(u, _)| *u == id)
            .map_or(365.0, |(_, a)| *a)
    };
    let org_of_user = |id: i64| USERS.iter().find(|u| u.id == id).map_or(2, |u| u.org_id);

    let mut computers = Vec::new();
    let mut usages = Vec::new();
    // Figures towards the primary server, per client: (computer index, figures).
    let mut primary: Vec<(usize, Figures)> = Vec::new();
    let mut connected_clients = 0u64;
    let mut sessions = 0u64;

    // The two destinations, listed among the computers.
    for (id, name, g, age, address) in [
        (
            PRIMARY_SERVER_ID,
            PRIMARY_SERVER_NAME,
            primary_guid,
            1_460.0,
            "10.20.0.15",
        ),
        (
            OFFSITE_SERVER_ID,
            OFFSITE_SERVER_NAME,
            offsite_guid,
            1_102.0,
            "198.51.100.40",
        ),
    ] {
        computers.push(json!({
            "id": id,
            "name": name,
            "guid": g,
            "status": "Active",
            "alertStates": ["OK"],
            "userId": 101,
            "mountPointId": null,
            "creationDate": local(ago(now, age * DAY)),
            "modificationDate": local(ago(now, between(&mut rng, 2.0, 30.0) * DAY)),
            "osName": "Linux",
            "osVersion": "2.6.32-24-server",
            "osArch": "amd64",
            "remoteAddress": address,
            "javaVersion": "1.6.0_20",
            "timeZone": "America/Chicago",
            "version": "3.8.2010",
            "serverBackupStats": null,
        }));
    }

    for (index, d) in DEVICES.iter().enumerate() {
        let id = 11 + index as i64;
        let g = guid(&mut rng, &mut guids);
        let org_id = org_of_user(d.user_id);

        // Size of the backup selection.
        let (lo, hi, file_lo, file_hi) = match d.kind {
            Laptop => (25 * GB, 140 * GB, 250_000, 1_100_000),
            Desktop => (60 * GB, 350 * GB, 300_000, 1_500_000),
            Server => (40 * GB, 420 * GB, 60_000, 400_000),
            FileServer => (1_200 * GB, 2_400 * GB, 900_000, 2_000_000),
        };
        let selected_bytes = rng.u64(lo..hi);
        let selected_files = selected_bytes / rng.u64(file_lo..file_hi);
        // Stored size / selected size; compressionRate is 100 * (1 - ratio), as in the document
        // (706201 stored of 2247629 selected = 68.6 %).
        let ratio = between(&mut rng, 0.38, 0.93);

        // Ages and times.
        let created_days = match d.state {
            State::NeverBackedUp => 3.0 / 24.0,
            _ => between(&mut rng, 30.0, user_age_of(d.user_id) - 1.0),
        };
        let (last_activity_s, connected, source_last_connected_s) = match d.state {
            Healthy => {
                let activity = between(&mut rng, 4.0 * MINUTE, 4.5 * HOUR);
                let connected = d.kind != Laptop || rng.f64() < 0.7;
                let last = if connected {
                    between(&mut rng, 0.0, 3.0 * MINUTE)
                } else {
                    activity - between(&mut rng, 0.0, 6.0 * MINUTE).min(activity)
                };
                (Some(activity), connected, last)
            }
            State::Blocked => (Some(35.0 * MINUTE), true, 40.0),
            State::InProgress => (Some(2.0 * MINUTE), true, 25.0),
            State::NeverBackedUp => (None, true, 70.0),
            State::Stale(days, true) => (Some(days * DAY), true, 2.0 * MINUTE),
            State::Stale(days, false) | State::LongAlert(days) | State::Deactivated(days) => {
                let activity = days * DAY;
                (Some(activity), false, activity - 7.0 * MINUTE)
            }
        };
        // The source's last connection to this destination.
        let last_connected_s = match last_activity_s {
            Some(a) if !connected => source_last_connected_s.min(a),
            _ => source_last_connected_s + between(&mut rng, 0.0, 50.0),
        };

        let mut f = Figures {
            selected_files,
            selected_bytes,
            ..Figures::default()
        };
        match d.state {
            State::NeverBackedUp => {
                f.todo_files = selected_files;
                f.todo_bytes = selected_bytes;
            }
            State::InProgress => {
                f.todo_bytes = selected_bytes * 113 / 1000;
                f.todo_files = selected_files * 87 / 1000;
                f.archive_bytes = ((selected_bytes - f.todo_bytes) as f64 * ratio) as u64;
            }
            _ => f.archive_bytes = (selected_bytes as f64 * ratio) as u64,
        }
        if matches!(d.state, Healthy | State::Blocked | State::InProgress) {
            f.daily_change = (f.archive_bytes as f64 * between(&mut rng, 0.0008, 0.006)) as u64;
            f.month_change = (f.daily_change as f64 * between(&mut rng, 22.0, 34.0)) as u64;
        }
        let percent_complete: Value = if f.todo_bytes == 0 {
            json!(100)
        } else {
            json!(round1(
                (selected_bytes - f.todo_bytes) as f64 * 100.0 / selected_bytes as f64
            ))
        };
        let compression_rate = if f.archive_bytes == 0 {
            0.0
        } else {
            round1((1.0 - f.archive_bytes as f64 / (selected_bytes - f.todo_bytes) as f64) * 100.0)
        };

        let (computer_alert, usage_alert) = match d.state {
            State::Stale(..) => (json!(["WARN"]), json!([])),
            State::LongAlert(_) => (json!(["ALERT"]), json!(["ALERT"])),
            _ if d.name == OFFSITE_FAILING_DEVICE => (json!(["ALERT"]), json!([])),
            _ => (json!(["OK"]), json!([])),
        };
        let (status, source_status, is_using) = match d.state {
            State::Deactivated(_) => ("Deactivated", "Deactivated", false),
            State::Blocked => ("Active", "Blocked,Active", true),
            _ => ("Active", "Active", true),
        };
        let version = match d.state {
            State::LongAlert(_) | State::Deactivated(_) => "11.5.2009",
            _ if index % 9 == 4 => "1.26.2010",
            _ => "3.8.2010",
        };
        let (os_name, os_version, os_arch, java) = match d.os {
            Win7 => (
                "Windows 7",
                "6.1",
                if index % 3 == 0 { "x86" } else { "amd64" },
                "1.6.0_20",
            ),
            WinXp => ("Windows XP", "5.1", "x86", "1.6.0_17"),
            WinServer => ("Windows Server 2008 R2", "6.1", "amd64", "1.6.0_20"),
            Mac => (
                "Mac OS X",
                if index % 4 == 0 { "10.5.8" } else { "10.6.4" },
                "x86_64",
                "1.6.0_22",
            ),
            Linux => (
                "Linux",
                if d.kind == Laptop {
                    "2.6.32-24-generic"
                } else {
                    "2.6.32-24-server"
                },
                "amd64",
                "1.6.0_18",
            ),
        };
        let time_zone = match (org_id, d.os) {
            (5, _) => "America/New_York",
            (_, Linux) => "SystemV/CST6CDT",
            _ => "America/Chicago",
        };
        let remote_address = match d.kind {
            Laptop if !connected => format!("172.16.{}.{}", 8 + index % 4, 20 + index),
            _ => format!("10.20.{}.{}", 1 + org_id, 30 + index),
        };

        let last_activity = last_activity_s.map(|s| ago(now, s));
        // The last completed backup to this server: the last activity, unless a backup is in
        // progress.
        let last_backup = match d.state {
            State::InProgress => Some(ago(now, IN_PROGRESS_LAST_BACKUP_HOURS * HOUR)),
            _ => last_activity,
        };
        let last_connected = ago(now, last_connected_s);
        let source_last_connected = ago(now, source_last_connected_s);
        let modified_days = match d.state {
            State::Deactivated(days) => days,
            State::NeverBackedUp => 3.0 / 24.0,
            _ => between(&mut rng, 0.5, created_days.min(40.0)),
        };

        computers.push(json!({
            "id": id,
            "name": d.name,
            "guid": g,
            "status": status,
            "alertStates": computer_alert,
            "userId": d.user_id,
            "mountPointId": d.mount_point_id,
            "creationDate": local(ago(now, created_days * DAY)),
            "modificationDate": local(ago(now, modified_days * DAY)),
            "osName": os_name,
            "osVersion": os_version,
            "osArch": os_arch,
            "remoteAddress": remote_address,
            "javaVersion": java,
            "timeZone": time_zone,
            "version": version,
            "serverBackupStats": {
                "numberSelected": f.selected_files,
                "selectedBytes": f.selected_bytes,
                "percentComplete": percent_complete,
                "archiveBytes": f.archive_bytes,
                "compressionRate": compression_rate,
                "connected": connected,
                "lastBackup": last_backup.map_or(Value::Null, zulu),
                "lastConnected": zulu(last_connected),
            },
        }));

        usages.push(json!({
            "sourceId": id,
            "sourceGuid": g,
            "sourceConnectedToServer": connected,
            "sourceLastConnectedToServer": local(source_last_connected),
            "sourceStatus": source_status,
            "sourceUserId": d.user_id,
            "sourceOrgId": org_id,
            "targetId": PRIMARY_SERVER_ID,
            "targetGuId": primary_guid,
            "selectedFiles": f.selected_files,
            "selectedBytes": f.selected_bytes,
            "todoFiles": f.todo_files,
            "todoBytes": f.todo_bytes,
            "archiveBytes": f.archive_bytes,
            "lastConnected": local(last_connected),
            "lastActivity": last_activity.map_or(Value::Null, local),
            "isUsing": is_using,
            "alertStates": usage_alert,
        }));

        if d.offsite {
            // Replicated to the offsite destination a few times a day.
            let activity = ago(now, between(&mut rng, 1.0 * HOUR, 11.0 * HOUR));
            let failing = d.name == OFFSITE_FAILING_DEVICE;
            let activity = if failing {
                ago(now, 9.0 * DAY)
            } else {
                activity
            };
            let offsite_connected =
                activity + chrono::Duration::seconds(rng.i64(5..300)).min(now - activity);
            let offsite_ratio = (ratio * between(&mut rng, 0.97, 1.05)).min(0.99);
            usages.push(json!({
                "sourceId": id,
                "sourceGuid": g,
                "sourceConnectedToServer": connected,
                "sourceLastConnectedToServer": local(source_last_connected),
                "sourceStatus": source_status,
                "sourceUserId": d.user_id,
                "sourceOrgId": org_id,
                "targetId": OFFSITE_SERVER_ID,
                "targetGuId": offsite_guid,
                "selectedFiles": f.selected_files,
                "selectedBytes": f.selected_bytes,
                "todoFiles": 0,
                "todoBytes": 0,
                "archiveBytes": (f.selected_bytes as f64 * offsite_ratio) as u64,
                "lastConnected": zulu(offsite_connected),
                "lastActivity": zulu(activity),
                "isUsing": true,
                "alertStates": if failing { json!(["ALERT"]) } else { json!([]) },
            }));
        }

        if connected && status == "Active" {
            connected_clients += 1;
        }
        if connected && f.todo_bytes > 0 && last_activity.is_some() {
            sessions += 1;
        }
        primary.push((index, f));
    }

    // Users and orgs: aggregates of their computers' figures towards the primary server.
    let user_figures = |user_id: i64| {
        let mut total = Figures::default();
        for (index, f) in &primary {
            if DEVICES[*index].user_id == user_id {
                total.add(f);
            }
        }
        total
    };
    let users: Vec<Value> = USERS
        .iter()
        .map(|u| {
            let f = user_figures(u.id);
            let age = user_age_of(u.id);
            let modified = if u.active {
                between(&mut rng, 1.0, 60.0)
            } else {
                64.0
            };
            json!({
                "id": u.id,
                "status": if u.active { "Active" } else { "Deactivated" },
                "email": u.email,
                "firstName": u.first,
                "lastName": u.last,
                "orgId": u.org_id,
                "creationDate": local(ago(now, age * DAY)),
                "modificationDate": local(ago(now, modified.min(age) * DAY)),
                "selectedFiles": f.selected_files,
                "selectedBytes": f.selected_bytes,
                "todoFiles": f.todo_files,
                "todoBytes": f.todo_bytes,
                "archiveBytes": f.archive_bytes,
                "archiveBytesDelta": f.daily_change,
                "archiveBytesDeltaMonth": f.month_change,
                "dailyChange": f.daily_change,
                "quota": {"bytes": u.quota_gb},
            })
        })
        .collect();
    let orgs: Vec<Value> = ORGS
        .iter()
        .map(|o| {
            let mut f = Figures::default();
            for u in USERS.iter().filter(|u| u.org_id == o.id) {
                f.add(&user_figures(u.id));
            }
            // Field Sales sits at about 90 % of its quota, whether a "gigabyte" is 10^9 or 2^30.
            let quota_gb = o
                .quota_gb
                .unwrap_or_else(|| (f.archive_bytes as f64 / GB as f64 / 0.9).ceil() as u64);
            json!({
                "id": o.id,
                "name": o.name,
                "status": "Active",
                "creationDate": local(ago(now, o.age_days * DAY)),
                "modificationDate": local(ago(now, between(&mut rng, 3.0, 200.0) * DAY)),
                "parentId": o.parent_id,
                "registrationKey": o.registration_key,
                "masterGuid": null,
                "selectedFiles": f.selected_files,
                "selectedBytes": f.selected_bytes,
                "todoFiles": f.todo_files,
                "todoBytes": f.todo_bytes,
                "archiveBytes": f.archive_bytes,
                "archiveBytesDelta": f.daily_change,
                "archiveBytesDeltaMonth": f.month_change,
                "dailyChange": f.daily_change,
                "quota": {"seats": o.seats, "bytes": quota_gb},
            })
        })
        .collect();

    // Mount points of the primary server, sized from the archives they hold.
    let mount_points: Vec<Value> = [
        (1, "manifest", "manifest", None, None, 6.4, 1_460.0),
        (2, "store2", "store2", Some("SAN LUN 7"), None, 38.5, 602.0),
        (
            3,
            "store3",
            "store3",
            Some("New shelf, added after manifest filled up"),
            Some(87_431_987u64),
            81.2,
            141.0,
        ),
    ]
    .into_iter()
    .map(|(id, name, label, note, speed, percent_free, age)| {
        let archives: u64 = primary
            .iter()
            .filter(|(index, _)| DEVICES[*index].mount_point_id == id)
            .map(|(_, f)| f.archive_bytes)
            .sum();
        // Archive maintenance overhead on top of the archives themselves.
        let used = archives + archives / 40;
        let total = ((used as f64 / (1.0 - percent_free / 100.0)) as u64) & !4095;
        let free = total - used;
        json!({
            "id": id,
            "name": name,
            "status": "ENABLED",
            "type": "DIR",
            "volumeLabel": label,
            "note": note,
            "bytesPerSecond": speed,
            "creationDate": local(ago(now, age * DAY)),
            "modificationDate": local(ago(now, age * DAY - 3_600.0)),
            "bytesTotal": total,
            "bytesUsed": used,
            "bytesFree": free,
            "percentFree": round1(free as f64 * 100.0 / total as f64),
        })
    })
    .collect();

    let current: u64 = primary.iter().map(|(_, f)| f.archive_bytes).sum();
    let month: u64 = primary.iter().map(|(_, f)| f.month_change).sum();
    let seats = DEVICES
        .iter()
        .filter(|d| !matches!(d.state, State::Deactivated(_)))
        .count();
    let uptime_ms: u64 = 535_680_000 + 1_234_567; // "6.2 days"
    let server_stats = json!({
        "currentArchiveBytes": current,
        "previousMonthArchiveBytes": current - month,
        "orgCount": ORGS.len(),
        "seatCount": seats,
        "version": "3.8.2010",
        "backupSessionCount": sessions,
        "connectedClientCount": connected_clients,
        "hostName": PRIMARY_SERVER_NAME,
        "hostPort": 4242,
        "hostAddresses": ["10.20.0.15", "203.0.113.15"],
        "hostMemoryTotal": "7.9 GB",
        "hostMemoryFree": "412.6 MB",
        "hostMemoryCached": "3.1 GB",
        "engineMemoryTotal": "3.6 GB",
        "engineMemoryFree": "1.8 GB",
        "cpuUtilization": "23%",
        "uptime": "6.2 days",
        "uptimeMilliseconds": uptime_ms,
        "load": "0.84, 0.91, 0.97",
        "diskTotal": "89.2 GB",
        "diskFree": "31.4 GB",
        "diskUtilization": "65%",
    });

    Dataset {
        orgs,
        users,
        computers,
        usages,
        mount_points,
        server_stats: Some(server_stats),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Simulator;
    use crate::sources::crashplan::sim::{SimConfig, SimServer, USAGE_KEYS};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-14T15:09:26.535Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn fleet() -> Dataset {
        demo_fleet(now())
    }

    fn time(v: &Value) -> Option<DateTime<Utc>> {
        v.as_str().map(|s| {
            DateTime::parse_from_rfc3339(s)
                .unwrap_or_else(|e| panic!("{s}: {e}"))
                .with_timezone(&Utc)
        })
    }

    fn days_ago(v: &Value) -> Option<f64> {
        time(v).map(|t| (now() - t).num_milliseconds() as f64 / 86_400_000.0)
    }

    fn computer<'a>(d: &'a Dataset, name: &str) -> &'a Value {
        d.computers
            .iter()
            .find(|c| c["name"] == json!(name))
            .unwrap_or_else(|| panic!("no computer {name}"))
    }

    /// The usage of `name` towards the primary server.
    fn usage<'a>(d: &'a Dataset, name: &str) -> &'a Value {
        let id = computer(d, name)["id"].clone();
        d.usages
            .iter()
            .find(|u| u["sourceId"] == id && u["targetId"] == json!(PRIMARY_SERVER_ID))
            .unwrap_or_else(|| panic!("no usage for {name}"))
    }

    fn clients(d: &Dataset) -> impl Iterator<Item = &Value> {
        d.computers
            .iter()
            .filter(|c| c["id"] != json!(PRIMARY_SERVER_ID) && c["id"] != json!(OFFSITE_SERVER_ID))
    }

    #[test]
    fn deterministic_and_relative_to_now() {
        let a = fleet();
        let b = fleet();
        assert_eq!(
            serde_json::to_string(&a.usages).unwrap(),
            serde_json::to_string(&b.usages).unwrap()
        );
        assert_eq!(a.computers, b.computers);
        assert_eq!(a.orgs, b.orgs);
        let later = demo_fleet(now() + chrono::Duration::hours(1));
        let shift = |v: &Value| time(v).unwrap();
        for (x, y) in a.usages.iter().zip(&later.usages) {
            assert_eq!(x["sourceGuid"], y["sourceGuid"]);
            assert_eq!(
                shift(&y["sourceLastConnectedToServer"]) - shift(&x["sourceLastConnectedToServer"]),
                chrono::Duration::hours(1)
            );
        }
    }

    #[test]
    fn every_usage_has_exactly_the_documented_keys() {
        let d = fleet();
        let mut expected: Vec<&str> = USAGE_KEYS.to_vec();
        expected.sort_unstable();
        for u in &d.usages {
            let mut keys: Vec<&str> = u.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, expected, "{u}");
            assert!(u["alertStates"].is_array());
            assert!(u["isUsing"].is_boolean() && u["sourceConnectedToServer"].is_boolean());
            for k in ["sourceLastConnectedToServer", "lastConnected"] {
                assert!(time(&u[k]).unwrap() <= now(), "{k} in the future: {u}");
            }
            assert!(u["lastActivity"].is_null() || time(&u["lastActivity"]).unwrap() <= now());
        }
    }

    #[test]
    fn shape_of_the_fleet() {
        let d = fleet();
        assert_eq!(d.orgs.len(), 4);
        assert!(d.orgs.iter().any(|o| o["parentId"].is_null()));
        assert!(d.orgs.iter().filter(|o| o["parentId"] == json!(2)).count() >= 2);
        for o in &d.orgs {
            assert!(
                o["quota"]["bytes"].is_u64() && o["quota"]["seats"].is_u64(),
                "{o}"
            );
        }
        let sales = d
            .orgs
            .iter()
            .find(|o| o["id"] == json!(NEAR_QUOTA_ORG_ID))
            .unwrap();
        let used = sales["archiveBytes"].as_u64().unwrap() as f64;
        let quota_gib = sales["quota"]["bytes"].as_u64().unwrap() as f64 * (1u64 << 30) as f64;
        assert!((0.85..1.0).contains(&(used / quota_gib)));

        assert!((10..=12).contains(&d.users.len()));
        for u in &d.users {
            assert!(u["email"].as_str().unwrap().contains('@'));
            assert!(d.orgs.iter().any(|o| o["id"] == u["orgId"]));
        }

        assert_eq!(clients(&d).count(), 40);
        let os = |name: &str| {
            clients(&d)
                .filter(|c| c["osName"].as_str().unwrap().starts_with(name))
                .count()
        };
        assert!(os("Windows") >= 10 && os("Mac OS X") >= 5 && os("Linux") >= 5);
        for c in &d.computers {
            assert!(d.users.iter().any(|u| u["id"] == c["userId"]), "{c}");
        }

        // GUIDs: distinct, above 2^53, not representable as doubles.
        let mut guids: Vec<u64> = d
            .computers
            .iter()
            .map(|c| c["guid"].as_u64().unwrap())
            .collect();
        for g in &guids {
            assert!(*g > 1 << 53);
            assert_ne!((*g as f64) as u64, *g);
        }
        guids.sort_unstable();
        guids.dedup();
        assert_eq!(guids.len(), d.computers.len());

        // Usages point at the two destination computers, with their GUIDs.
        let guid_of =
            |id: i64| d.computers.iter().find(|c| c["id"] == json!(id)).unwrap()["guid"].clone();
        for u in &d.usages {
            let target = u["targetId"].as_i64().unwrap();
            assert!(target == PRIMARY_SERVER_ID || target == OFFSITE_SERVER_ID);
            assert_eq!(u["targetGuId"], guid_of(target));
            let source = d
                .computers
                .iter()
                .find(|c| c["id"] == u["sourceId"])
                .unwrap();
            assert_eq!(u["sourceGuid"], source["guid"]);
            assert_eq!(u["sourceUserId"], source["userId"]);
        }
        assert_eq!(
            d.usages
                .iter()
                .filter(|u| u["targetId"] == json!(PRIMARY_SERVER_ID))
                .count(),
            40
        );
        let offsite: Vec<&Value> = d
            .usages
            .iter()
            .filter(|u| u["targetId"] == json!(OFFSITE_SERVER_ID))
            .collect();
        assert_eq!(offsite.len(), OFFSITE_DEVICES.len());
        for name in OFFSITE_DEVICES {
            let id = &computer(&d, name)["id"];
            assert!(offsite.iter().any(|u| &u["sourceId"] == id), "{name}");
        }

        // Both timestamp forms occur.
        let all: Vec<&str> = d
            .usages
            .iter()
            .filter_map(|u| u["lastActivity"].as_str())
            .collect();
        assert!(all.iter().any(|t| t.ends_with("-05:00")));
        assert!(all.iter().any(|t| t.ends_with('Z')));

        // Most devices are healthy.
        let healthy = clients(&d)
            .filter(|c| {
                let u = usage(&d, c["name"].as_str().unwrap());
                c["alertStates"] == json!(["OK"])
                    && u["todoBytes"] == json!(0)
                    && days_ago(&u["lastActivity"]).is_some_and(|days| days < 0.25)
            })
            .count();
        assert!(healthy >= 30, "{healthy}");
    }

    #[test]
    fn the_documented_special_devices() {
        let d = fleet();
        for name in STALE_DEVICES {
            let c = computer(&d, name);
            let days = days_ago(&usage(&d, name)["lastActivity"]).unwrap();
            assert!((4.0..=20.0).contains(&days), "{name}: {days}");
            assert_eq!(c["alertStates"], json!(["WARN"]), "{name}");
        }

        let alert: Vec<&Value> = d
            .computers
            .iter()
            .filter(|c| c["alertStates"] == json!(["ALERT"]))
            .collect();
        let mut alert = alert;
        alert.sort_by_key(|c| c["name"] != json!(LONG_ALERT_DEVICE));
        assert_eq!(alert.len(), 2);
        assert_eq!(alert[0]["name"], json!(LONG_ALERT_DEVICE));
        assert_eq!(alert[1]["name"], json!(OFFSITE_FAILING_DEVICE));
        let mut with_alerts: Vec<&Value> = d
            .usages
            .iter()
            .filter(|u| !u["alertStates"].as_array().unwrap().is_empty())
            .collect();
        with_alerts.sort_by_key(|u| u["sourceId"] != alert[0]["id"]);
        assert_eq!(with_alerts.len(), 2);
        assert_eq!(with_alerts[0]["sourceId"], alert[0]["id"]);
        assert!(days_ago(&with_alerts[0]["lastActivity"]).unwrap() > 30.0);
        // One failing destination, one healthy: only the offsite usage is in ALERT.
        assert_eq!(with_alerts[1]["sourceId"], alert[1]["id"]);
        assert_eq!(with_alerts[1]["targetId"], json!(OFFSITE_SERVER_ID));
        assert!(days_ago(&with_alerts[1]["lastActivity"]).unwrap() > 8.0);
        let primary = d
            .usages
            .iter()
            .find(|u| u["sourceId"] == alert[1]["id"] && u["targetId"] == json!(PRIMARY_SERVER_ID))
            .unwrap();
        assert!(days_ago(&primary["lastActivity"]).unwrap() < 1.0);

        // The busy device's last completed backup is older than its activity.
        let busy = computer(&d, IN_PROGRESS_DEVICE);
        let last_backup = days_ago(&busy["serverBackupStats"]["lastBackup"]).unwrap();
        assert!((last_backup * 24.0 - IN_PROGRESS_LAST_BACKUP_HOURS).abs() < 0.01);

        let never: Vec<&Value> = d
            .usages
            .iter()
            .filter(|u| u["lastActivity"].is_null())
            .collect();
        assert_eq!(never.len(), 1);
        let u = never[0];
        assert_eq!(u["sourceId"], computer(&d, NEVER_BACKED_UP_DEVICE)["id"]);
        assert_eq!(u["archiveBytes"], json!(0));
        assert_eq!(u["todoBytes"], u["selectedBytes"]);
        assert_eq!(u["todoFiles"], u["selectedFiles"]);
        assert!(u["selectedBytes"].as_u64().unwrap() > 0);
        let stats = &computer(&d, NEVER_BACKED_UP_DEVICE)["serverBackupStats"];
        assert!(stats["lastBackup"].is_null());

        let u = usage(&d, IN_PROGRESS_DEVICE);
        assert!(u["todoBytes"].as_u64().unwrap() > 0);
        assert!(u["archiveBytes"].as_u64().unwrap() > 0);
        assert!(days_ago(&u["lastActivity"]).unwrap() < 0.01);
        let in_progress = d
            .usages
            .iter()
            .filter(|u| u["todoBytes"] != json!(0) && !u["lastActivity"].is_null())
            .count();
        assert_eq!(in_progress, 1);

        let blocked: Vec<&Value> = d
            .usages
            .iter()
            .filter(|u| u["sourceStatus"] == json!("Blocked,Active"))
            .collect();
        assert_eq!(blocked.len(), 1);
        assert_eq!(blocked[0]["sourceId"], computer(&d, BLOCKED_DEVICE)["id"]);

        let deactivated: Vec<&Value> = d
            .computers
            .iter()
            .filter(|c| c["status"] == json!("Deactivated"))
            .collect();
        assert_eq!(deactivated.len(), 1);
        assert_eq!(deactivated[0]["name"], json!(DEACTIVATED_DEVICE));
        let u = usage(&d, DEACTIVATED_DEVICE);
        assert_eq!(u["sourceStatus"], json!("Deactivated"));
        assert_eq!(u["isUsing"], json!(false));

        let u = usage(&d, OFFLINE_DEVICE);
        assert_eq!(u["sourceConnectedToServer"], json!(false));
        assert!(days_ago(&u["sourceLastConnectedToServer"]).unwrap() > 2.0);
        assert_eq!(
            computer(&d, OFFLINE_DEVICE)["serverBackupStats"]["connected"],
            json!(false)
        );
    }

    #[test]
    fn mount_points_and_server_stats() {
        let d = fleet();
        assert_eq!(d.mount_points.len(), 3);
        for m in &d.mount_points {
            let (total, used, free) = (
                m["bytesTotal"].as_u64().unwrap(),
                m["bytesUsed"].as_u64().unwrap(),
                m["bytesFree"].as_u64().unwrap(),
            );
            assert_eq!(total, used + free);
            assert!(m["percentFree"].is_f64());
        }
        let nearly_full: Vec<&Value> = d
            .mount_points
            .iter()
            .filter(|m| m["percentFree"].as_f64().unwrap() < 10.0)
            .collect();
        assert_eq!(nearly_full.len(), 1);
        assert_eq!(nearly_full[0]["id"], json!(NEARLY_FULL_MOUNT_POINT_ID));

        // The document's serverStats keys and value types.
        let doc: Value =
            serde_json::from_str(crate::sources::crashplan::sim::DOC_SERVER_STATS).unwrap();
        let stats = d.server_stats.as_ref().unwrap();
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(stats), keys(&doc));
        for (k, v) in doc.as_object().unwrap() {
            let kind = |v: &Value| match v {
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Array(_) => "array",
                _ => "other",
            };
            assert_eq!(kind(&stats[k]), kind(v), "{k}");
        }
        assert!(stats["hostMemoryFree"].as_str().unwrap().ends_with(" MB"));
        assert!(stats["cpuUtilization"].as_str().unwrap().ends_with('%'));
        assert_eq!(stats["load"].as_str().unwrap().split(", ").count(), 3);
        assert_eq!(stats["orgCount"], json!(4));
        assert_eq!(stats["seatCount"], json!(39));
        assert_eq!(stats["backupSessionCount"], json!(1));
    }

    #[tokio::test]
    async fn served_by_the_simulator_with_exact_guids() {
        let d = fleet();
        let guid = d.computers[20]["guid"].as_u64().unwrap();
        let server = SimServer::start(d, SimConfig::default()).await.unwrap();
        let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        let req = format!(
            "GET /rest/usages?offset=0&limit=100 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {}\r\n\r\n",
            crate::sources::crashplan::sim::basic_auth_header("admin", "admin")
        );
        tokio::io::AsyncWriteExt::write_all(&mut stream, req.as_bytes())
            .await
            .unwrap();
        let mut raw = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut raw)
            .await
            .unwrap();
        assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
        assert!(raw.contains(&format!(": {guid},")) || raw.contains(&format!(": {guid}\n")));
        let body: Value = serde_json::from_str(raw.split_once("\r\n\r\n").unwrap().1).unwrap();
        assert_eq!(body["metadata"]["count"], json!(45));
        server.shutdown().await;
    }
}
