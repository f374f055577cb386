//! Every data metric family the exporter writes, declared once: name, type, labels, help.
//!
//! Vendor-neutral families (`backup_*`) carry `system` and `source` before the labels listed
//! here; vendor families (`crashplan_*`, ...) carry `source`. Values are refreshed in the
//! background (vendor APIs are slow and rate-limited, and backup data changes on minute-to-hour
//! scales), so every value is as of the source's last successful refresh:
//! `backup_exporter_last_refresh_success_timestamp_seconds` says when that was.
//! The exporter's own metrics (`backup_exporter_*`) live in `crate::selfmetrics`.

use crate::exposition::{Desc, Kind, Scope};

macro_rules! families {
    ($($id:ident: $kind:ident $scope:ident $name:literal [$($label:literal),*] $help:literal;)*) => {
        $(
            #[doc = $help]
            pub static $id: Desc = Desc {
                name: $name,
                help: $help,
                kind: Kind::$kind,
                scope: Scope::$scope,
                labels: &[$($label),*],
            };
        )*
        /// Every data family, in declaration order (docs/metrics.md and tests check against it).
        pub static ALL: &[&Desc] = &[$(&$id),*];
    };
}

/// States of `backup_alert_state` that always get a series for CrashPlan PRO.
pub const CRASHPLAN_ALERT_STATES: &[&str] = &["OK", "WARN", "ALERT"];
/// States of `backup_alert_state` (and the code42 device and org families) that always get a
/// series for Code42 consoles: the `alertStates` values the API documents.
pub const CODE42_ALERT_STATES: &[&str] = &[
    "OK",
    "WarningBackupAlert",
    "CriticalBackupAlert",
    "WarningConnectionAlert",
    "CriticalConnectionAlert",
];
/// States of `rackspace_backup_last_state` that always get a series: the backup states the
/// Cloud Backup API documents (spellings such as `Completed WithErrors` are read as these).
pub const RACKSPACE_BACKUP_STATES: &[&str] = &[
    "Queued",
    "Preparing",
    "StartRequested",
    "StartScheduled",
    "InProgress",
    "StopRequested",
    "Stopped",
    "Completed",
    "CompletedWithErrors",
    "Failed",
    "Missed",
    "Skipped",
];
/// Values of `freezer_job_status` that always get a series (freezer-api's job schema).
pub const FREEZER_JOB_STATUSES: &[&str] = &[
    "scheduled",
    "running",
    "completed",
    "stop",
    "aborting",
    "removed",
];
/// Values of `freezer_job_last_result` and `freezer_session_last_result` that always get a
/// series.
pub const FREEZER_RESULTS: &[&str] = &["success", "fail", "aborted"];
/// Values of `freezer_backups` that always get a series (a backup record's `status`).
pub const FREEZER_BACKUP_STATUSES: &[&str] =
    &["available", "creating", "error", "deleting", "deleted"];
/// Values of `freezer_session_status` that always get a series.
pub const FREEZER_SESSION_STATUSES: &[&str] = &["active", "running", "completed"];
/// States of `crashplan_device_status` that always get a series.
pub const CRASHPLAN_DEVICE_STATUSES: &[&str] = &["Active", "Deactivated", "Blocked"];

families! {
    // ---- vendor-neutral: one device (a backed-up machine) and target (a destination) ----
    DEVICE_INFO: Gauge Neutral "backup_device_info"
        ["device", "device_id", "user", "org", "status", "os", "os_version", "version", "mount_point"]
        "Descriptive labels of a backed-up device (version: the backup client's); value always 1.";
    LAST_SUCCESS: Gauge Neutral "backup_last_success_timestamp_seconds"
        ["device", "device_id", "target"]
        "Unix time of the last backup of the device to the target known to have completed. Absent when no completed backup is known.";
    LAST_ACTIVITY: Gauge Neutral "backup_last_activity_timestamp_seconds"
        ["device", "device_id", "target"]
        "Unix time of the last backup activity of the device to the target, completed or not. Absent when there was none.";
    LAST_CONNECTED: Gauge Neutral "backup_last_connected_timestamp_seconds"
        ["device", "device_id", "target"]
        "Unix time the device last connected to the target. Absent when it never connected.";
    SELECTED_BYTES: Gauge Neutral "backup_selected_bytes"
        ["device", "device_id", "target"]
        "Bytes selected for backup on the device for the target.";
    SELECTED_FILES: Gauge Neutral "backup_selected_files"
        ["device", "device_id", "target"]
        "Files selected for backup on the device for the target.";
    TODO_BYTES: Gauge Neutral "backup_todo_bytes"
        ["device", "device_id", "target"]
        "Bytes still to be backed up from the device to the target.";
    TODO_FILES: Gauge Neutral "backup_todo_files"
        ["device", "device_id", "target"]
        "Files still to be backed up from the device to the target.";
    ARCHIVE_BYTES: Gauge Neutral "backup_archive_bytes"
        ["device", "device_id", "target"]
        "Bytes the device's archive uses on the target.";
    COMPLETION_RATIO: Gauge Neutral "backup_completion_ratio"
        ["device", "device_id", "target"]
        "Part of the selection already backed up to the target, 0 to 1.";
    ALERT_STATE: Gauge Neutral "backup_alert_state"
        ["device", "device_id", "target", "state"]
        "Vendor alert state of the device's backup to the target: 1 for each state that holds, 0 for each known state that does not.";
    LAST_RUN_FAILED: Gauge Neutral "backup_last_run_failed"
        ["device", "device_id", "target"]
        "1 when the latest finished backup run of the device to the target failed (or completed with errors), 0 when it succeeded. Absent where the system reports no runs, or none finished.";
    STALE_THRESHOLD: Gauge Neutral "backup_stale_threshold_seconds"
        ["device", "device_id", "target"]
        "Age of the last successful backup past which the target counts as stale (exporter config: stale_threshold, stale_override). Absent for targets not expected to back up (paused, disabled, inactive, deactivated) and overrides set to off.";
    FIRST_SEEN: Gauge Neutral "backup_first_seen_timestamp_seconds"
        ["device", "device_id", "target"]
        "Unix time since which the device's backup to the target is known: the vendor's creation time where the API gives one, else when this exporter process first read it.";
    DEVICE_CONNECTED: Gauge Neutral "backup_device_connected"
        ["device", "device_id"]
        "1 when the device (backup agent) is connected to its backup service now, 0 when not. Absent where the system does not say.";
    DEVICE_LAST_CONNECTED: Gauge Neutral "backup_device_last_connected_timestamp_seconds"
        ["device", "device_id"]
        "Unix time the device (backup agent) last checked in with its backup service. Absent where the system does not say.";

    // ---- CrashPlan PRO: devices and usages ----
    CP_DEVICE_CONNECTED: Gauge Vendor "crashplan_device_connected"
        ["device", "device_id"]
        "1 when the computer is connected to the CrashPlan PRO server now (sourceConnectedToServer).";
    CP_DEVICE_LAST_CONNECTED: Gauge Vendor "crashplan_device_last_connected_to_server_timestamp_seconds"
        ["device", "device_id"]
        "Unix time the computer last checked in with the CrashPlan PRO server (sourceLastConnectedToServer).";
    CP_DEVICE_STATUS: Gauge Vendor "crashplan_device_status"
        ["device", "device_id", "status"]
        "Computer status flags reported by the server (sourceStatus, e.g. \"Blocked,Active\"): 1 for each flag that is set.";
    CP_COMPUTER_ALERT_STATE: Gauge Vendor "crashplan_computer_alert_state"
        ["device", "device_id", "state"]
        "Computer-level alert state (computers alertStates: OK, WARN past the warning threshold, ALERT past the alert threshold).";
    CP_TARGET_IN_USE: Gauge Vendor "crashplan_target_in_use"
        ["device", "device_id", "target"]
        "1 while the device backs up to the target; 0 when an archive hold is in effect and no backups occur (isUsing).";

    // ---- CrashPlan store capacity: PRO mount points and Code42 store points ----
    CP_MOUNT_INFO: Gauge Vendor "crashplan_mount_point_info"
        ["mount_point", "mount_point_id", "type", "volume_label", "status"]
        "Descriptive labels of a backup store (CrashPlan PRO mount point, Code42 store point); value always 1.";
    CP_MOUNT_ENABLED: Gauge Vendor "crashplan_mount_point_enabled"
        ["mount_point", "mount_point_id"]
        "1 when the mount point is ENABLED, 0 otherwise.";
    CP_MOUNT_TOTAL: Gauge Vendor "crashplan_mount_point_total_bytes"
        ["mount_point", "mount_point_id"]
        "Total bytes of the mount point.";
    CP_MOUNT_USED: Gauge Vendor "crashplan_mount_point_used_bytes"
        ["mount_point", "mount_point_id"]
        "Bytes in use on the mount point.";
    CP_MOUNT_FREE: Gauge Vendor "crashplan_mount_point_free_bytes"
        ["mount_point", "mount_point_id"]
        "Bytes available on the mount point.";
    CP_MOUNT_FREE_RATIO: Gauge Vendor "crashplan_mount_point_free_ratio"
        ["mount_point", "mount_point_id"]
        "Part of the mount point still available, 0 to 1 (percentFree / 100).";
    CP_MOUNT_WRITE_RATE: Gauge Vendor "crashplan_mount_point_write_bytes_per_second"
        ["mount_point", "mount_point_id"]
        "Measured write speed of the mount point; absent until a write speed test ran.";

    // ---- Code42 console: devices, destinations, servers, orgs ----
    C42_DEVICE_CONNECTED: Gauge Vendor "code42_device_connected"
        ["device", "device_id"]
        "1 when the device checked in with the console within connected_within (default 15m) of the console's own time (lastConnected against the response timestamp).";
    C42_DEVICE_LAST_CONNECTED: Gauge Vendor "code42_device_last_connected_timestamp_seconds"
        ["device", "device_id"]
        "Unix time the device last checked in with the console (computer lastConnected).";
    C42_DEVICE_BLOCKED: Gauge Vendor "code42_device_blocked"
        ["device", "device_id"]
        "1 when the device is blocked (it may not back up), 0 otherwise.";
    C42_DEVICE_ALERT_STATE: Gauge Vendor "code42_device_alert_state"
        ["device", "device_id", "state"]
        "Device-wide alert state (computer alertStates): 1 for each state that holds, 0 for each known state that does not.";
    C42_BACKUP_BILLABLE: Gauge Vendor "code42_backup_billable_bytes"
        ["device", "device_id", "target"]
        "Bytes of the device's archive at the destination that count against licensing (billableBytes).";
    C42_BACKUP_SEND_RATE: Gauge Vendor "code42_backup_send_rate_bytes_per_second"
        ["device", "device_id", "target"]
        "Average rate at which the device sends backup data to the destination (sendRateAverage).";
    C42_BACKUP_IN_USE: Gauge Vendor "code42_backup_in_use"
        ["device", "device_id", "target"]
        "1 while the device backs up to the destination (using), 0 when it no longer does.";
    C42_SERVER_INFO: Gauge Vendor "code42_server_info"
        ["server", "server_id", "guid", "type", "version", "address"]
        "Descriptive labels of a Code42 storage server (/api/Server); value always 1.";
    C42_SERVER_ONLINE: Gauge Vendor "code42_server_online"
        ["server", "server_id"]
        "1 when the console reports the storage server online.";
    C42_SERVER_TOTAL: Gauge Vendor "code42_server_total_bytes"
        ["server", "server_id"]
        "Total bytes of the storage server's stores.";
    C42_SERVER_USED: Gauge Vendor "code42_server_used_bytes"
        ["server", "server_id"]
        "Bytes in use on the storage server's stores.";
    C42_SERVER_FREE: Gauge Vendor "code42_server_free_bytes"
        ["server", "server_id"]
        "Bytes available on the storage server's stores.";
    C42_SERVER_SESSIONS: Gauge Vendor "code42_server_backup_sessions"
        ["server", "server_id"]
        "Devices sending backup data to the storage server now (backupSessionCount).";
    C42_ORG_DEVICES: Gauge Vendor "code42_org_devices"
        ["org", "org_id", "state"]
        "Exported devices of the org by device alert state (a device counts once for each state it holds).";
    C42_ORG_SELECTED_BYTES: Gauge Vendor "code42_org_selected_bytes"
        ["org", "org_id"]
        "Bytes selected for backup, summed over the org's devices and destinations.";
    C42_ORG_TODO_BYTES: Gauge Vendor "code42_org_todo_bytes"
        ["org", "org_id"]
        "Bytes still to back up, summed over the org's devices and destinations.";
    C42_ORG_ARCHIVE_BYTES: Gauge Vendor "code42_org_archive_bytes"
        ["org", "org_id"]
        "Archive bytes, summed over the org's devices and destinations.";
    C42_ORG_BILLABLE_BYTES: Gauge Vendor "code42_org_billable_bytes"
        ["org", "org_id"]
        "Billable bytes, summed over the org's devices and destinations.";

    // ---- Rackspace Cloud Backup: agents and backup configurations ----
    RAX_AGENT_INFO: Gauge Vendor "rackspace_backup_agent_info"
        ["device", "device_id", "datacenter", "backup_datacenter", "architecture", "flavor", "host_server_id", "ip_address"]
        "Descriptive labels of a Cloud Backup agent (agent details); value always 1.";
    RAX_AGENT_ONLINE: Gauge Vendor "rackspace_backup_agent_online"
        ["device", "device_id"]
        "1 when the agent details report Status Online, 0 for Offline (the agent list's Status is always Offline and is not used).";
    RAX_AGENT_ENABLED: Gauge Vendor "rackspace_backup_agent_enabled"
        ["device", "device_id"]
        "1 when the agent is enabled (IsDisabled false), 0 when disabled.";
    RAX_AGENT_ENCRYPTED: Gauge Vendor "rackspace_backup_agent_encrypted"
        ["device", "device_id"]
        "1 when the agent's backups are encrypted (IsEncrypted).";
    RAX_AGENT_VAULT_SIZE: Gauge Vendor "rackspace_backup_agent_vault_size_bytes"
        ["device", "device_id"]
        "Size of the agent's backup vault (BackupVaultSize, e.g. \"35.3 MB\"; binary units).";
    RAX_AGENT_DETAILS_TIMESTAMP: Gauge Vendor "rackspace_backup_agent_details_timestamp_seconds"
        ["device", "device_id"]
        "Unix time the agent's details were read; older than the last refresh while its detail call fails and its last known values are served.";
    RAX_CONFIG_INFO: Gauge Vendor "rackspace_backup_configuration_info"
        ["device", "device_id", "target", "configuration_id", "frequency", "time_zone"]
        "Descriptive labels of a backup configuration (not deleted); value always 1.";
    RAX_CONFIG_ACTIVE: Gauge Vendor "rackspace_backup_configuration_active"
        ["device", "device_id", "target"]
        "1 when the backup configuration is active (IsActive), 0 when not.";
    RAX_CONFIG_LAST_RUN: Gauge Vendor "rackspace_backup_configuration_last_run_timestamp_seconds"
        ["device", "device_id", "target"]
        "Unix time the configuration last ran (LastRunTime). Absent when it never ran.";
    RAX_CONFIG_NEXT_RUN: Gauge Vendor "rackspace_backup_configuration_next_run_timestamp_seconds"
        ["device", "device_id", "target"]
        "Unix time of the configuration's next scheduled run (NextScheduledRunTime). Absent when none is scheduled.";
    RAX_LAST_STATE: Gauge Vendor "rackspace_backup_last_state"
        ["device", "device_id", "target", "state"]
        "State of the configuration's latest backup activity (CurrentState): 1 for that state, 0 for each other known state. Absent when the configuration has no backup activity.";
    RAX_LAST_ERRORS: Gauge Vendor "rackspace_backup_last_errors"
        ["device", "device_id", "target"]
        "Errors of the configuration's latest finished backup (report NumErrors).";
    RAX_LAST_DURATION: Gauge Vendor "rackspace_backup_last_duration_seconds"
        ["device", "device_id", "target"]
        "Duration of the configuration's latest finished backup (report Duration).";
    RAX_LAST_BYTES: Gauge Vendor "rackspace_backup_last_bytes"
        ["device", "device_id", "target"]
        "Bytes backed up by the configuration's latest finished backup (report BytesBackedUp; binary units).";
    RAX_LAST_FILES: Gauge Vendor "rackspace_backup_last_files"
        ["device", "device_id", "target"]
        "Files backed up by the configuration's latest finished backup (report FilesBackedUp).";

    // ---- CrashPlan PRO: server statistics (admin only) ----
    CP_SERVER_INFO: Gauge Vendor "crashplan_server_info"
        ["host", "port", "version", "addresses"]
        "Descriptive labels of the CrashPlan PRO server; value always 1.";
    CP_SERVER_ARCHIVE: Gauge Vendor "crashplan_server_archive_bytes"
        []
        "Bytes used by all archives on the server (currentArchiveBytes).";
    CP_SERVER_ARCHIVE_PREV: Gauge Vendor "crashplan_server_previous_month_archive_bytes"
        []
        "Bytes used by all archives on the server 30 days ago (previousMonthArchiveBytes).";
    CP_SERVER_ORGS: Gauge Vendor "crashplan_server_orgs"
        []
        "Active orgs on the server (orgCount).";
    CP_SERVER_SEATS: Gauge Vendor "crashplan_server_seats"
        []
        "Active computers on the server (seatCount).";
    CP_SERVER_SESSIONS: Gauge Vendor "crashplan_server_backup_sessions"
        []
        "Computers sending backup data to the server now (backupSessionCount).";
    CP_SERVER_CLIENTS: Gauge Vendor "crashplan_server_connected_clients"
        []
        "Computers connected to the server now (connectedClientCount).";
    CP_SERVER_HOST_MEM_TOTAL: Gauge Vendor "crashplan_server_host_memory_total_bytes"
        []
        "RAM of the server's host (hostMemoryTotal).";
    CP_SERVER_HOST_MEM_FREE: Gauge Vendor "crashplan_server_host_memory_free_bytes"
        []
        "Unused RAM of the server's host (hostMemoryFree).";
    CP_SERVER_HOST_MEM_CACHED: Gauge Vendor "crashplan_server_host_memory_cached_bytes"
        []
        "hostMemoryCached as the server reports it (documented as the host's swap size).";
    CP_SERVER_ENGINE_MEM_TOTAL: Gauge Vendor "crashplan_server_engine_memory_total_bytes"
        []
        "RAM available to the server's Java virtual machine (engineMemoryTotal).";
    CP_SERVER_ENGINE_MEM_FREE: Gauge Vendor "crashplan_server_engine_memory_free_bytes"
        []
        "Unused RAM inside the server's Java virtual machine (engineMemoryFree).";
    CP_SERVER_CPU: Gauge Vendor "crashplan_server_cpu_utilization_ratio"
        []
        "CPU in use on the server, 0 to 1 (cpuUtilization).";
    CP_SERVER_UPTIME: Gauge Vendor "crashplan_server_uptime_seconds"
        []
        "Seconds the server has been running (uptimeMilliseconds, or the human uptime when that is implausible).";
    CP_SERVER_LOAD1: Gauge Vendor "crashplan_server_load1"
        []
        "Server load average over 1 minute.";
    CP_SERVER_LOAD5: Gauge Vendor "crashplan_server_load5"
        []
        "Server load average over 5 minutes.";
    CP_SERVER_LOAD15: Gauge Vendor "crashplan_server_load15"
        []
        "Server load average over 15 minutes.";
    CP_SERVER_DISK_TOTAL: Gauge Vendor "crashplan_server_disk_total_bytes"
        []
        "Size of the server host's boot drive (diskTotal).";
    CP_SERVER_DISK_FREE: Gauge Vendor "crashplan_server_disk_free_bytes"
        []
        "Free space on the server host's boot drive (diskFree).";
    CP_SERVER_DISK_UTIL: Gauge Vendor "crashplan_server_disk_utilization_ratio"
        []
        "Part of the server host's boot drive in use, 0 to 1 (diskUtilization).";

    // ---- OpenStack Freezer: jobs, backups per host, clients, sessions ----
    FZ_JOB_INFO: Gauge Vendor "freezer_job_info"
        ["project_id", "job_id", "device", "device_id", "client_id", "description", "session_id", "schedule", "actions", "backup_name"]
        "Descriptive labels of a Freezer job (device: its client's hostname; device_id and client_id: its client_id; schedule: the interval as written, cron, once or none; actions: its action kinds in order; backup_name: the names its backup actions write); value always 1.";
    FZ_JOB_STATUS: Gauge Vendor "freezer_job_status"
        ["project_id", "job_id", "device", "device_id", "status"]
        "Scheduler status of the job (job_schedule.status): 1 for the one that holds, 0 for the others. All 0 when the job has none (never ran, or a start was just requested).";
    FZ_JOB_LAST_RESULT: Gauge Vendor "freezer_job_last_result"
        ["project_id", "job_id", "device", "device_id", "result"]
        "Result of the job's last run (job_schedule.result): 1 for the one that holds, 0 for the others; all 0 while a run has no result yet. Absent for a job that never ran.";
    FZ_JOB_LAST_START: Gauge Vendor "freezer_job_last_start_timestamp_seconds"
        ["project_id", "job_id", "device", "device_id"]
        "Unix time the job's last run started (job_schedule.time_started). Absent when it never ran.";
    FZ_JOB_LAST_END: Gauge Vendor "freezer_job_last_end_timestamp_seconds"
        ["project_id", "job_id", "device", "device_id"]
        "Unix time the job's last run ended (job_schedule.time_ended). Absent when it never ended (never ran, or running).";
    FZ_JOB_CREATED: Gauge Vendor "freezer_job_created_timestamp_seconds"
        ["project_id", "job_id", "device", "device_id"]
        "Unix time the job was created (job_schedule.time_created).";
    FZ_JOB_LAST_SUCCESS: Gauge Vendor "freezer_job_last_success_timestamp_seconds"
        ["project_id", "job_id", "device", "device_id"]
        "Unix time of the job's last success: its last run's end when that run succeeded, else the newest available backup carrying the job's job_id. Absent when neither is known.";
    FZ_BACKUPS: Gauge Vendor "freezer_backups"
        ["project_id", "device", "device_id", "status"]
        "Backup records of the host by status (available, creating, error, deleting, deleted always present).";
    FZ_BACKUP_NEWEST: Gauge Vendor "freezer_backup_newest_timestamp_seconds"
        ["project_id", "device", "device_id", "status"]
        "Unix time (backup_metadata.time_stamp) of the host's newest backup record of the status. Absent for statuses the host has none of.";
    FZ_BACKUP_COMPRESSED: Gauge Vendor "freezer_backup_compressed_bytes"
        ["project_id", "device", "device_id"]
        "Sum of backup_size_compressed over the host's available backups. Absent when none carries the field (freezer-agent does not write it).";
    FZ_BACKUP_UNCOMPRESSED: Gauge Vendor "freezer_backup_uncompressed_bytes"
        ["project_id", "device", "device_id"]
        "Sum of backup_size_uncompressed over the host's available backups. Absent when none carries the field.";
    FZ_CLIENTS: Gauge Vendor "freezer_clients"
        ["project_id"]
        "Clients (freezer-scheduler registrations) of the project.";
    FZ_CLIENT_INFO: Gauge Vendor "freezer_client_info"
        ["project_id", "device", "device_id", "uuid", "description", "is_central"]
        "Descriptive labels of a registered client (device: its hostname; device_id: its client_id); value always 1.";
    FZ_SESSION_INFO: Gauge Vendor "freezer_session_info"
        ["project_id", "session_id", "description", "schedule"]
        "Descriptive labels of a session; value always 1.";
    FZ_SESSION_STATUS: Gauge Vendor "freezer_session_status"
        ["project_id", "session_id", "status"]
        "Status of the session: 1 for the one that holds, 0 for the others.";
    FZ_SESSION_LAST_RESULT: Gauge Vendor "freezer_session_last_result"
        ["project_id", "session_id", "result"]
        "Result of the session's last run: 1 for the one that holds, 0 for the others. Absent when it has none.";
    FZ_SESSION_LAST_START: Gauge Vendor "freezer_session_last_start_timestamp_seconds"
        ["project_id", "session_id"]
        "Unix time the session's last run started (time_start). Absent when it never ran.";
    FZ_SESSION_LAST_END: Gauge Vendor "freezer_session_last_end_timestamp_seconds"
        ["project_id", "session_id"]
        "Unix time the session's last run ended (time_end). Absent when it never ended.";
    FZ_SESSION_JOBS: Gauge Vendor "freezer_session_jobs"
        ["project_id", "session_id"]
        "Jobs in the session.";

    // ---- CrashPlan PRO: orgs (aggregates of the nightly ArchiveRecord report) ----
    CP_ORG_INFO: Gauge Vendor "crashplan_org_info"
        ["org", "org_id", "parent_org_id", "status"]
        "Descriptive labels of an org; value always 1.";
    CP_ORG_ARCHIVE: Gauge Vendor "crashplan_org_archive_bytes"
        ["org", "org_id"]
        "Bytes stored in all archives of the org (archiveBytes, nightly report).";
    CP_ORG_ARCHIVE_DELTA: Gauge Vendor "crashplan_org_archive_delta_bytes"
        ["org", "org_id"]
        "Change in bytes stored in the org's archives (archiveBytesDelta, nightly report).";
    CP_ORG_ARCHIVE_DELTA_MONTH: Gauge Vendor "crashplan_org_archive_delta_month_bytes"
        ["org", "org_id"]
        "Change in bytes stored in the org's archives over 30 days (archiveBytesDeltaMonth, nightly report).";
    CP_ORG_DAILY_CHANGE: Gauge Vendor "crashplan_org_daily_change_bytes"
        ["org", "org_id"]
        "Rolling 30-day average of bytes added to or removed from the org's archives per day (dailyChange).";
    CP_ORG_SELECTED_BYTES: Gauge Vendor "crashplan_org_selected_bytes"
        ["org", "org_id"]
        "Bytes selected for backup by all computers of the org.";
    CP_ORG_SELECTED_FILES: Gauge Vendor "crashplan_org_selected_files"
        ["org", "org_id"]
        "Files selected for backup by all computers of the org.";
    CP_ORG_TODO_BYTES: Gauge Vendor "crashplan_org_todo_bytes"
        ["org", "org_id"]
        "Bytes waiting to be backed up by all computers of the org.";
    CP_ORG_TODO_FILES: Gauge Vendor "crashplan_org_todo_files"
        ["org", "org_id"]
        "Files waiting to be backed up by all computers of the org.";
    CP_ORG_QUOTA_BYTES: Gauge Vendor "crashplan_org_quota_bytes"
        ["org", "org_id"]
        "Configured size quota of the org (quota.bytes, given in gigabytes of 2^30 bytes). Absent when unlimited.";
    CP_ORG_QUOTA_SEATS: Gauge Vendor "crashplan_org_quota_seats"
        ["org", "org_id"]
        "Configured seat quota of the org. Absent when unlimited.";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_follow_the_conventions() {
        let mut seen = HashSet::new();
        for d in ALL {
            assert!(seen.insert(d.name), "duplicate family {}", d.name);
            match d.scope {
                Scope::Neutral => assert!(d.name.starts_with("backup_"), "{}", d.name),
                Scope::Vendor => assert!(!d.name.starts_with("backup_"), "{}", d.name),
            }
            assert!(!d.name.starts_with("backup_exporter_"), "{}", d.name);
            if d.name.contains("timestamp") {
                assert!(d.name.ends_with("_timestamp_seconds"), "{}", d.name);
            }
            assert!(!d.name.contains("percent"), "{} must be a ratio", d.name);
            assert!(d.help.ends_with('.'), "help of {}", d.name);
            for l in d.labels {
                assert!(
                    !["system", "source"].contains(l),
                    "{} repeats a scope label",
                    d.name
                );
            }
        }
    }
}
