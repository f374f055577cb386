//! A simulated Rackspace Cloud Backup service: the Rackspace identity service (v2.0 tokens and
//! the service catalog) and the Cloud Backup API v1.0, both served by one HTTP server on
//! 127.0.0.1, as the vendor document ("Rackspace Cloud Backup API operations") shows them,
//! quirks included.
//!
//! Used by the demo (with [`fleet::demo_account`]), by the integration
//! tests (with [`fleet::document_sample`], fixture files and injected
//! [`Fault`]s) and by the benchmark (with [`fleet::large_account`]).
//!
//! # Identity: `POST /v2.0/tokens` (endpoint `tokens`)
//!
//! The body is `{"auth": {"RAX-KSKEY:apiKeyCredentials": {"username": "..", "apiKey": ".."}}}`
//! or `{"auth": {"passwordCredentials": {"username": "..", "password": ".."}}}`, checked against
//! the one [`AccountConfig`] (password authentication only when
//! [`AccountConfig::password`] is set). An optional `auth.tenantId` / `auth.tenantName` must name
//! the account's tenant.
//!
//! * Good credentials: 200 and
//!   `{"access": {"token": {"id": "<32 hex digits>", "expires": "<UTC, ms, Z>", "tenant": {"id":
//!   T, "name": T}, "RAX-AUTH:authenticatedBy": ["APIKEY" | "PASSWORD"]}, "serviceCatalog": [..],
//!   "user": {"id": "..", "name": "<username>", "roles": [{"id": "3", "name":
//!   "identity:default", "description": ".."}], "RAX-AUTH:defaultRegion": "<default region>"}}}`.
//! * The catalog holds several services (`cloudFilesCDN`, `cloudFiles` of type `object-store`,
//!   `cloudServersOpenStack` of type `compute`, `cloudBackup`, `cloudMonitoring`, `cloudDNS`,
//!   `cloudDatabases`), every URL pointing at the simulator itself (the other services' URLs
//!   answer 404). The Cloud Backup entry is `{"name": "cloudBackup", "type": "rax:backup",
//!   "endpoints": [..]}` with one endpoint per [`AccountConfig::regions`] entry, `{"region": R,
//!   "tenantId": T, "publicURL": "<sim>/v1.0/T", "internalURL": "<sim>/v1.0/T"}`, in that order,
//!   followed, when [`AccountConfig::global_endpoint`] is set, by a region-less endpoint
//!   `{"tenantId": T, "publicURL": "<sim>/v1.0/T"}` (no `region` key).
//! * Wrong credentials: 401 `{"unauthorized": {"code": 401, "message": ".."}}` with
//!   [`BAD_API_KEY_MESSAGE`] (API key) or [`BAD_PASSWORD_MESSAGE`] (password). A body that is not
//!   JSON, has no `auth` object, or holds neither credential type: 400 `{"badRequest": {"code":
//!   400, "message": ".."}}`. Any other method: 405 with `Allow: POST`.
//! * Tokens expire [`AccountConfig::token_lifetime`] after issue; [`SimServer::expire_tokens`]
//!   invalidates every issued token at once; [`SimServer::auth_count`] counts tokens issued.
//!
//! # Cloud Backup: `/v1.0/{tenant}/...`
//!
//! Every request needs the header `X-Auth-Token` with a valid, unexpired token (401 otherwise);
//! the `{tenant}` segment must be the account's tenant (403 otherwise). Then an unknown path is a
//! 404 and a known path with a method it does not take a 405 with an `Allow` header. Every
//! region's catalog endpoint is the same URL and the service is account-wide: whichever endpoint
//! is asked, it lists every agent of the account whatever its `Datacenter`. Literal path
//! segments match case-insensitively; one trailing slash is ignored. A path that only takes
//! changes (`agent/enable`, ...) answers a `GET` with a 405, recorded under
//! [`UNKNOWN_ENDPOINT`]; a word in an id's place is an id (`backup-configuration/system` is
//! configuration "system": 404).
//!
//! Reads (`GET`, or `HEAD`), with their endpoint names:
//!
//! | Path under `/v1.0/{tenant}/` | Endpoint | Answer |
//! |---|---|---|
//! | `user/agents` | `agents` | every agent's list entry, in data set order, with `"Status": "Offline"` and `"TimeOfLastSuccessfulBackup": null` whatever the agent's real state (the document: "Status is always Offline in this call") |
//! | `agent/{machineAgentId}` | `agent` | the agent's detail (real `Status` and `TimeOfLastSuccessfulBackup`); 404 for an unknown id |
//! | `agent/server/{hostServerId}` | `agent_by_server` | the detail of the agent whose `HostServerId` is the id; 404 otherwise |
//! | `backup-configuration` | `configurations` | every configuration of the account, deleted ones (`"IsDeleted": true`) included |
//! | `backup-configuration/{id}` | `configuration` | one configuration (deleted ones too); 404 for an unknown id |
//! | `backup-configuration/system/{machineAgentId}` | `agent_configurations` | the configurations whose `MachineAgentId` is the id, deleted ones included |
//! | `activity` | `activity` | every activity item, in data set order (not sorted by time) |
//! | `system/activity/{agentId}` | `agent_activity` | the activity items whose `SourceMachineAgentId` or `DestinationMachineAgentId` is the id |
//! | `backup/report/{backupId}` | `report` | the report whose `BackupId` is the id; 404 otherwise |
//! | `backup/{backupId}` | `backup` | the backup, derived from the `Backup` activity whose `ID` is the id (else from its report); 404 otherwise |
//! | `backup/completed/{backupConfigurationId}` | `completed` | the configuration's backups whose activity is `Completed` or `CompletedWithErrors` (either spelling), newest first; 404 for an unknown configuration |
//! | `backup/availableforrestore` | `available_for_restore` | one entry per configuration, not deleted, with at least one completed backup |
//! | `restore/{id}`, `restore/report/{id}`, `restore/files/{id}` | `restore`, `restore_report`, `restore_files` | always 404: the data set holds no restore |
//!
//! `agent_configurations` and `agent_activity` answer 404 when neither an agent nor any item
//! names the id, and `[]` for a known agent without items.
//!
//! Derived bodies copy the stored items' values text for text: `backup` is `{"BackupId": ID,
//! "BackupConfigurationId": ParentId, "CurrentState": CurrentState, "BackupConfigurationName":
//! DisplayName, "MachineAgentId": SourceMachineAgentId, "MachineName": SourceMachineName,
//! "StateChangeTime": TimeOfActivity, "IsEncrypted": <the configuration's>, "EncryptionKey":
//! {..}}` (`"Completed WithErrors"` written `"CompletedWithErrors"`, the spelling of this call);
//! a `completed` entry is `{"BackupId", "BackupConfigurationId", "BackupConfigurationName",
//! "MachineName", "MachineAgentId", "CompletedTime", "BytesSearched", "NumErrors"}` with the last
//! three from the backup's report when there is one (else `TimeOfActivity`, `0`, `0`); an
//! `available_for_restore` entry is `{"BackupConfigurationId", "BackupConfigurationName",
//! "MachineName", "MachineAgentId", "IsEncrypted", "PublicKeyHex", "PublicKeyMod", "Flavor",
//! "LastSuccessfulBackupTime"}`, the last one the newest completed backup's `TimeOfActivity`.
//!
//! # Changes (endpoint [`MUTATION_ENDPOINT`])
//!
//! Every request with a method other than `GET` or `HEAD` (except to `/v2.0/tokens`) is recorded
//! under the endpoint `mutation` and in [`SimServer::mutations`] (`"POST /v1.0/1234/agent/enable"`,
//! query included), whatever its outcome, and never changes the data. After the token, tenant,
//! 404 and 405 checks, the documented operations are answered as the document says:
//!
//! | Operation | Answer |
//! |---|---|
//! | `POST user/wakeupagents` | 200, empty |
//! | `POST agent/enable`, `POST agent/delete` | 204 |
//! | `POST agent/encrypt`, `POST agent/changeencryption` | 200, a bare GUID (not JSON), as in the document |
//! | `PUT agent/migratevault`, `PUT agent/logging` | 200, empty |
//! | `POST agent/{machineAgentId}` | 200, the agent's (unchanged) detail; 404 for an unknown agent |
//! | `POST backup-configuration` | 200, the request's JSON object with a new `BackupConfigurationId`, `BackupConfigurationScheduleId`, `IsDeleted: false`, `LastRunTime: null`, `LastRunBackupReportId: null`; 400 when the body is not a JSON object |
//! | `PUT` / `DELETE backup-configuration/{id}` | 200, empty; 404 for an unknown configuration |
//! | `POST backup-configuration/enable/{id}` | 200, the (unchanged) configuration; 404 |
//! | `POST backup/action-requested` | `"Action": "StartManual"`: 200 and a new backup id (a bare number); `"StopManual"`: 204; otherwise 400 |
//! | `PUT restore` | 200, the request's JSON object with a new `RestoreId` and `"RestoreStateId": 0`; 400 when not a JSON object |
//! | `POST restore`, `POST restore/action-requested`, `DELETE restore/files/{restoreId}` | 204 |
//! | `PUT restore/files` | 200, empty |
//!
//! # Bodies
//!
//! Items are stored as [`Item`]s: either a [`serde_json::Value`] ([`Item::Json`]) or raw JSON
//! text served byte for byte ([`Item::Raw`]), which is how the document's invalid JSON is served:
//! a number with a leading zero (`"ExponentHex": 09528`) and the escape `\_`
//! (`"CloudBackup\_v2\_0_yourUUID"`), both rejected by strict parsers. A `Json` item is written
//! compactly (keys sorted, as `serde_json` keeps them) except that every string of the form
//! `/Date(<ms>)/` or `/Date(<ms>±hhmm)/` is written with escaped slashes, `"\/Date(..)\/"`, as
//! .NET writes it; [`Item::plain`] makes the unescaped form `"/Date(..)/"` (as `serde_json`
//! writes it). The milliseconds are UTC; an offset only says which local zone the server was in.
//! [`NET_MIN_DATE`] (`/Date(-62135578800000)/`, .NET's `DateTime.MinValue` in US Eastern time)
//! means "never". Sizes are text with units (`"35.3 MB"`), booleans `true` or `"true"`, ids
//! numbers or strings, states `"CompletedWithErrors"` or `"Completed WithErrors"`: whatever the
//! item holds is written.
//!
//! Ids given in paths are compared with the items' ids as text: `213564` matches both `213564`
//! and `"213564"`. Every item is rendered once when the data set is set; list bodies are
//! concatenations of those bytes, so the simulator is not the bottleneck of a benchmark.
//! Responses are labelled `application/json;charset=UTF-8`; errors are small OpenStack-style
//! objects `{"<name>": {"code": N, "message": ".."}}` (`badRequest`, `unauthorized`,
//! `forbidden`, `itemNotFound`, `badMethod`, `instanceFault` for 500, `serviceUnavailable` for
//! 503, `fault` otherwise).
//!
//! # Faults
//!
//! [`Faults`] are keyed by [`ENDPOINTS`] names, or `"<endpoint>:<id>"` for an endpoint with an
//! id in its path (`"agent:213564"`, `"report:92500"`, `"agent_by_server:<uuid>"`, ...), checked
//! before `"<endpoint>"`, then `"*"`. `delay` applies first (to every request), then `status`
//! (on `tokens` after the 405 check; on Cloud Backup paths after the token, tenant, 404 and 405
//! checks, before looking the id up), then `truncate`/`garbage` to a 200 body. The paging
//! misbehaviours of [`Faults`] do not apply: this API has no paging.

pub mod fleet;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW};
use hyper::{Method, Request, StatusCode};
use serde_json::{json, Map, Value};

use crate::sim::{
    apply_body_fault, json_bytes_response, json_response, lock, swap_served, RequestLog, Resp,
    Running, Taken,
};
pub use crate::sim::{Fault, Faults, Simulator, CONTENT_TYPE_JSON, UNKNOWN_ENDPOINT};

/// Endpoint names, as used by [`Faults`] and [`SimServer::request_count`].
pub const ENDPOINTS: &[&str] = &[
    "tokens",
    "agents",
    "agent",
    "agent_by_server",
    "configurations",
    "configuration",
    "agent_configurations",
    "activity",
    "agent_activity",
    "report",
    "backup",
    "completed",
    "available_for_restore",
    "restore",
    "restore_report",
    "restore_files",
    MUTATION_ENDPOINT,
];
/// Endpoint name of every request that is not a read (any method but `GET` and `HEAD`).
pub const MUTATION_ENDPOINT: &str = "mutation";
/// The header carrying the token on Cloud Backup requests.
pub const AUTH_TOKEN_HEADER: &str = "X-Auth-Token";
/// `type` of the Cloud Backup entry of the service catalog.
pub const BACKUP_SERVICE_TYPE: &str = "rax:backup";
/// `name` of the Cloud Backup entry of the service catalog.
pub const BACKUP_SERVICE_NAME: &str = "cloudBackup";
/// .NET's `DateTime.MinValue` as the service writes it: "never" (e.g. the next run of a
/// configuration that only runs manually).
pub const NET_MIN_DATE: &str = "/Date(-62135578800000)/";
/// Message of the 401 for a wrong user name or API key.
pub const BAD_API_KEY_MESSAGE: &str = "Username or api key is invalid.";
/// Message of the 401 for a wrong user name or password.
pub const BAD_PASSWORD_MESSAGE: &str = "Unable to authenticate user with credentials provided.";

/// Message of the 400 for an `auth` object without a known credential type.
const PARSE_AUTH_MESSAGE: &str =
    "Invalid request body: unable to parse Auth data. Please review XML or JSON formatting.";

/// Public key shown by derived bodies (`backup`, `available_for_restore`), from the document.
const KEY_MODULUS: &str = "a5261939975948bb7a58dffe5ff54e65f0498f9175f5a09288810b8975871e99\
af3b5dd94057b0fc07535f5f97444504fa35169d461d0d30cf0192e307727c065168c788771c561a9400fb49175\
e9e6aa4e23fe11af69e9412dd23b0cb6684c4c2429bce139e848ab26d0829073351f4acd36074eafd036a5eb833\
59d2a698d3";

// ---------------------------------------------------------------------------------------------
// .NET dates
// ---------------------------------------------------------------------------------------------

/// `t` as the string value `/Date(<ms>)/` (written `"\/Date(<ms>)\/"` by a [`Item::Json`]).
pub fn net_date(t: DateTime<Utc>) -> String {
    format!("/Date({})/", t.timestamp_millis())
}

/// `t` as `/Date(<ms>±hhmm)/`: the milliseconds are UTC, the offset (in minutes east of UTC)
/// only names the server's zone; `-360` gives `-0600`, `0` gives `+0000`.
pub fn net_date_with_offset(t: DateTime<Utc>, offset_minutes: i32) -> String {
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let m = offset_minutes.unsigned_abs();
    format!(
        "/Date({}{sign}{:02}{:02})/",
        t.timestamp_millis(),
        m / 60,
        m % 60
    )
}

/// The UTC milliseconds of a .NET date string (`/Date(ms)/`, `/Date(ms+hhmm)/`, also with the
/// slashes still escaped as `\/`); `None` for anything else.
pub fn parse_net_date(s: &str) -> Option<i64> {
    let s = s.trim();
    let inner = s
        .strip_prefix("\\/Date(")
        .or_else(|| s.strip_prefix("/Date("))?;
    let inner = inner
        .strip_suffix(")\\/")
        .or_else(|| inner.strip_suffix(")/"))?;
    let (ms, offset) = match inner.get(1..).and_then(|rest| rest.find(['+', '-'])) {
        Some(i) => (&inner[..=i], Some(&inner[i + 1..])),
        None => (inner, None),
    };
    if let Some(offset) = offset {
        if offset.len() != 5 || !offset[1..].bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    ms.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// Items
// ---------------------------------------------------------------------------------------------

/// One object as the service writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// Written compactly, `/Date(..)/` strings with escaped slashes (see the module doc).
    Json(Value),
    /// Written byte for byte: the way to serve what `serde_json` cannot write (`09528`, `\_`,
    /// unescaped `/Date(..)/`, key order).
    Raw(String),
}

impl From<Value> for Item {
    fn from(value: Value) -> Item {
        Item::Json(value)
    }
}

impl Item {
    /// Raw JSON text, served as it is.
    pub fn raw(text: impl Into<String>) -> Item {
        Item::Raw(text.into())
    }

    /// `value` as `serde_json` writes it, so `/Date(..)/` strings keep unescaped slashes.
    pub fn plain(value: &Value) -> Item {
        Item::Raw(value.to_string())
    }

    /// The bytes served for this item.
    pub fn render(&self) -> Vec<u8> {
        match self {
            Item::Json(value) => {
                let mut out = Vec::with_capacity(256);
                write_value(&mut out, value);
                out
            }
            Item::Raw(text) => text.as_bytes().to_vec(),
        }
    }

    /// The item as a tolerant client reads it (see [`lenient_parse`]); `None` when even that
    /// fails.
    pub fn value(&self) -> Option<Value> {
        match self {
            Item::Json(value) => Some(value.clone()),
            Item::Raw(text) => lenient_parse(text).ok(),
        }
    }

    /// A top-level scalar as text: a string's contents, a number's or boolean's digits or word
    /// (`213564` and `"213564"` both give `"213564"`); `None` when missing, `null` or not a
    /// scalar.
    pub fn get(&self, key: &str) -> Option<String> {
        match self {
            Item::Json(value) => scalar_of(value.get(key)?),
            Item::Raw(text) => {
                let bytes = text.as_bytes();
                let fields = object_fields(bytes)?;
                let (_, range) = fields
                    .iter()
                    .find(|(k, _)| &bytes[k.clone()] == key.as_bytes())?;
                scalar_text(&bytes[range.clone()])
            }
        }
    }
}

fn scalar_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Writes `value` compactly, `/Date(..)/` strings with escaped slashes.
fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, key);
                out.push(b':');
                write_value(out, item);
            }
            out.push(b'}');
        }
        other => {
            let _ = serde_json::to_writer(&mut *out, other);
        }
    }
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    if let Some(inner) = s
        .strip_prefix("/Date(")
        .and_then(|rest| rest.strip_suffix(")/"))
    {
        if !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'+' || b == b'-')
        {
            out.extend_from_slice(b"\"\\/Date(");
            out.extend_from_slice(inner.as_bytes());
            out.extend_from_slice(b")\\/\"");
            return;
        }
    }
    let _ = serde_json::to_writer(&mut *out, s);
}

// ---------------------------------------------------------------------------------------------
// Tolerant reading of raw JSON text
// ---------------------------------------------------------------------------------------------

/// Parses JSON text the way a tolerant client would: an unknown escape in a string (`\_`)
/// stands for the character itself, and leading zeros of a number are dropped (`09528` is
/// `9528`). Everything else must be valid JSON.
pub fn lenient_parse(text: &str) -> serde_json::Result<Value> {
    serde_json::from_slice(&sanitize(text.as_bytes()))
}

/// `text` with the quirks [`lenient_parse`] tolerates repaired.
fn sanitize(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    let mut in_string = false;
    while i < text.len() {
        let c = text[i];
        if in_string {
            match c {
                b'\\' => {
                    match text.get(i + 1) {
                        Some(n) if b"\"\\/bfnrtu".contains(n) => out.extend_from_slice(&[c, *n]),
                        Some(n) => out.push(*n),
                        None => {}
                    }
                    i += 2;
                    continue;
                }
                b'"' => in_string = false,
                _ => {}
            }
            out.push(c);
            i += 1;
        } else {
            let starts_number = !out
                .last()
                .is_some_and(|p: &u8| p.is_ascii_alphanumeric() || *p == b'.');
            if c == b'0' && starts_number {
                while text[i] == b'0' && text.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            if text[i] == b'"' {
                in_string = true;
            }
            out.push(text[i]);
            i += 1;
        }
    }
    out
}

fn skip_ws(text: &[u8], mut i: usize) -> usize {
    while text.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// The index just past the string starting at `start` (a `"`).
fn string_end(text: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The index just past the value starting at `start`: a string, a balanced object or array, or
/// a scalar token (anything up to `,`, `}`, `]` or white space, so `09528` is one).
fn value_end(text: &[u8], start: usize) -> Option<usize> {
    match text.get(start)? {
        b'"' => string_end(text, start),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            while i < text.len() {
                match text[i] {
                    b'"' => {
                        i = string_end(text, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        b',' | b'}' | b']' | b':' => None,
        _ => {
            let mut i = start;
            while i < text.len() && !matches!(text[i], b',' | b'}' | b']') {
                if text[i].is_ascii_whitespace() {
                    break;
                }
                i += 1;
            }
            Some(i)
        }
    }
}

/// The top-level fields of the object in `text`: the byte range of each key (inside its
/// quotes) and of its value. Works on the document's invalid JSON too.
fn object_fields(text: &[u8]) -> Option<Vec<(Range<usize>, Range<usize>)>> {
    let mut i = skip_ws(text, 0);
    if text.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut fields = Vec::with_capacity(24);
    loop {
        i = skip_ws(text, i);
        match text.get(i)? {
            b'}' => return Some(fields),
            b',' => i += 1,
            b'"' => {
                let key_end = string_end(text, i)?;
                let key = i + 1..key_end - 1;
                i = skip_ws(text, key_end);
                if text.get(i) != Some(&b':') {
                    return None;
                }
                i = skip_ws(text, i + 1);
                let end = value_end(text, i)?;
                fields.push((key, i..end));
                i = end;
            }
            _ => return None,
        }
    }
}

/// The elements of the array in `text`, which must hold nothing else.
pub(crate) fn array_elements(text: &[u8]) -> Option<Vec<Range<usize>>> {
    let mut i = skip_ws(text, 0);
    if text.get(i) != Some(&b'[') {
        return None;
    }
    i += 1;
    let mut elements = Vec::new();
    loop {
        i = skip_ws(text, i);
        match text.get(i)? {
            b']' => {
                return (skip_ws(text, i + 1) == text.len()).then_some(elements);
            }
            b',' => i += 1,
            _ => {
                let end = value_end(text, i)?;
                elements.push(i..end);
                i = end;
            }
        }
    }
}

/// A scalar value's text: a string's contents (tolerantly unescaped), a number's or word's
/// text; `None` for `null`, objects and arrays.
fn scalar_text(raw: &[u8]) -> Option<String> {
    match raw.first()? {
        b'"' => serde_json::from_slice::<String>(&sanitize(raw)).ok(),
        b'{' | b'[' => None,
        _ => {
            let s = std::str::from_utf8(raw).ok()?.trim();
            (s != "null").then(|| s.to_owned())
        }
    }
}

/// `text` (an object) with the value of top-level `key` replaced by `value` (JSON text), or the
/// pair added first when the key is missing. Anything but an object is returned unchanged.
pub(crate) fn set_raw_field(text: &str, key: &str, value: &str) -> String {
    let bytes = text.as_bytes();
    let Some(fields) = object_fields(bytes) else {
        return text.to_owned();
    };
    match fields
        .iter()
        .find(|(k, _)| &bytes[k.clone()] == key.as_bytes())
    {
        Some((_, range)) => format!("{}{value}{}", &text[..range.start], &text[range.end..]),
        None => {
            let open = skip_ws(bytes, 0);
            let comma = if fields.is_empty() { "" } else { "," };
            format!(
                "{}\"{key}\":{value}{comma}{}",
                &text[..=open],
                &text[open + 1..]
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Data set and configuration
// ---------------------------------------------------------------------------------------------

/// One Cloud Backup agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    /// The object of `GET agent/{id}` and `GET agent/server/{hostServerId}`, with the real
    /// `Status` and `TimeOfLastSuccessfulBackup`. Its `MachineAgentId` is the agent's id, its
    /// `HostServerId` (if any) the host server's.
    pub detail: Item,
    /// The entry of `GET user/agents`, if it differs from the detail by more than what the
    /// simulator forces anyway (`"Status": "Offline"`, `"TimeOfLastSuccessfulBackup": null`,
    /// set in both cases: for a `Raw` item by replacing the values' text).
    pub list_entry: Option<Item>,
}

impl Agent {
    /// An agent whose list entry is its detail (with the forced values).
    pub fn new(detail: impl Into<Item>) -> Agent {
        Agent {
            detail: detail.into(),
            list_entry: None,
        }
    }

    /// The same agent with its own list entry.
    pub fn with_list_entry(mut self, entry: impl Into<Item>) -> Agent {
        self.list_entry = Some(entry.into());
        self
    }

    /// The `MachineAgentId` of the detail, as text.
    pub fn id(&self) -> Option<String> {
        self.detail.get("MachineAgentId")
    }

    /// The entry `GET user/agents` serves: `Status` `"Offline"`, `TimeOfLastSuccessfulBackup`
    /// `null`.
    pub fn served_list_entry(&self) -> Vec<u8> {
        match self.list_entry.as_ref().unwrap_or(&self.detail) {
            Item::Json(Value::Object(map)) => {
                let mut map = map.clone();
                map.insert("Status".to_owned(), Value::from("Offline"));
                map.insert("TimeOfLastSuccessfulBackup".to_owned(), Value::Null);
                Item::Json(Value::Object(map)).render()
            }
            Item::Json(other) => Item::Json(other.clone()).render(),
            Item::Raw(text) => {
                let text = set_raw_field(text, "Status", "\"Offline\"");
                set_raw_field(&text, "TimeOfLastSuccessfulBackup", "null").into_bytes()
            }
        }
    }
}

/// The account's data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    /// The agents, in the order `GET user/agents` lists them.
    pub agents: Vec<Agent>,
    /// Backup configurations (`BackupConfigurationId`, `MachineAgentId`, `IsDeleted`, ...).
    pub configurations: Vec<Item>,
    /// Activity items (`ID`, `Type`, `ParentId` = the configuration, `SourceMachineAgentId`,
    /// `CurrentState`, `TimeOfActivity`, ...), served in this order.
    pub activity: Vec<Item>,
    /// Backup reports, found by their `BackupId`.
    pub reports: Vec<Item>,
}

impl Dataset {
    /// Reads `agents.json` (agent details), `configurations.json`, `activity.json` and
    /// `reports.json` from `path`. Each file holds a JSON array of objects, or one object; a
    /// missing file is an empty list. Every object is kept as an [`Item::Raw`] and served byte
    /// for byte as written (so a fixture may hold the document's invalid JSON); each must read
    /// as an object with [`lenient_parse`].
    pub fn from_dir(path: &Path) -> anyhow::Result<Dataset> {
        Ok(Dataset {
            agents: read_items(path, "agents.json")?
                .into_iter()
                .map(Agent::new)
                .collect(),
            configurations: read_items(path, "configurations.json")?,
            activity: read_items(path, "activity.json")?,
            reports: read_items(path, "reports.json")?,
        })
    }

    /// The agent whose `MachineAgentId` is `id`.
    pub fn agent(&self, id: &str) -> Option<&Agent> {
        self.agents.iter().find(|a| a.id().as_deref() == Some(id))
    }

    /// The configuration whose `BackupConfigurationId` is `id`.
    pub fn configuration(&self, id: &str) -> Option<&Item> {
        self.configurations
            .iter()
            .find(|c| c.get("BackupConfigurationId").as_deref() == Some(id))
    }

    /// The report whose `BackupId` is `id`.
    pub fn report(&self, id: &str) -> Option<&Item> {
        self.reports
            .iter()
            .find(|r| r.get("BackupId").as_deref() == Some(id))
    }
}

fn read_items(dir: &Path, file: &str) -> anyhow::Result<Vec<Item>> {
    let path = dir.join(file);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let text = text.trim_start_matches('\u{feff}').trim();
    let pieces: Vec<&str> = if text.starts_with('[') {
        array_elements(text.as_bytes())
            .with_context(|| format!("{}: not a JSON array", path.display()))?
            .into_iter()
            .map(|r| &text[r])
            .collect()
    } else if text.starts_with('{') {
        vec![text]
    } else {
        anyhow::bail!("{}: expected a JSON array or object", path.display());
    };
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let value = lenient_parse(piece)
                .with_context(|| format!("{}: item {i} is not JSON", path.display()))?;
            anyhow::ensure!(
                value.is_object(),
                "{}: item {i} is not an object",
                path.display()
            );
            Ok(Item::Raw(piece.to_owned()))
        })
        .collect()
}

/// The one account the simulator knows.
#[derive(Debug, Clone)]
pub struct AccountConfig {
    pub username: String,
    /// For `RAX-KSKEY:apiKeyCredentials`.
    pub api_key: String,
    /// For `passwordCredentials`; `None` refuses password authentication.
    pub password: Option<String>,
    /// The tenant (account number): the `{tenant}` of every Cloud Backup path.
    pub tenant_id: String,
    /// `RAX-AUTH:defaultRegion` of the user.
    pub default_region: String,
    /// One Cloud Backup catalog endpoint per region, in this order.
    pub regions: Vec<String>,
    /// Adds a region-less Cloud Backup endpoint after the regional ones.
    pub global_endpoint: bool,
    /// How long an issued token stays valid.
    pub token_lifetime: Duration,
}

impl Default for AccountConfig {
    /// User `demo`, API key `demo-api-key`, no password, tenant `1234`, regions DFW, ORD and
    /// IAD (default DFW), no global endpoint, tokens valid for 24 hours.
    fn default() -> Self {
        AccountConfig {
            username: "demo".to_owned(),
            api_key: "demo-api-key".to_owned(),
            password: None,
            tenant_id: "1234".to_owned(),
            default_region: "DFW".to_owned(),
            regions: vec!["DFW".to_owned(), "ORD".to_owned(), "IAD".to_owned()],
            global_endpoint: false,
            token_lifetime: Duration::from_secs(24 * 3600),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pre-rendered data
// ---------------------------------------------------------------------------------------------

/// One rendered object and where its top-level values are.
struct Doc {
    bytes: Vec<u8>,
    fields: Vec<(Range<usize>, Range<usize>)>,
}

impl Doc {
    fn new(bytes: Vec<u8>) -> Doc {
        let fields = object_fields(&bytes).unwrap_or_default();
        Doc { bytes, fields }
    }

    /// The text of `key`'s value, as written.
    fn raw(&self, key: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(k, _)| &self.bytes[k.clone()] == key.as_bytes())
            .map(|(_, v)| &self.bytes[v.clone()])
    }

    fn text(&self, key: &str) -> Option<String> {
        scalar_text(self.raw(key)?)
    }

    fn time(&self, key: &str) -> Option<i64> {
        parse_net_date(&self.text(key)?)
    }
}

/// Writes an object whose values are JSON text copied from other bodies.
struct ObjectWriter {
    out: Vec<u8>,
}

impl ObjectWriter {
    fn new() -> ObjectWriter {
        let mut out = Vec::with_capacity(512);
        out.push(b'{');
        ObjectWriter { out }
    }

    fn raw(&mut self, key: &str, value: &[u8]) -> &mut Self {
        if self.out.len() > 1 {
            self.out.push(b',');
        }
        write_string(&mut self.out, key);
        self.out.push(b':');
        self.out.extend_from_slice(value);
        self
    }

    fn copy(&mut self, key: &str, value: Option<&[u8]>, default: &[u8]) -> &mut Self {
        self.raw(key, value.unwrap_or(default))
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.out);
        out.push(b'}');
        out
    }
}

fn json_array<'a>(items: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    out.push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.push(b']');
    out
}

/// A state compared the way a reader would: case and spaces ignored.
fn state_key(state: &str) -> String {
    state
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

fn is_completed(state: Option<&str>) -> bool {
    state.is_some_and(|s| matches!(state_key(s).as_str(), "completed" | "completedwitherrors"))
}

/// A data set as served: every item rendered once, and the indexes the routes need.
struct Served {
    dataset: Arc<Dataset>,
    agents_body: Vec<u8>,
    agents: Vec<Doc>,
    agent_index: HashMap<String, usize>,
    server_index: HashMap<String, usize>,
    configurations: Vec<Doc>,
    configurations_body: Vec<u8>,
    configuration_index: HashMap<String, usize>,
    configurations_by_agent: HashMap<String, Vec<usize>>,
    activity: Vec<Doc>,
    activity_body: Vec<u8>,
    activity_by_agent: HashMap<String, Vec<usize>>,
    /// `Backup` activity by `ID`.
    backups: HashMap<String, usize>,
    /// Completed `Backup` activity by configuration, newest first.
    completed: HashMap<String, Vec<usize>>,
    reports: Vec<Doc>,
    report_index: HashMap<String, usize>,
    available_body: Vec<u8>,
}

impl Served {
    fn new(dataset: Dataset) -> Served {
        let list_entries: Vec<Vec<u8>> = dataset
            .agents
            .iter()
            .map(Agent::served_list_entry)
            .collect();
        let agents_body = json_array(list_entries.iter().map(Vec::as_slice));
        let agents: Vec<Doc> = dataset
            .agents
            .iter()
            .map(|a| Doc::new(a.detail.render()))
            .collect();
        let mut agent_index = HashMap::new();
        let mut server_index = HashMap::new();
        for (i, doc) in agents.iter().enumerate() {
            if let Some(id) = doc.text("MachineAgentId") {
                agent_index.entry(id).or_insert(i);
            }
            if let Some(id) = doc.text("HostServerId") {
                server_index.entry(id).or_insert(i);
            }
        }

        let configurations: Vec<Doc> = dataset
            .configurations
            .iter()
            .map(|c| Doc::new(c.render()))
            .collect();
        let configurations_body = json_array(configurations.iter().map(|d| d.bytes.as_slice()));
        let mut configuration_index = HashMap::new();
        let mut configurations_by_agent: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, doc) in configurations.iter().enumerate() {
            if let Some(id) = doc.text("BackupConfigurationId") {
                configuration_index.entry(id).or_insert(i);
            }
            if let Some(agent) = doc.text("MachineAgentId") {
                configurations_by_agent.entry(agent).or_default().push(i);
            }
        }

        let activity: Vec<Doc> = dataset
            .activity
            .iter()
            .map(|a| Doc::new(a.render()))
            .collect();
        let activity_body = json_array(activity.iter().map(|d| d.bytes.as_slice()));
        let mut activity_by_agent: HashMap<String, Vec<usize>> = HashMap::new();
        let mut backups = HashMap::new();
        let mut completed: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, doc) in activity.iter().enumerate() {
            let source = doc.text("SourceMachineAgentId");
            let destination = doc.text("DestinationMachineAgentId");
            if let Some(agent) = &source {
                activity_by_agent.entry(agent.clone()).or_default().push(i);
            }
            if let Some(agent) = destination.filter(|d| Some(d) != source.as_ref()) {
                activity_by_agent.entry(agent).or_default().push(i);
            }
            let is_backup = doc
                .text("Type")
                .is_some_and(|t| t.eq_ignore_ascii_case("backup"));
            if !is_backup {
                continue;
            }
            if let Some(id) = doc.text("ID") {
                backups.entry(id).or_insert(i);
            }
            if is_completed(doc.text("CurrentState").as_deref()) {
                if let Some(configuration) = doc.text("ParentId") {
                    completed.entry(configuration).or_default().push(i);
                }
            }
        }
        for list in completed.values_mut() {
            list.sort_by_key(|&i| std::cmp::Reverse(activity[i].time("TimeOfActivity")));
        }

        let reports: Vec<Doc> = dataset
            .reports
            .iter()
            .map(|r| Doc::new(r.render()))
            .collect();
        let mut report_index = HashMap::new();
        for (i, doc) in reports.iter().enumerate() {
            if let Some(id) = doc.text("BackupId") {
                report_index.entry(id).or_insert(i);
            }
        }

        let mut served = Served {
            dataset: Arc::new(dataset),
            agents_body,
            agents,
            agent_index,
            server_index,
            configurations,
            configurations_body,
            configuration_index,
            configurations_by_agent,
            activity,
            activity_body,
            activity_by_agent,
            backups,
            completed,
            reports,
            report_index,
            available_body: Vec::new(),
        };
        served.available_body = served.available_for_restore();
        served
    }

    fn report_of(&self, backup_id: &str) -> Option<&Doc> {
        self.report_index.get(backup_id).map(|&i| &self.reports[i])
    }

    fn configuration(&self, id: &str) -> Option<&Doc> {
        self.configuration_index
            .get(id)
            .map(|&i| &self.configurations[i])
    }

    fn available_for_restore(&self) -> Vec<u8> {
        let entries: Vec<Vec<u8>> = self
            .configurations
            .iter()
            .filter(|c| c.text("IsDeleted").as_deref() != Some("true"))
            .filter_map(|c| {
                let id = c.text("BackupConfigurationId")?;
                let newest = &self.activity[*self.completed.get(&id)?.first()?];
                let modulus = serde_json::to_vec(KEY_MODULUS).unwrap_or_default();
                Some(
                    ObjectWriter::new()
                        .copy(
                            "BackupConfigurationId",
                            c.raw("BackupConfigurationId"),
                            b"null",
                        )
                        .copy(
                            "BackupConfigurationName",
                            c.raw("BackupConfigurationName"),
                            b"\"\"",
                        )
                        .copy("MachineName", c.raw("MachineName"), b"\"\"")
                        .copy("MachineAgentId", c.raw("MachineAgentId"), b"null")
                        .copy("IsEncrypted", c.raw("IsEncrypted"), b"false")
                        .raw("PublicKeyHex", b"10001")
                        .raw("PublicKeyMod", &modulus)
                        .copy("Flavor", c.raw("Flavor"), b"\"RaxCloudServer\"")
                        .copy(
                            "LastSuccessfulBackupTime",
                            newest.raw("TimeOfActivity"),
                            b"null",
                        )
                        .finish(),
                )
            })
            .collect();
        json_array(entries.iter().map(Vec::as_slice))
    }

    /// `GET backup/{id}`.
    fn backup(&self, id: &str) -> Option<Vec<u8>> {
        let key = json!({
            "ModulusHex": KEY_MODULUS,
            "ExponentHex": 10001,
        });
        let key = serde_json::to_vec(&key).unwrap_or_default();
        if let Some(&i) = self.backups.get(id) {
            let a = &self.activity[i];
            let configuration = a.text("ParentId").and_then(|c| self.configuration(&c));
            let state = match a.text("CurrentState") {
                Some(s) if state_key(&s) == "completedwitherrors" => {
                    b"\"CompletedWithErrors\"".to_vec()
                }
                _ => a.raw("CurrentState").unwrap_or(b"null").to_vec(),
            };
            return Some(
                ObjectWriter::new()
                    .copy("BackupId", a.raw("ID"), b"null")
                    .copy("BackupConfigurationId", a.raw("ParentId"), b"null")
                    .raw("CurrentState", &state)
                    .copy("BackupConfigurationName", a.raw("DisplayName"), b"\"\"")
                    .copy("MachineAgentId", a.raw("SourceMachineAgentId"), b"null")
                    .copy("MachineName", a.raw("SourceMachineName"), b"\"\"")
                    .copy("StateChangeTime", a.raw("TimeOfActivity"), b"null")
                    .copy(
                        "IsEncrypted",
                        configuration.and_then(|c| c.raw("IsEncrypted")),
                        b"false",
                    )
                    .raw("EncryptionKey", &key)
                    .finish(),
            );
        }
        let r = self.report_of(id)?;
        Some(
            ObjectWriter::new()
                .copy("BackupId", r.raw("BackupId"), b"null")
                .copy(
                    "BackupConfigurationId",
                    r.raw("BackupConfigurationId"),
                    b"null",
                )
                .copy("CurrentState", r.raw("State"), b"null")
                .copy(
                    "BackupConfigurationName",
                    r.raw("BackupConfigurationName"),
                    b"\"\"",
                )
                .copy("MachineAgentId", r.raw("MachineAgentId"), b"null")
                .copy("MachineName", r.raw("ComputerName"), b"\"\"")
                .copy("StateChangeTime", r.raw("CompletedTime"), b"null")
                .raw("IsEncrypted", b"false")
                .raw("EncryptionKey", &key)
                .finish(),
        )
    }

    /// `GET backup/completed/{configurationId}`; `None` for an unknown configuration.
    fn completed(&self, configuration: &str) -> Option<Vec<u8>> {
        let backups = self.completed.get(configuration);
        if backups.is_none() && !self.configuration_index.contains_key(configuration) {
            return None;
        }
        let entries: Vec<Vec<u8>> = backups
            .into_iter()
            .flatten()
            .map(|&i| {
                let a = &self.activity[i];
                let report = a.text("ID").and_then(|id| self.report_of(&id));
                let from_report = |key: &str| report.and_then(|r| r.raw(key));
                ObjectWriter::new()
                    .copy("BackupId", a.raw("ID"), b"null")
                    .copy("BackupConfigurationId", a.raw("ParentId"), b"null")
                    .copy("BackupConfigurationName", a.raw("DisplayName"), b"\"\"")
                    .copy("MachineName", a.raw("SourceMachineName"), b"\"\"")
                    .copy("MachineAgentId", a.raw("SourceMachineAgentId"), b"null")
                    .copy(
                        "CompletedTime",
                        from_report("CompletedTime").or_else(|| a.raw("TimeOfActivity")),
                        b"null",
                    )
                    .copy("BytesSearched", from_report("BytesSearched"), b"0")
                    .copy("NumErrors", from_report("NumErrors"), b"0")
                    .finish()
            })
            .collect();
        Some(json_array(entries.iter().map(Vec::as_slice)))
    }

    /// The items of `indexes` as one array, `None` when `id` names nothing at all.
    fn subset(&self, docs: &[Doc], indexes: Option<&Vec<usize>>, agent: &str) -> Option<Vec<u8>> {
        if indexes.is_none() && !self.agent_index.contains_key(agent) {
            return None;
        }
        Some(json_array(
            indexes
                .into_iter()
                .flatten()
                .map(|&i| docs[i].bytes.as_slice()),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

struct Shared {
    config: AccountConfig,
    /// `http://127.0.0.1:PORT`.
    base_url: String,
    served: Mutex<Arc<Served>>,
    faults: Arc<Faults>,
    requests: Arc<RequestLog>,
    mutations: Mutex<Vec<String>>,
    /// Token → expiry.
    tokens: Mutex<HashMap<String, Instant>>,
    issued: AtomicUsize,
    /// Ids handed out by create operations (never stored).
    next_id: AtomicU64,
}

/// A running simulated Rackspace identity and Cloud Backup service, listening on 127.0.0.1. It
/// stops when [`Simulator::shutdown`] is called or when the `SimServer` is dropped.
pub struct SimServer {
    running: Running,
    shared: Arc<Shared>,
}

impl Simulator for SimServer {
    type Dataset = Dataset;
    type Config = AccountConfig;

    async fn start_on(
        addr: SocketAddr,
        dataset: Dataset,
        config: AccountConfig,
    ) -> std::io::Result<SimServer> {
        let (running, shared) = Running::start(
            addr,
            |bound| Shared {
                config,
                base_url: bound.base_url,
                served: Mutex::new(Arc::new(Served::new(dataset))),
                faults: bound.faults,
                requests: bound.requests,
                mutations: Mutex::new(Vec::new()),
                tokens: Mutex::new(HashMap::new()),
                issued: AtomicUsize::new(0),
                next_id: AtomicU64::new(900_001),
            },
            |shared, req| async move { handle(&shared, req).await },
        )
        .await?;
        Ok(SimServer { running, shared })
    }

    /// Renders `dataset` first.
    fn set_dataset(&self, dataset: Dataset) {
        swap_served(&self.shared.served, Served::new(dataset));
    }

    fn running(&self) -> &Running {
        &self.running
    }

    fn into_running(self) -> Running {
        self.running
    }

    /// Forgets the requests (and mutations) received so far.
    fn clear_requests(&self) {
        self.shared.requests.clear();
        lock(&self.shared.mutations).clear();
    }
}

impl SimServer {
    /// The identity service's base URL, `http://127.0.0.1:PORT/v2.0` (tokens are at
    /// `/tokens` under it).
    pub fn identity_url(&self) -> String {
        format!("{}/v2.0", self.shared.base_url)
    }

    /// The Cloud Backup endpoint the catalog announces, `http://127.0.0.1:PORT/v1.0/<tenant>`.
    pub fn backup_endpoint(&self) -> String {
        format!(
            "{}/v1.0/{}",
            self.shared.base_url, self.shared.config.tenant_id
        )
    }

    /// The data currently served.
    pub fn dataset(&self) -> Arc<Dataset> {
        Arc::clone(&lock(&self.shared.served).dataset)
    }

    /// Invalidates every token issued so far, as a token revocation does.
    pub fn expire_tokens(&self) {
        lock(&self.shared.tokens).clear();
    }

    /// A valid token, as if issued by `POST /v2.0/tokens`, without counting in
    /// [`SimServer::auth_count`] (for tests that skip the identity step).
    pub fn mint_token(&self) -> String {
        self.shared.new_token()
    }

    /// How many tokens `POST /v2.0/tokens` issued so far.
    pub fn auth_count(&self) -> usize {
        self.shared.issued.load(Ordering::Relaxed)
    }

    /// How many requests were not reads (see [`SimServer::mutations`]).
    pub fn mutation_count(&self) -> usize {
        lock(&self.shared.mutations).len()
    }

    /// Every request that was not a read (any method but `GET`/`HEAD`, except to
    /// `/v2.0/tokens`), as `"<METHOD> <path and query>"`, in order, whatever its outcome.
    pub fn mutations(&self) -> Vec<String> {
        lock(&self.shared.mutations).clone()
    }
}

impl Shared {
    fn new_token(&self) -> String {
        let token = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let now = Instant::now();
        let mut tokens = lock(&self.tokens);
        tokens.retain(|_, expires| *expires > now);
        tokens.insert(token.clone(), now + self.config.token_lifetime);
        token
    }

    fn token_valid<B>(&self, req: &Request<B>) -> bool {
        let Some(token) = req
            .headers()
            .get(AUTH_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
        else {
            return false;
        };
        let mut tokens = lock(&self.tokens);
        match tokens.get(token) {
            Some(expires) if *expires > Instant::now() => true,
            Some(_) => {
                tokens.remove(token);
                false
            }
            None => false,
        }
    }

    fn fresh_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The service catalog: every URL points at the simulator.
    fn catalog(&self) -> Value {
        let base = &self.base_url;
        let tenant = &self.config.tenant_id;
        let files_tenant = format!("MossoCloudFS_{tenant}-5f3b2a7e-9c1d-4e8b-a6f0-7d2c91b4e385");
        let regions = &self.config.regions;
        let regional = |f: &dyn Fn(&str, &str) -> Value| -> Vec<Value> {
            regions
                .iter()
                .map(|r| f(r, &r.to_ascii_lowercase()))
                .collect()
        };
        let backup_url = format!("{base}/v1.0/{tenant}");
        let mut backup = regional(&|region, _| {
            json!({
                "region": region,
                "tenantId": tenant,
                "publicURL": backup_url,
                "internalURL": backup_url,
            })
        });
        if self.config.global_endpoint {
            backup.push(json!({"tenantId": tenant, "publicURL": backup_url}));
        }
        json!([
            {
                "name": "cloudFilesCDN",
                "type": "rax:object-cdn",
                "endpoints": regional(&|region, r| json!({
                    "region": region,
                    "tenantId": files_tenant,
                    "publicURL": format!("{base}/cdn/{r}/v1/{files_tenant}"),
                })),
            },
            {
                "name": "cloudFiles",
                "type": "object-store",
                "endpoints": regional(&|region, r| json!({
                    "region": region,
                    "tenantId": files_tenant,
                    "publicURL": format!("{base}/object-store/{r}/v1/{files_tenant}"),
                    "internalURL": format!("{base}/object-store/{r}/snet/v1/{files_tenant}"),
                })),
            },
            {
                "name": "cloudServersOpenStack",
                "type": "compute",
                "endpoints": regional(&|region, r| json!({
                    "region": region,
                    "tenantId": tenant,
                    "publicURL": format!("{base}/compute/{r}/v2/{tenant}"),
                    "versionInfo": format!("{base}/compute/{r}/v2"),
                    "versionList": format!("{base}/compute/{r}/"),
                    "versionId": "2",
                })),
            },
            {
                "name": BACKUP_SERVICE_NAME,
                "type": BACKUP_SERVICE_TYPE,
                "endpoints": backup,
            },
            {
                "name": "cloudMonitoring",
                "type": "rax:monitor",
                "endpoints": [{
                    "tenantId": tenant,
                    "publicURL": format!("{base}/monitoring/v1.0/{tenant}"),
                }],
            },
            {
                "name": "cloudDNS",
                "type": "rax:dns",
                "endpoints": [{
                    "tenantId": tenant,
                    "publicURL": format!("{base}/dns/v1.0/{tenant}"),
                }],
            },
            {
                "name": "cloudDatabases",
                "type": "rax:database",
                "endpoints": regional(&|region, r| json!({
                    "region": region,
                    "tenantId": tenant,
                    "publicURL": format!("{base}/database/{r}/v1.0/{tenant}"),
                })),
            },
        ])
    }
}

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

/// A Cloud Backup path, whatever the method.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resource {
    UserAgents,
    WakeUpAgents,
    /// `agent/enable`, `encrypt`, `changeencryption`, `delete`, `migratevault`, `logging`.
    AgentAction(&'static str),
    AgentByServer(String),
    Agent(String),
    Configurations,
    AgentConfigurations(String),
    EnableConfiguration(String),
    Configuration(String),
    Activity,
    AgentActivity(String),
    BackupAction,
    AvailableForRestore,
    Completed(String),
    Report(String),
    Backup(String),
    Restores,
    RestoreFiles,
    RestoreFilesOf(String),
    RestoreAction,
    RestoreReport(String),
    Restore(String),
    NotFound,
}

const AGENT_ACTIONS: &[&str] = &[
    "enable",
    "encrypt",
    "changeencryption",
    "delete",
    "migratevault",
    "logging",
];

impl Resource {
    fn parse(segments: &[&str]) -> Resource {
        let is = |i: usize, literal: &str| {
            segments
                .get(i)
                .is_some_and(|s| s.eq_ignore_ascii_case(literal))
        };
        let id = |i: usize| segments[i].to_owned();
        match segments.len() {
            1 if is(0, "backup-configuration") => Resource::Configurations,
            1 if is(0, "activity") => Resource::Activity,
            1 if is(0, "restore") => Resource::Restores,
            2 if is(0, "user") && is(1, "agents") => Resource::UserAgents,
            2 if is(0, "user") && is(1, "wakeupagents") => Resource::WakeUpAgents,
            2 if is(0, "agent") => match AGENT_ACTIONS.iter().find(|a| is(1, a)) {
                Some(action) => Resource::AgentAction(action),
                None => Resource::Agent(id(1)),
            },
            2 if is(0, "backup-configuration") => Resource::Configuration(id(1)),
            2 if is(0, "backup") && is(1, "action-requested") => Resource::BackupAction,
            2 if is(0, "backup") && is(1, "availableforrestore") => Resource::AvailableForRestore,
            2 if is(0, "backup") => Resource::Backup(id(1)),
            2 if is(0, "restore") && is(1, "files") => Resource::RestoreFiles,
            2 if is(0, "restore") && is(1, "action-requested") => Resource::RestoreAction,
            2 if is(0, "restore") => Resource::Restore(id(1)),
            3 if is(0, "agent") && is(1, "server") => Resource::AgentByServer(id(2)),
            3 if is(0, "backup-configuration") && is(1, "system") => {
                Resource::AgentConfigurations(id(2))
            }
            3 if is(0, "backup-configuration") && is(1, "enable") => {
                Resource::EnableConfiguration(id(2))
            }
            3 if is(0, "system") && is(1, "activity") => Resource::AgentActivity(id(2)),
            3 if is(0, "backup") && is(1, "completed") => Resource::Completed(id(2)),
            3 if is(0, "backup") && is(1, "report") => Resource::Report(id(2)),
            3 if is(0, "restore") && is(1, "files") => Resource::RestoreFilesOf(id(2)),
            3 if is(0, "restore") && is(1, "report") => Resource::RestoreReport(id(2)),
            _ => Resource::NotFound,
        }
    }

    /// The read endpoint (for `GET`) and the id in the path, if any.
    fn read(&self) -> Option<(&'static str, Option<&str>)> {
        Some(match self {
            Resource::UserAgents => ("agents", None),
            Resource::Agent(id) => ("agent", Some(id)),
            Resource::AgentByServer(id) => ("agent_by_server", Some(id)),
            Resource::Configurations => ("configurations", None),
            Resource::Configuration(id) => ("configuration", Some(id)),
            Resource::AgentConfigurations(id) => ("agent_configurations", Some(id)),
            Resource::Activity => ("activity", None),
            Resource::AgentActivity(id) => ("agent_activity", Some(id)),
            Resource::Report(id) => ("report", Some(id)),
            Resource::Backup(id) => ("backup", Some(id)),
            Resource::Completed(id) => ("completed", Some(id)),
            Resource::AvailableForRestore => ("available_for_restore", None),
            Resource::Restore(id) => ("restore", Some(id)),
            Resource::RestoreReport(id) => ("restore_report", Some(id)),
            Resource::RestoreFilesOf(id) => ("restore_files", Some(id)),
            _ => return None,
        })
    }

    /// The methods the path takes, as the `Allow` header lists them.
    fn allow(&self) -> &'static str {
        match self {
            Resource::WakeUpAgents
            | Resource::EnableConfiguration(_)
            | Resource::BackupAction
            | Resource::RestoreAction => "POST",
            Resource::AgentAction("migratevault" | "logging") | Resource::RestoreFiles => "PUT",
            Resource::AgentAction(_) => "POST",
            Resource::Agent(_) | Resource::Configurations => "GET, POST",
            Resource::Configuration(_) => "GET, PUT, DELETE",
            Resource::Restores => "PUT, POST",
            Resource::RestoreFilesOf(_) => "GET, DELETE",
            Resource::NotFound => "",
            _ => "GET",
        }
    }
}

#[derive(Debug)]
enum Route {
    Tokens,
    Backup { tenant: String, resource: Resource },
    Unknown,
}

impl Route {
    fn parse(path: &str) -> Route {
        let path = path.strip_suffix('/').unwrap_or(path);
        if path.eq_ignore_ascii_case("/v2.0/tokens") {
            return Route::Tokens;
        }
        let mut segments = path.split('/').skip(1);
        if !segments
            .next()
            .is_some_and(|v| v.eq_ignore_ascii_case("v1.0"))
        {
            return Route::Unknown;
        }
        let Some(tenant) = segments.next().filter(|t| !t.is_empty()) else {
            return Route::Unknown;
        };
        let rest: Vec<&str> = segments.collect();
        let resource = if rest.iter().any(|s| s.is_empty()) {
            Resource::NotFound
        } else {
            Resource::parse(&rest)
        };
        Route::Backup {
            tenant: tenant.to_owned(),
            resource,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Request handling
// ---------------------------------------------------------------------------------------------

fn is_read(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Resp {
    let route = Route::parse(req.uri().path());
    let read = is_read(req.method());
    let (endpoint, id): (&'static str, Option<String>) = match &route {
        Route::Tokens => ("tokens", None),
        _ if !read => (MUTATION_ENDPOINT, None),
        Route::Backup { resource, .. } => match resource.read() {
            Some((endpoint, id)) => (endpoint, id.map(str::to_owned)),
            None => (UNKNOWN_ENDPOINT, None),
        },
        Route::Unknown => (UNKNOWN_ENDPOINT, None),
    };
    shared.requests.record(endpoint, &req);
    if endpoint == MUTATION_ENDPOINT {
        let uri = req.uri();
        let target = uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
        lock(&shared.mutations).push(format!("{} {target}", req.method()));
    }

    let taken = take_fault(&shared.faults, endpoint, id.as_deref());
    if let Some(delay) = taken.fault.delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(resp) = crate::sim::hostile_answer(&taken.fault) {
        return resp;
    }
    match route {
        Route::Tokens => tokens(shared, req, &taken).await,
        Route::Backup { tenant, resource } => {
            backup_api(shared, req, &tenant, resource, &taken).await
        }
        Route::Unknown => error(StatusCode::NOT_FOUND, "Resource not found"),
    }
}

/// The fault for one request: `"<endpoint>:<id>"`, then `"<endpoint>"`, then `"*"`.
fn take_fault(faults: &Faults, endpoint: &str, id: Option<&str>) -> Taken {
    if let Some(id) = id {
        let key = format!("{endpoint}:{id}");
        if faults.get(&key).is_some() {
            return faults.take(&key);
        }
    }
    faults.take(endpoint)
}

fn injected_status(taken: &Taken) -> Option<StatusCode> {
    taken
        .fault
        .status
        .map(|code| StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
}

/// An OpenStack-style error: `{"<name>": {"code": N, "message": ".."}}`.
fn error(status: StatusCode, message: &str) -> Resp {
    let name = match status.as_u16() {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        409 => "conflict",
        413 | 429 => "overLimit",
        500 => "instanceFault",
        503 => "serviceUnavailable",
        _ => "fault",
    };
    let mut body = Map::new();
    body.insert(
        name.to_owned(),
        json!({"code": status.as_u16(), "message": message}),
    );
    json_response(status, &Value::Object(body))
}

fn method_not_allowed(allow: &'static str) -> Resp {
    let mut resp = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "The method is not allowed for the requested URL.",
    );
    resp.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    resp
}

fn ok_body(taken: &Taken, body: Vec<u8>) -> Resp {
    json_bytes_response(StatusCode::OK, apply_body_fault(&taken.fault, body))
}

fn empty(status: StatusCode) -> Resp {
    json_bytes_response(status, Vec::new())
}

async fn read_body(req: Request<Incoming>) -> Option<Vec<u8>> {
    let body = Limited::new(req.into_body(), 1024 * 1024)
        .collect()
        .await
        .ok()?;
    Some(body.to_bytes().to_vec())
}

async fn tokens(shared: &Shared, req: Request<Incoming>, taken: &Taken) -> Resp {
    if req.method() != Method::POST {
        return method_not_allowed("POST");
    }
    if let Some(status) = injected_status(taken) {
        return error(status, "Injected fault");
    }
    let Some(body) = read_body(req).await else {
        return error(StatusCode::BAD_REQUEST, "Unable to read the request body.");
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "Invalid json request body");
    };
    let Some(auth) = body.get("auth").and_then(Value::as_object) else {
        return error(StatusCode::BAD_REQUEST, PARSE_AUTH_MESSAGE);
    };
    let config = &shared.config;
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let (method, accepted, message) = if let Some(c) = auth.get("RAX-KSKEY:apiKeyCredentials") {
        let (Some(user), Some(key)) = (text(c, "username"), text(c, "apiKey")) else {
            return error(
                StatusCode::BAD_REQUEST,
                "Invalid request body: username and apiKey are required.",
            );
        };
        (
            "APIKEY",
            user == config.username && key == config.api_key,
            BAD_API_KEY_MESSAGE,
        )
    } else if let Some(c) = auth.get("passwordCredentials") {
        let (Some(user), Some(password)) = (text(c, "username"), text(c, "password")) else {
            return error(
                StatusCode::BAD_REQUEST,
                "Invalid request body: username and password are required.",
            );
        };
        (
            "PASSWORD",
            user == config.username && config.password.as_deref() == Some(password.as_str()),
            BAD_PASSWORD_MESSAGE,
        )
    } else {
        return error(StatusCode::BAD_REQUEST, PARSE_AUTH_MESSAGE);
    };
    if !accepted {
        return error(StatusCode::UNAUTHORIZED, message);
    }
    let auth = Value::Object(auth.clone());
    for key in ["tenantId", "tenantName"] {
        if let Some(t) = text(&auth, key) {
            if t != config.tenant_id {
                return error(
                    StatusCode::UNAUTHORIZED,
                    &format!("Tenant with id/name: '{t}' was not found for the user."),
                );
            }
        }
    }

    let token = shared.new_token();
    shared.issued.fetch_add(1, Ordering::Relaxed);
    let lifetime = chrono::Duration::from_std(config.token_lifetime)
        .unwrap_or_else(|_| chrono::Duration::days(1));
    let expires = (Utc::now() + lifetime)
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let body = json!({
        "access": {
            "token": {
                "id": token,
                "expires": expires,
                "tenant": {"id": config.tenant_id, "name": config.tenant_id},
                "RAX-AUTH:authenticatedBy": [method],
            },
            "serviceCatalog": shared.catalog(),
            "user": {
                "id": "10043198",
                "name": config.username,
                "roles": [{
                    "id": "3",
                    "name": "identity:default",
                    "description": "Default Role.",
                }],
                "RAX-AUTH:defaultRegion": config.default_region,
            },
        }
    });
    ok_body(taken, serde_json::to_vec(&body).unwrap_or_default())
}

async fn backup_api(
    shared: &Shared,
    req: Request<Incoming>,
    tenant: &str,
    resource: Resource,
    taken: &Taken,
) -> Resp {
    if !shared.token_valid(&req) {
        return error(
            StatusCode::UNAUTHORIZED,
            "The supplied token was not authorized to access the resources. Either it is expired \
             or invalid.",
        );
    }
    if tenant != shared.config.tenant_id {
        return error(
            StatusCode::FORBIDDEN,
            "Access to the requested resource was denied.",
        );
    }
    if resource == Resource::NotFound {
        return error(StatusCode::NOT_FOUND, "Resource not found");
    }
    let allow = resource.allow();
    let method = if req.method() == Method::HEAD {
        "GET"
    } else {
        req.method().as_str()
    };
    if !allow.split(", ").any(|m| m == method) {
        return method_not_allowed(allow);
    }
    if let Some(status) = injected_status(taken) {
        return error(status, "Injected fault");
    }
    let served = Arc::clone(&lock(&shared.served));
    if is_read(req.method()) {
        match read(&served, &resource) {
            Ok(body) => ok_body(taken, body),
            Err(message) => error(StatusCode::NOT_FOUND, &message),
        }
    } else {
        change(shared, &served, req, resource, taken).await
    }
}

fn read(served: &Served, resource: &Resource) -> Result<Vec<u8>, String> {
    let found = |body: Option<Vec<u8>>, what: &str, id: &str| {
        body.ok_or_else(|| format!("No {what} with id {id} was found."))
    };
    match resource {
        Resource::UserAgents => Ok(served.agents_body.clone()),
        Resource::Agent(id) => found(
            served
                .agent_index
                .get(id)
                .map(|&i| served.agents[i].bytes.clone()),
            "agent",
            id,
        ),
        Resource::AgentByServer(id) => found(
            served
                .server_index
                .get(id)
                .map(|&i| served.agents[i].bytes.clone()),
            "agent for the host server",
            id,
        ),
        Resource::Configurations => Ok(served.configurations_body.clone()),
        Resource::Configuration(id) => found(
            served.configuration(id).map(|d| d.bytes.clone()),
            "backup configuration",
            id,
        ),
        Resource::AgentConfigurations(id) => found(
            served.subset(
                &served.configurations,
                served.configurations_by_agent.get(id),
                id,
            ),
            "agent",
            id,
        ),
        Resource::Activity => Ok(served.activity_body.clone()),
        Resource::AgentActivity(id) => found(
            served.subset(&served.activity, served.activity_by_agent.get(id), id),
            "agent",
            id,
        ),
        Resource::Report(id) => found(
            served.report_of(id).map(|d| d.bytes.clone()),
            "backup report",
            id,
        ),
        Resource::Backup(id) => found(served.backup(id), "backup", id),
        Resource::Completed(id) => found(served.completed(id), "backup configuration", id),
        Resource::AvailableForRestore => Ok(served.available_body.clone()),
        Resource::Restore(id) | Resource::RestoreReport(id) | Resource::RestoreFilesOf(id) => {
            found(None, "restore", id)
        }
        _ => Err("Resource not found".to_owned()),
    }
}

/// The request body as a JSON object (tolerantly read), if it is one.
async fn json_object(req: Request<Incoming>) -> Option<Map<String, Value>> {
    let body = read_body(req).await?;
    let text = String::from_utf8(body).ok()?;
    match lenient_parse(&text).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

async fn change(
    shared: &Shared,
    served: &Served,
    req: Request<Incoming>,
    resource: Resource,
    taken: &Taken,
) -> Resp {
    let method = req.method().clone();
    let not_found = |what: &str, id: &str| {
        error(
            StatusCode::NOT_FOUND,
            &format!("No {what} with id {id} was found."),
        )
    };
    match resource {
        Resource::WakeUpAgents
        | Resource::AgentAction("migratevault" | "logging")
        | Resource::RestoreFiles => empty(StatusCode::OK),
        Resource::AgentAction("encrypt" | "changeencryption") => {
            let guid = format!(
                "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
                fastrand::u32(..),
                fastrand::u16(..),
                fastrand::u16(..0x1000),
                fastrand::u16(0x8000..0xc000),
                fastrand::u64(..1 << 48)
            );
            ok_body(taken, guid.into_bytes())
        }
        Resource::AgentAction(_)
        | Resource::RestoreAction
        | Resource::RestoreFilesOf(_)
        | Resource::Restores
            if method != Method::PUT =>
        {
            empty(StatusCode::NO_CONTENT)
        }
        Resource::Restores => match json_object(req).await {
            Some(mut map) => {
                map.insert("RestoreId".to_owned(), Value::from(shared.fresh_id()));
                map.insert("RestoreStateId".to_owned(), Value::from(0));
                ok_body(taken, Item::Json(Value::Object(map)).render())
            }
            None => error(StatusCode::BAD_REQUEST, "Invalid json request body"),
        },
        Resource::Agent(id) => match served.agent_index.get(&id) {
            Some(&i) => ok_body(taken, served.agents[i].bytes.clone()),
            None => not_found("agent", &id),
        },
        Resource::Configurations => match json_object(req).await {
            Some(mut map) => {
                let id = shared.fresh_id();
                map.insert("BackupConfigurationId".to_owned(), Value::from(id));
                map.insert(
                    "BackupConfigurationScheduleId".to_owned(),
                    Value::from(id - 1000),
                );
                map.insert("IsDeleted".to_owned(), Value::Bool(false));
                map.insert("LastRunTime".to_owned(), Value::Null);
                map.insert("LastRunBackupReportId".to_owned(), Value::Null);
                ok_body(taken, Item::Json(Value::Object(map)).render())
            }
            None => error(StatusCode::BAD_REQUEST, "Invalid json request body"),
        },
        Resource::Configuration(id) => match served.configuration(&id) {
            Some(_) => empty(StatusCode::OK),
            None => not_found("backup configuration", &id),
        },
        Resource::EnableConfiguration(id) => match served.configuration(&id) {
            Some(doc) => ok_body(taken, doc.bytes.clone()),
            None => not_found("backup configuration", &id),
        },
        Resource::BackupAction => {
            let action = json_object(req)
                .await
                .and_then(|m| m.get("Action").and_then(Value::as_str).map(str::to_owned));
            match action.as_deref() {
                Some(a) if a.eq_ignore_ascii_case("StartManual") => {
                    ok_body(taken, shared.fresh_id().to_string().into_bytes())
                }
                Some(a) if a.eq_ignore_ascii_case("StopManual") => empty(StatusCode::NO_CONTENT),
                _ => error(
                    StatusCode::BAD_REQUEST,
                    "Action must be StartManual or StopManual.",
                ),
            }
        }
        _ => error(StatusCode::NOT_FOUND, "Resource not found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::rackspace::sim::fleet::{demo_account, document_sample, large_account};

    fn client() -> reqwest::Client {
        crate::tls::install_crypto_provider();
        reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap()
    }

    struct Reply {
        status: u16,
        allow: Option<String>,
        content_type: Option<String>,
        body: String,
    }

    impl Reply {
        fn json(&self) -> Value {
            serde_json::from_str(&self.body)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
        }

        fn lenient(&self) -> Value {
            lenient_parse(&self.body)
                .unwrap_or_else(|e| panic!("not even lenient JSON ({e}): {}", self.body))
        }
    }

    async fn send(rb: reqwest::RequestBuilder) -> Reply {
        let resp = rb.send().await.unwrap();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (allow, content_type) = (header("allow"), header("content-type"));
        let status = resp.status().as_u16();
        Reply {
            status,
            allow,
            content_type,
            body: resp.text().await.unwrap(),
        }
    }

    async fn login(server: &SimServer, body: Value) -> Reply {
        send(
            client()
                .post(format!("{}/tokens", server.identity_url()))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    fn api_key_body(user: &str, key: &str) -> Value {
        json!({"auth": {"RAX-KSKEY:apiKeyCredentials": {"username": user, "apiKey": key}}})
    }

    async fn token(server: &SimServer) -> String {
        let reply = login(server, api_key_body("demo", "demo-api-key")).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()["access"]["token"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn get_with(server: &SimServer, path: &str, token: &str) -> Reply {
        send(
            client()
                .get(format!("{}{path}", server.backup_endpoint()))
                .header(AUTH_TOKEN_HEADER, token),
        )
        .await
    }

    async fn get(server: &SimServer, path: &str) -> Reply {
        get_with(server, path, &server.mint_token()).await
    }

    async fn start(dataset: Dataset) -> SimServer {
        SimServer::start(dataset, AccountConfig::default())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn token_with_api_key_and_with_password() {
        let config = AccountConfig {
            password: Some("s3cret".to_owned()),
            ..AccountConfig::default()
        };
        let server = SimServer::start(document_sample(), config).await.unwrap();
        let reply = login(&server, api_key_body("demo", "demo-api-key")).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.content_type.as_deref(), Some(CONTENT_TYPE_JSON));
        let body = reply.json();
        let token = &body["access"]["token"];
        let id = token["id"].as_str().unwrap();
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        let expires = token["expires"].as_str().unwrap();
        assert!(expires.ends_with('Z') && expires.len() == 24, "{expires}");
        let expires = DateTime::parse_from_rfc3339(expires).unwrap();
        let hours = (expires.with_timezone(&Utc) - Utc::now()).num_minutes() as f64 / 60.0;
        assert!((23.9..=24.0).contains(&hours), "{hours}");
        assert_eq!(token["tenant"], json!({"id": "1234", "name": "1234"}));
        assert_eq!(token["RAX-AUTH:authenticatedBy"], json!(["APIKEY"]));
        let user = &body["access"]["user"];
        assert_eq!(user["name"], json!("demo"));
        assert_eq!(user["RAX-AUTH:defaultRegion"], json!("DFW"));
        assert_eq!(user["roles"][0]["name"], json!("identity:default"));

        let reply = login(
            &server,
            json!({"auth": {"passwordCredentials": {"username": "demo", "password": "s3cret"}}}),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let body = reply.json();
        assert_eq!(
            body["access"]["token"]["RAX-AUTH:authenticatedBy"],
            json!(["PASSWORD"])
        );
        let second = body["access"]["token"]["id"].as_str().unwrap();
        assert_ne!(second, id);
        assert_eq!(server.auth_count(), 2);
        assert_eq!(server.request_count("tokens"), 2);
        for token in [id, second] {
            assert_eq!(get_with(&server, "/user/agents", token).await.status, 200);
        }
        // A tenant named in the request must be the account's.
        let mut body = api_key_body("demo", "demo-api-key");
        body["auth"]["tenantId"] = json!("1234");
        assert_eq!(login(&server, body.clone()).await.status, 200);
        body["auth"]["tenantId"] = json!("9999");
        assert_eq!(login(&server, body).await.status, 401);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn wrong_credentials_bad_bodies_and_methods() {
        let server = start(document_sample()).await;
        for (user, key) in [("demo", "nope"), ("other", "demo-api-key"), ("", "")] {
            let reply = login(&server, api_key_body(user, key)).await;
            assert_eq!(reply.status, 401, "{user}");
            assert_eq!(
                reply.json(),
                json!({"unauthorized": {"code": 401, "message": BAD_API_KEY_MESSAGE}})
            );
        }
        // No password configured: password authentication always fails.
        let reply = login(
            &server,
            json!({"auth": {"passwordCredentials": {"username": "demo", "password": ""}}}),
        )
        .await;
        assert_eq!(reply.status, 401);
        assert_eq!(
            reply.json()["unauthorized"]["message"],
            json!(BAD_PASSWORD_MESSAGE)
        );
        for body in [
            json!({}),
            json!({"auth": {}}),
            json!({"auth": {"token": {"id": "x"}}}),
            json!({"auth": {"RAX-KSKEY:apiKeyCredentials": {"username": "demo"}}}),
            json!([1, 2]),
        ] {
            let reply = login(&server, body.clone()).await;
            assert_eq!(reply.status, 400, "{body}");
            assert_eq!(reply.json()["badRequest"]["code"], json!(400));
        }
        let reply = send(
            client()
                .post(format!("{}/tokens", server.identity_url()))
                .body("{not json"),
        )
        .await;
        assert_eq!(reply.status, 400);
        let reply = send(client().get(format!("{}/tokens", server.identity_url()))).await;
        assert_eq!(reply.status, 405);
        assert_eq!(reply.allow.as_deref(), Some("POST"));
        assert_eq!(server.auth_count(), 0);
        // Identity requests are not mutations.
        assert_eq!(server.mutation_count(), 0);
        server.shutdown().await;
    }

    fn backup_endpoints(body: &Value) -> Vec<Value> {
        let catalog = body["access"]["serviceCatalog"].as_array().unwrap();
        let backup: Vec<&Value> = catalog
            .iter()
            .filter(|s| s["type"] == json!(BACKUP_SERVICE_TYPE))
            .collect();
        assert_eq!(backup.len(), 1);
        assert_eq!(backup[0]["name"], json!(BACKUP_SERVICE_NAME));
        backup[0]["endpoints"].as_array().unwrap().clone()
    }

    #[tokio::test]
    async fn catalog_regions_and_global_endpoint() {
        let server = start(document_sample()).await;
        let body = login(&server, api_key_body("demo", "demo-api-key"))
            .await
            .json();
        let endpoint = format!("{}/v1.0/1234", server.url());
        assert_eq!(endpoint, server.backup_endpoint());
        let endpoints = backup_endpoints(&body);
        let regions: Vec<&Value> = endpoints.iter().map(|e| &e["region"]).collect();
        assert_eq!(regions, vec!["DFW", "ORD", "IAD"]);
        for e in &endpoints {
            assert_eq!(e["publicURL"], json!(endpoint));
            assert_eq!(e["internalURL"], json!(endpoint));
            assert_eq!(e["tenantId"], json!("1234"));
        }
        let catalog = body["access"]["serviceCatalog"].as_array().unwrap();
        for (name, kind) in [
            ("cloudFiles", "object-store"),
            ("cloudServersOpenStack", "compute"),
            ("cloudMonitoring", "rax:monitor"),
        ] {
            assert!(
                catalog
                    .iter()
                    .any(|s| s["name"] == json!(name) && s["type"] == json!(kind)),
                "{name}"
            );
        }
        // Every URL of the catalog points at the simulator.
        let text = body["access"]["serviceCatalog"].to_string();
        assert_eq!(
            text.matches("URL\":\"").count(),
            text.matches(&format!("URL\":\"{}/", server.url())).count()
        );
        server.shutdown().await;

        let config = AccountConfig {
            regions: vec!["LON".to_owned()],
            default_region: "LON".to_owned(),
            global_endpoint: true,
            tenant_id: "987654".to_owned(),
            ..AccountConfig::default()
        };
        let server = SimServer::start(document_sample(), config).await.unwrap();
        let body = login(&server, api_key_body("demo", "demo-api-key"))
            .await
            .json();
        assert_eq!(
            body["access"]["user"]["RAX-AUTH:defaultRegion"],
            json!("LON")
        );
        let endpoints = backup_endpoints(&body);
        assert_eq!(endpoints.len(), 2);
        assert_eq!(endpoints[0]["region"], json!("LON"));
        let global = endpoints[1].as_object().unwrap();
        assert!(!global.contains_key("region"));
        assert_eq!(
            global["publicURL"],
            json!(format!("{}/v1.0/987654", server.url()))
        );
        assert_eq!(global["tenantId"], json!("987654"));
        server.shutdown().await;
    }

    #[tokio::test]
    async fn token_header_required_and_tenant_checked() {
        let server = start(document_sample()).await;
        let url = format!("{}/user/agents", server.backup_endpoint());
        let reply = send(client().get(&url)).await;
        assert_eq!(reply.status, 401);
        assert_eq!(reply.json()["unauthorized"]["code"], json!(401));
        let reply = send(client().get(&url).header(AUTH_TOKEN_HEADER, "nope")).await;
        assert_eq!(reply.status, 401);
        // A bearer token is not an X-Auth-Token.
        let token = token(&server).await;
        let reply = send(client().get(&url).bearer_auth(&token)).await;
        assert_eq!(reply.status, 401);
        let reply = send(client().get(&url).header(AUTH_TOKEN_HEADER, &token)).await;
        assert_eq!(reply.status, 200);
        // Unknown paths and mutations also need the token.
        assert_eq!(
            send(client().get(format!("{}/nothing", server.backup_endpoint())))
                .await
                .status,
            401
        );
        // Another tenant's path.
        let reply = send(
            client()
                .get(format!("{}/v1.0/5678/user/agents", server.url()))
                .header(AUTH_TOKEN_HEADER, &token),
        )
        .await;
        assert_eq!(reply.status, 403);
        assert_eq!(reply.json()["forbidden"]["code"], json!(403));
        server.shutdown().await;
    }

    #[tokio::test]
    async fn tokens_expire_and_can_be_expired() {
        let config = AccountConfig {
            token_lifetime: Duration::from_millis(300),
            ..AccountConfig::default()
        };
        let server = SimServer::start(document_sample(), config).await.unwrap();
        let first = token(&server).await;
        assert_eq!(get_with(&server, "/activity", &first).await.status, 200);
        tokio::time::sleep(Duration::from_millis(450)).await;
        assert_eq!(get_with(&server, "/activity", &first).await.status, 401);
        server.shutdown().await;

        let server = start(document_sample()).await;
        let tokens = [token(&server).await, token(&server).await];
        for t in &tokens {
            assert_eq!(get_with(&server, "/activity", t).await.status, 200);
        }
        server.expire_tokens();
        for t in &tokens {
            assert_eq!(get_with(&server, "/activity", t).await.status, 401);
        }
        let fresh = token(&server).await;
        assert_eq!(get_with(&server, "/activity", &fresh).await.status, 200);
        assert_eq!(server.auth_count(), 3);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn list_says_offline_detail_tells_the_truth() {
        let now = Utc::now();
        let demo = demo_account(now);
        let server = start(demo.clone()).await;
        let list = get(&server, "/user/agents").await;
        assert_eq!(list.status, 200);
        let list = list.lenient();
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), demo.agents.len());
        let mut online = 0;
        for entry in list {
            assert_eq!(entry["Status"], json!("Offline"));
            assert_eq!(entry["TimeOfLastSuccessfulBackup"], Value::Null);
            let id = scalar_of(&entry["MachineAgentId"]).unwrap();
            let detail = get(&server, &format!("/agent/{id}")).await;
            assert_eq!(detail.status, 200, "{id}");
            let detail = detail.lenient();
            assert_eq!(detail["MachineName"], entry["MachineName"]);
            if detail["Status"] == json!("Online") {
                online += 1;
            }
            let host = detail["HostServerId"].as_str().unwrap();
            let by_server = get(&server, &format!("/agent/server/{host}")).await;
            assert_eq!(by_server.lenient(), detail);
        }
        assert!(online >= list.len() - 3, "{online}");
        assert_eq!(get(&server, "/agent/1").await.status, 404);
        assert_eq!(get(&server, "/agent/server/nope").await.status, 404);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn the_document_sample_served_with_its_quirks() {
        use crate::sources::rackspace::sim::fleet::{
            DOC_AGENT_ID, DOC_REPORT_ID, DOC_SECOND_AGENT_ID,
        };
        let server = start(document_sample()).await;
        let list = get(&server, "/user/agents").await;
        // The document's invalid JSON, verbatim: strict parsers reject it.
        assert!(
            list.body.contains("\"ExponentHex\": 09528"),
            "{}",
            list.body
        );
        assert!(list.body.contains("CloudBackup\\_v2\\_0_yourUUID"));
        assert!(serde_json::from_str::<Value>(&list.body).is_err());
        let agents = list.lenient();
        assert_eq!(agents.as_array().unwrap().len(), 2);
        assert_eq!(agents[0]["PublicKey"]["ExponentHex"], json!(9528));
        assert_eq!(
            agents[0]["BackupContainer"],
            json!("https://storage101.DC.clouddrive.com/v1/yourAccount/CloudBackup_v2_0_yourUUID")
        );
        assert!(agents
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["Status"] == json!("Offline")));

        let detail = get(&server, &format!("/agent/{DOC_AGENT_ID}")).await;
        assert!(detail
            .body
            .contains("\"TimeOfLastSuccessfulBackup\": \"\\/Date(1357817400000)\\/\""));
        let detail = detail.json();
        assert_eq!(detail["Status"], json!("Online"));
        assert_eq!(detail["BackupVaultSize"], json!("35.3 MB"));
        assert_eq!(detail["PublicKey"]["ExponentHex"], json!("09528"));
        let second = get(&server, &format!("/agent/{DOC_SECOND_AGENT_ID}")).await;
        assert!(second.body.contains("09528") && second.body.contains("\\_"));
        assert_eq!(second.lenient()["MachineName"], json!("Web Server2"));

        let report = get(&server, &format!("/backup/report/{DOC_REPORT_ID}")).await;
        let report = report.json();
        assert_eq!(report["State"], json!("CompletedWithErrors"));
        assert_eq!(report["Duration"], json!("00:04:33"));
        assert_eq!(report["NumErrors"], json!(2));
        assert_eq!(report["ErrorList"].as_array().unwrap().len(), 2);
        assert_eq!(get(&server, "/backup/report/1").await.status, 404);

        let configurations = get(&server, "/backup-configuration").await.json();
        assert_eq!(configurations.as_array().unwrap().len(), 4);
        let body = get(&server, "/backup-configuration").await.body;
        assert!(body.contains("\"NextScheduledRunTime\": \"\\/Date(-62135578800000)\\/\""));
        server.shutdown().await;
    }

    #[tokio::test]
    async fn every_read_endpoint() {
        use crate::sources::rackspace::sim::fleet;
        let now = Utc::now();
        let demo = demo_account(now);
        let server = start(demo.clone()).await;

        let all = get(&server, "/backup-configuration").await.lenient();
        let all = all.as_array().unwrap();
        assert_eq!(all.len(), demo.configurations.len());
        assert!(all.iter().any(|c| c["IsDeleted"] == json!(true)));

        let id = fleet::FAILED_CONFIGURATION_ID;
        let one = get(&server, &format!("/backup-configuration/{id}")).await;
        assert_eq!(one.lenient()["BackupConfigurationId"], json!(id));
        assert_eq!(get(&server, "/backup-configuration/1").await.status, 404);

        let agent = fleet::DB_AGENT_ID;
        let mine = get(&server, &format!("/backup-configuration/system/{agent}"))
            .await
            .lenient();
        let mine = mine.as_array().unwrap();
        assert_eq!(mine.len(), 2);
        assert!(mine.iter().all(|c| c["MachineAgentId"] == json!(agent)));
        assert_eq!(
            get(&server, "/backup-configuration/system/1").await.status,
            404
        );

        let activity = get(&server, "/activity").await.lenient();
        assert_eq!(activity.as_array().unwrap().len(), demo.activity.len());
        let theirs = get(&server, &format!("/system/activity/{agent}"))
            .await
            .lenient();
        let theirs = theirs.as_array().unwrap();
        assert!(!theirs.is_empty());
        assert!(theirs.iter().all(|a| {
            a["SourceMachineAgentId"] == json!(agent)
                || a["DestinationMachineAgentId"] == json!(agent)
        }));
        assert_eq!(get(&server, "/system/activity/1").await.status, 404);

        // The failed configuration's latest run: backup, report, completed list.
        let failed = fleet::FAILED_BACKUP_ID;
        let backup = get(&server, &format!("/backup/{failed}")).await.lenient();
        assert_eq!(backup["CurrentState"], json!("Failed"));
        assert_eq!(backup["BackupConfigurationId"], json!(id));
        let report = get(&server, &format!("/backup/report/{failed}"))
            .await
            .lenient();
        assert_eq!(report["State"], json!("Failed"));
        let completed = get(&server, &format!("/backup/completed/{id}"))
            .await
            .lenient();
        let completed = completed.as_array().unwrap();
        assert!(completed.len() >= 2);
        assert!(completed.iter().all(|c| c["BackupId"] != json!(failed)));
        let times: Vec<i64> = completed
            .iter()
            .map(|c| parse_net_date(c["CompletedTime"].as_str().unwrap()).unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
        assert_eq!(get(&server, "/backup/completed/1").await.status, 404);
        assert_eq!(get(&server, "/backup/1").await.status, 404);

        // The spelling with the space becomes CompletedWithErrors in backup/{id}.
        let errors = get(&server, &format!("/backup/{}", fleet::ERRORS_BACKUP_ID))
            .await
            .lenient();
        assert_eq!(errors["CurrentState"], json!("CompletedWithErrors"));

        let available = get(&server, "/backup/availableforrestore").await.lenient();
        let available = available.as_array().unwrap();
        assert!(available
            .iter()
            .any(|a| a["BackupConfigurationId"] == json!(id)));
        assert!(!available
            .iter()
            .any(|a| a["BackupConfigurationId"] == json!(fleet::DELETED_CONFIGURATION_ID)));
        assert!(!available
            .iter()
            .any(|a| a["BackupConfigurationId"] == json!(fleet::NEVER_RUN_CONFIGURATION_ID)));
        for path in [
            "/restore/1394",
            "/restore/report/1394",
            "/restore/files/1394",
        ] {
            assert_eq!(get(&server, path).await.status, 404, "{path}");
        }
        for (endpoint, n) in [
            ("configurations", 1),
            ("configuration", 2),
            ("agent_configurations", 2),
            ("activity", 1),
            ("agent_activity", 2),
            ("backup", 3),
            ("report", 1),
            ("completed", 2),
            ("available_for_restore", 1),
            ("restore", 1),
            ("restore_report", 1),
            ("restore_files", 1),
        ] {
            assert_eq!(server.request_count(endpoint), n, "{endpoint}");
        }
        assert_eq!(server.mutation_count(), 0);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn per_agent_and_per_report_faults() {
        use crate::sources::rackspace::sim::fleet::{
            DOC_AGENT_ID, DOC_REPORT_ID, DOC_SECOND_AGENT_ID,
        };
        let server = start(document_sample()).await;
        let f503 = Fault {
            status: Some(503),
            ..Fault::default()
        };
        server
            .faults()
            .set(&format!("agent:{DOC_AGENT_ID}"), f503.clone());
        let reply = get(&server, &format!("/agent/{DOC_AGENT_ID}")).await;
        assert_eq!(reply.status, 503);
        assert_eq!(reply.json()["serviceUnavailable"]["code"], json!(503));
        assert_eq!(
            get(&server, &format!("/agent/{DOC_SECOND_AGENT_ID}"))
                .await
                .status,
            200
        );
        assert_eq!(get(&server, "/user/agents").await.status, 200);
        // The generic key applies to the others; the specific one still wins.
        server.faults().set(
            "agent",
            Fault {
                status: Some(500),
                ..Fault::default()
            },
        );
        assert_eq!(
            get(&server, &format!("/agent/{DOC_SECOND_AGENT_ID}"))
                .await
                .status,
            500
        );
        assert_eq!(
            get(&server, &format!("/agent/{DOC_AGENT_ID}")).await.status,
            503
        );
        server.faults().clear_all();

        server.faults().set_times(
            &format!("report:{DOC_REPORT_ID}"),
            Fault {
                truncate: true,
                ..Fault::default()
            },
            1,
        );
        let reply = get(&server, &format!("/backup/report/{DOC_REPORT_ID}")).await;
        assert_eq!(reply.status, 200);
        assert!(serde_json::from_str::<Value>(&reply.body).is_err());
        let reply = get(&server, &format!("/backup/report/{DOC_REPORT_ID}")).await;
        assert_eq!(reply.json()["BackupId"], json!(DOC_REPORT_ID));

        // Garbage, "*" and the identity endpoint.
        server.faults().set(
            "activity",
            Fault {
                garbage: true,
                ..Fault::default()
            },
        );
        let reply = get(&server, "/activity").await;
        assert_eq!(reply.status, 200);
        assert!(reply.body.starts_with("<html>"));
        server.faults().clear_all();
        server.faults().set("*", f503.clone());
        assert_eq!(
            login(&server, api_key_body("demo", "demo-api-key"))
                .await
                .status,
            503
        );
        assert_eq!(get(&server, "/user/agents").await.status, 503);
        server.faults().clear_all();
        server.faults().set(
            "tokens",
            Fault {
                truncate: true,
                ..Fault::default()
            },
        );
        let reply = login(&server, api_key_body("demo", "demo-api-key")).await;
        assert_eq!(reply.status, 200);
        assert!(serde_json::from_str::<Value>(&reply.body).is_err());

        // A delay holds the answer back.
        server.faults().clear_all();
        server.faults().set(
            &format!("agent:{DOC_AGENT_ID}"),
            Fault {
                delay: Some(Duration::from_secs(30)),
                ..Fault::default()
            },
        );
        let path = format!("/agent/{DOC_AGENT_ID}");
        let outcome = tokio::time::timeout(Duration::from_millis(200), get(&server, &path)).await;
        assert!(outcome.is_err());
        tokio::time::timeout(Duration::from_secs(5), server.shutdown())
            .await
            .expect("shutdown hangs");
    }

    #[tokio::test]
    async fn mutations_are_recorded_answered_and_change_nothing() {
        use crate::sources::rackspace::sim::fleet::{DOC_AGENT_ID, DOC_CONFIGURATION_ID};
        let server = start(document_sample()).await;
        let before = get(&server, "/user/agents").await.body;
        let token = server.mint_token();
        let call = |method: &str, path: &str, body: Option<Value>| {
            let mut rb = client()
                .request(
                    reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                    format!("{}{path}", server.backup_endpoint()),
                )
                .header(AUTH_TOKEN_HEADER, &token);
            if let Some(body) = body {
                rb = rb
                    .header("content-type", "application/json")
                    .body(body.to_string());
            }
            send(rb)
        };
        let id = DOC_AGENT_ID;
        let cfg = DOC_CONFIGURATION_ID;
        let cases: Vec<(&str, String, Option<Value>, u16)> = vec![
            ("POST", "/user/wakeupagents".into(), None, 200),
            (
                "POST",
                "/agent/enable".into(),
                Some(json!({"MachineAgentId": id, "Enable": false})),
                204,
            ),
            ("POST", "/agent/encrypt".into(), Some(json!({})), 200),
            (
                "POST",
                "/agent/changeencryption".into(),
                Some(json!({})),
                200,
            ),
            (
                "POST",
                "/agent/delete".into(),
                Some(json!({"MachineAgentId": id})),
                204,
            ),
            ("PUT", "/agent/migratevault".into(), Some(json!({})), 200),
            ("PUT", "/agent/logging".into(), None, 200),
            (
                "POST",
                format!("/agent/{id}"),
                Some(json!({"UseServiceNet": true})),
                200,
            ),
            ("POST", "/agent/1".into(), Some(json!({})), 404),
            (
                "POST",
                "/backup-configuration".into(),
                Some(json!({"MachineAgentId": id, "BackupConfigurationName": "x"})),
                200,
            ),
            (
                "PUT",
                format!("/backup-configuration/{cfg}"),
                Some(json!({})),
                200,
            ),
            ("DELETE", format!("/backup-configuration/{cfg}"), None, 200),
            ("DELETE", "/backup-configuration/1".into(), None, 404),
            (
                "POST",
                format!("/backup-configuration/enable/{cfg}"),
                Some(json!({"Enable": false})),
                200,
            ),
            (
                "POST",
                "/backup/action-requested".into(),
                Some(json!({"Action": "StartManual", "Id": cfg})),
                200,
            ),
            (
                "POST",
                "/backup/action-requested".into(),
                Some(json!({"Action": "StopManual", "Id": 1})),
                204,
            ),
            (
                "POST",
                "/backup/action-requested".into(),
                Some(json!({})),
                400,
            ),
            ("PUT", "/restore".into(), Some(json!({"BackupId": 1})), 200),
            (
                "POST",
                "/restore".into(),
                Some(json!({"RestoreId": 1})),
                204,
            ),
            ("PUT", "/restore/files".into(), Some(json!({})), 200),
            ("DELETE", "/restore/files/1394".into(), None, 204),
            (
                "POST",
                "/restore/action-requested".into(),
                Some(json!({})),
                204,
            ),
            ("DELETE", "/user/agents".into(), None, 405),
            ("POST", "/nothing/here".into(), None, 404),
        ];
        for (method, path, body, status) in &cases {
            let reply = call(method, path, body.clone()).await;
            assert_eq!(reply.status, *status, "{method} {path}: {}", reply.body);
            if *status == 405 {
                assert_eq!(reply.allow.as_deref(), Some("GET"));
            }
        }
        assert_eq!(server.mutation_count(), cases.len());
        assert_eq!(server.request_count(MUTATION_ENDPOINT), cases.len());
        let mutations = server.mutations();
        assert_eq!(mutations[0], "POST /v1.0/1234/user/wakeupagents");
        assert_eq!(
            mutations[11],
            format!("DELETE /v1.0/1234/backup-configuration/{cfg}")
        );

        // Some answers, as documented.
        let created = call(
            "POST",
            "/backup-configuration",
            Some(json!({"BackupConfigurationName": "Nightly"})),
        )
        .await
        .json();
        assert!(created["BackupConfigurationId"].is_u64());
        assert_eq!(created["BackupConfigurationName"], json!("Nightly"));
        let started = call(
            "POST",
            "/backup/action-requested",
            Some(json!({"Action": "StartManual", "Id": cfg})),
        )
        .await;
        assert!(started.json().is_u64(), "{}", started.body);
        let guid = call("POST", "/agent/encrypt", Some(json!({}))).await.body;
        assert_eq!(guid.len(), 36, "{guid}");

        // Nothing changed; a wrong method on a read-only path is a 405 too.
        assert_eq!(get(&server, "/user/agents").await.body, before);
        assert_eq!(server.dataset().configurations.len(), 4);
        assert_eq!(
            get(&server, &format!("/backup-configuration/{cfg}"))
                .await
                .status,
            200
        );
        let reply = get(&server, "/agent/enable").await;
        assert_eq!(reply.status, 405);
        assert_eq!(reply.allow.as_deref(), Some("POST"));
        // Without a token a mutation is a 401, and still recorded.
        let n = server.mutation_count();
        let reply = send(client().post(format!("{}/agent/enable", server.backup_endpoint()))).await;
        assert_eq!(reply.status, 401);
        assert_eq!(server.mutation_count(), n + 1);
        server.clear_requests();
        assert_eq!(server.mutation_count(), 0);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn json_items_escape_dates_plain_and_raw_items_do_not() {
        let detail = json!({
            "MachineAgentId": 1,
            "MachineName": "a/b",
            "Status": "Online",
            "TimeOfLastSuccessfulBackup": "/Date(1357817400000)/",
            "Other": "/Date(1357817400000-0600)/",
            "NotADate": "/Date(soon)/",
        });
        let dataset = Dataset {
            agents: vec![
                Agent::new(detail.clone()),
                Agent::new(Item::plain(&json!({
                    "MachineAgentId": "2",
                    "TimeOfLastSuccessfulBackup": "/Date(1357817400000+0000)/",
                }))),
                Agent::new(Item::raw(r#"{"MachineAgentId": 3}"#)),
            ],
            ..Dataset::default()
        };
        let server = start(dataset).await;
        let one = get(&server, "/agent/1").await.body;
        assert!(one.contains(r#""TimeOfLastSuccessfulBackup":"\/Date(1357817400000)\/""#));
        assert!(one.contains(r#""Other":"\/Date(1357817400000-0600)\/""#));
        assert!(one.contains(r#""NotADate":"/Date(soon)/""#));
        assert!(one.contains(r#""MachineName":"a/b""#));
        assert_eq!(serde_json::from_str::<Value>(&one).unwrap(), detail);
        let two = get(&server, "/agent/2").await.body;
        assert!(two.contains(r#""/Date(1357817400000+0000)/""#), "{two}");
        assert_eq!(
            get(&server, "/agent/3").await.body,
            r#"{"MachineAgentId": 3}"#
        );
        // The list forces the status, adding the keys to an item without them.
        let list = get(&server, "/user/agents").await.json();
        for entry in list.as_array().unwrap() {
            assert_eq!(entry["Status"], json!("Offline"));
            assert!(entry
                .as_object()
                .unwrap()
                .contains_key("TimeOfLastSuccessfulBackup"));
        }
        server.shutdown().await;
    }

    #[tokio::test]
    async fn unknown_paths_request_log_and_dataset_swap() {
        let server = start(document_sample()).await;
        token(&server).await;
        get(&server, "/user/agents").await;
        get(&server, "/activity/").await;
        get(&server, "/USER/Agents").await;
        let reply = send(client().get(format!("{}/nope", server.url()))).await;
        assert_eq!(reply.status, 404);
        assert_eq!(reply.json()["itemNotFound"]["code"], json!(404));
        assert_eq!(
            get(&server, "/backup-configuration/system").await.status,
            404
        );
        assert_eq!(
            server.requested_paths(),
            vec![
                "/v2.0/tokens",
                "/v1.0/1234/user/agents",
                "/v1.0/1234/activity/",
                "/v1.0/1234/USER/Agents",
                "/nope",
                "/v1.0/1234/backup-configuration/system",
            ]
        );
        assert_eq!(server.request_count("agents"), 2);
        assert_eq!(server.request_count("activity"), 1);
        // "system" alone is taken for a configuration id.
        assert_eq!(server.request_count("configuration"), 1);
        assert_eq!(server.request_count(UNKNOWN_ENDPOINT), 1);
        server.clear_requests();
        assert!(server.requested_paths().is_empty());

        let large = large_account(20, 2, Utc::now());
        server.set_dataset(large.clone());
        assert_eq!(server.dataset().agents.len(), 20);
        let list = get(&server, "/user/agents").await.json();
        assert_eq!(list.as_array().unwrap().len(), 20);
        assert!(server.url().starts_with("http://127.0.0.1:"));
        server.shutdown().await;
    }

    #[tokio::test]
    async fn from_dir_serves_files_verbatim() {
        use crate::sources::rackspace::sim::fleet::{DOC_AGENT_LIST, DOC_BACKUP_REPORT};
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("agents.json"), DOC_AGENT_LIST).unwrap();
        std::fs::write(dir.path().join("reports.json"), DOC_BACKUP_REPORT).unwrap();
        let d = Dataset::from_dir(dir.path()).unwrap();
        assert_eq!(d.agents.len(), 2);
        assert_eq!(d.agents[0].id().as_deref(), Some("213563"));
        assert!(d.configurations.is_empty() && d.activity.is_empty());
        assert_eq!(
            d.report("92500").map(|r| r.get("State")),
            Some(Some("CompletedWithErrors".into()))
        );
        let server = start(d).await;
        let detail = get(&server, "/agent/213563").await;
        assert!(detail.body.contains("\"ExponentHex\": 09528,\n"));
        assert_eq!(detail.lenient()["Status"], json!("Online"));
        let list = get(&server, "/user/agents").await.lenient();
        assert_eq!(list[0]["Status"], json!("Offline"));
        server.shutdown().await;

        std::fs::write(dir.path().join("activity.json"), "[{\"ID\": 1},").unwrap();
        let err = Dataset::from_dir(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("activity.json"), "{err:#}");
        std::fs::write(dir.path().join("activity.json"), "[1]").unwrap();
        assert!(Dataset::from_dir(dir.path()).is_err());
        std::fs::write(dir.path().join("activity.json"), "{\"ID\": 1}").unwrap();
        assert_eq!(Dataset::from_dir(dir.path()).unwrap().activity.len(), 1);
    }

    #[test]
    fn lenient_reading_and_raw_fields() {
        let text = r#"{ "A": 09528, "B": "x\_y", "C": "\/Date(1)\/", "D": -007, "E": 0.5,
            "F": {"G": [1, "}"]}, "H": null, "I": "0123" }"#;
        assert!(serde_json::from_str::<Value>(text).is_err());
        let v = lenient_parse(text).unwrap();
        assert_eq!(
            v,
            json!({"A": 9528, "B": "x_y", "C": "/Date(1)/", "D": -7, "E": 0.5,
                   "F": {"G": [1, "}"]}, "H": null, "I": "0123"})
        );
        let item = Item::raw(text);
        assert_eq!(item.get("A").as_deref(), Some("09528"));
        assert_eq!(item.get("B").as_deref(), Some("x_y"));
        assert_eq!(item.get("C").as_deref(), Some("/Date(1)/"));
        assert_eq!(item.get("F"), None);
        assert_eq!(item.get("H"), None);
        assert_eq!(item.get("Z"), None);
        assert_eq!(
            Item::Json(json!({"A": 5, "B": true})).get("B").as_deref(),
            Some("true")
        );
        let replaced = set_raw_field(text, "F", "\"gone\"");
        assert_eq!(lenient_parse(&replaced).unwrap()["F"], json!("gone"));
        assert!(replaced.contains("\"A\": 09528"));
        let added = set_raw_field("{ }", "S", "1");
        assert_eq!(added, "{\"S\":1 }");
        let added = set_raw_field("{\"T\": 2}", "S", "1");
        assert_eq!(lenient_parse(&added).unwrap(), json!({"S": 1, "T": 2}));
        assert_eq!(
            array_elements(b" [ {\"a\": [1,2]} , 3 ,\"x]\" ] ").map(|v| v.len()),
            Some(3)
        );
        assert_eq!(array_elements(b"[1] x"), None);
    }

    #[test]
    fn net_dates() {
        assert_eq!(parse_net_date("/Date(1357817400000)/"), Some(1357817400000));
        assert_eq!(
            parse_net_date("\\/Date(1357817400000)\\/"),
            Some(1357817400000)
        );
        assert_eq!(
            parse_net_date("/Date(1357817400000+0000)/"),
            Some(1357817400000)
        );
        assert_eq!(
            parse_net_date("/Date(1357817400000-0600)/"),
            Some(1357817400000)
        );
        assert_eq!(parse_net_date(NET_MIN_DATE), Some(-62135578800000));
        for bad in [
            "",
            "/Date()/",
            "/Date(x)/",
            "/Date(1-06)/",
            "Date(1)",
            "2013-01-10",
        ] {
            assert_eq!(parse_net_date(bad), None, "{bad}");
        }
        let t = DateTime::from_timestamp_millis(1357817400000).unwrap();
        assert_eq!(net_date(t), "/Date(1357817400000)/");
        assert_eq!(net_date_with_offset(t, -360), "/Date(1357817400000-0600)/");
        assert_eq!(net_date_with_offset(t, 0), "/Date(1357817400000+0000)/");
        assert_eq!(net_date_with_offset(t, 330), "/Date(1357817400000+0530)/");
    }
}
