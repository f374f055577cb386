//! Cloud Backup payloads as the API writes them (the vendor's API reference):
//!
//! - PascalCase keys; lists are bare JSON arrays, without paging;
//! - times as `"\/Date(1357817400000)\/"`, also with an offset (`+0000`, `-0600`: the
//!   milliseconds are UTC either way) or `null`; .NET's minimum date means "never";
//! - sizes as text with units (`"35.3 MB"`, `"0 B"`), booleans as `true` or `"true"`, ids as
//!   numbers or strings, durations as .NET time spans (`"00:04:33"`);
//! - states spelled `"CompletedWithErrors"` or `"Completed WithErrors"`;
//! - and, in agent objects, JSON that strict parsers reject: numbers with leading zeros
//!   (`"ExponentHex": 09528`) and invalid escapes (`\_`). [`repair`] rewrites both before
//!   decoding, so an agent is never lost over a field the exporter does not even read.
//!
//! Every list is decoded item by item: an item that cannot be read is skipped and reported (a
//! warning), the rest of the list is kept.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::families::RACKSPACE_BACKUP_STATES;
use crate::sources::http::UpstreamError;
use crate::sources::values::{
    id, opt_flag, opt_id, opt_num, opt_text, opt_time, Flag, Num, Time, Warnings,
};

/// An agent, as `GET /user/agents` lists it and `GET /agent/{id}` details it (the list's
/// `Status` is always `Offline` and its `TimeOfLastSuccessfulBackup` unreliable).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Agent {
    #[serde(deserialize_with = "id")]
    pub machine_agent_id: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub machine_name: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub agent_version: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub architecture: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub flavor: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub datacenter: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub backup_data_center: Option<String>,
    #[serde(default, rename = "IPAddress", deserialize_with = "opt_text")]
    pub ip_address: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub operating_system: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub operating_system_version: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub host_server_id: Option<String>,
    /// `"35.3 MB"`; a bare number is megabytes (the document's unit for the field).
    #[serde(default, deserialize_with = "opt_text")]
    pub backup_vault_size: Option<String>,
    #[serde(default, deserialize_with = "opt_flag")]
    pub is_disabled: Option<Flag>,
    #[serde(default, deserialize_with = "opt_flag")]
    pub is_encrypted: Option<Flag>,
    /// `Online` or `Offline`.
    #[serde(default, deserialize_with = "opt_text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub time_of_last_successful_backup: Option<Time>,
}

impl Agent {
    /// `Status` read as online (`Some(true)`) or offline; `None` when absent or unknown.
    pub fn online(&self) -> Option<bool> {
        match self.status.as_deref().map(str::trim) {
            Some(s) if s.eq_ignore_ascii_case("online") => Some(true),
            Some(s) if s.eq_ignore_ascii_case("offline") => Some(false),
            _ => None,
        }
    }

    /// The machine name, else the agent id.
    pub fn name(&self) -> &str {
        self.machine_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.machine_agent_id)
    }
}

/// A backup configuration (`GET /backup-configuration`, deleted ones included).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Configuration {
    #[serde(deserialize_with = "id")]
    pub backup_configuration_id: String,
    #[serde(deserialize_with = "id")]
    pub machine_agent_id: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub machine_name: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub backup_configuration_name: Option<String>,
    #[serde(default, deserialize_with = "opt_flag")]
    pub is_active: Option<Flag>,
    #[serde(default, deserialize_with = "opt_flag")]
    pub is_deleted: Option<Flag>,
    /// `Manually`, `Hourly`, `Daily`, `Weekly`.
    #[serde(default, deserialize_with = "opt_text")]
    pub frequency: Option<String>,
    /// Hours between runs of an `Hourly` configuration (1 to 23).
    #[serde(default, deserialize_with = "opt_num")]
    pub hour_interval: Option<Num>,
    #[serde(default, deserialize_with = "opt_text")]
    pub time_zone_id: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub last_run_time: Option<Time>,
    #[serde(default, deserialize_with = "opt_time")]
    pub next_scheduled_run_time: Option<Time>,
    /// `InProgress`, `Skipped`, `Queued` or `Not Available`.
    #[serde(default, deserialize_with = "opt_text")]
    pub backup_state: Option<String>,
    /// Set when the last run succeeded: the report of that run.
    #[serde(default, deserialize_with = "opt_id")]
    pub last_run_backup_report_id: Option<String>,
}

impl Configuration {
    pub fn deleted(&self) -> bool {
        self.is_deleted == Some(Flag::Is(true))
    }

    /// How often the configuration runs, from `Frequency` (and `HourInterval`).
    pub fn schedule(&self) -> Schedule {
        let frequency = self.frequency.as_deref().map(str::trim).unwrap_or("");
        let hours = match frequency.to_ascii_lowercase().as_str() {
            "manually" | "manual" => return Schedule::Manual,
            "hourly" => self
                .hour_interval
                .as_ref()
                .and_then(Num::get)
                .filter(|h| *h >= 1.0)
                .unwrap_or(1.0),
            "daily" => 24.0,
            "weekly" => 7.0 * 24.0,
            _ => return Schedule::Unknown,
        };
        Schedule::Every(hours * 3600.0)
    }

    /// The configuration's name, else its id.
    pub fn name(&self) -> &str {
        self.backup_configuration_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.backup_configuration_id)
    }
}

/// A configuration's schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// Runs only when started by hand: no cadence to be late for.
    Manual,
    /// Runs every so many seconds.
    Every(f64),
    /// No or an unknown `Frequency`.
    Unknown,
}

/// One activity (`GET /activity`): a backup, restore or cleanup, in progress or finished.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Activity {
    /// The backup id of a backup activity (restore id, cleanup id for the others).
    #[serde(rename = "ID", deserialize_with = "id")]
    pub id: String,
    /// `Backup`, `Restore` or `Cleanup`.
    #[serde(default, rename = "Type", deserialize_with = "opt_text")]
    pub kind: Option<String>,
    /// The backup configuration of a backup.
    #[serde(default, deserialize_with = "opt_id")]
    pub parent_id: Option<String>,
    #[serde(default, deserialize_with = "opt_flag")]
    pub is_backup_configuration_deleted: Option<Flag>,
    #[serde(default, deserialize_with = "opt_id")]
    pub source_machine_agent_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub current_state: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub time_of_activity: Option<Time>,
}

impl Activity {
    /// A backup (an activity without a type counts as one when it names a configuration).
    pub fn is_backup(&self) -> bool {
        self.kind
            .as_deref()
            .is_none_or(|k| k.trim().eq_ignore_ascii_case("backup"))
    }
}

/// The report of a finished backup (`GET /backup/report/{backupId}`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Report {
    #[serde(default, deserialize_with = "opt_id")]
    pub backup_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub start_time: Option<Time>,
    #[serde(default, deserialize_with = "opt_time")]
    pub completed_time: Option<Time>,
    /// `"00:04:33"`.
    #[serde(default, deserialize_with = "opt_text")]
    pub duration: Option<String>,
    #[serde(default, deserialize_with = "opt_num")]
    pub files_searched: Option<Num>,
    /// `"3.7 GB"`.
    #[serde(default, deserialize_with = "opt_text")]
    pub bytes_searched: Option<String>,
    #[serde(default, deserialize_with = "opt_num")]
    pub files_backed_up: Option<Num>,
    /// `"178.1 MB"`.
    #[serde(default, deserialize_with = "opt_text")]
    pub bytes_backed_up: Option<String>,
    #[serde(default, deserialize_with = "opt_num")]
    pub num_errors: Option<Num>,
    /// Whether the backup the run made can be restored (`true` for the document's own
    /// `CompletedWithErrors` report with two locked files).
    #[serde(default, deserialize_with = "opt_flag")]
    pub can_restore: Option<Flag>,
    /// `"Success"`, also for a run that completed with errors; other words for a run that did
    /// not complete.
    #[serde(default, deserialize_with = "opt_text")]
    pub reason: Option<String>,
}

impl Report {
    /// Whether the backup the run made can be restored: the report's `CanRestore`, else (without
    /// it) its `Reason` `Success`. A `Failed` run never made one, whatever else it says; a run
    /// in any state that is not finished has no report to tell.
    pub fn restorable(&self) -> Option<bool> {
        let state = self.state.as_deref().map(backup_state);
        match state.as_deref() {
            Some("Failed") => return Some(false),
            Some("Completed" | "CompletedWithErrors") | None => {}
            Some(_) => return None,
        }
        match self.can_restore {
            Some(Flag::Is(b)) => Some(b),
            _ => self
                .reason
                .as_deref()
                .map(|r| r.trim().eq_ignore_ascii_case("success")),
        }
    }
}

/// One configuration that has a backup to restore (`GET /backup/availableforrestore`: "a
/// backup that has completed at least once and has not been deleted and is not expired").
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Restorable {
    #[serde(deserialize_with = "id")]
    pub backup_configuration_id: String,
    #[serde(default, deserialize_with = "opt_id")]
    pub machine_agent_id: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub last_successful_backup_time: Option<Time>,
}

/// A backup state in its documented spelling (`"Completed WithErrors"`, `"completedwitherrors"`
/// and `"CompletedWithErrors"` are one state); an unknown state is kept as written, trimmed.
pub fn backup_state(text: &str) -> String {
    let squashed: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .collect();
    RACKSPACE_BACKUP_STATES
        .iter()
        .find(|s| s.eq_ignore_ascii_case(&squashed))
        .map_or_else(|| text.trim().to_owned(), |s| (*s).to_owned())
}

/// Whether a finished run in `state` (any spelling [`backup_state`] reads) failed: `Failed`
/// did, `CompletedWithErrors` did unless the run's own report counts no errors, `Completed`
/// did not. Other states are not finished runs: `None`.
pub fn run_failed(state: &str, report_errors: Option<f64>) -> Option<bool> {
    match backup_state(state).as_str() {
        "Completed" => Some(false),
        "Failed" => Some(true),
        "CompletedWithErrors" => Some(report_errors != Some(0.0)),
        _ => None,
    }
}

/// A vault size: text with a unit (binary, as [`parse_size`] reads it), or a bare number of
/// megabytes.
///
/// [`parse_size`]: crate::sources::values::parse_size
pub fn vault_size(text: &str) -> Result<f64, String> {
    let t = text.trim();
    match t.parse::<f64>() {
        Ok(mb) if mb.is_finite() => Ok(mb * 1024.0 * 1024.0),
        _ => crate::sources::values::parse_size(t),
    }
}

/// Rewrites the invalid JSON the API writes into valid JSON: a number with a leading zero
/// (`09528`) becomes a string (`"09528"`), and an invalid escape (`\_`) loses its backslash.
/// `None` when the text needs neither. Text that is broken otherwise is left for the parser
/// to report.
pub fn repair(body: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    // Bytes before `copied` are in `out` (once it exists).
    let mut copied = 0;
    let mut i = 0;
    let mut in_string = false;
    while i < body.len() {
        let b = body[i];
        if in_string {
            match b {
                b'\\' => {
                    let next = body.get(i + 1).copied();
                    let valid = matches!(
                        next,
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' | b'u')
                    );
                    if !valid && next.is_some() {
                        let o = out.get_or_insert_with(|| Vec::with_capacity(body.len() + 16));
                        o.extend_from_slice(&body[copied..i]);
                        copied = i + 1; // drop the backslash, keep the character
                    }
                    i += 2;
                    continue;
                }
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                let mut end = i + 1;
                while end < body.len()
                    && matches!(body[end], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    end += 1;
                }
                let token = &body[start..end];
                let digits = token.strip_prefix(b"-").unwrap_or(token);
                if digits.len() > 1 && digits[0] == b'0' && digits[1].is_ascii_digit() {
                    let o = out.get_or_insert_with(|| Vec::with_capacity(body.len() + 16));
                    o.extend_from_slice(&body[copied..start]);
                    o.push(b'"');
                    o.extend_from_slice(token);
                    o.push(b'"');
                    copied = end;
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    out.map(|mut o| {
        o.extend_from_slice(&body[copied.min(body.len())..]);
        o
    })
}

/// Decodes a JSON body as `T`, repairing it first if strict JSON cannot read it.
pub fn decode<T: DeserializeOwned>(
    endpoint: &'static str,
    body: &[u8],
) -> Result<T, UpstreamError> {
    match serde_json::from_slice::<T>(body) {
        Ok(v) => Ok(v),
        // Read again for an error naming the bad value's path.
        Err(_) => match repair(body) {
            Some(repaired) => crate::sources::http::decode(endpoint, &repaired),
            None => crate::sources::http::decode(endpoint, body),
        },
    }
}

/// Decodes a JSON array body item by item: an item that cannot be read is skipped and told to
/// `warnings` (with its index and the path of the bad value); the list itself must be an array.
pub fn decode_items<T: DeserializeOwned>(
    endpoint: &'static str,
    body: &[u8],
    warnings: &mut Warnings,
) -> Result<Vec<T>, UpstreamError> {
    let raw: Vec<Box<RawValue>> = decode(endpoint, body)?;
    let mut items = Vec::with_capacity(raw.len());
    for (i, item) in raw.iter().enumerate() {
        // The shared decoding: an out-of-range number is one unreadable value, not an item lost.
        match crate::sources::http::decode::<T>(endpoint, item.get().as_bytes()) {
            Ok(v) => items.push(v),
            Err(e) => warnings.push(|| format!("{endpoint}[{i}] skipped: {e}")),
        }
    }
    Ok(items)
}
