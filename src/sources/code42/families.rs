//! The Code42 console metric families (vendor families carry the `source` label first), and the
//! states their state sets always write. The vendor-neutral `backup_*` families are in
//! `crate::metrics`.

use crate::metrics::families;

/// States of `backup_alert_state` (and the code42 device and org families) that always get a
/// series for Code42 consoles: the `alertStates` values the API documents.
pub const CODE42_ALERT_STATES: &[&str] = &[
    "OK",
    "WarningBackupAlert",
    "CriticalBackupAlert",
    "WarningConnectionAlert",
    "CriticalConnectionAlert",
];

families! {
    // ---- Code42 console: devices, destinations, servers, orgs ----
    C42_DEVICE_CONNECTED: Gauge Vendor OptIn "code42_device_connected"
        ["device", "device_id"]
        "1 when the device checked in with the console within connected_within (default 15m) of the console's own time (lastConnected against the response timestamp).";
    C42_DEVICE_LAST_CONNECTED: Gauge Vendor OptIn "code42_device_last_connected_timestamp_seconds"
        ["device", "device_id"]
        "Unix time the device last checked in with the console (computer lastConnected).";
    C42_DEVICE_BLOCKED: Gauge Vendor OptIn "code42_device_blocked"
        ["device", "device_id"]
        "1 when the device is blocked (it may not back up), 0 otherwise.";
    C42_DEVICE_ALERT_STATE: Gauge Vendor "code42_device_alert_state"
        ["device", "device_id", "state"]
        "Device-wide alert state (computer alertStates): 1 for each state that holds, 0 for each known state that does not.";
    C42_BACKUP_BILLABLE: Gauge Vendor OptIn "code42_backup_billable_bytes"
        ["device", "device_id", "target"]
        "Bytes of the device's archive at the destination that count against licensing (billableBytes).";
    C42_BACKUP_SEND_RATE: Gauge Vendor OptIn "code42_backup_send_rate_bytes_per_second"
        ["device", "device_id", "target"]
        "Average rate at which the device sends backup data to the destination (sendRateAverage).";
    C42_BACKUP_IN_USE: Gauge Vendor OptIn "code42_backup_in_use"
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
}
