// The backup alerts, for every backup system through the vendor-neutral backup_* metrics.
//
// Staleness thresholds are not here: the exporter exports one backup_stale_threshold_seconds
// series per target it expects to back up, from its config (`stale_threshold` at the top level
// or per [[source]], default 3d, and [[source.stale_override]] tables matching device /
// device_id / target regexes; "off" exports none). Tune there; no rule is copied per device.
//
// They aggregate with `max by` over the backup labels, so two exporters scraping the same
// source (an HA pair) give one alert, labelled alertname, severity, system, source, device,
// device_id, target: the labels the exporter's own alerting bridge uses, for Alertmanager to
// deduplicate the two. They read no `job` either: the scoped alerts are the exporter's own
// (exporter.libsonnet). The bridge (src/alerting/rules.rs) evaluates the same five conditions
// with the default values of config.libsonnet.
local utils = import '../lib/utils.libsonnet';

{
  local cfg = $._config,

  // The vendor alert states BackupFailing takes for a failing backup (CrashPlan PRO, Code42).
  local failingStates = 'ALERT|CriticalBackupAlert',

  backupAlertRules:: [
    // The last successful backup of a target is older than its threshold. No `for`: the
    // threshold is the wait.
    {
      alert: 'BackupStale',
      expr: |||
        max by (system, source, device, device_id, target) (time() - backup_last_success_timestamp_seconds)
          > on (system, source, device_id, target) group_left ()
        max by (system, source, device_id, target) (backup_stale_threshold_seconds)
      |||,
      keep_firing_for: cfg.keepFiringFor,
      labels: { severity: 'critical' },
      annotations: {
        summary: 'Backup of {{ $labels.device }}{{ if $labels.target }} to {{ $labels.target }}{{ end }} is stale: last success {{ $value | humanizeDuration }} ago',
        description: utils.fold(|||
          The last successful backup of device {{ $labels.device }} (id {{ $labels.device_id }})
          {{- if $labels.target }} to {{ $labels.target }}{{ end }} on the {{ $labels.system }}
          source {{ $labels.source }} finished {{ $value | humanizeDuration }} ago
          {{- with printf `max(backup_stale_threshold_seconds{system=%q,source=%q,device_id=%q,target=%q})` $labels.system $labels.source $labels.device_id $labels.target | query }}, threshold {{ . | first | value | humanizeDuration }}{{ end }}.
          {{- with printf `max(time() - backup_last_activity_timestamp_seconds{system=%q,source=%q,device_id=%q,target=%q})` $labels.system $labels.source $labels.device_id $labels.target | query }}
          Its last backup activity, completed or not, was {{ . | first | value | humanizeDuration }} ago.
          {{- else }} No backup activity of it is known.{{ end }}
        |||),
      },
    },

    // Known for longer than its threshold (first seen: the vendor's creation time, else when
    // the exporter first read it) and no backup ever completed. The look-back
    // (neverCompletedLookback) keeps a brief gap in the last-success series from looking like
    // "never".
    {
      alert: 'BackupNeverCompleted',
      expr: |||
        max by (system, source, device, device_id, target) (time() - backup_first_seen_timestamp_seconds)
          > on (system, source, device_id, target) group_left ()
        max by (system, source, device_id, target) (backup_stale_threshold_seconds)
        unless on (system, source, device_id, target)
        last_over_time(backup_last_success_timestamp_seconds[%(neverCompletedLookback)s])
      ||| % cfg,
      keep_firing_for: cfg.keepFiringFor,
      labels: { severity: 'warning' },
      annotations: {
        summary: 'No backup of {{ $labels.device }}{{ if $labels.target }} to {{ $labels.target }}{{ end }} has completed in {{ $value | humanizeDuration }}',
        description: utils.fold(|||
          Device {{ $labels.device }} (id {{ $labels.device_id }}) on the {{ $labels.system }}
          source {{ $labels.source }} was first seen {{ $value | humanizeDuration }} ago
          {{- with printf `max(backup_stale_threshold_seconds{system=%q,source=%q,device_id=%q,target=%q})` $labels.system $labels.source $labels.device_id $labels.target | query }} (threshold {{ . | first | value | humanizeDuration }}){{ end }},
          and no backup of it{{ if $labels.target }} to {{ $labels.target }}{{ end }} has ever completed.
          {{- with printf `max(time() - backup_last_activity_timestamp_seconds{system=%q,source=%q,device_id=%q,target=%q})` $labels.system $labels.source $labels.device_id $labels.target | query }}
          Its last backup activity was {{ . | first | value | humanizeDuration }} ago.
          {{- else }} No backup activity of it is known either.{{ end }}
        |||),
      },
    },

    // The latest finished run failed (Rackspace Failed or CompletedWithErrors), or the vendor
    // reports its critical backup alert state (CrashPlan PRO ALERT, Code42
    // CriticalBackupAlert). Resolves with the next good run or when the state clears. A
    // warning: a run with errors may still have made a backup that can be restored (Rackspace
    // CanRestore), which counts as a success for BackupStale; the description says how old the
    // last success is, so the critical case is BackupStale's.
    {
      alert: 'BackupFailing',
      expr: |||
        max by (system, source, device, device_id, target) (backup_last_run_failed == 1)
        or
        max by (system, source, device, device_id, target) (backup_alert_state{state=~"%s"} == 1)
      ||| % failingStates,
      keep_firing_for: cfg.keepFiringFor,
      labels: { severity: 'warning' },
      annotations: {
        summary: 'Backup of {{ $labels.device }}{{ if $labels.target }} to {{ $labels.target }}{{ end }} is failing',
        description: utils.fold(|||
          {{- $sel := printf `system=%q,source=%q,device_id=%q,target=%q` $labels.system $labels.source $labels.device_id $labels.target }}
          {{- $failed := printf `max(backup_last_run_failed{%s}) == 1` $sel | query }}
          {{- $alert := printf `max by (state) (backup_alert_state{%s,state=~"ALERT|CriticalBackupAlert"}) == 1` $sel | query -}}
          The backup of device {{ $labels.device }} (id {{ $labels.device_id }})
          {{- if $labels.target }} to {{ $labels.target }}{{ end }} on the {{ $labels.system }}
          source {{ $labels.source }} is failing:
          {{- if $failed }} its latest finished run failed
          {{- with printf `max(rackspace_backup_last_errors{source=%q,device_id=%q,target=%q}) > 0` $labels.source $labels.device_id $labels.target | query }}
          {{- $n := . | first | value }} with {{ $n }} error{{ if ne $n 1.0 }}s{{ end }}{{ end }}
          {{- end }}
          {{- if and $failed $alert }}, and{{ end }}
          {{- if $alert }} {{ $labels.system }} reports it in alert state
          {{- range $alert }} {{ .Labels.state }}{{ end }}{{ end }}.
          {{- with printf `max(time() - backup_last_success_timestamp_seconds{%s})` $sel | query }}
          Its last successful backup finished {{ . | first | value | humanizeDuration }} ago.{{ end }}
        |||),
      },
    },

    // A CrashPlan PRO mount point or Code42 store point under storeFreeRatioThreshold free, or
    // full within storeFullWithinDays at the rate of the last storeTrendWindow (a day, not
    // less: a nightly backup window is not a trend).
    {
      alert: 'BackupStoreFillingUp',
      expr: |||
        max by (source, mount_point, mount_point_id) (crashplan_mount_point_free_ratio < %(ratio)s)
        or
        max by (source, mount_point, mount_point_id) (predict_linear(crashplan_mount_point_free_bytes[%(window)s], %(days)s * 86400) < 0)
      ||| % {
        ratio: utils.num(cfg.storeFreeRatioThreshold),
        window: cfg.storeTrendWindow,
        days: utils.num(cfg.storeFullWithinDays),
      },
      'for': cfg.storeFillingUpFor,
      labels: { severity: 'warning' },
      annotations: {
        summary: 'Backup store {{ $labels.mount_point }} of {{ $labels.source }} is filling up',
        description: utils.fill(utils.fold(|||
          {{- $sel := printf `source=%q,mount_point_id=%q` $labels.source $labels.mount_point_id -}}
          Mount point {{ $labels.mount_point }} (id {{ $labels.mount_point_id }}) of the source
          {{ $labels.source }} has
          {{- with printf `max(crashplan_mount_point_free_ratio{%s})` $sel | query }} {{ . | first | value | humanizePercentage }} of its space free{{ end }}
          {{- with printf `max(crashplan_mount_point_free_bytes{%s})` $sel | query }} ({{ . | first | value | humanize1024 }}B){{ end }}
          {{- with printf `round(min(predict_linear(crashplan_mount_point_free_bytes{%[1]s}[${window}], 0) / -(deriv(crashplan_mount_point_free_bytes{%[1]s}[${window}]) < 0)), 60)` $sel | query }};
          at the rate of the last ${last} it is full in {{ . | first | value | humanizeDuration }}
          {{- else }}; it is not filling up now{{ end }}. When it is full, the archives on it
          cannot grow and the backups of their devices stop.
        |||), { window: cfg.storeTrendWindow, last: utils.lastText(cfg.storeTrendWindow) }),
      },
    },

    // The device (backup agent) is not connected and has not checked in for longer than it
    // may: its own backup_device_offline_threshold_seconds where the system's schedules give
    // one (Rackspace: its shortest backup schedule plus an hour; +Inf when nothing is
    // scheduled, since an idle agent sends no heartbeat), else agentOfflineSeconds (a day).
    // Where the system gives neither a check-in time nor a limit, for agentOfflineFor.
    {
      alert: 'BackupAgentOffline',
      expr: |||
        max by (system, source, device, device_id) (time() - backup_device_last_connected_timestamp_seconds)
          > on (system, source, device_id) group_left ()
        max by (system, source, device_id) (backup_device_offline_threshold_seconds)
        and on (system, source, device_id)
        (backup_device_connected == 0)
        or
        max by (system, source, device, device_id) (
            (time() - backup_device_last_connected_timestamp_seconds > %(offline)s)
          and on (system, source, device_id)
            (backup_device_connected == 0)
          unless on (system, source, device_id)
            backup_device_offline_threshold_seconds
        )
        or
        max by (system, source, device, device_id) (
            backup_device_connected == 0
          unless on (system, source, device_id)
            backup_device_last_connected_timestamp_seconds
          unless on (system, source, device_id)
            backup_device_offline_threshold_seconds
        )
      ||| % { offline: utils.num(cfg.agentOfflineSeconds) },
      'for': cfg.agentOfflineFor,
      labels: { severity: 'warning' },
      annotations: {
        summary: 'Backup device {{ $labels.device }} is offline',
        description: utils.fill(utils.fold(|||
          Device {{ $labels.device }} (id {{ $labels.device_id }}) on the {{ $labels.system }}
          source {{ $labels.source }} is offline, not connected to its backup service
          {{- with printf `max(time() - backup_device_last_connected_timestamp_seconds{system=%q,source=%q,device_id=%q})` $labels.system $labels.source $labels.device_id | query }}:
          it last checked in {{ . | first | value | humanizeDuration }} ago
          {{- with printf `max(backup_device_offline_threshold_seconds{system=%q,source=%q,device_id=%q})` $labels.system $labels.source $labels.device_id | query }}, longer than the {{ . | first | value | humanizeDuration }} its backup schedule allows{{ end }}
          {{- else }} for more than ${for} ({{ $labels.system }} does not report when it
          last checked in){{ end }}. Its backups cannot run until it connects again.
        |||), { 'for': utils.durationText(cfg.agentOfflineFor) }),
      },
    },
  ],
}
