//! The Rackspace Cloud Backup metric families (vendor families carry the `source` label first), and the
//! states their state sets always write. The vendor-neutral `backup_*` families are in
//! `crate::metrics`.

use crate::metrics::families;

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

families! {
    // ---- Rackspace Cloud Backup: agents and backup configurations ----
    RAX_AGENT_INFO: Gauge Vendor OptIn "rackspace_backup_agent_info"
        ["device", "device_id", "datacenter", "backup_datacenter", "architecture", "flavor", "host_server_id", "ip_address"]
        "Descriptive labels of a Cloud Backup agent (agent details); value always 1.";
    RAX_AGENT_ONLINE: Gauge Vendor OptIn "rackspace_backup_agent_online"
        ["device", "device_id"]
        "1 when the agent details report Status Online, 0 for Offline (the agent list's Status is always Offline and is not used).";
    RAX_AGENT_ENABLED: Gauge Vendor OptIn "rackspace_backup_agent_enabled"
        ["device", "device_id"]
        "1 when the agent is enabled (IsDisabled false), 0 when disabled.";
    RAX_AGENT_ENCRYPTED: Gauge Vendor OptIn "rackspace_backup_agent_encrypted"
        ["device", "device_id"]
        "1 when the agent's backups are encrypted (IsEncrypted).";
    RAX_AGENT_VAULT_SIZE: Gauge Vendor "rackspace_backup_agent_vault_size_bytes"
        ["device", "device_id"]
        "Size of the agent's backup vault (BackupVaultSize, e.g. \"35.3 MB\"; binary units).";
    RAX_AGENT_DETAILS_TIMESTAMP: Gauge Vendor OptIn "rackspace_backup_agent_details_timestamp_seconds"
        ["device", "device_id"]
        "Unix time the agent's details were read; older than the last refresh while its detail call fails and its last known values are served.";
    RAX_CONFIG_INFO: Gauge Vendor OptIn "rackspace_backup_configuration_info"
        ["device", "device_id", "target", "configuration_id", "frequency", "time_zone"]
        "Descriptive labels of a backup configuration (not deleted); value always 1.";
    RAX_CONFIG_ACTIVE: Gauge Vendor OptIn "rackspace_backup_configuration_active"
        ["device", "device_id", "target"]
        "1 when the backup configuration is active (IsActive), 0 when not.";
    RAX_CONFIG_LAST_RUN: Gauge Vendor OptIn "rackspace_backup_configuration_last_run_timestamp_seconds"
        ["device", "device_id", "target"]
        "Unix time the configuration last ran (LastRunTime). Absent when it never ran.";
    RAX_CONFIG_NEXT_RUN: Gauge Vendor OptIn "rackspace_backup_configuration_next_run_timestamp_seconds"
        ["device", "device_id", "target"]
        "Unix time of the configuration's next scheduled run (NextScheduledRunTime). Absent when none is scheduled.";
    RAX_LAST_STATE: Gauge Vendor "rackspace_backup_last_state"
        ["device", "device_id", "target", "state"]
        "State of the configuration's latest backup activity (CurrentState): 1 for that state, 0 for each other known state. Absent when the configuration has no backup activity.";
    RAX_LAST_ERRORS: Gauge Vendor "rackspace_backup_last_errors"
        ["device", "device_id", "target"]
        "Errors of the configuration's latest finished backup (report NumErrors).";
    RAX_LAST_DURATION: Gauge Vendor OptIn "rackspace_backup_last_duration_seconds"
        ["device", "device_id", "target"]
        "Duration of the configuration's latest finished backup (report Duration).";
    RAX_LAST_BYTES: Gauge Vendor OptIn "rackspace_backup_last_bytes"
        ["device", "device_id", "target"]
        "Bytes backed up by the configuration's latest finished backup (report BytesBackedUp; binary units).";
    RAX_LAST_FILES: Gauge Vendor OptIn "rackspace_backup_last_files"
        ["device", "device_id", "target"]
        "Files backed up by the configuration's latest finished backup (report FilesBackedUp).";
}
