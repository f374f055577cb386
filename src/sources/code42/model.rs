//! Code42 console `/api` payloads, read tolerantly and straight into typed structs.
//!
//! Quirks of the API (see the vendor document) handled here and only here:
//! - Lists come in an envelope: `{"metadata": {"timestamp", "params"}, "data": {"totalCount": T,
//!   "<key>": [...]}}`; some resources answer `"data": [...]` without a total. Both are read
//!   by [`Envelope`], which skips every other key without building it.
//! - `guid`s are strings of digits in the document and JSON integers above 2^53 elsewhere:
//!   read as digit strings ([`values::opt_id`]), never as numbers.
//! - Times are ISO 8601 strings with `-05:00` offsets and milliseconds, or `null`: read while
//!   decoding ([`Time`]), an unreadable one kept as text and reported during mapping, so one
//!   bad time makes one value absent. Fields the mapping does not use are skipped unbuilt.
//! - `version` is a build number (`1375333203614`); the client version is `productVersion`.
//! - `alertStates` is a list (`["OK"]`), beside a numeric `alertState` (0 = OK).
//! - `percentComplete` is a percent, 0 to 100, possibly fractional.
//! - `backupUsage` is absent unless asked for (`incBackupUsage=true`), and may be `null`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::sources::http::{decode, decode_seed, Page, UpstreamError};
use crate::sources::values::{
    opt_f64, opt_flag, opt_id, opt_num, opt_text, opt_time, string_list, Flag, Num, Time,
};

/// An item of `GET /api/v1/Computer` (with `incBackupUsage=true`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Computer {
    #[serde(deserialize_with = "opt_id")]
    pub computer_id: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub name: Option<String>,
    #[serde(deserialize_with = "opt_id")]
    pub guid: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub status: Option<String>,
    #[serde(deserialize_with = "opt_flag")]
    pub active: Option<Flag>,
    #[serde(deserialize_with = "opt_flag")]
    pub blocked: Option<Flag>,
    #[serde(deserialize_with = "opt_num")]
    pub alert_state: Option<Num>,
    #[serde(deserialize_with = "string_list")]
    pub alert_states: Vec<String>,
    #[serde(deserialize_with = "opt_id")]
    pub user_id: Option<String>,
    #[serde(deserialize_with = "opt_id")]
    pub user_uid: Option<String>,
    #[serde(deserialize_with = "opt_id")]
    pub org_id: Option<String>,
    #[serde(deserialize_with = "opt_time")]
    pub last_connected: Option<Time>,
    #[serde(deserialize_with = "opt_time")]
    pub creation_date: Option<Time>,
    #[serde(deserialize_with = "opt_text")]
    pub os_name: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub os_version: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub product_version: Option<String>,
    #[serde(deserialize_with = "nullable_list")]
    pub backup_usage: Vec<BackupUsage>,
}

impl Computer {
    /// Identity for de-duplicating pages.
    pub fn key(&self) -> String {
        self.guid
            .clone()
            .or_else(|| self.computer_id.clone())
            .unwrap_or_default()
    }
}

/// One element of a computer's `backupUsage`: its backup to one destination.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BackupUsage {
    #[serde(deserialize_with = "opt_id")]
    pub target_computer_id: Option<String>,
    #[serde(deserialize_with = "opt_id")]
    pub target_computer_guid: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub target_computer_name: Option<String>,
    #[serde(deserialize_with = "opt_num")]
    pub selected_files: Option<Num>,
    #[serde(deserialize_with = "opt_num")]
    pub selected_bytes: Option<Num>,
    #[serde(deserialize_with = "opt_num")]
    pub todo_files: Option<Num>,
    #[serde(deserialize_with = "opt_num")]
    pub todo_bytes: Option<Num>,
    #[serde(deserialize_with = "opt_num")]
    pub archive_bytes: Option<Num>,
    #[serde(deserialize_with = "opt_num")]
    pub billable_bytes: Option<Num>,
    #[serde(deserialize_with = "opt_num")]
    pub send_rate_average: Option<Num>,
    #[serde(deserialize_with = "opt_time")]
    pub last_backup: Option<Time>,
    #[serde(deserialize_with = "opt_time")]
    pub last_completed_backup: Option<Time>,
    #[serde(deserialize_with = "opt_time")]
    pub last_connected: Option<Time>,
    #[serde(deserialize_with = "opt_time")]
    pub creation_date: Option<Time>,
    #[serde(deserialize_with = "opt_flag")]
    pub using: Option<Flag>,
    #[serde(deserialize_with = "opt_num")]
    pub alert_state: Option<Num>,
    #[serde(deserialize_with = "string_list")]
    pub alert_states: Vec<String>,
    #[serde(deserialize_with = "opt_num")]
    pub percent_complete: Option<Num>,
    #[serde(deserialize_with = "opt_text")]
    pub store_point_name: Option<String>,
}

/// An item of `GET /api/v1/User`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct User {
    #[serde(deserialize_with = "opt_id")]
    pub user_id: Option<String>,
    #[serde(deserialize_with = "opt_id")]
    pub user_uid: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub username: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub email: Option<String>,
    #[serde(deserialize_with = "opt_id")]
    pub org_id: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub org_name: Option<String>,
}

impl User {
    pub fn key(&self) -> String {
        self.user_id
            .clone()
            .or_else(|| self.user_uid.clone())
            .unwrap_or_default()
    }
}

/// An item of `GET /api/v1/Org`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Org {
    #[serde(deserialize_with = "opt_id")]
    pub org_id: Option<String>,
    #[serde(deserialize_with = "opt_id")]
    pub org_uid: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub org_name: Option<String>,
}

impl Org {
    pub fn key(&self) -> String {
        self.org_id
            .clone()
            .or_else(|| self.org_uid.clone())
            .unwrap_or_default()
    }
}

/// An item of `GET /api/StorePoint` (administrators only): a store of backup archives.
/// Capacity fields are read under the names Code42 servers have used for them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StorePoint {
    #[serde(alias = "id", deserialize_with = "opt_id")]
    pub store_point_id: Option<String>,
    #[serde(alias = "name", deserialize_with = "opt_text")]
    pub store_point_name: Option<String>,
    #[serde(deserialize_with = "opt_id")]
    pub server_id: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub server_name: Option<String>,
    #[serde(rename = "type", deserialize_with = "opt_text")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub status: Option<String>,
    #[serde(deserialize_with = "opt_flag")]
    pub online: Option<Flag>,
    #[serde(flatten)]
    pub capacity: Capacity,
    /// A percent, as a number or text.
    #[serde(
        alias = "percentFree",
        alias = "freePercent",
        deserialize_with = "opt_text"
    )]
    pub free_percentage: Option<String>,
    #[serde(alias = "bytesPerSecond", deserialize_with = "opt_num")]
    pub write_bytes_per_second: Option<Num>,
}

/// Store capacity, read under the names Code42 servers have used for it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Capacity {
    #[serde(
        alias = "bytesTotal",
        alias = "totalSpace",
        deserialize_with = "opt_num"
    )]
    pub total_bytes: Option<Num>,
    #[serde(alias = "bytesUsed", alias = "usedSpace", deserialize_with = "opt_num")]
    pub used_bytes: Option<Num>,
    #[serde(
        alias = "bytesFree",
        alias = "availableBytes",
        alias = "freeSpace",
        deserialize_with = "opt_num"
    )]
    pub free_bytes: Option<Num>,
}

impl Capacity {
    /// Used and free bytes, each derived from the total and the other when only two of the
    /// three are given (an unreadable one is kept as such, to be reported where it is read).
    pub fn used_free(&self) -> (Option<Num>, Option<Num>) {
        let get = |v: &Option<Num>| v.as_ref().and_then(Num::get);
        let (total, used, free) = (
            get(&self.total_bytes),
            get(&self.used_bytes),
            get(&self.free_bytes),
        );
        let used_out = self.used_bytes.clone().or(match (total, free) {
            (Some(t), Some(f)) => Some(Num::Is(t - f)),
            _ => None,
        });
        let free_out = self.free_bytes.clone().or(match (total, used) {
            (Some(t), Some(u)) => Some(Num::Is(t - u)),
            _ => None,
        });
        (used_out, free_out)
    }
}

/// An item of `GET /api/Server` (administrators only): a storage server.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Server {
    #[serde(alias = "id", deserialize_with = "opt_id")]
    pub server_id: Option<String>,
    #[serde(deserialize_with = "opt_id")]
    pub guid: Option<String>,
    #[serde(alias = "name", deserialize_with = "opt_text")]
    pub server_name: Option<String>,
    #[serde(rename = "type", deserialize_with = "opt_text")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub version: Option<String>,
    #[serde(alias = "address", deserialize_with = "opt_text")]
    pub primary_address: Option<String>,
    #[serde(deserialize_with = "opt_flag")]
    pub online: Option<Flag>,
    #[serde(flatten)]
    pub capacity: Capacity,
    #[serde(deserialize_with = "opt_num")]
    pub backup_session_count: Option<Num>,
}

/// The sign-in answer of `GET /api/v3/auth/jwt?useBody=true`.
#[derive(Debug, Deserialize)]
pub struct JwtAnswer {
    pub data: Option<JwtData>,
}

#[derive(Debug, Deserialize)]
pub struct JwtData {
    pub v3_user_token: Option<String>,
}

/// The answer of `POST /api/v3/oauth/token?grant_type=client_credentials`.
#[derive(Debug, Deserialize)]
pub struct OAuthAnswer {
    pub access_token: Option<String>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub expires_in: Option<f64>,
}

/// A list that may be `null` (→ empty).
fn nullable_list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

// ---- the list envelope ----

macro_rules! page_decoders {
    ($($fn:ident: $t:ty, $key:literal;)*) => {
        $(
            #[doc = concat!("Decodes one page of the `", $key, "` list envelope.")]
            pub fn $fn(endpoint: &'static str, body: &[u8]) -> Result<Page<$t>, UpstreamError> {
                lenient_page::<$t>(endpoint, $key, body)
            }
        )*
    };
}

page_decoders! {
    computers_page: Computer, "computers";
    users_page: User, "users";
    orgs_page: Org, "orgs";
    store_points_page: StorePoint, "storePoints";
    servers_page: Server, "servers";
}

/// Decodes a page of `key`; when it does not read as a whole, each item is read on its own,
/// and the ones that do not read (an unreadable id, an object where a list belongs) are left
/// out and reported in [`Page::skipped`]. A page that is not JSON or has no list still fails.
fn lenient_page<T: serde::de::DeserializeOwned>(
    endpoint: &'static str,
    key: &'static str,
    body: &[u8],
) -> Result<Page<T>, UpstreamError> {
    let whole = match decode_seed(endpoint, body, || Envelope::<T> {
        key,
        item: PhantomData,
    }) {
        Ok(page) => return Ok(page),
        Err(e) => e,
    };
    let Ok(raw) = decode_seed(endpoint, body, || Envelope::<
        Box<serde_json::value::RawValue>,
    > {
        key,
        item: PhantomData,
    }) else {
        return Err(whole);
    };
    let mut page = Page {
        items: Vec::with_capacity(raw.items.len()),
        total: raw.total,
        server_time: raw.server_time,
        skipped: Vec::new(),
    };
    for (i, item) in raw.items.iter().enumerate() {
        match decode::<T>(endpoint, item.get().as_bytes()) {
            Ok(v) => page.items.push(v),
            Err(e) => page.skipped.push(format!("{key}[{i}]: {e}")),
        }
    }
    Ok(page)
}

/// Reads `{"metadata": {"timestamp"}, "data": {"totalCount", "<key>": [...]}}` or
/// `{"data": [...]}`.
struct Envelope<T> {
    key: &'static str,
    item: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Envelope<T> {
    type Value = Page<T>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Page<T>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Envelope<T> {
    type Value = Page<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an object with \"data\" holding {:?}", self.key)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Page<T>, A::Error> {
        let mut data: Option<(Vec<T>, Option<u64>)> = None;
        let mut server_time = None;
        while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match k.as_ref() {
                "data" if data.is_none() => {
                    data = Some(map.next_value_seed(Data::<T> {
                        key: self.key,
                        item: PhantomData,
                    })?);
                }
                "metadata" => {
                    server_time = map
                        .next_value::<Option<Metadata>>()?
                        .and_then(|m| m.timestamp)
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let (items, total) = data.ok_or_else(|| serde::de::Error::missing_field("data"))?;
        Ok(Page {
            items,
            total,
            server_time,
            skipped: Vec::new(),
        })
    }
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default, deserialize_with = "opt_text")]
    timestamp: Option<String>,
}

struct Data<T> {
    key: &'static str,
    item: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Data<T> {
    type Value = (Vec<T>, Option<u64>);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Data<T> {
    type Value = (Vec<T>, Option<u64>);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an object with totalCount and {:?}, or a list", self.key)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(10_000));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok((items, None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut items = None;
        let mut total = None;
        while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if k == self.key && items.is_none() {
                items = Some(map.next_value::<Option<Vec<T>>>()?.unwrap_or_default());
            } else if k == "totalCount" {
                total = map
                    .next_value::<Count>()?
                    .0
                    .filter(|t| t.is_finite() && *t >= 0.0)
                    .map(|t| t as u64);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        let items = items.ok_or_else(|| serde::de::Error::missing_field(self.key))?;
        Ok((items, total))
    }
}

#[derive(Deserialize)]
#[serde(transparent)]
struct Count(#[serde(deserialize_with = "opt_f64")] Option<f64>);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The document's first computer, verbatim.
    pub const ALPHA: &str = r#"{
        "computerId": 10, "name": "Alpha", "guid": "619174385806213377", "type": "COMPUTER",
        "status": "Active", "active": true, "blocked": false, "alertState": 0, "alertStates": ["OK"],
        "userId": 2, "orgId": 2, "parentComputerId": null,
        "lastConnected": "2014-08-07T15:14:04.234-05:00", "osName": "Linux",
        "osVersion": "3.2.0-4-686-pae", "osArch": "i386", "address": "127.0.0.1:4242",
        "remoteAddress": "127.0.0.1", "javaVersion": "1.6.0_27", "modelInfo": null,
        "timeZone": "US/Central", "version": 1375333203614, "productVersion": "3.6.1.4",
        "creationDate": "2014-08-01T16:37:51.131-05:00",
        "modificationDate": "2014-08-07T15:14:09.645-05:00",
        "loginDate": "2014-08-07T15:14:09.641-05:00",
        "backupUsage": [{
            "targetComputerId": 2, "targetComputerParentId": null,
            "targetComputerGuid": "647903643760066817", "targetComputerName": "Code42 Server",
            "targetComputerOsName": null, "targetComputerType": "SERVER", "selectedFiles": 8,
            "selectedBytes": 21944, "todoFiles": 0, "todoBytes": 0, "archiveBytes": 111170,
            "billableBytes": 111170, "sendRateAverage": 70139, "completionRateAverage": 0,
            "lastBackup": "2014-08-07T15:14:12.802-05:00",
            "lastCompletedBackup": "2014-08-07T15:14:12.802-05:00",
            "lastConnected": "2014-08-07T15:16:45.469-05:00",
            "lastMaintenanceDate": "2014-08-01T16:38:13.955-05:00", "lastCompactDate": null,
            "modificationDate": "2014-08-07T15:16:45.469-05:00",
            "creationDate": "2014-08-01T16:38:13.958-05:00", "using": true, "alertState": 0,
            "alertStates": ["OK"], "percentComplete": 100, "storePointId": 1,
            "storePointName": "Default", "serverId": 3, "serverName": "Code42 Server",
            "serverHostName": "http://alpha:4280", "isProvider": false
        }]
    }"#;

    #[test]
    fn the_document_computer() {
        let c: Computer = serde_json::from_str(ALPHA).unwrap();
        assert_eq!(c.guid.as_deref(), Some("619174385806213377"));
        assert_eq!(c.product_version.as_deref(), Some("3.6.1.4"));
        assert_eq!(c.alert_states, vec!["OK"]);
        let u = &c.backup_usage[0];
        assert_eq!(
            u.target_computer_guid.as_deref(),
            Some("647903643760066817")
        );
        assert_eq!(u.percent_complete, Some(Num::Is(100.0)));
        assert_eq!(u.last_completed_backup, Some(Time::At(1_407_442_452.802)));
        assert_eq!(u.store_point_name.as_deref(), Some("Default"));
        assert_eq!(u.using, Some(Flag::Is(true)));
    }

    #[test]
    fn big_integer_guids_keep_every_digit() {
        let c: Computer =
            serde_json::from_str(r#"{"guid": 987654321987654321, "backupUsage": null}"#).unwrap();
        assert_eq!(c.guid.as_deref(), Some("987654321987654321"));
        assert!(c.backup_usage.is_empty());
    }

    #[test]
    fn envelope_with_total_and_metadata() {
        let body = format!(
            r#"{{"metadata": {{"timestamp": "2014-08-07T15:31:21.466-05:00", "params": {{"active": "true"}}}},
                "data": {{"totalCount": 2, "computers": [{ALPHA}, {{"name": "Beta"}}], "extra": {{}}}}}}"#
        );
        let page = computers_page("computers", body.as_bytes()).unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.total, Some(2));
        assert_eq!(
            page.server_time.as_deref(),
            Some("2014-08-07T15:31:21.466-05:00")
        );
        // "data" before "metadata", a list without total, a total given as text.
        let page = servers_page(
            "servers",
            br#"{"data": [{"serverId": 3, "serverName": "S"}], "metadata": null}"#,
        )
        .unwrap();
        assert_eq!(page.items[0].server_name.as_deref(), Some("S"));
        assert_eq!(page.total, None);
        let page = users_page("users", br#"{"data": {"users": null, "totalCount": "0"}}"#).unwrap();
        assert!(page.items.is_empty());
        assert_eq!(page.total, Some(0));
    }

    #[test]
    fn envelope_errors_name_the_path() {
        // An item that does not read is left out of its page, its path told.
        let page = computers_page(
            "computers",
            br#"{"data": {"totalCount": 1, "computers": [{"backupUsage": "none"}]}}"#,
        )
        .unwrap();
        assert!(page.items.is_empty());
        assert!(
            page.skipped[0].contains("backupUsage"),
            "{:?}",
            page.skipped
        );
        // A page without its list still fails.
        let err = computers_page("computers", br#"{"data": {"totalCount": 1}}"#).unwrap_err();
        assert!(err.to_string().contains("computers"), "{err}");
        // A bad value is no error: it is read as unreadable, and told during mapping.
        let page = computers_page(
            "computers",
            br#"{"data": {"totalCount": 1, "computers": [{"backupUsage": [{"selectedBytes": "lots"}]}]}}"#,
        )
        .unwrap();
        assert_eq!(
            page.items[0].backup_usage[0].selected_bytes,
            Some(Num::Unreadable("lots".into()))
        );
        let err = computers_page("computers", br#"{"metadata": {}}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `data`"), "{err}");
        let err = computers_page("computers", br#"{"data": {"totalCount": 3}}"#).unwrap_err();
        assert!(
            err.to_string().contains("missing field `computers`"),
            "{err}"
        );
        let err = computers_page("computers", br#"{"data": {"computers": [{"na"#).unwrap_err();
        assert_eq!(err.reason(), "parse");
    }

    #[test]
    fn store_point_capacity_spellings() {
        let p: StorePoint = serde_json::from_str(
            r#"{"storePointId": 1, "storePointName": "Default", "totalBytes": 100, "freeBytes": 7, "usedBytes": 93}"#,
        )
        .unwrap();
        assert_eq!(
            (
                p.capacity.total_bytes,
                p.capacity.free_bytes,
                p.capacity.used_bytes
            ),
            (
                Some(Num::Is(100.0)),
                Some(Num::Is(7.0)),
                Some(Num::Is(93.0))
            )
        );
        let p: StorePoint = serde_json::from_str(
            r#"{"id": 2, "name": "Offsite", "bytesTotal": 10, "bytesFree": "1", "percentFree": "10%"}"#,
        )
        .unwrap();
        assert_eq!(p.store_point_id.as_deref(), Some("2"));
        assert_eq!(p.capacity.free_bytes, Some(Num::Is(1.0)));
        assert_eq!(p.free_percentage.as_deref(), Some("10%"));
    }
}
