//! The CrashPlan PRO metric families (vendor families carry the `source` label first), and the
//! states their state sets always write. The vendor-neutral `backup_*` families are in
//! `crate::metrics`.

use crate::metrics::families;

/// States of `backup_alert_state` that always get a series for CrashPlan PRO.
pub const CRASHPLAN_ALERT_STATES: &[&str] = &["OK", "WARN", "ALERT"];
/// States of `crashplan_device_status` that always get a series.
pub const CRASHPLAN_DEVICE_STATUSES: &[&str] = &["Active", "Deactivated", "Blocked"];

families! {
    // ---- CrashPlan PRO: devices and usages ----
    CP_DEVICE_CONNECTED: Gauge Vendor OptIn "crashplan_device_connected"
        ["device", "device_id"]
        "1 when the computer is connected to the CrashPlan PRO server now (sourceConnectedToServer).";
    CP_DEVICE_LAST_CONNECTED: Gauge Vendor OptIn "crashplan_device_last_connected_to_server_timestamp_seconds"
        ["device", "device_id"]
        "Unix time the computer last checked in with the CrashPlan PRO server (sourceLastConnectedToServer).";
    CP_DEVICE_STATUS: Gauge Vendor OptIn "crashplan_device_status"
        ["device", "device_id", "status"]
        "Computer status flags reported by the server (sourceStatus, e.g. \"Blocked,Active\"): 1 for each flag that is set.";
    CP_COMPUTER_ALERT_STATE: Gauge Vendor "crashplan_computer_alert_state"
        ["device", "device_id", "state"]
        "Computer-level alert state (computers alertStates: OK, WARN past the warning threshold, ALERT past the alert threshold).";
    CP_TARGET_IN_USE: Gauge Vendor OptIn "crashplan_target_in_use"
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
