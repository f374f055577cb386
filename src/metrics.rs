//! Every data metric family the exporter writes, declared once: name, type, labels, help.
//!
//! Vendor-neutral families (`backup_*`) carry `system` and `source` before the labels listed
//! here; vendor families (`crashplan_*`, ...) carry `source`. Values are refreshed in the
//! background (vendor APIs are slow and rate-limited, and backup data changes on minute-to-hour
//! scales), so every value is as of the source's last successful refresh:
//! `backup_exporter_last_refresh_success_timestamp_seconds` says when that was.
//! The exporter's own metrics (`backup_exporter_*`) live in `crate::selfmetrics`.

macro_rules! families {
    (@opt_in) => { false };
    (@opt_in OptIn) => { true };
    ($($id:ident: $kind:ident $scope:ident $($opt:ident)? $name:literal [$($label:literal),*] $help:literal;)*) => {
        $(
            #[doc = $help]
            pub static $id: $crate::exposition::Desc = $crate::exposition::Desc {
                name: $name,
                help: $help,
                kind: $crate::exposition::Kind::$kind,
                scope: $crate::exposition::Scope::$scope,
                labels: &[$($label),*],
                opt_in: $crate::metrics::families!(@opt_in $($opt)?),
            };
        )*
        /// Every family of the module, in declaration order (the registry lists them).
        pub static ALL: &[&$crate::exposition::Desc] = &[$(&$id),*];
    };
}
pub(crate) use families;

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
    LAST_CONNECTED: Gauge Neutral OptIn "backup_last_connected_timestamp_seconds"
        ["device", "device_id", "target"]
        "Unix time the device last connected to the target. Absent when it never connected.";
    SELECTED_BYTES: Gauge Neutral "backup_selected_bytes"
        ["device", "device_id", "target"]
        "Bytes selected for backup on the device for the target.";
    SELECTED_FILES: Gauge Neutral OptIn "backup_selected_files"
        ["device", "device_id", "target"]
        "Files selected for backup on the device for the target.";
    TODO_BYTES: Gauge Neutral "backup_todo_bytes"
        ["device", "device_id", "target"]
        "Bytes still to be backed up from the device to the target.";
    TODO_FILES: Gauge Neutral OptIn "backup_todo_files"
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
        "Unix time since which the device's backup to the target is known: the vendor's creation time where the API gives one, else when this exporter process first read it. Written only while no completed backup of the target is known.";
    DEVICE_CONNECTED: Gauge Neutral "backup_device_connected"
        ["device", "device_id"]
        "1 when the device (backup agent) is connected to its backup service now, 0 when not. Absent where the system does not say.";
    DEVICE_LAST_CONNECTED: Gauge Neutral "backup_device_last_connected_timestamp_seconds"
        ["device", "device_id"]
        "Unix time the device (backup agent) last checked in with its backup service. Absent where the system does not say.";
    DEVICE_OFFLINE_THRESHOLD: Gauge Neutral "backup_device_offline_threshold_seconds"
        ["device", "device_id"]
        "How long the device (backup agent) may go without checking in while not connected before it counts as offline, where the system's schedules say: its shortest backup schedule plus an hour; +Inf when no backup of it is scheduled (an idle agent is not late). Absent elsewhere: one day.";
}
