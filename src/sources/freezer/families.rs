//! The OpenStack Freezer metric families (vendor families carry the `source` label first), and the
//! states their state sets always write. The vendor-neutral `backup_*` families are in
//! `crate::metrics`.

use crate::metrics::families;

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

families! {
    // ---- OpenStack Freezer: jobs, backups per host, clients, sessions ----
    FZ_JOB_INFO: Gauge Vendor OptIn "freezer_job_info"
        ["project_id", "job_id", "device", "device_id", "client_id", "description", "session_id", "schedule", "actions", "backup_name"]
        "Descriptive labels of a Freezer job (device: its client's hostname; device_id and client_id: its client_id; schedule: the interval as written, cron, once or none; actions: its action kinds in order; backup_name: the names its backup actions write); value always 1.";
    FZ_JOB_STATUS: Gauge Vendor "freezer_job_status"
        ["project_id", "job_id", "device", "device_id", "status"]
        "Scheduler status of the job (job_schedule.status): 1 for the one that holds, 0 for the others. All 0 when the job has none (never ran, or a start was just requested).";
    FZ_JOB_LAST_RESULT: Gauge Vendor "freezer_job_last_result"
        ["project_id", "job_id", "device", "device_id", "result"]
        "Result of the job's last run (job_schedule.result): 1 for the one that holds, 0 for the others; all 0 while a run has no result yet. Absent for a job that never ran.";
    FZ_JOB_LAST_START: Gauge Vendor OptIn "freezer_job_last_start_timestamp_seconds"
        ["project_id", "job_id", "device", "device_id"]
        "Unix time the job's last run started (job_schedule.time_started). Absent when it never ran.";
    FZ_JOB_LAST_END: Gauge Vendor OptIn "freezer_job_last_end_timestamp_seconds"
        ["project_id", "job_id", "device", "device_id"]
        "Unix time the job's last run ended (job_schedule.time_ended). Absent when it never ended (never ran, or running).";
    FZ_JOB_CREATED: Gauge Vendor OptIn "freezer_job_created_timestamp_seconds"
        ["project_id", "job_id", "device", "device_id"]
        "Unix time the job was created (job_schedule.time_created).";
    FZ_JOB_LAST_SUCCESS: Gauge Vendor "freezer_job_last_success_timestamp_seconds"
        ["project_id", "job_id", "device", "device_id"]
        "Unix time of the job's last success: its last run's end when that run succeeded, else the newest available backup carrying the job's job_id. Absent when neither is known.";
    FZ_BACKUPS: Gauge Vendor OptIn "freezer_backups"
        ["project_id", "device", "device_id", "status"]
        "Backup records of the host by status (available, creating, error, deleting, deleted always present).";
    FZ_BACKUP_NEWEST: Gauge Vendor OptIn "freezer_backup_newest_timestamp_seconds"
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
    FZ_CLIENT_INFO: Gauge Vendor OptIn "freezer_client_info"
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
}
