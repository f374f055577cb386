//! Data sets for the simulated Rackspace Cloud Backup service: the vendor document's examples, a
//! realistic demo account and a large generated one for the benchmark.
//!
//! # The document's sample ([`document_sample`])
//!
//! The document's own examples, their text kept verbatim ([`Item::Raw`]) so their quirks are
//! served as printed (except what the simulator forces: the agent list says `"Status":
//! "Offline"` and `"TimeOfLastSuccessfulBackup": null`, as the document's note says it does,
//! although its example shows `"Online"`):
//!
//! * Agent [`DOC_AGENT_ID`] (213564, "Web Server"): detail = "List agent details" (`Status`
//!   Online, `TimeOfLastSuccessfulBackup` `"\/Date(1357817400000)\/"`, `BackupVaultSize` `"35.3
//!   MB"`, `"ExponentHex": "09528"`, `HostServerId` [`DOC_HOST_SERVER_ID`]); list entry = the
//!   second entry of "List all agents for this user" (IP 192.168.1.3, `"ExponentHex": 82374`).
//! * Agent [`DOC_SECOND_AGENT_ID`] (213563, "Web Server2"): list entry = the first entry of
//!   "List all agents for this user" (`"ExponentHex": 09528`, a number with a leading zero, and
//!   `CloudBackup\_v2\_0_yourUUID`); the document has no detail for it, so its detail is that
//!   text with `Status` Online, `TimeOfLastSuccessfulBackup` the completion of report 92500 and
//!   `HostServerId` [`DOC_SECOND_HOST_SERVER_ID`] added.
//! * Configurations 100850 ("Manual Website Backup") and 100928 ("Manual DB Backup", machine
//!   "Database Server") of "List all backup configurations for the user", 158485 ("Manual Log
//!   Backup", never run: `NextScheduledRunTime` `"\/Date(-62135578800000)\/"`) and 158486
//!   ("Weekly Website Backup") of "... for an agent". Their `LastRunBackupReportId`s (80071,
//!   80116, null) are the document's: no such report exists (404).
//! * Activity 134692 and 134693 ("List all activity for a user") and 137987 ("... for an
//!   agent"), all `Completed`.
//! * Report [`DOC_REPORT_ID`] (92500, `CompletedWithErrors`, `"00:04:33"`, `"3.7 GB"` searched,
//!   `"178.1 MB"` backed up, `NumErrors` 2).
//!
//! The examples come from different accounts, so ids are adjusted (and only ids) to tie them to
//! the two agents: 100850, 158485 and 158486 belong to 213564 and 100928 to 213563 (the
//! configurations' `MachineAgentId`); activities 134692/134693 to configuration 100850 and
//! 137987 to 158486, all on agent 213564 (`ParentId`, `SourceMachineAgentId`); report 92500 to
//! configuration 100928 on agent 213563 (`BackupConfigurationId`, `MachineAgentId`). Names and
//! other values stay as printed, even where they disagree (activity `DisplayName` "Backup1",
//! `SourceMachineName` "BALAJIMBP"). Not in the document, added so that every configuration's
//! latest finished run has a report: the `Backup` activity 92500 (the report's run, `"Completed
//! WithErrors"`) and `Completed` reports for 134692, 134693 and 137987, in the report example's
//! shape.
//!
//! # The demo account ([`demo_account`])
//!
//! Twelve agents of "Acme Widgets" (`*.acme.example`), every time relative to the `now` given.
//! Each configuration has a history of several runs (ids `<configuration id> * 100 + n`, n = 1
//! for the oldest); every finished run (`Completed`,
//! `Completed WithErrors`, `Failed`) has a report whose `BackupId` is the run's activity `ID`
//! (and `BackupId`), so the latest finished run of every configuration has one, and
//! `LastRunBackupReportId` is that run's id (`backup/report/{LastRunBackupReportId}` works).
//! `LastRunTime` is the start of the latest run that ran (in progress included). An agent's
//! `TimeOfLastSuccessfulBackup` is the end of its latest `Completed` or `Completed WithErrors`
//! run (any configuration). The activity list is shuffled (a fixed seed): the newest item is
//! not first. Runs take from about a minute to 97 minutes.
//!
//! | Agent | Configurations | Situation |
//! |---|---|---|
//! | [`HEALTHY_AGENT_ID`] `web01.acme.example` | [`HEALTHY_CONFIGURATION_ID`] Daily (5 runs, latest Completed 7.5 h ago), [`HOURLY_CONFIGURATION_ID`] Hourly (6 runs, latest Completed 24 min ago) | healthy |
//! | [`UTC_FORM_AGENT_ID`] `web02.acme.example` | 510103 Daily (latest Completed 6 h ago), [`DELETED_CONFIGURATION_ID`] Weekly, `IsDeleted` true, `IsActive` false, runs 31, 24 and 17 days ago with `IsBackupConfigurationDeleted` true | every time `"\/Date(ms+0000)\/"`; a `Restore` activity onto it from web01 |
//! | [`DB_AGENT_ID`] `db01.acme.example` | [`FAILED_CONFIGURATION_ID`] Daily: Completed 80.2, 56.2, 32.2 h ago, then **Failed** 8.2 h ago ([`FAILED_BACKUP_ID`]); [`WEEKLY_CONFIGURATION_ID`] Weekly, latest Completed 2.8 days ago | last success 32.2 h ago; a `Cleanup` activity |
//! | [`ERRORS_AGENT_ID`] `SQL01` (Windows) | [`ERRORS_CONFIGURATION_ID`] Daily: Completed 125 h ago, then `"Completed WithErrors"` every day since (101, 77, 53, 29 and 5 h ago; [`ERRORS_BACKUP_ID`] the latest: report `CompletedWithErrors`, `CanRestore` true, `Reason` `Success`, `NumErrors` 3, `"01:12:09"`, `"2.1 GB"`, `"1532"` files) | locked database files on every run, yet restorable: last success 5 h ago, failing (a warning), not stale; every time `"\/Date(ms-0600)\/"` |
//! | [`STRING_TYPED_AGENT_ID`] `FILESRV01` (Windows) | [`IN_PROGRESS_CONFIGURATION_ID`] Daily: Completed 72.5, 48.5, 24.5 h ago, **InProgress** since 36 min ([`IN_PROGRESS_BACKUP_ID`], no report) | booleans `"true"`/`"false"` and ids as strings in its detail, configuration, activity and reports; its detail (and list entry) is raw text with `"ExponentHex": 010001` and `CloudBackup\_v2\_0_` |
//! | [`STALE_AGENT_ID`] `mail01.acme.example` | [`STALE_CONFIGURATION_ID`] Daily: Completed 7, 6 and **5 days** ago, then `Skipped` 4, 3, 2 and 1 days ago | Online, **stale**: last success exactly 5 days ago |
//! | [`OFFLINE_AGENT_ID`] `build01.acme.example` | [`MISSED_CONFIGURATION_ID`] Daily: Completed 97, 73, 49 h ago, then `Missed` 25 h and 1 h ago | detail `Status` **Offline**; last success 49 h ago |
//! | [`DISABLED_AGENT_ID`] `ci01.acme.example` | 510111 Daily: Completed 23, 22, 21 days ago | `IsDisabled` true (Online); last success 21 days ago |
//! | [`STAGING_AGENT_ID`] `staging01.acme.example` | 510112 Hourly every 2 h (latest Completed 66 min ago), [`INACTIVE_CONFIGURATION_ID`] Daily, `IsActive` false, last Completed 9 days ago, `NextScheduledRunTime` null | healthy through the hourly one |
//! | [`EMPTY_VAULT_AGENT_ID`] `app03.acme.example` | [`NEVER_RUN_CONFIGURATION_ID`] Manually, never ran: `LastRunTime` null, `LastRunBackupReportId` null, `NextScheduledRunTime` `"\/Date(-62135578800000)\/"`; no activity | `"BackupVaultSize": "0 B"`, `TimeOfLastSuccessfulBackup` null |
//! | [`WEEKLY_AGENT_ID`] `vpn01.acme.example` | 510115 Weekly: Completed 16, 9 and 2 days ago | detail `Status` **Offline**: idle between its weekly runs, not offline (limit 7 days + 1 h); encrypted |
//! | [`PLAIN_DATES_AGENT_ID`] `wiki01.acme.example` | 510116 Daily (latest Completed 5.2 h ago) | every item raw text with unescaped `"/Date(ms)/"` |
//!
//! # The large account ([`large_account`])
//!
//! `agents` agents with `configs_per_agent` configurations each (Daily, Hourly every 4 h or
//! Weekly in turn), five runs per configuration and one report per configuration (its latest
//! finished run). About 2 % of the agents are Offline (latest run `Missed`), 1 % disabled, 2 %
//! stale (last success 3 to 10 days ago); about 5 % of the configurations end `Failed`, 3 %
//! `Completed WithErrors` and 2 % `InProgress`. Deterministic (each agent has its own seed);
//! 500 × 2 builds in about a tenth of a second unoptimised.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{array_elements, net_date, net_date_with_offset, set_raw_field, NET_MIN_DATE};
pub use super::{AccountConfig, Agent, Dataset, Item};

// ---------------------------------------------------------------------------------------------
// The document's sample
// ---------------------------------------------------------------------------------------------

/// Agent 213564 "Web Server" of the document (detail example).
pub const DOC_AGENT_ID: i64 = 213564;
/// Agent 213563 "Web Server2" of the document (first entry of the agent list).
pub const DOC_SECOND_AGENT_ID: i64 = 213563;
/// `HostServerId` of [`DOC_AGENT_ID`], from the document.
pub const DOC_HOST_SERVER_ID: &str = "87c3b6e1-fb1a-41f9-91e5-313ae35a5a06";
/// `HostServerId` given to [`DOC_SECOND_AGENT_ID`] (the document has none).
pub const DOC_SECOND_HOST_SERVER_ID: &str = "3f9c2b1e-7d4a-4c8e-9b2f-6a1d5e0c8b47";
/// "Manual Website Backup" of agent [`DOC_AGENT_ID`].
pub const DOC_CONFIGURATION_ID: i64 = 100850;
/// "Manual DB Backup" of agent [`DOC_SECOND_AGENT_ID`]; its latest run is report 92500.
pub const DOC_DB_CONFIGURATION_ID: i64 = 100928;
/// "Manual Log Backup" of agent [`DOC_AGENT_ID`]: never ran (`NextScheduledRunTime` is .NET's
/// minimum).
pub const DOC_NEVER_RUN_CONFIGURATION_ID: i64 = 158485;
/// "Weekly Website Backup" of agent [`DOC_AGENT_ID`]; activity 137987.
pub const DOC_WEEKLY_CONFIGURATION_ID: i64 = 158486;
/// The report example: `CompletedWithErrors`, 2 errors.
pub const DOC_REPORT_ID: i64 = 92500;

/// The response of "List agent details" (`GET /v1.0/1234/agent/213564`), verbatim.
pub const DOC_AGENT_DETAILS: &str = include_str!("../fixtures/agent_details.json");

/// The response of "List the agent details by host server ID", verbatim: note the unescaped
/// `/Date(..)/`, the string boolean `"UseServiceNet": "true"` and the `\_` escapes.
pub const DOC_AGENT_BY_SERVER: &str = r#"{
"AgentVersion": "1.05.005848",
"Architecture": "64-bit",
"Flavor": "RaxCloudServer",
"BackupVaultSize": "35.3 MB",
"BackupContainer": "https://storage101.DC.clouddrive.com/v1/yourAccount/CloudBackup\_v2\_0_yourUUID",
"CleanupAllowed": true,
"Datacenter": "DFW",
"IPAddress": "192.168.1.1",
"IsDisabled": false,
"IsEncrypted": true,
"MachineAgentId": 213564,
"MachineName": "Web Server",
"OperatingSystem": "Windows Server 2012",
"OperatingSystemVersion": "",
"PublicKey": {
"ModulusHex": "a5261939156948bb7a58dffe5ff89e65f0498f9175f5a 98288810b8975871e99af3b5dd94057b0fc07535f5f97444504fa35169d4 61d0d30cf0192e307727c065168c788771c561a9400fb61975e9e6aa4e23 fe11af69e9412dd23b0cb6684c4c2429bce139e848ab26d0829073351f4a cd36074eafd036a5eb83359d2a698d0",
"ExponentHex": "09528"
},
"Status": "Online",
"TimeOfLastSuccessfulBackup": "/Date(1357817400000)/",
"UseServiceNet": "true",
"HostServerId" : "87c3b6e1-fb1a-41f9-91e5-313ae35a5a06"
}"#;

/// The response of "List all agents for this user" (`GET /v1.0/1234/user/agents`), verbatim:
/// invalid JSON (`"ExponentHex": 09528`, `\_`).
pub const DOC_AGENT_LIST: &str = include_str!("../fixtures/agent_list.json");

/// The response of "List all backup configurations for the user", verbatim.
pub const DOC_USER_CONFIGURATIONS: &str = r#"[
{
"BackupConfigurationId": 100850,
"MachineAgentId": 96674,
"MachineName": "Web Server",
"Flavor": "RaxCloudServer",
"IsEncrypted": false,
"BackupConfigurationName": "Manual Website Backup",
"IsActive": true,
"IsDeleted": false,
"VersionRetention": 60,
"BackupConfigurationScheduleId": 98017,
"MissedBackupActionId": 2,
"Frequency": "Manually",
"StartTimeHour": null,
"StartTimeMinute": null,
"StartTimeAmPm": "",
"DayOfWeekId": null,
"HourInterval": null,
"TimeZoneId": "Eastern Standard Time",
"NextScheduledRunTime": null,
"LastRunTime": "\/Date(1343226053000)\/",
"LastRunBackupReportId": 80071,
"NotifyRecipients": "[email protected]",
"NotifySuccess": false,
"NotifyFailure": true,
"Inclusions": [
{
"FilePath": "/web/",
"ParentId": 100850,
"FileItemType": "Folder",
"FileId": 2947
}
],
"Exclusions": [
{
"FilePath": "/web/cache/",
"ParentId": 100850,
"FileItemType": "Folder",
"FileId": 2948
}
]
},
{
"BackupConfigurationId": 100928,
"MachineAgentId": 96685,
"MachineName": "Database Server",
"Flavor": "RaxCloudServer",
"IsEncrypted": false,
"BackupConfigurationName": "Manual DB Backup",
"IsActive": true,
"IsDeleted": false,
"VersionRetention": 60,
"BackupConfigurationScheduleId": 98019,
"MissedBackupActionId": 2,
"Frequency": "Manually",
"StartTimeHour": null,
"StartTimeMinute": null,
"StartTimeAmPm": "",
"DayOfWeekId": null,
"HourInterval": null,
"TimeZoneId": "Eastern Standard Time",
"NextScheduledRunTime": null,
"LastRunTime": "\/Date(1343226074000)\/",
"LastRunBackupReportId": 80116,
"NotifyRecipients": "[email protected]",
"NotifySuccess": false,
"NotifyFailure": true,
"Inclusions": [
{
"FilePath": "/db/dumps/",
"ParentId": 100928,
"FileItemType": "Folder",
"FileId": 3568
}
],
"Exclusions": [
{
"FilePath": "/db/dumps/tmp/",
"ParentId": 100928,
"FileItemType": "Folder",
"FileId": 3570
}
]
}
]"#;

/// The response of "List all backup configurations for an agent" (agent 224193 in the
/// document), verbatim.
pub const DOC_AGENT_CONFIGURATIONS: &str = r#"[
{
"BackupConfigurationId": 158485,
"MachineAgentId": 224193,
"MachineName": "Web Server",
"Flavor": "RaxCloudServer",
"IsEncrypted": false,
"BackupConfigurationName": "Manual Log Backup",
"IsActive": true,
"IsDeleted": false,
"VersionRetention": 60,
"BackupConfigurationScheduleId": 155566,
"MissedBackupActionId": 1,
"Frequency": "Manually",
"StartTimeHour": null,
"StartTimeMinute": null,
"StartTimeAmPm": "",
"DayOfWeekId": null,
"HourInterval": null,
"TimeZoneId": "Eastern Standard Time",
"NextScheduledRunTime": "\/Date(-62135578800000)\/",
"LastRunTime": null,
"LastRunBackupReportId": null,
"NotifyRecipients": "[email protected]",
"NotifySuccess": true,
"NotifyFailure": true,
"Inclusions": [
{
"FilePath": "C:\\Websites\\Logs",
"ParentId": 158485,
"FileItemType": "Folder",
"FileId": 47085
}
],
"Exclusions": [ ]
},
{
"BackupConfigurationId": 158486,
"MachineAgentId": 224193,
"MachineName": "Web Server",
"Flavor": "RaxCloudServer",
"IsEncrypted": false,
"BackupConfigurationName": "Weekly Website Backup",
"IsActive": true,
"IsDeleted": false,
"VersionRetention": 60,
"BackupConfigurationScheduleId": 155567,
"MissedBackupActionId": 1,
"Frequency": "Weekly",
"StartTimeHour": 7,
"StartTimeMinute": 23,
"StartTimeAmPm": "AM",
"DayOfWeekId": 1,
"HourInterval": null,
"TimeZoneId": "Eastern Standard Time",
"NextScheduledRunTime": "\/Date(1358752980000)\/",
"LastRunTime": null,
"LastRunBackupReportId": null,
"NotifyRecipients": "[email protected]",
"NotifySuccess": true,
"NotifyFailure": true,
"Inclusions": [
{
"FilePath": "C:\\Websites",
"ParentId": 158486,
"FileItemType": "Folder",
"FileId": 47086
},
{
"FilePath": "C:\\Websites\\Logs",
"ParentId": 158486,
"FileItemType": "Folder",
"FileId": 47087
}
],
"Exclusions": [ ]
}
]"#;

/// The response of "Get a backup report" (`GET /v1.0/1234/backup/report/92500`), verbatim.
pub const DOC_BACKUP_REPORT: &str = include_str!("../fixtures/backup_report.json");

/// The response of "List all activity for an agent" (agent 232180 in the document), verbatim.
pub const DOC_AGENT_ACTIVITY: &str = r#"[
{
"ID": 137987,
"Type": "Backup",
"ParentId": 162423,
"DisplayName": "Weekly Website Backup",
"IsBackupConfigurationDeleted": false,
"SourceMachineAgentId": 232180,
"SourceMachineName": "Web Server",
"DestinationMachineAgentId": 0,
"DestinationMachineName": "",
"CurrentState": "Completed",
"TimeOfActivity": "\/Date(1359033934000)\/",
"BackupId": 134332
}
]"#;

/// The response of "List all activity for a user", verbatim.
pub const DOC_USER_ACTIVITY: &str = r#"[
{
"ID": 134692,
"Type": "Backup",
"ParentId": 6265,
"DisplayName": "Backup1",
"IsBackupConfigurationDeleted": false,
"SourceMachineAgentId": 5,
"SourceMachineName": "BALAJIMBP",
"DestinationMachineAgentId": 0,
"DestinationMachineName": "",
"CurrentState": "Completed",
"TimeOfActivity": "\/Date(1357230189000)\/",
"BackupId": 134332
},
{
"ID": 134693,
"Type": "Backup",
"ParentId": 6265,
"DisplayName": "Backup1",
"IsBackupConfigurationDeleted": false,
"SourceMachineAgentId": 5,
"SourceMachineName": "BALAJIMBP",
"DestinationMachineAgentId": 0,
"DestinationMachineName": "",
"CurrentState": "Completed",
"TimeOfActivity": "\/Date(1357230189000)\/",
"BackupId": 134386
}
]"#;

/// The elements of a JSON array printed in the document, as raw text.
fn doc_elements(text: &str) -> Vec<String> {
    array_elements(text.as_bytes())
        .unwrap_or_default()
        .into_iter()
        .map(|r| text[r].to_owned())
        .collect()
}

/// `text` with top-level `key` set to the JSON text `value`.
fn with_field(text: &str, key: &str, value: &str) -> String {
    set_raw_field(text, key, value)
}

/// The document's examples, tied together (see the module documentation).
pub fn document_sample() -> Dataset {
    let list = doc_elements(DOC_AGENT_LIST);
    let (second_entry, first_entry) = (list[0].clone(), list[1].clone());
    let second_detail = with_field(&second_entry, "Status", "\"Online\"");
    let second_detail = with_field(
        &second_detail,
        "TimeOfLastSuccessfulBackup",
        "\"\\/Date(1351119033000)\\/\"",
    );
    let second_detail = with_field(
        &second_detail,
        "HostServerId",
        &format!("\"{DOC_SECOND_HOST_SERVER_ID}\""),
    );
    let agents = vec![
        Agent::new(Item::raw(second_detail)).with_list_entry(Item::raw(second_entry)),
        Agent::new(Item::raw(DOC_AGENT_DETAILS)).with_list_entry(Item::raw(first_entry)),
    ];

    let owner = |configuration: &str| -> i64 {
        if configuration.contains(&format!(
            "\"BackupConfigurationId\": {DOC_DB_CONFIGURATION_ID}"
        )) {
            DOC_SECOND_AGENT_ID
        } else {
            DOC_AGENT_ID
        }
    };
    let configurations = doc_elements(DOC_USER_CONFIGURATIONS)
        .into_iter()
        .chain(doc_elements(DOC_AGENT_CONFIGURATIONS))
        .map(|c| {
            let agent = owner(&c).to_string();
            Item::raw(with_field(&c, "MachineAgentId", &agent))
        })
        .collect();

    let tie = |text: &str, configuration: i64| {
        let text = with_field(text, "ParentId", &configuration.to_string());
        Item::raw(with_field(
            &text,
            "SourceMachineAgentId",
            &DOC_AGENT_ID.to_string(),
        ))
    };
    let mut activity: Vec<Item> = doc_elements(DOC_USER_ACTIVITY)
        .iter()
        .map(|a| tie(a, DOC_CONFIGURATION_ID))
        .collect();
    activity.extend(
        doc_elements(DOC_AGENT_ACTIVITY)
            .iter()
            .map(|a| tie(a, DOC_WEEKLY_CONFIGURATION_ID)),
    );
    // Not in the document: the run of report 92500.
    activity.push(Item::Json(json!({
        "ID": DOC_REPORT_ID,
        "Type": "Backup",
        "ParentId": DOC_DB_CONFIGURATION_ID,
        "DisplayName": "Manual DB Backup",
        "IsBackupConfigurationDeleted": false,
        "SourceMachineAgentId": DOC_SECOND_AGENT_ID,
        "SourceMachineName": "Database Server",
        "DestinationMachineAgentId": 0,
        "DestinationMachineName": "",
        "CurrentState": "Completed WithErrors",
        "TimeOfActivity": "/Date(1351119033000)/",
        "BackupId": DOC_REPORT_ID,
    })));

    let report = with_field(
        DOC_BACKUP_REPORT,
        "BackupConfigurationId",
        &DOC_DB_CONFIGURATION_ID.to_string(),
    );
    let report = with_field(&report, "MachineAgentId", &DOC_SECOND_AGENT_ID.to_string());
    // Not in the document: reports of the three completed runs it shows, in the example's shape.
    let completed = |id: i64, configuration: i64, name: &str, end_ms: i64, figures: [&str; 4]| {
        Item::Json(json!({
            "BackupId": id,
            "BackupConfigurationId": configuration,
            "BackupConfigurationName": name,
            "BackupConfigurationIsDeleted": false,
            "ComputerName": "Web Server",
            "MachineAgentId": DOC_AGENT_ID,
            "State": "Completed",
            "CanRestore": true,
            "StartTime": format!("/Date({})/", end_ms - 273_000),
            "CompletedTime": format!("/Date({end_ms})/"),
            "Duration": "00:04:33",
            "FilesSearched": figures[0],
            "BytesSearched": figures[1],
            "FilesBackedUp": figures[2],
            "BytesBackedUp": figures[3],
            "NumErrors": 0,
            "Reason": "Success",
            "Diagnostics": "No Errors",
            "ErrorList": [],
        }))
    };
    let reports = vec![
        Item::raw(report),
        completed(
            134692,
            DOC_CONFIGURATION_ID,
            "Manual Website Backup",
            1357230189000,
            ["2210", "512.4 MB", "2210", "512.4 MB"],
        ),
        completed(
            134693,
            DOC_CONFIGURATION_ID,
            "Manual Website Backup",
            1357230189000,
            ["2210", "512.4 MB", "3", "1.2 MB"],
        ),
        completed(
            137987,
            DOC_WEEKLY_CONFIGURATION_ID,
            "Weekly Website Backup",
            1359033934000,
            ["4388", "1.1 GB", "41", "22.6 MB"],
        ),
    ];
    Dataset {
        agents,
        configurations,
        activity,
        reports,
    }
}

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

/// How an agent's times are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `"\/Date(ms)\/"`.
    Escaped,
    /// `"\/Date(ms+0000)\/"`.
    Utc,
    /// `"\/Date(ms-0600)\/"` (US Central).
    Central,
    /// `"/Date(ms)/"`: every item of the agent is raw text.
    Plain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Completed,
    WithErrors,
    Failed,
    InProgress,
    Missed,
    Skipped,
}

impl State {
    /// The spelling of the activity list.
    fn activity(self) -> &'static str {
        match self {
            State::Completed => "Completed",
            State::WithErrors => "Completed WithErrors",
            State::Failed => "Failed",
            State::InProgress => "InProgress",
            State::Missed => "Missed",
            State::Skipped => "Skipped",
        }
    }

    /// The spelling of a report, for a finished run.
    fn report(self) -> Option<&'static str> {
        match self {
            State::Completed => Some("Completed"),
            State::WithErrors => Some("CompletedWithErrors"),
            State::Failed => Some("Failed"),
            _ => None,
        }
    }

    fn succeeded(self) -> bool {
        matches!(self, State::Completed | State::WithErrors)
    }

    /// Whether the run actually started.
    fn ran(self) -> bool {
        !matches!(self, State::Missed | State::Skipped)
    }
}

/// One run of a configuration.
#[derive(Debug, Clone, Copy)]
struct Run {
    state: State,
    /// Hours before now that it ended; for a run in progress that it started, for a missed or
    /// skipped one that it was due.
    hours_ago: f64,
    /// How long it ran, in seconds.
    secs: i64,
    /// Files and bytes backed up; 0 = made up from the seed.
    files: u64,
    bytes: u64,
}

const fn run(state: State, hours_ago: f64, secs: i64) -> Run {
    Run {
        state,
        hours_ago,
        secs,
        files: 0,
        bytes: 0,
    }
}

#[derive(Debug, Clone, Copy)]
enum Frequency {
    Manually,
    /// Every n hours.
    Hourly(u32),
    /// At hour (0-23) and minute.
    Daily(u32, u32),
    /// Day of week (0 = Sunday), hour (0-23), minute.
    Weekly(u32, u32, u32),
}

struct ConfigSpec<'a> {
    id: i64,
    name: &'a str,
    frequency: Frequency,
    active: bool,
    deleted: bool,
    retention: u32,
    includes: &'a [&'a str],
    excludes: &'a [&'a str],
    /// Oldest first.
    runs: &'a [Run],
}

struct AgentSpec<'a> {
    id: i64,
    name: &'a str,
    windows: bool,
    os: &'a str,
    os_version: &'a str,
    datacenter: &'a str,
    ip: &'a str,
    vault: &'a str,
    online: bool,
    disabled: bool,
    encrypted: bool,
    form: Form,
    /// Ids and booleans as strings, and the detail's raw quirks.
    strings: bool,
    time_zone: &'a str,
    configs: &'a [ConfigSpec<'a>],
}

/// A size as the service writes it: `"0 B"`, `"812 KB"`, `"35.3 MB"`, `"2.1 GB"`.
pub fn size_text(bytes: u64) -> String {
    const UNITS: &[&str] = &["KB", "MB", "GB", "TB", "PB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {}", UNITS[unit])
}

/// `"hh:mm:ss"`.
fn duration_text(secs: i64) -> String {
    let secs = secs.max(0);
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

fn uuid(rng: &mut fastrand::Rng) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        rng.u32(..),
        rng.u16(..),
        rng.u16(..0x1000),
        rng.u16(0x8000..0xc000),
        rng.u64(..1 << 48)
    )
}

/// The end of the document's error about a locked file.
const IN_USE: &str =
    "The process cannot access the file because it is being used by another process. .";

/// Writes the items of agents into a data set.
struct Builder {
    now: DateTime<Utc>,
    rng: fastrand::Rng,
    dataset: Dataset,
    /// Give every configuration a report for each finished run (else only its latest).
    every_report: bool,
}

/// Values of one agent in its own style.
struct Style {
    form: Form,
    strings: bool,
}

impl Style {
    fn time(&self, t: DateTime<Utc>) -> Value {
        Value::String(match self.form {
            Form::Escaped | Form::Plain => net_date(t),
            Form::Utc => net_date_with_offset(t, 0),
            Form::Central => net_date_with_offset(t, -360),
        })
    }

    fn id(&self, n: i64) -> Value {
        if self.strings {
            Value::String(n.to_string())
        } else {
            Value::from(n)
        }
    }

    fn flag(&self, b: bool) -> Value {
        if self.strings {
            Value::String(b.to_string())
        } else {
            Value::Bool(b)
        }
    }

    fn item(&self, value: Value) -> Item {
        if self.form == Form::Plain {
            Item::plain(&value)
        } else {
            Item::Json(value)
        }
    }
}

impl Builder {
    fn new(now: DateTime<Utc>, seed: u64, every_report: bool) -> Builder {
        Builder {
            now,
            rng: fastrand::Rng::with_seed(seed),
            dataset: Dataset::default(),
            every_report,
        }
    }

    fn ago(&self, hours: f64) -> DateTime<Utc> {
        self.now - chrono::Duration::milliseconds((hours * 3_600_000.0).round() as i64)
    }

    fn add_agent(&mut self, a: &AgentSpec) {
        let style = Style {
            form: a.form,
            strings: a.strings,
        };
        let mut last_success: Option<DateTime<Utc>> = None;
        for c in a.configs {
            if let Some(t) = self.add_configuration(a, c, &style) {
                last_success = Some(last_success.map_or(t, |s| s.max(t)));
            }
        }
        let host = uuid(&mut self.rng);
        let files_account = uuid(&mut self.rng);
        let vault = uuid(&mut self.rng);
        let region = a.datacenter.to_ascii_lowercase();
        let modulus: String = (0..64)
            .map(|_| format!("{:04x}", self.rng.u16(..)))
            .collect();
        let detail = json!({
            "AgentVersion": if a.windows { "1.36.007532" } else { "1.36.007488" },
            "Architecture": "64-bit",
            "Flavor": "RaxCloudServer",
            "BackupVaultSize": a.vault,
            "BackupContainer": format!(
                "https://storage101.{region}1.clouddrive.com/v1/MossoCloudFS_{files_account}/\
                 CloudBackup_v2_0_{vault}"
            ),
            "CleanupAllowed": style.flag(true),
            "Datacenter": a.datacenter,
            "IPAddress": a.ip,
            "IsDisabled": style.flag(a.disabled),
            "IsEncrypted": style.flag(a.encrypted),
            "MachineAgentId": style.id(a.id),
            "MachineName": a.name,
            "OperatingSystem": a.os,
            "OperatingSystemVersion": a.os_version,
            "PublicKey": {"ModulusHex": modulus, "ExponentHex": 10001},
            "Status": if a.online { "Online" } else { "Offline" },
            "TimeOfLastSuccessfulBackup": last_success.map_or(Value::Null, |t| style.time(t)),
            "UseServiceNet": style.flag(true),
            "HostServerId": host,
        });
        let detail = if a.strings {
            // The document's invalid JSON: a number with a leading zero and `\_` escapes.
            let text = String::from_utf8(Item::Json(detail).render()).unwrap_or_default();
            Item::Raw(
                text.replace("\"ExponentHex\":10001", "\"ExponentHex\":010001")
                    .replace("CloudBackup_v2_0_", "CloudBackup\\_v2\\_0_"),
            )
        } else {
            style.item(detail)
        };
        self.dataset.agents.push(Agent::new(detail));
    }

    /// Adds a configuration, its runs and their reports; the end of its latest successful run.
    fn add_configuration(
        &mut self,
        a: &AgentSpec,
        c: &ConfigSpec,
        style: &Style,
    ) -> Option<DateTime<Utc>> {
        let mut last_success = None;
        let mut last_start = None;
        let mut last_finished = None;
        let latest_finished = c.runs.iter().rposition(|r| r.state.report().is_some());
        for (k, r) in c.runs.iter().enumerate() {
            let backup_id = c.id * 100 + k as i64 + 1;
            let at = self.ago(r.hours_ago);
            let (start, end) = match r.state {
                State::InProgress => (at, None),
                s if s.ran() => (at - chrono::Duration::seconds(r.secs), Some(at)),
                _ => (at, None),
            };
            if r.state.ran() {
                last_start = Some(start);
            }
            if r.state.succeeded() {
                last_success = end;
            }
            self.dataset.activity.push(style.item(json!({
                "ID": style.id(backup_id),
                "Type": "Backup",
                "ParentId": style.id(c.id),
                "DisplayName": c.name,
                "IsBackupConfigurationDeleted": style.flag(c.deleted),
                "SourceMachineAgentId": style.id(a.id),
                "SourceMachineName": a.name,
                "DestinationMachineAgentId": 0,
                "DestinationMachineName": "",
                "CurrentState": r.state.activity(),
                "TimeOfActivity": style.time(at),
                "BackupId": style.id(backup_id),
            })));
            let Some(report_state) = r.state.report() else {
                continue;
            };
            last_finished = Some(backup_id);
            if self.every_report || Some(k) == latest_finished {
                let report = self.report(a, c, r, backup_id, report_state, start, at, style);
                self.dataset.reports.push(report);
            }
        }

        let (hour, minute, am_pm, day, interval) = match c.frequency {
            Frequency::Manually => (Value::Null, Value::Null, "", Value::Null, Value::Null),
            Frequency::Hourly(n) => (Value::Null, Value::Null, "", Value::Null, json!(n)),
            Frequency::Daily(h, m) | Frequency::Weekly(_, h, m) => {
                let hour12 = if h % 12 == 0 { 12 } else { h % 12 };
                let day = match c.frequency {
                    Frequency::Weekly(d, _, _) => json!(d),
                    _ => Value::Null,
                };
                let am_pm = if h < 12 { "AM" } else { "PM" };
                (json!(hour12), json!(m), am_pm, day, Value::Null)
            }
        };
        let period_hours = match c.frequency {
            Frequency::Manually => None,
            Frequency::Hourly(n) => Some(f64::from(n.max(1))),
            Frequency::Daily(..) => Some(24.0),
            Frequency::Weekly(..) => Some(168.0),
        };
        let next = if !c.active || c.deleted {
            Value::Null
        } else {
            match period_hours {
                None => Value::String(NET_MIN_DATE.to_owned()),
                Some(period) => {
                    // The next slot after now, on the grid of the latest run.
                    let anchor = c.runs.last().map_or(period / 2.0, |r| r.hours_ago);
                    let ahead = period - anchor.rem_euclid(period);
                    style.time(self.ago(-ahead))
                }
            }
        };
        let file = |path: &&str, i: usize, base: i64| {
            json!({
                "FilePath": path,
                "ParentId": style.id(c.id),
                "FileItemType": "Folder",
                "FileId": base + i as i64,
            })
        };
        let file_base = (c.id - 500_000) * 10;
        let inclusions: Vec<Value> = c
            .includes
            .iter()
            .enumerate()
            .map(|(i, p)| file(p, i, file_base))
            .collect();
        let exclusions: Vec<Value> = c
            .excludes
            .iter()
            .enumerate()
            .map(|(i, p)| file(p, i, file_base + 5))
            .collect();
        self.dataset.configurations.push(style.item(json!({
            "BackupConfigurationId": style.id(c.id),
            "MachineAgentId": style.id(a.id),
            "MachineName": a.name,
            "Flavor": "RaxCloudServer",
            "IsEncrypted": style.flag(a.encrypted),
            "BackupConfigurationName": c.name,
            "IsActive": style.flag(c.active && !c.deleted),
            "IsDeleted": style.flag(c.deleted),
            "VersionRetention": c.retention,
            "BackupConfigurationScheduleId": style.id(c.id - 2_919),
            "MissedBackupActionId": 1,
            "Frequency": match c.frequency {
                Frequency::Manually => "Manually",
                Frequency::Hourly(_) => "Hourly",
                Frequency::Daily(..) => "Daily",
                Frequency::Weekly(..) => "Weekly",
            },
            "StartTimeHour": hour,
            "StartTimeMinute": minute,
            "StartTimeAmPm": am_pm,
            "DayOfWeekId": day,
            "HourInterval": interval,
            "TimeZoneId": a.time_zone,
            "NextScheduledRunTime": next,
            "LastRunTime": last_start.map_or(Value::Null, |t| style.time(t)),
            "LastRunBackupReportId": last_finished.map_or(Value::Null, |id| style.id(id)),
            "NotifyRecipients": "ops@acme.example",
            "NotifySuccess": style.flag(false),
            "NotifyFailure": style.flag(true),
            "Inclusions": inclusions,
            "Exclusions": exclusions,
        })));
        last_success
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &mut self,
        a: &AgentSpec,
        c: &ConfigSpec,
        r: &Run,
        backup_id: i64,
        state: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        style: &Style,
    ) -> Item {
        let rng = &mut self.rng;
        let (files, bytes) = match (r.files, r.bytes, r.state) {
            (_, _, State::Failed) => (0, 0),
            (0, 0, _) => {
                let files = rng.u64(3..4_000);
                (files, files * rng.u64(20_000..400_000))
            }
            (files, bytes, _) => (files, bytes),
        };
        let searched_files = files * rng.u64(6..30) + rng.u64(100..5_000);
        let searched_bytes = bytes * rng.u64(8..40) + rng.u64(1 << 20..1 << 30);
        let errors: Vec<Value> = match r.state {
            State::WithErrors => ["ibdata1", "ib_logfile0", "tempdb.mdf"]
                .iter()
                .enumerate()
                .map(|(i, file)| {
                    let path = if a.windows {
                        format!("D:\\SQLData\\{file}")
                    } else {
                        format!("/var/lib/mysql/{file}")
                    };
                    json!({
                        "BackupReportID": style.id(backup_id - 3_000_000),
                        "ListIndex": 3210 + i,
                        "ErrorType": 101,
                        "ErrorDesc": "The agent experienced a problem. (Rax)",
                        "ExceptionDesc": format!("Cannot open file \"{path}\". {IN_USE}"),
                        "ExceptionDetails": format!(
                            "1: [WindowsFs.cpp: 157-rax::WindowsFs::Open]Error Code(313): \
                             Cannot open file \"{path}\". {IN_USE}"
                        ),
                        "ExceptionCode": 313,
                        "Path": path,
                    })
                })
                .collect(),
            State::Failed => vec![json!({
                "BackupReportID": style.id(backup_id - 3_000_000),
                "ListIndex": 1,
                "ErrorType": 100,
                "ErrorDesc": "The backup could not be completed. (Rax)",
                "ExceptionDesc": "Unable to upload to Cloud Files: the connection was reset.",
                "ExceptionDetails": "1: [CloudFilesUploader.cpp: 402-rax::CloudFiles::Put]\
                    Error Code(10054): An existing connection was forcibly closed by the remote \
                    host.",
                "ExceptionCode": 10054,
                "Path": "",
            })],
            _ => Vec::new(),
        };
        let (reason, diagnostics) = match r.state {
            State::WithErrors => ("Success", "Completed With Errors"),
            State::Failed => (
                "ErrorsEncountered",
                "Backup failed: unable to upload to Cloud Files",
            ),
            _ => ("Success", "No Errors"),
        };
        let num_errors = errors.len();
        style.item(json!({
            "BackupId": style.id(backup_id),
            "BackupConfigurationId": style.id(c.id),
            "BackupConfigurationName": c.name,
            "BackupConfigurationIsDeleted": style.flag(c.deleted),
            "ComputerName": a.name,
            "MachineAgentId": style.id(a.id),
            "State": state,
            "CanRestore": style.flag(r.state != State::Failed),
            "StartTime": style.time(start),
            "CompletedTime": style.time(end),
            "Duration": duration_text(r.secs),
            "FilesSearched": searched_files.to_string(),
            "BytesSearched": size_text(searched_bytes),
            "FilesBackedUp": files.to_string(),
            "BytesBackedUp": size_text(bytes),
            "NumErrors": num_errors,
            "Reason": reason,
            "Diagnostics": diagnostics,
            "ErrorList": errors,
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// The demo account
// ---------------------------------------------------------------------------------------------

/// `web01.acme.example`: healthy, a daily and an hourly configuration.
pub const HEALTHY_AGENT_ID: i64 = 348101;
/// Name of [`HEALTHY_AGENT_ID`].
pub const HEALTHY_AGENT_NAME: &str = "web01.acme.example";
/// "Daily Website Backup" of [`HEALTHY_AGENT_ID`]: latest run Completed 7.5 hours ago.
pub const HEALTHY_CONFIGURATION_ID: i64 = 510101;
/// "Hourly Uploads" of [`HEALTHY_AGENT_ID`]: every hour, latest run Completed 24 minutes ago.
pub const HOURLY_CONFIGURATION_ID: i64 = 510102;
/// `web02.acme.example`: times written `"\/Date(ms+0000)\/"`.
pub const UTC_FORM_AGENT_ID: i64 = 348102;
/// "Legacy /srv Backup" of [`UTC_FORM_AGENT_ID`]: deleted (`IsDeleted` true), runs 31, 24 and
/// 17 days ago with `IsBackupConfigurationDeleted` true.
pub const DELETED_CONFIGURATION_ID: i64 = 510104;
/// `db01.acme.example`: a failing daily configuration and a weekly one.
pub const DB_AGENT_ID: i64 = 348103;
/// "Nightly MySQL Dumps" of [`DB_AGENT_ID`]: Completed 80.2, 56.2, 32.2 hours ago, then Failed
/// 8.2 hours ago.
pub const FAILED_CONFIGURATION_ID: i64 = 510105;
/// The failed run of [`FAILED_CONFIGURATION_ID`] (activity `ID`, report `BackupId`).
pub const FAILED_BACKUP_ID: i64 = 51010504;
/// "Weekly Full /var/lib/mysql" of [`DB_AGENT_ID`]: latest Completed 2.8 days ago.
pub const WEEKLY_CONFIGURATION_ID: i64 = 510106;
/// `SQL01` (Windows Server 2019): times written `"\/Date(ms-0600)\/"`.
pub const ERRORS_AGENT_ID: i64 = 348104;
/// Name of [`ERRORS_AGENT_ID`].
pub const ERRORS_AGENT_NAME: &str = "SQL01";
/// "Daily SQL Server Backup" of [`ERRORS_AGENT_ID`]: every run since the one of 125 hours ago
/// `"Completed WithErrors"` (locked files) but restorable, the latest 5 hours ago.
pub const ERRORS_CONFIGURATION_ID: i64 = 510107;
/// The latest run with errors: report `CompletedWithErrors`, `CanRestore` true, `NumErrors` 3,
/// `Duration` `"01:12:09"`, `BytesBackedUp` `"2.1 GB"`, `FilesBackedUp` `"1532"`.
pub const ERRORS_BACKUP_ID: i64 = 51010706;
/// `FILESRV01` (Windows Server 2016): string booleans and string ids; raw detail with
/// `"ExponentHex": 010001` and `\_`.
pub const STRING_TYPED_AGENT_ID: i64 = 348105;
/// Name of [`STRING_TYPED_AGENT_ID`].
pub const STRING_TYPED_AGENT_NAME: &str = "FILESRV01";
/// "Nightly File Shares" of [`STRING_TYPED_AGENT_ID`]: a run in progress since 36 minutes.
pub const IN_PROGRESS_CONFIGURATION_ID: i64 = 510108;
/// The run in progress (no report).
pub const IN_PROGRESS_BACKUP_ID: i64 = 51010804;
/// `mail01.acme.example`: Online, last successful backup exactly [`STALE_DAYS`] days ago.
pub const STALE_AGENT_ID: i64 = 348106;
/// Name of [`STALE_AGENT_ID`].
pub const STALE_AGENT_NAME: &str = "mail01.acme.example";
/// Days since the last successful backup of [`STALE_AGENT_ID`].
pub const STALE_DAYS: f64 = 5.0;
/// "Daily Mail Store" of [`STALE_AGENT_ID`]: Completed 7, 6 and 5 days ago, then Skipped daily.
pub const STALE_CONFIGURATION_ID: i64 = 510109;
/// `build01.acme.example`: `Status` Offline in its detail; last success 49 hours ago.
pub const OFFLINE_AGENT_ID: i64 = 348107;
/// Name of [`OFFLINE_AGENT_ID`].
pub const OFFLINE_AGENT_NAME: &str = "build01.acme.example";
/// "Nightly Build Artifacts" of [`OFFLINE_AGENT_ID`]: latest runs Missed (25 hours and 1 hour
/// ago).
pub const MISSED_CONFIGURATION_ID: i64 = 510110;
/// `ci01.acme.example`: `IsDisabled` true; last success 21 days ago.
pub const DISABLED_AGENT_ID: i64 = 348108;
/// Name of [`DISABLED_AGENT_ID`].
pub const DISABLED_AGENT_NAME: &str = "ci01.acme.example";
/// `staging01.acme.example`: an hourly configuration and an inactive one.
pub const STAGING_AGENT_ID: i64 = 348109;
/// "Daily Staging Backup" of [`STAGING_AGENT_ID`]: `IsActive` false, last ran 9 days ago.
pub const INACTIVE_CONFIGURATION_ID: i64 = 510113;
/// `app03.acme.example`: `"BackupVaultSize": "0 B"`, never backed up.
pub const EMPTY_VAULT_AGENT_ID: i64 = 348110;
/// "Manual Pre-Deploy Snapshot" of [`EMPTY_VAULT_AGENT_ID`]: Manually, never ran
/// (`LastRunTime` null, `NextScheduledRunTime` .NET's minimum), no activity.
pub const NEVER_RUN_CONFIGURATION_ID: i64 = 510114;
/// `vpn01.acme.example`: one weekly configuration, healthy; `Status` Offline (idle between its
/// weekly runs, the last one 2 days ago).
pub const WEEKLY_AGENT_ID: i64 = 348111;
/// `wiki01.acme.example`: every item raw text with unescaped `"/Date(ms)/"`.
pub const PLAIN_DATES_AGENT_ID: i64 = 348112;
/// The `Restore` activity (web01's backup restored onto web02, 50 hours ago).
pub const RESTORE_ACTIVITY_ID: i64 = 88417;
/// The `Cleanup` activity of [`DB_AGENT_ID`] (4 days ago).
pub const CLEANUP_ACTIVITY_ID: i64 = 99120;

const SEED: u64 = 0x5ACE_0BAC_2013;

use State::{Completed, Failed, InProgress, Missed, Skipped, WithErrors};

const DAY: f64 = 24.0;
const LINUX_WEB: &[&str] = &["/var/www/", "/etc/nginx/"];
const LINUX_WEB_EXCLUDES: &[&str] = &["/var/www/cache/"];
const NONE: &[&str] = &[];

const fn daily(
    id: i64,
    name: &'static str,
    h: u32,
    m: u32,
    runs: &'static [Run],
) -> ConfigSpec<'static> {
    ConfigSpec {
        id,
        name,
        frequency: Frequency::Daily(h, m),
        active: true,
        deleted: false,
        retention: 30,
        includes: LINUX_WEB,
        excludes: LINUX_WEB_EXCLUDES,
        runs,
    }
}

const fn with_paths(
    mut c: ConfigSpec<'static>,
    includes: &'static [&'static str],
    excludes: &'static [&'static str],
) -> ConfigSpec<'static> {
    c.includes = includes;
    c.excludes = excludes;
    c
}

#[rustfmt::skip]
const WEB01: &[ConfigSpec<'static>] = &[
    daily(HEALTHY_CONFIGURATION_ID, "Daily Website Backup", 2, 30, &[
        run(Completed, 103.5, 780), run(Completed, 79.5, 845), run(Completed, 55.5, 812),
        run(Completed, 31.5, 903), run(Completed, 7.5, 768),
    ]),
    ConfigSpec {
        id: HOURLY_CONFIGURATION_ID, name: "Hourly Uploads",
        frequency: Frequency::Hourly(1),
        active: true, deleted: false, retention: 30,
        includes: &["/var/www/uploads/"], excludes: NONE,
        runs: &[
            run(Completed, 5.4, 150), run(Completed, 4.4, 143), run(Completed, 3.4, 171),
            run(Completed, 2.4, 138), run(Completed, 1.4, 160), run(Completed, 0.4, 149),
        ],
    },
];

#[rustfmt::skip]
const WEB02: &[ConfigSpec<'static>] = &[
    daily(510103, "Daily Website Backup", 3, 0, &[
        run(Completed, 78.0, 801), run(Completed, 54.0, 790), run(Completed, 30.0, 822),
        run(Completed, 6.0, 815),
    ]),
    ConfigSpec {
        id: DELETED_CONFIGURATION_ID, name: "Legacy /srv Backup",
        frequency: Frequency::Weekly(0, 1, 0),
        active: false, deleted: true, retention: 60, includes: &["/srv/"], excludes: NONE,
        runs: &[
            run(Completed, 31.0 * DAY, 2_410), run(Completed, 24.0 * DAY, 2_388),
            run(Completed, 17.0 * DAY, 2_502),
        ],
    },
];

#[rustfmt::skip]
const DB01: &[ConfigSpec<'static>] = &[
    with_paths(daily(FAILED_CONFIGURATION_ID, "Nightly MySQL Dumps", 1, 15, &[
        run(Completed, 80.2, 1_260), run(Completed, 56.2, 1_312), run(Completed, 32.2, 1_288),
        run(Failed, 8.2, 415),
    ]), &["/var/backups/mysql/"], &["/var/backups/mysql/tmp/"]),
    ConfigSpec {
        id: WEEKLY_CONFIGURATION_ID, name: "Weekly Full /var/lib/mysql",
        frequency: Frequency::Weekly(0, 4, 0),
        active: true, deleted: false, retention: 60, includes: &["/var/lib/mysql/"], excludes: NONE,
        runs: &[
            run(Completed, 16.8 * DAY, 3_950), run(Completed, 9.8 * DAY, 4_012),
            run(Completed, 2.8 * DAY, 4_101),
        ],
    },
];

#[rustfmt::skip]
const SQL01: &[ConfigSpec<'static>] = &[
    with_paths(daily(ERRORS_CONFIGURATION_ID, "Daily SQL Server Backup", 23, 0, &[
        run(Completed, 125.0, 4_012), run(WithErrors, 101.0, 4_075), run(WithErrors, 77.0, 4_102),
        run(WithErrors, 53.0, 4_230), run(WithErrors, 29.0, 4_188),
        Run { state: WithErrors, hours_ago: 5.0, secs: 4_329, files: 1_532, bytes: 2_254_857_830 },
    ]), &["D:\\SQLData", "D:\\SQLBackups"], &["D:\\SQLData\\tempdb"]),
];

#[rustfmt::skip]
const FILESRV01: &[ConfigSpec<'static>] = &[
    with_paths(daily(IN_PROGRESS_CONFIGURATION_ID, "Nightly File Shares", 0, 0, &[
        run(Completed, 72.5, 5_700), run(Completed, 48.5, 5_644), run(Completed, 24.5, 5_810),
        run(InProgress, 0.6, 0),
    ]), &["E:\\Shares", "E:\\Profiles"], &["E:\\Shares\\Scratch"]),
];

#[rustfmt::skip]
const MAIL01: &[ConfigSpec<'static>] = &[
    with_paths(daily(STALE_CONFIGURATION_ID, "Daily Mail Store", 1, 0, &[
        run(Completed, 7.0 * DAY, 1_820), run(Completed, 6.0 * DAY, 1_790),
        run(Completed, STALE_DAYS * DAY, 1_805),
        run(Skipped, 4.0 * DAY, 0), run(Skipped, 3.0 * DAY, 0), run(Skipped, 2.0 * DAY, 0),
        run(Skipped, 1.0 * DAY, 0),
    ]), &["/var/mail/", "/etc/postfix/"], NONE),
];

#[rustfmt::skip]
const BUILD01: &[ConfigSpec<'static>] = &[
    with_paths(daily(MISSED_CONFIGURATION_ID, "Nightly Build Artifacts", 2, 0, &[
        run(Completed, 97.0, 2_210), run(Completed, 73.0, 2_180), run(Completed, 49.0, 2_255),
        run(Missed, 25.0, 0), run(Missed, 1.0, 0),
    ]), &["/srv/artifacts/"], &["/srv/artifacts/tmp/"]),
];

#[rustfmt::skip]
const CI01: &[ConfigSpec<'static>] = &[
    with_paths(daily(510111, "Daily CI Cache", 5, 0, &[
        run(Completed, 23.0 * DAY, 640), run(Completed, 22.0 * DAY, 655),
        run(Completed, 21.0 * DAY, 633),
    ]), &["/var/lib/ci/cache/"], NONE),
];

#[rustfmt::skip]
const STAGING01: &[ConfigSpec<'static>] = &[
    ConfigSpec {
        id: 510112, name: "Hourly App Logs",
        frequency: Frequency::Hourly(2),
        active: true, deleted: false, retention: 30, includes: &["/var/log/app/"], excludes: NONE,
        runs: &[
            run(Completed, 7.1, 95), run(Completed, 5.1, 102), run(Completed, 3.1, 99),
            run(Completed, 1.1, 97),
        ],
    },
    ConfigSpec {
        id: INACTIVE_CONFIGURATION_ID, name: "Daily Staging Backup",
        frequency: Frequency::Daily(4, 0),
        active: false, deleted: false, retention: 30, includes: LINUX_WEB, excludes: NONE,
        runs: &[
            run(Completed, 11.0 * DAY, 910), run(Completed, 10.0 * DAY, 930),
            run(Completed, 9.0 * DAY, 905),
        ],
    },
];

#[rustfmt::skip]
const APP03: &[ConfigSpec<'static>] = &[
    ConfigSpec {
        id: NEVER_RUN_CONFIGURATION_ID, name: "Manual Pre-Deploy Snapshot",
        frequency: Frequency::Manually,
        active: true, deleted: false, retention: 30, includes: &["/opt/app/"], excludes: NONE,
        runs: &[],
    },
];

#[rustfmt::skip]
const VPN01: &[ConfigSpec<'static>] = &[
    ConfigSpec {
        id: 510115, name: "Weekly Config Backup",
        frequency: Frequency::Weekly(6, 6, 0),
        active: true, deleted: false, retention: 60, includes: &["/etc/"], excludes: NONE,
        runs: &[
            run(Completed, 16.0 * DAY, 62), run(Completed, 9.0 * DAY, 58),
            run(Completed, 2.0 * DAY, 64),
        ],
    },
];

#[rustfmt::skip]
const WIKI01: &[ConfigSpec<'static>] = &[
    with_paths(daily(510116, "Daily Wiki Backup", 3, 30, &[
        run(Completed, 53.2, 420), run(Completed, 29.2, 433), run(Completed, 5.2, 417),
    ]), &["/var/lib/wiki/"], NONE),
];

/// A Linux agent, Online, not encrypted; `os` is (`OperatingSystem`, `OperatingSystemVersion`),
/// `place` (`Datacenter`, `IPAddress`).
const fn linux(
    id: i64,
    name: &'static str,
    os: (&'static str, &'static str),
    place: (&'static str, &'static str),
    vault: &'static str,
    configs: &'static [ConfigSpec<'static>],
) -> AgentSpec<'static> {
    AgentSpec {
        id,
        name,
        windows: false,
        os: os.0,
        os_version: os.1,
        datacenter: place.0,
        ip: place.1,
        vault,
        online: true,
        disabled: false,
        encrypted: false,
        form: Form::Escaped,
        strings: false,
        time_zone: "Eastern Standard Time",
        configs,
    }
}

const DEMO_AGENTS: &[AgentSpec<'static>] = &[
    linux(
        HEALTHY_AGENT_ID,
        HEALTHY_AGENT_NAME,
        ("Ubuntu", "22.04"),
        ("DFW", "198.51.100.11"),
        "48.2 GB",
        WEB01,
    ),
    AgentSpec {
        form: Form::Utc,
        ..linux(
            UTC_FORM_AGENT_ID,
            "web02.acme.example",
            ("Ubuntu", "22.04"),
            ("ORD", "198.51.100.12"),
            "47.9 GB",
            WEB02,
        )
    },
    linux(
        DB_AGENT_ID,
        "db01.acme.example",
        ("Red Hat Enterprise Linux", "8.9"),
        ("DFW", "198.51.100.21"),
        "212.4 GB",
        DB01,
    ),
    AgentSpec {
        windows: true,
        form: Form::Central,
        encrypted: true,
        time_zone: "Central Standard Time",
        ..linux(
            ERRORS_AGENT_ID,
            ERRORS_AGENT_NAME,
            ("Windows Server 2019", ""),
            ("DFW", "198.51.100.31"),
            "1.3 TB",
            SQL01,
        )
    },
    AgentSpec {
        windows: true,
        strings: true,
        ..linux(
            STRING_TYPED_AGENT_ID,
            STRING_TYPED_AGENT_NAME,
            ("Windows Server 2016", ""),
            ("IAD", "198.51.100.41"),
            "3.7 TB",
            FILESRV01,
        )
    },
    linux(
        STALE_AGENT_ID,
        STALE_AGENT_NAME,
        ("Debian", "12"),
        ("ORD", "198.51.100.51"),
        "96.5 GB",
        MAIL01,
    ),
    AgentSpec {
        online: false,
        ..linux(
            OFFLINE_AGENT_ID,
            OFFLINE_AGENT_NAME,
            ("Ubuntu", "20.04"),
            ("DFW", "198.51.100.61"),
            "730.2 GB",
            BUILD01,
        )
    },
    AgentSpec {
        disabled: true,
        ..linux(
            DISABLED_AGENT_ID,
            DISABLED_AGENT_NAME,
            ("Ubuntu", "22.04"),
            ("IAD", "198.51.100.71"),
            "12.8 GB",
            CI01,
        )
    },
    linux(
        STAGING_AGENT_ID,
        "staging01.acme.example",
        ("Ubuntu", "22.04"),
        ("ORD", "198.51.100.81"),
        "18.4 GB",
        STAGING01,
    ),
    linux(
        EMPTY_VAULT_AGENT_ID,
        "app03.acme.example",
        ("Ubuntu", "24.04"),
        ("IAD", "198.51.100.91"),
        "0 B",
        APP03,
    ),
    AgentSpec {
        encrypted: true,
        // Idle between its weekly runs: no heartbeats until its next run wakes it.
        online: false,
        ..linux(
            WEEKLY_AGENT_ID,
            "vpn01.acme.example",
            ("Rocky Linux", "9.3"),
            ("DFW", "198.51.100.101"),
            "35.3 MB",
            VPN01,
        )
    },
    AgentSpec {
        form: Form::Plain,
        ..linux(
            PLAIN_DATES_AGENT_ID,
            "wiki01.acme.example",
            ("Ubuntu", "22.04"),
            ("DFW", "198.51.100.111"),
            "6.1 GB",
            WIKI01,
        )
    },
];

/// The demo account, every time relative to `now` (see the module documentation).
pub fn demo_account(now: DateTime<Utc>) -> Dataset {
    let mut b = Builder::new(now, SEED, true);
    for agent in DEMO_AGENTS {
        b.add_agent(agent);
    }
    // A restore of web01's backup onto web02, and a vault cleanup on db01.
    let plain = Style {
        form: Form::Escaped,
        strings: false,
    };
    b.dataset.activity.push(Item::Json(json!({
        "ID": RESTORE_ACTIVITY_ID,
        "Type": "Restore",
        "ParentId": HEALTHY_CONFIGURATION_ID,
        "DisplayName": "Daily Website Backup",
        "IsBackupConfigurationDeleted": false,
        "SourceMachineAgentId": HEALTHY_AGENT_ID,
        "SourceMachineName": HEALTHY_AGENT_NAME,
        "DestinationMachineAgentId": UTC_FORM_AGENT_ID,
        "DestinationMachineName": "web02.acme.example",
        "CurrentState": "Completed",
        "TimeOfActivity": plain.time(b.ago(50.0)),
        "BackupId": HEALTHY_CONFIGURATION_ID * 100 + 3,
    })));
    b.dataset.activity.push(Item::Json(json!({
        "ID": CLEANUP_ACTIVITY_ID,
        "Type": "Cleanup",
        "ParentId": 0,
        "DisplayName": "Cleanup",
        "IsBackupConfigurationDeleted": false,
        "SourceMachineAgentId": DB_AGENT_ID,
        "SourceMachineName": "db01.acme.example",
        "DestinationMachineAgentId": 0,
        "DestinationMachineName": "",
        "CurrentState": "Completed",
        "TimeOfActivity": plain.time(b.ago(4.0 * DAY)),
        "BackupId": 0,
    })));
    let mut rng = fastrand::Rng::with_seed(SEED);
    rng.shuffle(&mut b.dataset.activity);
    b.dataset
}

// ---------------------------------------------------------------------------------------------
// The large account
// ---------------------------------------------------------------------------------------------

const DATACENTERS: &[&str] = &["DFW", "ORD", "IAD", "LON", "SYD", "HKG"];

/// An account of `agents` agents with `configs_per_agent` configurations each, for the
/// benchmark (see the module documentation). Deterministic; times relative to `now`.
pub fn large_account(agents: usize, configs_per_agent: usize, now: DateTime<Utc>) -> Dataset {
    let mut b = Builder::new(now, SEED, false);
    b.dataset.agents.reserve(agents);
    b.dataset.configurations.reserve(agents * configs_per_agent);
    b.dataset.activity.reserve(agents * configs_per_agent * 5);
    b.dataset.reports.reserve(agents * configs_per_agent);
    for i in 0..agents {
        let mut rng =
            fastrand::Rng::with_seed(SEED ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        b.rng = rng.clone();
        let roll = rng.u32(0..1000);
        let (online, disabled, stale_days) = match roll {
            0..=19 => (false, false, None),
            20..=29 => (true, true, None),
            30..=49 => (true, false, Some(3.0 + rng.f64() * 7.0)),
            _ => (true, false, None),
        };
        let windows = i % 4 == 3;
        let name = if windows {
            format!("WIN{i:05}")
        } else {
            format!("srv{i:05}.fleet.example")
        };
        let names: Vec<String> = (0..configs_per_agent)
            .map(|j| format!("Backup {}", j + 1))
            .collect();
        let mut runs: Vec<[Run; 5]> = Vec::with_capacity(configs_per_agent);
        let mut frequencies = Vec::with_capacity(configs_per_agent);
        for j in 0..configs_per_agent {
            let (frequency, period) = match j % 3 {
                0 => (Frequency::Daily(1 + (i % 5) as u32, 0), DAY),
                1 => (Frequency::Hourly(4), 4.0),
                _ => (Frequency::Weekly((i % 7) as u32, 3, 30), 7.0 * DAY),
            };
            frequencies.push(frequency);
            let offset = rng.f64() * period.min(6.0) + 0.2;
            let secs = rng.i64(60..3_600);
            let latest = match rng.u32(0..100) {
                _ if !online => Missed,
                0..=4 => Failed,
                5..=7 => WithErrors,
                8..=9 => InProgress,
                _ => Completed,
            };
            let shift = stale_days.map_or(0.0, |d: f64| d * DAY - offset);
            let at = |k: usize| offset + shift + period * (4 - k) as f64;
            let mut r = [run(Completed, 0.0, secs); 5];
            for (k, slot) in r.iter_mut().enumerate() {
                slot.hours_ago = at(k);
                slot.secs = secs + rng.i64(-30..30);
            }
            if stale_days.is_none() || !online {
                r[4].state = latest;
            }
            if r[4].state == InProgress {
                r[4].secs = 0;
            }
            runs.push(r);
        }
        let configs: Vec<ConfigSpec> = (0..configs_per_agent)
            .map(|j| ConfigSpec {
                id: 2_000_000 + (i * configs_per_agent + j) as i64,
                name: &names[j],
                frequency: frequencies[j],
                active: true,
                deleted: false,
                retention: 30,
                includes: if windows {
                    &["C:\\Data"]
                } else {
                    &["/srv/data/"]
                },
                excludes: NONE,
                runs: &runs[j],
            })
            .collect();
        let ip = format!("10.{}.{}.{}", 10 + i / 62_500, i / 250 % 250, i % 250 + 1);
        let spec = AgentSpec {
            id: 1_000_000 + i as i64,
            name: &name,
            windows,
            os: if windows {
                "Windows Server 2019"
            } else {
                "Ubuntu"
            },
            os_version: if windows { "" } else { "22.04" },
            datacenter: DATACENTERS[i % DATACENTERS.len()],
            ip: &ip,
            vault: "18.6 GB",
            online,
            disabled,
            encrypted: i % 5 == 0,
            form: if i % 10 == 7 {
                Form::Utc
            } else {
                Form::Escaped
            },
            strings: false,
            time_zone: "Eastern Standard Time",
            configs: &configs,
        };
        b.add_agent(&spec);
    }
    let mut rng = fastrand::Rng::with_seed(SEED);
    rng.shuffle(&mut b.dataset.activity);
    b.dataset
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Simulator;
    use crate::sources::rackspace::sim::{lenient_parse, parse_net_date};
    use std::collections::{HashMap, HashSet};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-06-03T14:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Hours between `now()` and the .NET date `text`.
    fn hours_ago(text: &str) -> f64 {
        let ms = parse_net_date(text).unwrap_or_else(|| panic!("not a date: {text}"));
        (now().timestamp_millis() - ms) as f64 / 3_600_000.0
    }

    fn get(item: &Item, key: &str) -> String {
        item.get(key)
            .unwrap_or_else(|| panic!("no {key} in {:?}", item))
    }

    fn agent(d: &Dataset, id: i64) -> &Agent {
        d.agent(&id.to_string())
            .unwrap_or_else(|| panic!("no agent {id}"))
    }

    fn configuration(d: &Dataset, id: i64) -> &Item {
        d.configuration(&id.to_string())
            .unwrap_or_else(|| panic!("no configuration {id}"))
    }

    /// Backup activity of configuration `id`, oldest first.
    fn runs(d: &Dataset, id: i64) -> Vec<&Item> {
        let mut runs: Vec<&Item> = d
            .activity
            .iter()
            .filter(|a| a.get("Type").as_deref() == Some("Backup"))
            .filter(|a| a.get("ParentId") == Some(id.to_string()))
            .collect();
        runs.sort_by_key(|a| parse_net_date(&get(a, "TimeOfActivity")));
        runs
    }

    fn finished(state: &str) -> bool {
        matches!(
            state,
            "Completed" | "Completed WithErrors" | "CompletedWithErrors" | "Failed"
        )
    }

    /// The links every client relies on hold.
    fn check_consistent(d: &Dataset) {
        let agents: HashSet<String> = d.agents.iter().map(|a| a.id().unwrap()).collect();
        assert_eq!(agents.len(), d.agents.len(), "agent ids are unique");
        let mut configurations = HashSet::new();
        for c in &d.configurations {
            assert!(c.value().is_some_and(|v| v.is_object()));
            assert!(
                agents.contains(&get(c, "MachineAgentId")),
                "configuration {} names no agent",
                get(c, "BackupConfigurationId")
            );
            assert!(configurations.insert(get(c, "BackupConfigurationId")));
        }
        let reports: HashMap<String, &Item> =
            d.reports.iter().map(|r| (get(r, "BackupId"), r)).collect();
        assert_eq!(reports.len(), d.reports.len(), "report ids are unique");
        for a in &d.activity {
            assert!(agents.contains(&get(a, "SourceMachineAgentId")));
            if get(a, "Type") == "Backup" {
                assert!(configurations.contains(&get(a, "ParentId")));
            }
        }
        // Each configuration's latest finished run, in one pass.
        let mut latest: HashMap<String, (i64, String)> = HashMap::new();
        for a in &d.activity {
            if get(a, "Type") == "Backup" && finished(&get(a, "CurrentState")) {
                let t = parse_net_date(&get(a, "TimeOfActivity")).unwrap();
                let slot = latest
                    .entry(get(a, "ParentId"))
                    .or_insert((i64::MIN, String::new()));
                if t >= slot.0 {
                    *slot = (t, get(a, "ID"));
                }
            }
        }
        for c in &d.configurations {
            let id = get(c, "BackupConfigurationId");
            if let Some((_, run)) = latest.get(&id) {
                let report = reports
                    .get(run)
                    .unwrap_or_else(|| panic!("no report for the latest run of {id}"));
                assert_eq!(get(report, "BackupConfigurationId"), id);
                assert_eq!(
                    get(report, "MachineAgentId"),
                    get(c, "MachineAgentId"),
                    "{id}"
                );
            }
        }
        for r in &d.reports {
            assert!(configurations.contains(&get(r, "BackupConfigurationId")));
            assert!(agents.contains(&get(r, "MachineAgentId")));
        }
    }

    #[test]
    fn document_sample_is_the_document() {
        let d = document_sample();
        check_consistent(&d);
        assert_eq!(d.agents.len(), 2);
        let web = agent(&d, DOC_AGENT_ID);
        assert_eq!(web.detail, Item::raw(DOC_AGENT_DETAILS));
        assert_eq!(get(&web.detail, "HostServerId"), DOC_HOST_SERVER_ID);
        let list = String::from_utf8(web.served_list_entry()).unwrap();
        assert!(list.contains("\"ExponentHex\": 82374"));
        assert!(list.contains("\"Status\": \"Offline\""));
        let second = agent(&d, DOC_SECOND_AGENT_ID);
        for item in [&second.detail, second.list_entry.as_ref().unwrap()] {
            let Item::Raw(text) = item else {
                panic!("not raw")
            };
            assert!(text.contains("\"ExponentHex\": 09528,"));
            assert!(text.contains("CloudBackup\\_v2\\_0_yourUUID"));
            assert!(serde_json::from_str::<Value>(text).is_err());
        }
        assert_eq!(get(&second.detail, "Status"), "Online");
        assert_eq!(
            get(&second.detail, "HostServerId"),
            DOC_SECOND_HOST_SERVER_ID
        );
        assert_eq!(
            second.detail.value().unwrap()["PublicKey"]["ExponentHex"],
            json!(9528)
        );

        let owners: Vec<(String, String)> = d
            .configurations
            .iter()
            .map(|c| (get(c, "BackupConfigurationId"), get(c, "MachineAgentId")))
            .collect();
        let expected: Vec<(String, String)> = [
            (DOC_CONFIGURATION_ID, DOC_AGENT_ID),
            (DOC_DB_CONFIGURATION_ID, DOC_SECOND_AGENT_ID),
            (DOC_NEVER_RUN_CONFIGURATION_ID, DOC_AGENT_ID),
            (DOC_WEEKLY_CONFIGURATION_ID, DOC_AGENT_ID),
        ]
        .iter()
        .map(|(c, a)| (c.to_string(), a.to_string()))
        .collect();
        assert_eq!(owners, expected);
        let never = configuration(&d, DOC_NEVER_RUN_CONFIGURATION_ID);
        assert_eq!(get(never, "NextScheduledRunTime"), NET_MIN_DATE);
        assert_eq!(never.get("LastRunTime"), None);
        assert_eq!(
            get(
                configuration(&d, DOC_CONFIGURATION_ID),
                "LastRunBackupReportId"
            ),
            "80071"
        );

        let ids: Vec<String> = d.activity.iter().map(|a| get(a, "ID")).collect();
        assert_eq!(ids, vec!["134692", "134693", "137987", "92500"]);
        assert_eq!(
            get(&d.activity[2], "ParentId"),
            DOC_WEEKLY_CONFIGURATION_ID.to_string()
        );
        assert_eq!(get(&d.activity[0], "SourceMachineName"), "BALAJIMBP");

        let report = d.report(&DOC_REPORT_ID.to_string()).unwrap();
        let value = report.value().unwrap();
        assert_eq!(value["State"], json!("CompletedWithErrors"));
        assert_eq!(value["Duration"], json!("00:04:33"));
        assert_eq!(value["BytesSearched"], json!("3.7 GB"));
        assert_eq!(value["BytesBackedUp"], json!("178.1 MB"));
        assert_eq!(value["NumErrors"], json!(2));
        assert_eq!(
            value["BackupConfigurationId"],
            json!(DOC_DB_CONFIGURATION_ID)
        );
        assert_eq!(value["MachineAgentId"], json!(DOC_SECOND_AGENT_ID));
        assert_eq!(
            value["BackupConfigurationName"],
            json!("Database Server Backup")
        );
        // The verbatim texts are the document's JSON where it is valid.
        for text in [
            DOC_AGENT_DETAILS,
            DOC_AGENT_BY_SERVER,
            DOC_USER_CONFIGURATIONS,
            DOC_AGENT_CONFIGURATIONS,
            DOC_BACKUP_REPORT,
            DOC_AGENT_ACTIVITY,
            DOC_USER_ACTIVITY,
        ] {
            assert!(lenient_parse(text).is_ok(), "{text}");
        }
        assert!(serde_json::from_str::<Value>(DOC_AGENT_BY_SERVER).is_err());
        for (text, n) in [
            (DOC_AGENT_LIST, 2),
            (DOC_USER_CONFIGURATIONS, 2),
            (DOC_AGENT_CONFIGURATIONS, 2),
            (DOC_AGENT_ACTIVITY, 1),
            (DOC_USER_ACTIVITY, 2),
        ] {
            assert_eq!(doc_elements(text).len(), n, "{text}");
        }
        assert_eq!(
            lenient_parse(DOC_AGENT_LIST)
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn demo_is_consistent_deterministic_and_relative_to_now() {
        let d = demo_account(now());
        check_consistent(&d);
        assert_eq!(d, demo_account(now()));
        assert_eq!(d.agents.len(), 12);
        let later = demo_account(now() + chrono::Duration::hours(2));
        let t = |d: &Dataset| {
            parse_net_date(&get(
                &agent(d, HEALTHY_AGENT_ID).detail,
                "TimeOfLastSuccessfulBackup",
            ))
            .unwrap()
        };
        assert_eq!(t(&later) - t(&d), 2 * 3_600_000);
        // Every finished run has a report; LastRunBackupReportId is the latest one's.
        for a in &d.activity {
            if get(a, "Type") == "Backup" && finished(&get(a, "CurrentState")) {
                assert!(d.report(&get(a, "ID")).is_some(), "{}", get(a, "ID"));
            }
        }
        for c in &d.configurations {
            let id: i64 = get(c, "BackupConfigurationId").parse().unwrap();
            let latest = runs(&d, id)
                .into_iter()
                .rev()
                .find(|a| finished(&get(a, "CurrentState")))
                .map(|a| get(a, "ID"));
            assert_eq!(c.get("LastRunBackupReportId"), latest, "{id}");
        }
        // The activity list is not sorted newest first.
        let times: Vec<i64> = d
            .activity
            .iter()
            .map(|a| parse_net_date(&get(a, "TimeOfActivity")).unwrap())
            .collect();
        assert_ne!(times[0], *times.iter().max().unwrap());
        let kinds: HashSet<String> = d.activity.iter().map(|a| get(a, "Type")).collect();
        assert_eq!(kinds.len(), 3);
    }

    #[test]
    fn demo_notable_agents() {
        let d = demo_account(now());
        let detail = |id: i64| agent(&d, id).detail.value().unwrap();
        let last = |id: i64| {
            agent(&d, id)
                .detail
                .get("TimeOfLastSuccessfulBackup")
                .map(|t| hours_ago(&t))
        };
        assert!((last(HEALTHY_AGENT_ID).unwrap() - 0.4).abs() < 1e-6);
        assert_eq!(
            detail(HEALTHY_AGENT_ID)["MachineName"],
            json!(HEALTHY_AGENT_NAME)
        );

        let stale = detail(STALE_AGENT_ID);
        assert_eq!(stale["Status"], json!("Online"));
        assert_eq!(last(STALE_AGENT_ID), Some(STALE_DAYS * 24.0));
        let offline = detail(OFFLINE_AGENT_ID);
        assert_eq!(offline["Status"], json!("Offline"));
        assert_eq!(last(OFFLINE_AGENT_ID), Some(49.0));
        let disabled = detail(DISABLED_AGENT_ID);
        assert_eq!(disabled["IsDisabled"], json!(true));
        assert_eq!(last(DISABLED_AGENT_ID), Some(21.0 * 24.0));
        let online = d
            .agents
            .iter()
            .filter(|a| a.detail.get("Status").as_deref() == Some("Online"))
            .count();
        // build01 is offline; vpn01 idle between its weekly runs.
        assert_eq!(online, 10);
        let disabled_count = d
            .agents
            .iter()
            .filter(|a| a.detail.get("IsDisabled").as_deref() == Some("true"))
            .count();
        assert_eq!(disabled_count, 1);

        // String booleans, string ids, raw quirks.
        let strings = &agent(&d, STRING_TYPED_AGENT_ID).detail;
        let Item::Raw(text) = strings else {
            panic!("not raw")
        };
        assert!(text.contains("\"ExponentHex\":010001"));
        assert!(text.contains("CloudBackup\\_v2\\_0_"));
        assert!(text.contains("\"IsDisabled\":\"false\""));
        assert!(text.contains("\"MachineAgentId\":\"348105\""));
        assert!(serde_json::from_str::<Value>(text).is_err());
        let c = configuration(&d, IN_PROGRESS_CONFIGURATION_ID)
            .value()
            .unwrap();
        assert_eq!(c["MachineAgentId"], json!("348105"));
        assert_eq!(c["IsActive"], json!("true"));

        assert_eq!(
            detail(EMPTY_VAULT_AGENT_ID)["BackupVaultSize"],
            json!("0 B")
        );
        assert_eq!(last(EMPTY_VAULT_AGENT_ID), None);
        let never = configuration(&d, NEVER_RUN_CONFIGURATION_ID)
            .value()
            .unwrap();
        assert_eq!(never["Frequency"], json!("Manually"));
        assert_eq!(never["LastRunTime"], Value::Null);
        assert_eq!(never["LastRunBackupReportId"], Value::Null);
        assert_eq!(never["NextScheduledRunTime"], json!(NET_MIN_DATE));
        assert!(runs(&d, NEVER_RUN_CONFIGURATION_ID).is_empty());

        // Time forms, as served.
        let rendered = |item: &Item| String::from_utf8(item.render()).unwrap();
        assert!(rendered(&agent(&d, UTC_FORM_AGENT_ID).detail).contains("+0000)\\/\""));
        assert!(rendered(&agent(&d, ERRORS_AGENT_ID).detail).contains("-0600)\\/\""));
        let plain = rendered(&agent(&d, PLAIN_DATES_AGENT_ID).detail);
        assert!(
            plain.contains("\"TimeOfLastSuccessfulBackup\":\"/Date("),
            "{plain}"
        );
        assert!(rendered(&agent(&d, HEALTHY_AGENT_ID).detail).contains("\"\\/Date("));
    }

    #[test]
    fn demo_notable_configurations() {
        let d = demo_account(now());
        let states = |id: i64| -> Vec<String> {
            runs(&d, id)
                .iter()
                .map(|a| get(a, "CurrentState"))
                .collect()
        };
        let config = |id: i64| configuration(&d, id).value().unwrap();

        let failed = states(FAILED_CONFIGURATION_ID);
        assert_eq!(failed, ["Completed", "Completed", "Completed", "Failed"]);
        let latest = runs(&d, FAILED_CONFIGURATION_ID).pop().unwrap();
        assert_eq!(get(latest, "ID"), FAILED_BACKUP_ID.to_string());
        assert!((hours_ago(&get(latest, "TimeOfActivity")) - 8.2).abs() < 1e-6);
        let report = d.report(&FAILED_BACKUP_ID.to_string()).unwrap();
        assert_eq!(get(report, "State"), "Failed");
        assert_eq!(get(report, "NumErrors"), "1");

        assert_eq!(
            states(ERRORS_CONFIGURATION_ID).last().unwrap(),
            "Completed WithErrors"
        );
        let report = d
            .report(&ERRORS_BACKUP_ID.to_string())
            .unwrap()
            .value()
            .unwrap();
        assert_eq!(report["State"], json!("CompletedWithErrors"));
        assert_eq!(report["CanRestore"], json!(true));
        assert_eq!(report["Reason"], json!("Success"));
        assert_eq!(report["NumErrors"], json!(3));
        assert_eq!(report["ErrorList"].as_array().unwrap().len(), 3);
        assert_eq!(report["Duration"], json!("01:12:09"));
        assert_eq!(report["BytesBackedUp"], json!("2.1 GB"));
        assert_eq!(report["FilesBackedUp"], json!("1532"));
        assert!(report["StartTime"].as_str().unwrap().ends_with("-0600)/"));

        assert_eq!(
            states(IN_PROGRESS_CONFIGURATION_ID).last().unwrap(),
            "InProgress"
        );
        assert!(d.report(&IN_PROGRESS_BACKUP_ID.to_string()).is_none());
        let c = config(IN_PROGRESS_CONFIGURATION_ID);
        assert!((hours_ago(c["LastRunTime"].as_str().unwrap()) - 0.6).abs() < 1e-6);

        assert_eq!(states(MISSED_CONFIGURATION_ID).last().unwrap(), "Missed");
        assert_eq!(states(STALE_CONFIGURATION_ID).last().unwrap(), "Skipped");

        let inactive = config(INACTIVE_CONFIGURATION_ID);
        assert_eq!(inactive["IsActive"], json!(false));
        assert_eq!(inactive["NextScheduledRunTime"], Value::Null);

        let deleted = config(DELETED_CONFIGURATION_ID);
        assert_eq!(deleted["IsDeleted"], json!(true));
        let deleted_runs = runs(&d, DELETED_CONFIGURATION_ID);
        assert_eq!(deleted_runs.len(), 3);
        for a in deleted_runs {
            assert_eq!(get(a, "IsBackupConfigurationDeleted"), "true");
        }

        let frequencies: Vec<String> = d
            .configurations
            .iter()
            .map(|c| get(c, "Frequency"))
            .collect();
        for f in ["Manually", "Hourly", "Daily", "Weekly"] {
            assert!(frequencies.iter().any(|x| x == f), "{f}");
        }
        assert_eq!(config(HOURLY_CONFIGURATION_ID)["HourInterval"], json!(1));
        assert_eq!(config(WEEKLY_CONFIGURATION_ID)["DayOfWeekId"], json!(0));
        let healthy = config(HEALTHY_CONFIGURATION_ID);
        assert_eq!(
            (
                &healthy["StartTimeHour"],
                &healthy["StartTimeMinute"],
                &healthy["StartTimeAmPm"]
            ),
            (&json!(2), &json!(30), &json!("AM"))
        );
        let next = hours_ago(healthy["NextScheduledRunTime"].as_str().unwrap());
        assert!((-24.0..0.0).contains(&next), "{next}");
        let mut per_agent: HashMap<String, usize> = HashMap::new();
        for c in &d.configurations {
            *per_agent.entry(get(c, "MachineAgentId")).or_default() += 1;
        }
        assert!(per_agent.values().filter(|&&n| n == 2).count() >= 3);
        assert_eq!(per_agent.len(), 12);
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(size_text(0), "0 B");
        assert_eq!(size_text(1023), "1023 B");
        assert_eq!(size_text(18 * 1024 * 1024), "18 MB");
        assert_eq!(size_text(37_014_732), "35.3 MB");
        assert_eq!(size_text(2_254_857_830), "2.1 GB");
        assert_eq!(duration_text(4_329), "01:12:09");
        assert_eq!(duration_text(273), "00:04:33");
    }

    #[test]
    fn large_account_shapes_and_speed() {
        let started = std::time::Instant::now();
        let d = large_account(500, 2, now());
        let elapsed = started.elapsed();
        eprintln!("large_account(500, 2): {elapsed:?}");
        assert!(elapsed < std::time::Duration::from_secs(3), "{elapsed:?}");
        assert_eq!(d.agents.len(), 500);
        assert_eq!(d.configurations.len(), 1000);
        assert_eq!(d.activity.len(), 5000);
        // One report per configuration: its latest finished run.
        assert_eq!(d.reports.len(), 1000);
        check_consistent(&d);
        assert_eq!(d, large_account(500, 2, now()));
        let count = |key: &str, value: &str| {
            d.agents
                .iter()
                .filter(|a| a.detail.get(key).as_deref() == Some(value))
                .count()
        };
        assert!((2..40).contains(&count("Status", "Offline")));
        assert!(count("IsDisabled", "true") >= 1);
        let latest_states: HashSet<String> =
            d.activity.iter().map(|a| get(a, "CurrentState")).collect();
        for s in [
            "Completed",
            "Failed",
            "Completed WithErrors",
            "InProgress",
            "Missed",
        ] {
            assert!(latest_states.contains(s), "{s}");
        }
        assert!(large_account(0, 0, now()).agents.is_empty());
        assert_eq!(large_account(3, 3, now()).configurations.len(), 9);
    }

    #[tokio::test]
    async fn the_demo_served_end_to_end() {
        use crate::sources::rackspace::sim::{SimServer, AUTH_TOKEN_HEADER};
        crate::tls::install_crypto_provider();
        let demo = demo_account(Utc::now());
        let server = SimServer::start(demo.clone(), AccountConfig::default())
            .await
            .unwrap();
        let client = reqwest::Client::new();
        let body = client
            .post(format!("{}/tokens", server.identity_url()))
            .header("content-type", "application/json")
            .body(
                json!({"auth": {"RAX-KSKEY:apiKeyCredentials":
                    {"username": "demo", "apiKey": "demo-api-key"}}})
                .to_string(),
            )
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let body: Value = serde_json::from_str(&body).unwrap();
        let token = body["access"]["token"]["id"].as_str().unwrap().to_owned();
        let endpoint = body["access"]["serviceCatalog"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["type"] == json!("rax:backup"))
            .unwrap()["endpoints"][0]["publicURL"]
            .as_str()
            .unwrap()
            .to_owned();
        let fetch = |path: String| {
            let rb = client
                .get(format!("{endpoint}{path}"))
                .header(AUTH_TOKEN_HEADER, &token);
            async move {
                let text = rb.send().await.unwrap().text().await.unwrap();
                lenient_parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
            }
        };
        let agents = fetch("/user/agents".into()).await;
        assert_eq!(agents.as_array().unwrap().len(), demo.agents.len());
        let mut stale = Vec::new();
        for entry in agents.as_array().unwrap() {
            let id = match &entry["MachineAgentId"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let detail = fetch(format!("/agent/{id}")).await;
            if let Some(t) = detail["TimeOfLastSuccessfulBackup"].as_str() {
                let age_h =
                    (Utc::now().timestamp_millis() - parse_net_date(t).unwrap()) as f64 / 3.6e6;
                if age_h > 48.5 {
                    stale.push(detail["MachineName"].as_str().unwrap().to_owned());
                }
            }
        }
        assert_eq!(
            stale,
            vec![STALE_AGENT_NAME, OFFLINE_AGENT_NAME, DISABLED_AGENT_NAME]
        );
        let configurations = fetch("/backup-configuration".into()).await;
        assert_eq!(
            configurations.as_array().unwrap().len(),
            demo.configurations.len()
        );
        let report = fetch(format!("/backup/report/{ERRORS_BACKUP_ID}")).await;
        assert_eq!(report["NumErrors"], json!(3));
        assert_eq!(server.mutation_count(), 0);
        server.shutdown().await;
    }
}
