//! CrashPlan PRO `/rest` payloads, read tolerantly.
//!
//! Quirks of the API (see the vendor document) handled here and only here:
//! - GUIDs are JSON integers above 2^53: read as digit strings ([`values::id`]).
//! - Times are ISO 8601 strings with `-05:00` offsets or `Z`, or `null`: kept as text and read
//!   during mapping, so one bad time makes one value absent, not the refresh fail.
//! - usages spell the target GUID `targetGuId`; computerUsage spells it `targetGuid`.
//! - `sourceStatus` is a comma list (`"Blocked,Active"`); `alertStates` a list (or `[]`).
//! - List views lack the detail fields (org aggregates and quota, mount point capacity,
//!   computer OS and `serverBackupStats`): every such field is optional.
//! - serverStats gives sizes as text (`"7.9 GB"`), percents as text (`"29%"`), the load as
//!   `"5.14, 4.38, 3.95"`, and an `uptimeMilliseconds` that is not always a duration.

use serde::Deserialize;

use crate::sources::values::{
    id, opt_flag, opt_id, opt_num, opt_text, opt_time, string_list, Flag, Num, Time,
};

/// An item of `GET /rest/usages`: one source computer backing up to one target computer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    #[serde(default, deserialize_with = "opt_id")]
    pub source_id: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub source_guid: Option<String>,
    #[serde(default, deserialize_with = "opt_flag")]
    pub source_connected_to_server: Option<Flag>,
    #[serde(default, deserialize_with = "opt_time")]
    pub source_last_connected_to_server: Option<Time>,
    #[serde(default, deserialize_with = "string_list")]
    pub source_status: Vec<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub source_user_id: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub source_org_id: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub target_id: Option<String>,
    #[serde(
        default,
        rename = "targetGuId",
        alias = "targetGuid",
        deserialize_with = "opt_id"
    )]
    pub target_guid: Option<String>,
    #[serde(default, deserialize_with = "opt_num")]
    pub selected_files: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    pub selected_bytes: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    pub todo_files: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    pub todo_bytes: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    pub archive_bytes: Option<Num>,
    #[serde(default, deserialize_with = "opt_time")]
    pub last_connected: Option<Time>,
    #[serde(default, deserialize_with = "opt_time")]
    pub last_activity: Option<Time>,
    #[serde(default, deserialize_with = "opt_flag")]
    pub is_using: Option<Flag>,
    #[serde(default, deserialize_with = "string_list")]
    pub alert_states: Vec<String>,
}

impl Usage {
    /// Identity of the pair, for de-duplicating pages.
    pub fn key(&self) -> String {
        format!(
            "{}>{}",
            self.source_guid
                .as_deref()
                .or(self.source_id.as_deref())
                .unwrap_or(""),
            self.target_guid
                .as_deref()
                .or(self.target_id.as_deref())
                .unwrap_or("")
        )
    }
}

/// An item of `GET /rest/computers` (list view; detail fields are read when present).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Computer {
    #[serde(deserialize_with = "id")]
    pub id: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub guid: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "string_list")]
    pub alert_states: Vec<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub user_id: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub mount_point_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub os_name: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub os_version: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub version: Option<String>,
    /// Detail view only: backups of this computer to the PRO server.
    #[serde(default)]
    pub server_backup_stats: Option<ServerBackupStats>,
}

/// `serverBackupStats` of a computer's detail view (`GET /rest/computers/{id}`): its backups to
/// the PRO server. `lastBackup` is in the document's example only, not in its table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerBackupStats {
    #[serde(default, deserialize_with = "opt_num")]
    pub percent_complete: Option<Num>,
    #[serde(default, deserialize_with = "opt_time")]
    pub last_backup: Option<Time>,
}

/// An item of `GET /rest/users`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(deserialize_with = "id")]
    pub id: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub username: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub org_id: Option<String>,
}

/// `GET /rest/orgs` (list) and `GET /rest/orgs/{id}` (detail: aggregates and quota).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Org {
    #[serde(deserialize_with = "id")]
    pub id: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub parent_id: Option<String>,
    #[serde(default, deserialize_with = "opt_num")]
    pub selected_files: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    pub selected_bytes: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    pub todo_files: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    pub todo_bytes: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    pub archive_bytes: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    pub archive_bytes_delta: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    pub archive_bytes_delta_month: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    pub daily_change: Option<Num>,
    #[serde(default)]
    pub quota: Option<Quota>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Quota {
    /// Gigabytes.
    #[serde(default, deserialize_with = "opt_num")]
    pub bytes: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    pub seats: Option<Num>,
}

/// `GET /rest/mountPoints` (list) and `GET /rest/mountPoints/{id}` (detail: capacity).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MountPoint {
    #[serde(deserialize_with = "id")]
    pub id: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub status: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "opt_text")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub volume_label: Option<String>,
    #[serde(default, deserialize_with = "opt_num")]
    pub bytes_per_second: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    pub bytes_total: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    pub bytes_used: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    pub bytes_free: Option<Num>,
    /// A percent (1.9 means 1.9 %), as a number or as text.
    #[serde(default, deserialize_with = "opt_text")]
    pub percent_free: Option<String>,
}

/// `GET /rest/serverStats` (administrators only).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerStats {
    #[serde(default, deserialize_with = "opt_num")]
    pub current_archive_bytes: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    pub previous_month_archive_bytes: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    pub org_count: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    pub seat_count: Option<Num>,
    #[serde(default, deserialize_with = "opt_text")]
    pub version: Option<String>,
    #[serde(default, deserialize_with = "opt_num")]
    pub backup_session_count: Option<Num>,
    #[serde(default, deserialize_with = "opt_num")]
    pub connected_client_count: Option<Num>,
    #[serde(default, deserialize_with = "opt_text")]
    pub host_name: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub host_port: Option<String>,
    #[serde(default, deserialize_with = "string_list")]
    pub host_addresses: Vec<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub host_memory_total: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub host_memory_free: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub host_memory_cached: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub engine_memory_total: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub engine_memory_free: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub cpu_utilization: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub uptime: Option<String>,
    #[serde(default, deserialize_with = "opt_num")]
    pub uptime_milliseconds: Option<Num>,
    #[serde(default, deserialize_with = "opt_text")]
    pub load: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub disk_total: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub disk_free: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub disk_utilization: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_of_the_document_with_its_quirks() {
        // The document's usages sample, with its two unterminated time strings closed.
        let u: Usage = serde_json::from_str(
            r#"{ "sourceId": 2, "sourceGuid": 343195742699662015, "sourceConnectedToServer": true,
                "sourceLastConnectedToServer": "2010-09-01T19:20:59.738-05:00",
                "sourceStatus": "Blocked,Active", "sourceUserId": 234, "sourceOrgId": 23,
                "targetId": 1, "targetGuId": 345095742699645987, "selectedFiles": 1513,
                "selectedBytes": 19839461229438, "todoFiles": 0, "todoBytes": 0,
                "archiveBytes": 1828461229332, "lastConnected": "2010-09-01T19:23:58.779-05:00",
                "lastActivity": "2010-09-01T19:10:13.450-05:00", "isUsing": true, "alertStates": [] }"#,
        )
        .unwrap();
        assert_eq!(u.source_guid.as_deref(), Some("343195742699662015"));
        assert_eq!(u.target_guid.as_deref(), Some("345095742699645987"));
        assert_eq!(u.source_status, vec!["Blocked", "Active"]);
        assert_eq!(u.selected_bytes, Some(Num::Is(19_839_461_229_438.0)));
        assert!(u.alert_states.is_empty());
        assert_eq!(u.key(), "343195742699662015>345095742699645987");
    }

    #[test]
    fn computer_usage_spelling_and_null_times() {
        let u: Usage = serde_json::from_str(
            r#"{"sourceId": 2, "sourceGuid": 343195742699662015, "targetId": 1, "targetGuid": 42,
                "lastActivity": null, "lastConnected": "2008-10-29T14:24:18.652-05:00", "isUsing": true}"#,
        )
        .unwrap();
        assert_eq!(u.target_guid.as_deref(), Some("42"));
        assert_eq!(u.last_activity, None);
    }

    #[test]
    fn list_and_detail_views() {
        let list: Org = serde_json::from_str(
            r#"{"id": 43, "name": "SubOrg1", "status": "Active", "parentId": 2,
                "registrationKey": "M9WP-2MH7-H8PJ-7SW4", "masterGuid": null}"#,
        )
        .unwrap();
        assert_eq!(list.archive_bytes, None);
        assert!(list.quota.is_none());
        let detail: Org = serde_json::from_str(
            r#"{"id": 43, "name": "SubOrg1", "parentId": 2, "archiveBytes": 78213557,
                "quota": {"seats": 10, "bytes": 250}}"#,
        )
        .unwrap();
        assert_eq!(detail.archive_bytes, Some(Num::Is(78_213_557.0)));
        assert_eq!(detail.quota.unwrap().bytes, Some(Num::Is(250.0)));

        let mp: MountPoint = serde_json::from_str(
            r#"{"id": 1, "name": "manifest", "status": "ENABLED", "type": "DIR", "volumeLabel": "manifest",
                "note": null, "bytesPerSecond": null, "bytesTotal": 99424124928, "bytesUsed": 97548881920,
                "bytesFree": 1875243008, "percentFree": 1.9}"#,
        )
        .unwrap();
        assert_eq!(mp.kind.as_deref(), Some("DIR"));
        assert_eq!(mp.percent_free.as_deref(), Some("1.9"));
        assert_eq!(mp.bytes_per_second, None);
    }

    #[test]
    fn computer_detail_of_the_document() {
        let c: Computer = serde_json::from_str(
            r#"{ "id": 2, "name": "c42-dhcp-191.c42", "guid": 343195742699662015, "status": "Active",
                "alertStates": ["OK"], "userId": 69, "mountPointId": 1,
                "creationDate": "2008-10-29T14:23:58.779-05:00",
                "modificationDate": "2008-10-29T14:23:59.738-05:00", "osName": "Linux",
                "osVersion": "2.6.31-14-generic", "osArch": "i386", "remoteAddress": "127.0.0.1",
                "javaVersion": "1.6.0_0", "timeZone": "SystemV/CST6CDT", "version": "3.8.2010",
                "serverBackupStats": { "numberSelected": 96, "selectedBytes": 2247629,
                    "percentComplete": 100, "archiveBytes": 706201, "compressionRate": 68.6,
                    "connected": false, "lastBackup": "2010-03-30T18:36:10.221Z",
                    "lastConnected": "2010-03-30T18:35:50.133Z" } }"#,
        )
        .unwrap();
        assert_eq!(c.os_name.as_deref(), Some("Linux"));
        assert_eq!(c.version.as_deref(), Some("3.8.2010"));
        let stats = c.server_backup_stats.unwrap();
        assert_eq!(stats.percent_complete, Some(Num::Is(100.0)));
        assert!(stats.last_backup.is_some());
        // The destinations of the demo fleet have `"serverBackupStats": null`.
        let c: Computer = serde_json::from_str(r#"{"id": 1, "serverBackupStats": null}"#).unwrap();
        assert!(c.server_backup_stats.is_none());
    }

    #[test]
    fn server_stats_of_the_document() {
        let s: ServerStats = serde_json::from_str(
            r#"{ "currentArchiveBytes": 37724715178678, "previousMonthArchiveBytes": 43128889830903,
                "orgCount": 1304, "seatCount": 18642, "version": "10.29.2008", "backupSessionCount": 90,
                "connectedClientCount": 4755, "hostName": "proserver.acme.com", "hostPort": 4242,
                "hostAddresses": ["10.10.10.4", "69.54.39.68"], "hostMemoryTotal": "7.9 GB",
                "hostMemoryFree": "44.3 MB", "hostMemoryCached": "3.3 GB", "engineMemoryTotal": "3.6 GB",
                "engineMemoryFree": "2.1 GB", "cpuUtilization": "29%", "uptime": "1.5 hrs",
                "uptimeMilliseconds": 1225806954620, "load": "5.14, 4.38, 3.95", "diskTotal": "89.2 GB",
                "diskFree": "28.8 GB", "diskUtilization": "68%" }"#,
        )
        .unwrap();
        assert_eq!(s.host_port.as_deref(), Some("4242"));
        assert_eq!(s.host_addresses.len(), 2);
        assert_eq!(s.cpu_utilization.as_deref(), Some("29%"));
    }
}
