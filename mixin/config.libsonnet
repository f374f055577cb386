// The settings of the backup_exporter mixin. Override any of them when importing it:
//
//   (import 'mixin.libsonnet') + {
//     _config+:: {
//       backupExporterSelector: 'job="backups"',
//       runbookURL: 'https://wiki.example.com/backup_exporter/RUNBOOK.md',
//     },
//   }
//
// The staleness thresholds of backups are not here: the exporter exports them per target from
// its own configuration (backup_stale_threshold_seconds), and the rules compare against them.
{
  _config+:: {
    // Label matchers selecting the exporter's scrape targets, without braces. BackupExporterDown
    // (`up`, `absent(up)`), the alerts on the exporter's own backup_exporter_* metrics and every
    // dashboard query are scoped with it. The default is the scrape job of
    // examples/compose/prometheus.yml and of the Prometheus Operator monitors in
    // examples/kubernetes/. Empty, nothing is scoped: then BackupExporterDown's absent(up)
    // watches every target of the Prometheus, not the exporter's, so keep one for the alerts.
    backupExporterSelector: 'job="backup_exporter"',

    // Where alerts/RUNBOOK.md is read, an absolute URL: each alert's runbook_url is this, `#`,
    // its name in lower case (the anchor of its section). The exporter's alerting bridge has
    // the same default ([alertmanager] runbook_base_url); set both to where your team reads
    // the runbook.
    runbookURL: 'https://github.com/backup-exporter/backup_exporter/blob/main/alerts/RUNBOOK.md',

    // The name of the rule group.
    ruleGroupName: 'backup_exporter',

    // The backup alerts without `for` (BackupStale, BackupNeverCompleted, BackupFailing) keep
    // firing this long after their condition is gone, so an exporter restart does not resolve
    // and re-raise them (Prometheus 2.42 or later).
    keepFiringFor: '10m',

    // BackupNeverCompleted: how far back a last success still counts, so a brief gap in
    // backup_last_success_timestamp_seconds does not look like "never".
    neverCompletedLookback: '1h',

    // BackupStoreFillingUp: a mount point or store point with less free space than this ratio,
    // or full within storeFullWithinDays at the rate of the last storeTrendWindow (a day, not
    // less: a nightly backup window is not a trend), for storeFillingUpFor.
    storeFreeRatioThreshold: 0.10,
    storeFullWithinDays: 7,
    storeTrendWindow: '1d',
    storeFillingUpFor: '30m',

    // BackupAgentOffline: a device without its own backup_device_offline_threshold_seconds is
    // offline when it has not checked in for this many seconds; the alert waits agentOfflineFor.
    agentOfflineSeconds: 86400,
    agentOfflineFor: '30m',

    // BackupExporterDown: no scrape of the exporter succeeded, or no target, for this long.
    exporterDownFor: '10m',

    // BackupExporterSourceDown: every refresh of a source failed for this long.
    sourceDownFor: '15m',

    // BackupExporterRefreshStale: no successful refresh of a source for refreshStaleHours
    // (raise it above the longest refresh_interval), for refreshStaleFor.
    refreshStaleHours: 3,
    refreshStaleFor: '10m',

    // BackupExporterConfigReloadFailed: the configuration last read (SIGHUP, POST /-/reload)
    // was refused, and the exporter still runs the previous one, for this long.
    configReloadFailedFor: '10m',

    // Dashboards: every one carries dashboardTag (their links list the dashboards with it) and
    // dashboardExtraTags; their uids start with dashboardUIDPrefix.
    dashboardTag: 'backup_exporter',
    dashboardExtraTags: ['backup'],
    dashboardUIDPrefix: 'backup-exporter-',
    dashboardRefresh: '1m',
  },
}
