//! The Freezer API's documents, read tolerantly: v2 (freezer-api 19.0.0, `WIRE.md` of the
//! project's test server) and v1 (the seed document) spell some fields differently, every
//! field is optional, numbers may come as strings, and `-1` means "never".
//!
//! One item that cannot be read (a time that is not a number, say) is skipped and counted as
//! a warning; it does not fail its list ([`Lenient`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::cron::{self, CronSchedule};
use crate::sources::values::{opt_flag, opt_id, opt_num, opt_text, Flag, Num, Time, Warnings};

/// An item of a list: read, or the reason it could not be (and its text, which keeps
/// unreadable items apart when pages are joined).
#[derive(Debug)]
pub enum Lenient<T> {
    Read(T),
    Unreadable { error: String, text: String },
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <&RawValue>::deserialize(d)?;
        if let Ok(v) = serde_json::from_str::<T>(raw.get()) {
            return Ok(Lenient::Read(v));
        }
        // Only an item that fails is read again, tracking the path, for the message.
        let mut de = serde_json::Deserializer::from_str(raw.get());
        Ok(match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Ok(v) => Lenient::Read(v),
            Err(e) => Lenient::Unreadable {
                error: e.to_string(),
                text: raw.get().to_owned(),
            },
        })
    }
}

/// A time in Unix seconds where `-1` (and 0) mean "never": `None`. Anything that is no number
/// is kept as unreadable, to be told when the item is checked.
fn opt_epoch<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Time>, D::Error> {
    Ok(match opt_num(d)? {
        Some(Num::Is(t)) if t > 0.0 => Some(Time::At(t)),
        Some(Num::Is(_)) | None => None,
        Some(Num::Unreadable(text)) => Some(Time::Unreadable(text)),
    })
}

/// A list that may be `null`.
fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// An object that may be `null`.
fn object<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

// ---- versions ---------------------------------------------------------------------------------

/// The API generation whose paths are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// `/v1/{collection}`: the token's project.
    V1,
    /// `/v2/{project_id}/{collection}`.
    V2,
}

/// `GET /` (300 Multiple Choices): `{"versions": [{"id": "v2", "status": "CURRENT", "links":
/// [{"href": ".../v2/", "rel": "self"}]}]}`; v1 servers say `"id": "1"` and `"/v1/"`.
#[derive(Debug, Deserialize)]
pub struct Versions {
    #[serde(default, deserialize_with = "list")]
    pub versions: Vec<VersionEntry>,
}

#[derive(Debug, Deserialize)]
pub struct VersionEntry {
    #[serde(default, deserialize_with = "opt_text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "list")]
    pub links: Vec<Link>,
}

#[derive(Debug, Deserialize)]
pub struct Link {
    #[serde(default, deserialize_with = "opt_text")]
    pub href: Option<String>,
}

impl VersionEntry {
    /// The generation this entry names, by its id (`v2`, `2`, `v2.0`), else by its link. The
    /// link's host is never used: it follows the request's Host header, not the proxy's.
    fn version(&self) -> Option<ApiVersion> {
        let by_id = self.id.as_deref().map(|id| {
            id.trim()
                .trim_start_matches(['v', 'V'])
                .split('.')
                .next()
                .unwrap_or("")
                .to_owned()
        });
        let by_link = || {
            self.links.iter().find_map(|l| {
                let href = l.href.as_deref()?;
                href.split('/').find_map(|seg| match seg {
                    "v1" | "v1.0" => Some("1".to_owned()),
                    "v2" | "v2.0" => Some("2".to_owned()),
                    _ => None,
                })
            })
        };
        match by_id.filter(|v| !v.is_empty()).or_else(by_link)?.as_str() {
            "1" => Some(ApiVersion::V1),
            "2" => Some(ApiVersion::V2),
            _ => None,
        }
    }
}

impl Versions {
    /// v2 when the server offers it, else v1; `None` when it offers neither.
    pub fn choose(&self) -> Option<ApiVersion> {
        let offered: Vec<ApiVersion> = self
            .versions
            .iter()
            .filter(|v| {
                !v.status
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("DELETED"))
            })
            .filter_map(VersionEntry::version)
            .collect();
        [ApiVersion::V2, ApiVersion::V1]
            .into_iter()
            .find(|v| offered.contains(v))
    }
}

// ---- backups ------------------------------------------------------------------------------------

/// A backup's record. v2: `{project_id, user_id, backup_id, status, backup_metadata}`; v1 has
/// no `status` (every record is `available`) and no `project_id`.
#[derive(Debug, Clone, Deserialize)]
pub struct Backup {
    #[serde(deserialize_with = "crate::sources::values::id")]
    pub backup_id: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub project_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    status: Option<String>,
    #[serde(default, deserialize_with = "object")]
    pub backup_metadata: BackupMetadata,
}

fn get_time(v: &Option<Time>) -> Option<f64> {
    v.as_ref().and_then(Time::get)
}

fn get_num(v: &Option<Num>) -> Option<f64> {
    v.as_ref().and_then(Num::get)
}

impl Backup {
    /// Drops (and tells `w`) the values that cannot be read or are implausible, once, so that
    /// every later reading sees only good ones.
    pub fn check(&mut self, w: &mut Warnings) {
        let id = self.backup_id.clone();
        self.backup_metadata
            .check(&|f: &str| format!("backups[{id}].backup_metadata.{f}"), w);
    }

    /// The record's status; the API's default, `available`, when it has none.
    pub fn status(&self) -> &str {
        match self.status.as_deref().map(str::trim) {
            None | Some("") => "available",
            Some(s) => s,
        }
    }
}

/// What the agent wrote about the backup. v2 agents write `hostname`, `time_stamp` and
/// `curr_backup_level`; the v1 document shows `host_name`, `timestamp` and `level`. Both are
/// read (the v2 spelling wins when a record has both). The size fields are not written by the
/// agent at all: they are optional.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BackupMetadata {
    #[serde(default, deserialize_with = "opt_text")]
    hostname: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    host_name: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub backup_name: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub container: Option<String>,
    #[serde(default, deserialize_with = "opt_epoch")]
    time_stamp: Option<Time>,
    #[serde(default, deserialize_with = "opt_epoch")]
    timestamp: Option<Time>,
    #[serde(default, deserialize_with = "opt_num")]
    curr_backup_level: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    level: Option<Num>,
    /// Added by freezer-scheduler; a manual agent run has none.
    #[serde(default, deserialize_with = "opt_text")]
    pub job_id: Option<String>,
    #[serde(default, deserialize_with = "opt_num")]
    pub backup_size_compressed: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    pub backup_size_uncompressed: Option<Num>,
    #[serde(default, deserialize_with = "opt_text")]
    pub client_os: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub client_version: Option<String>,
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl BackupMetadata {
    pub fn hostname(&self) -> Option<&str> {
        non_empty(&self.hostname).or_else(|| non_empty(&self.host_name))
    }
    /// When the backup was taken (Unix seconds).
    pub fn time(&self) -> Option<f64> {
        get_time(&self.time_stamp).or(get_time(&self.timestamp))
    }
    pub fn level(&self) -> Option<f64> {
        get_num(&self.curr_backup_level).or(get_num(&self.level))
    }
    pub fn size_compressed(&self) -> Option<f64> {
        get_num(&self.backup_size_compressed)
    }
    pub fn size_uncompressed(&self) -> Option<f64> {
        get_num(&self.backup_size_uncompressed)
    }

    /// Drops (and tells `w`) the values that cannot be read or are implausible, once.
    fn check(&mut self, at: &dyn Fn(&str) -> String, w: &mut Warnings) {
        w.keep_time(|| at("time_stamp"), &mut self.time_stamp);
        w.keep_time(|| at("timestamp"), &mut self.timestamp);
        w.keep_amount(|| at("curr_backup_level"), &mut self.curr_backup_level);
        w.keep_amount(|| at("level"), &mut self.level);
        w.keep_amount(
            || at("backup_size_compressed"),
            &mut self.backup_size_compressed,
        );
        w.keep_amount(
            || at("backup_size_uncompressed"),
            &mut self.backup_size_uncompressed,
        );
    }
    pub fn backup_name(&self) -> Option<&str> {
        non_empty(&self.backup_name)
    }
    pub fn job_id(&self) -> Option<&str> {
        non_empty(&self.job_id)
    }
}

// ---- jobs ---------------------------------------------------------------------------------------

/// A job. v2 has `job_actions` (full action documents); v1 a single `job_action`.
#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    #[serde(deserialize_with = "crate::sources::values::id")]
    pub job_id: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub project_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub client_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub session_id: Option<String>,
    #[serde(default, deserialize_with = "object")]
    pub job_schedule: JobSchedule,
    #[serde(default, deserialize_with = "list")]
    job_actions: Vec<JobAction>,
    #[serde(default)]
    job_action: Option<FreezerAction>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct JobAction {
    #[serde(default, deserialize_with = "object")]
    pub freezer_action: FreezerAction,
}

/// What an action does; only the keys that identify a backup are read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FreezerAction {
    #[serde(default, deserialize_with = "opt_text")]
    pub action: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub backup_name: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub hostname: Option<String>,
}

impl Job {
    /// The job's actions, v2 or v1.
    pub fn actions(&self) -> impl Iterator<Item = &FreezerAction> {
        self.job_actions
            .iter()
            .map(|a| &a.freezer_action)
            .chain(self.job_action.iter())
    }

    /// The backup names its `backup` actions write.
    pub fn backup_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .actions()
            .filter(|a| non_empty(&a.action).unwrap_or("backup") == "backup")
            .filter_map(|a| non_empty(&a.backup_name))
            .collect();
        names.dedup();
        names
    }

    /// The action kinds in order (`exec,backup`).
    pub fn action_kinds(&self) -> String {
        self.actions()
            .map(|a| non_empty(&a.action).unwrap_or("backup"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A host named by its actions.
    pub fn action_hostname(&self) -> Option<&str> {
        self.actions().find_map(|a| non_empty(&a.hostname))
    }
}

/// Where a job's last run lives. A job that never ran has no `status` and no `result` key;
/// `""` is what a start leaves (running, or just requested).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JobSchedule {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub event: Option<String>,
    #[serde(default, deserialize_with = "opt_epoch")]
    pub time_started: Option<Time>,
    #[serde(default, deserialize_with = "opt_epoch")]
    pub time_ended: Option<Time>,
    #[serde(default, deserialize_with = "opt_epoch")]
    pub time_created: Option<Time>,
    #[serde(default, deserialize_with = "opt_text")]
    pub schedule_interval: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub schedule_date: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub schedule_start_date: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub schedule_end_date: Option<String>,
    /// The cron-like keys (`schedule_hour`, `schedule_minute`, `schedule_day_of_week`...).
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// How a job is scheduled.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// Every so many seconds (`schedule_interval`: `"1 days"`, `"12 hours"`); `continuous`
    /// is 0.
    Every(f64),
    /// Cron-like fields (`schedule_hour`, ...): recurring, read by [`JobSchedule::cron`].
    Cron,
    /// Once, at `schedule_date`.
    Once,
    /// No schedule: runs when started.
    None,
    /// An interval that cannot be read.
    Unreadable(String),
}

impl Schedule {
    /// The `schedule` label: the interval as written, `cron`, `once` or `none`.
    pub fn label<'a>(&self, js: &'a JobSchedule) -> &'a str {
        match self {
            Schedule::Every(_) | Schedule::Unreadable(_) => {
                js.schedule_interval.as_deref().unwrap_or("")
            }
            Schedule::Cron => "cron",
            Schedule::Once => "once",
            Schedule::None => "none",
        }
    }
}

impl Job {
    /// Drops (and tells `w`) the values that cannot be read or are implausible, once.
    pub fn check(&mut self, w: &mut Warnings) {
        let id = self.job_id.clone();
        let at = |f: &str| format!("jobs[{id}].job_schedule.{f}");
        let js = &mut self.job_schedule;
        w.keep_time(|| at("time_started"), &mut js.time_started);
        w.keep_time(|| at("time_ended"), &mut js.time_ended);
        w.keep_time(|| at("time_created"), &mut js.time_created);
    }
}

impl JobSchedule {
    pub fn started(&self) -> Option<f64> {
        get_time(&self.time_started)
    }
    pub fn ended(&self) -> Option<f64> {
        get_time(&self.time_ended)
    }
    pub fn created(&self) -> Option<f64> {
        get_time(&self.time_created)
    }

    /// The kind of schedule, in freezer-scheduler's order: a `schedule_date` wins, then a
    /// `schedule_interval`, then the cron-like keys.
    pub fn schedule(&self) -> Schedule {
        if non_empty(&self.schedule_date).is_some() {
            return Schedule::Once;
        }
        if let Some(interval) = non_empty(&self.schedule_interval) {
            return match parse_interval(interval) {
                Some(s) => Schedule::Every(s),
                None => Schedule::Unreadable(interval.to_owned()),
            };
        }
        let cron = cron::KEYS.iter().any(|k| {
            self.other
                .get(*k)
                .is_some_and(|v| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty()))
        });
        if cron {
            Schedule::Cron
        } else {
            Schedule::None
        }
    }

    /// The cron-like keys read, with the start and end dates (`None`: the schedule is not
    /// cron-like).
    pub fn cron(&self) -> Result<Option<CronSchedule>, cron::Unreadable> {
        if self.schedule() != Schedule::Cron {
            return Ok(None);
        }
        CronSchedule::read(
            |k| self.other.get(k),
            self.schedule_start_date.as_deref(),
            self.schedule_end_date.as_deref(),
        )
    }

    /// The start and end dates as freezer-scheduler applies them (see [`cron::bounds`]).
    pub fn bounds(&self) -> Result<cron::Bounds, cron::Unreadable> {
        cron::bounds(
            self.schedule_start_date.as_deref(),
            self.schedule_end_date.as_deref(),
        )
    }

    /// The status as reported; absent and `""` are both no status.
    pub fn status(&self) -> Option<&str> {
        non_empty(&self.status)
    }

    /// The last run's result (`success`, `fail`, `aborted`), `Some("")` when a run started
    /// but has no result yet, `None` when the job never ran.
    pub fn result(&self) -> Option<&str> {
        let result = self.result.as_deref().map(str::trim)?;
        if result.is_empty() && self.time_started.is_none() {
            // A start requested on a job that never ran clears the result to "".
            return None;
        }
        Some(result)
    }

    /// Whether the scheduler will run the job again: not finished (`completed`), stopped or
    /// removed, and not asked to stop or be removed.
    pub fn active(&self) -> bool {
        let done = matches!(
            self.status().map(str::to_ascii_lowercase).as_deref(),
            Some("completed" | "stop" | "removed")
        );
        let stopping = matches!(
            non_empty(&self.event)
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("stop" | "remove")
        );
        !done && !stopping
    }
}

/// `"1 days"`, `"12 hours"`, `"30 minutes"`, `"2 weeks"`, `"continuous"` → seconds.
pub fn parse_interval(text: &str) -> Option<f64> {
    let t = text.trim().to_ascii_lowercase();
    if t == "continuous" {
        return Some(0.0);
    }
    let mut parts = t.split_whitespace();
    let n: f64 = parts.next()?.parse().ok()?;
    let unit = parts.next()?;
    if parts.next().is_some() || !n.is_finite() || n < 0.0 {
        return None;
    }
    let factor = match unit.trim_end_matches('s') {
        "second" | "sec" => 1.0,
        "minute" | "min" => 60.0,
        "hour" => 3600.0,
        "day" => 86_400.0,
        "week" => 604_800.0,
        _ => return None,
    };
    Some(n * factor)
}

// ---- clients ------------------------------------------------------------------------------------

/// A registered client (a freezer-scheduler): `{project_id, user_id, client: {...}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ClientRecord {
    #[serde(default, deserialize_with = "opt_text")]
    pub project_id: Option<String>,
    pub client: Client,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Client {
    #[serde(deserialize_with = "crate::sources::values::id")]
    pub client_id: String,
    #[serde(default, deserialize_with = "opt_text")]
    hostname: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub uuid: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "opt_flag")]
    pub is_central: Option<Flag>,
}

impl Client {
    pub fn hostname(&self) -> Option<&str> {
        non_empty(&self.hostname)
    }
}

// ---- sessions -----------------------------------------------------------------------------------

/// A session: jobs started together. Its own run fields are `time_start`/`time_end` (set by
/// session actions); `time_started`/`time_ended` stay `-1` on current servers.
#[derive(Debug, Clone, Deserialize)]
pub struct Session {
    #[serde(deserialize_with = "crate::sources::values::id")]
    pub session_id: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub project_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    status: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    result: Option<String>,
    #[serde(default, deserialize_with = "opt_epoch")]
    time_start: Option<Time>,
    #[serde(default, deserialize_with = "opt_epoch")]
    time_end: Option<Time>,
    #[serde(default, deserialize_with = "opt_epoch")]
    time_started: Option<Time>,
    #[serde(default, deserialize_with = "opt_epoch")]
    time_ended: Option<Time>,
    #[serde(default, deserialize_with = "object")]
    pub schedule: JobSchedule,
    #[serde(default, deserialize_with = "object")]
    pub jobs: BTreeMap<String, serde_json::Value>,
}

impl Session {
    /// Drops (and tells `w`) the values that cannot be read or are implausible, once.
    pub fn check(&mut self, w: &mut Warnings) {
        let id = self.session_id.clone();
        let at = |f: &str| format!("sessions[{id}].{f}");
        w.keep_time(|| at("time_start"), &mut self.time_start);
        w.keep_time(|| at("time_end"), &mut self.time_end);
        w.keep_time(|| at("time_started"), &mut self.time_started);
        w.keep_time(|| at("time_ended"), &mut self.time_ended);
    }

    pub fn status(&self) -> Option<&str> {
        non_empty(&self.status)
    }
    pub fn result(&self) -> Option<&str> {
        non_empty(&self.result)
    }
    pub fn started(&self) -> Option<f64> {
        get_time(&self.time_start).or(get_time(&self.time_started))
    }
    pub fn ended(&self) -> Option<f64> {
        get_time(&self.time_end).or(get_time(&self.time_ended))
    }
}

/// A page of a list: read whole when every item can be (one pass), else item by item, each
/// unreadable one kept as such.
pub fn decode_page<T: DeserializeOwned>(
    endpoint: &'static str,
    key: &'static str,
    body: &[u8],
) -> Result<Vec<Lenient<T>>, crate::sources::http::UpstreamError> {
    use crate::sources::http::decode_list;
    match decode_list::<T>(endpoint, key, body) {
        Ok(items) => Ok(items.into_iter().map(Lenient::Read).collect()),
        Err(_) => decode_list::<Lenient<T>>(endpoint, key, body),
    }
}

/// The items read of a list and the warnings for those that could not be.
pub fn readable<T>(
    endpoint: &str,
    items: Vec<Lenient<T>>,
    warnings: &mut crate::sources::values::Warnings,
) -> Vec<T> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Lenient::Read(v) => out.push(v),
            Lenient::Unreadable { error, .. } => {
                warnings.push(|| format!("{endpoint}: an item was skipped: {error}"))
            }
        }
    }
    out
}

/// The key that keeps items apart when pages are joined: the id, or an unreadable item's text.
pub fn item_key<T>(item: &Lenient<T>, id: impl Fn(&T) -> &str) -> String {
    match item {
        Lenient::Read(v) => id(v).to_owned(),
        Lenient::Unreadable { text, .. } => format!("\u{0}{text}"),
    }
}

impl<T> fmt::Display for Lenient<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lenient::Read(_) => f.write_str("read"),
            Lenient::Unreadable { error, .. } => write!(f, "unreadable: {error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_prefer_v2_and_ignore_the_link_host() {
        let v2: Versions = serde_json::from_str(
            r#"{"versions": [{"id": "v2", "status": "CURRENT", "updated": "2018-02-21T13:30:00",
                "links": [{"href": "http://10.0.0.1:9090/v2/", "rel": "self"}]}]}"#,
        )
        .unwrap();
        assert_eq!(v2.choose(), Some(ApiVersion::V2));
        let v1: Versions = serde_json::from_str(
            r#"{"versions": [{"id": "1", "links": [{"href": "/v1/", "rel": "self"}],
                "status": "CURRENT", "updated": "2015-03-23T13:45:00"}]}"#,
        )
        .unwrap();
        assert_eq!(v1.choose(), Some(ApiVersion::V1));
        let both: Versions = serde_json::from_str(
            r#"{"versions": [{"id": "v1", "status": "SUPPORTED", "links": []},
                             {"id": "v2", "status": "CURRENT", "links": []}]}"#,
        )
        .unwrap();
        assert_eq!(both.choose(), Some(ApiVersion::V2));
        let by_link: Versions = serde_json::from_str(
            r#"{"versions": [{"status": "CURRENT", "links": [{"href": "/v2/"}]}]}"#,
        )
        .unwrap();
        assert_eq!(by_link.choose(), Some(ApiVersion::V2));
        let none: Versions = serde_json::from_str(r#"{"versions": [{"id": "v3"}]}"#).unwrap();
        assert_eq!(none.choose(), None);
    }

    #[test]
    fn v1_and_v2_backup_spellings() {
        let v2: Backup = serde_json::from_str(
            r#"{"project_id": "p", "backup_id": "b1", "status": "error", "backup_metadata": {
                "hostname": "h1", "backup_name": "n", "time_stamp": 1795366508, "curr_backup_level": 5,
                "job_id": "j", "backup_size_compressed": 93371428, "ssh_port": ""}}"#,
        )
        .unwrap();
        assert_eq!(v2.status(), "error");
        let m = &v2.backup_metadata;
        assert_eq!(
            (m.hostname(), m.time(), m.level(), m.job_id()),
            (Some("h1"), Some(1_795_366_508.0), Some(5.0), Some("j"))
        );
        assert_eq!(m.size_compressed(), Some(93_371_428.0));
        assert_eq!(m.size_uncompressed(), None);
        let v1: Backup = serde_json::from_str(
            r#"{"backup_id": "b740ed9ad2b646aba304ef54c21c6774", "backup_metadata": {
                "backup_name": "important_data_backup", "host_name": "alpha", "level": 1,
                "timestamp": 123444324, "backup_size_compressed": "1212", "encrypted": "false"}}"#,
        )
        .unwrap();
        assert_eq!(v1.status(), "available");
        let m = &v1.backup_metadata;
        assert_eq!(
            (m.hostname(), m.time(), m.level()),
            (Some("alpha"), Some(123_444_324.0), Some(1.0))
        );
        assert_eq!(m.size_compressed(), Some(1212.0));
        assert_eq!(m.job_id(), None);
    }

    #[test]
    fn an_unreadable_item_is_skipped_not_fatal() {
        // An item whose identity cannot be read is skipped; a bad value is not (it is told
        // when the item is checked, and left absent).
        let items: Vec<Lenient<Backup>> = serde_json::from_str(
            r#"[{"backup_id": {"a": 1}, "backup_metadata": {"time_stamp": 5}},
                {"backup_id": "b", "backup_metadata": {"time_stamp": "yesterday"}}]"#,
        )
        .unwrap();
        let mut w = crate::sources::values::Warnings::default();
        let read = readable("backups", items, &mut w);
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].backup_id, "b");
        assert_eq!(w.count, 1);
        assert!(w.to_string().contains("backup_id"), "{w}");
        let mut b = read[0].clone();
        b.check(&mut w);
        assert_eq!(b.backup_metadata.time(), None);
        assert_eq!(w.of("backups.backup_metadata.time_stamp"), 1, "{w}");
    }

    #[test]
    fn pages_are_read_whole_or_item_by_item() {
        let good = br#"{"backups": [{"backup_id": "a"}, {"backup_id": "b"}]}"#;
        let items = decode_page::<Backup>("backups", "backups", good).unwrap();
        assert!(items.iter().all(|i| matches!(i, Lenient::Read(_))));
        let one_bad =
            br#"{"backups": [{"backup_id": 1.5, "backup_metadata": {"time_stamp": "x"}}, {"backup_id": "b"}]}"#;
        let items = decode_page::<Backup>("backups", "backups", one_bad).unwrap();
        assert!(matches!(items[0], Lenient::Unreadable { .. }));
        assert!(matches!(&items[1], Lenient::Read(b) if b.backup_id == "b"));
        let broken = br#"{"backups": [{"backup_id": "a"}, {"backup_"#;
        let err = decode_page::<Backup>("backups", "backups", broken).unwrap_err();
        assert_eq!(err.reason(), "parse");
    }

    #[test]
    fn job_schedules() {
        let never: Job = serde_json::from_str(
            r#"{"job_id": "j6", "job_schedule": {"time_created": 1795368424, "time_started": -1, "time_ended": -1},
                "job_actions": [{"freezer_action": {"action": "restore", "backup_name": "w"}}]}"#,
        )
        .unwrap();
        let js = &never.job_schedule;
        assert_eq!((js.status(), js.result(), js.started()), (None, None, None));
        assert_eq!(js.created(), Some(1_795_368_424.0));
        assert!(never.backup_names().is_empty());
        assert_eq!(js.schedule(), Schedule::None);
        let running: JobSchedule = serde_json::from_str(
            r#"{"schedule_interval": "1 days", "status": "running", "result": "", "time_started": 1795367823,
                "time_ended": -1, "current_pid": 24817}"#,
        )
        .unwrap();
        assert_eq!(running.result(), Some(""));
        assert_eq!(running.ended(), None);
        assert_eq!(running.schedule(), Schedule::Every(86_400.0));
        assert!(running.active());
        let started_never_ran: JobSchedule = serde_json::from_str(
            r#"{"event": "start", "status": "", "result": "", "time_started": -1}"#,
        )
        .unwrap();
        assert_eq!(started_never_ran.result(), None);
        let one_shot: JobSchedule = serde_json::from_str(
            r#"{"schedule_date": "2025-06-01T04:00:00", "status": "completed", "result": "aborted",
                "time_started": 1795195623, "time_ended": 1795195923}"#,
        )
        .unwrap();
        assert_eq!(one_shot.schedule(), Schedule::Once);
        assert!(!one_shot.active());
        let cron: JobSchedule =
            serde_json::from_str(r#"{"schedule_hour": "3", "schedule_minute": "15"}"#).unwrap();
        assert_eq!(cron.schedule(), Schedule::Cron);
        let stopping: JobSchedule =
            serde_json::from_str(r#"{"status": "scheduled", "event": "stop"}"#).unwrap();
        assert!(!stopping.active());
        let v1: Job = serde_json::from_str(
            r#"{"job_id": "685e", "client_id": "c", "job_action": {"action": "backup", "backup_name": "workday",
                "max_level": "4"}, "job_schedule": {"schedule_day_of_week": "tue,wed", "time_ended": -1}}"#,
        )
        .unwrap();
        assert_eq!(v1.backup_names(), vec!["workday"]);
        assert_eq!(v1.job_schedule.schedule(), Schedule::Cron);
    }

    #[test]
    fn intervals() {
        for (text, secs) in [
            ("1 days", Some(86_400.0)),
            ("12 hours", Some(43_200.0)),
            ("1 hour", Some(3600.0)),
            ("30 minutes", Some(1800.0)),
            ("2 weeks", Some(1_209_600.0)),
            ("continuous", Some(0.0)),
            ("90 seconds", Some(90.0)),
            ("daily", None),
            ("1 fortnight", None),
            ("-1 days", None),
        ] {
            assert_eq!(parse_interval(text), secs, "{text}");
        }
    }
}
