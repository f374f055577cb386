// The alerts about the exporter itself: scoped to its scrape targets by
// backupExporterSelector, and per target (they keep `instance` and `job`). The exporter's
// alerting bridge cannot send them: it cannot report its own absence.
local utils = import '../lib/utils.libsonnet';

{
  local cfg = $._config,
  local sel = utils.selector([cfg.backupExporterSelector]),

  exporterAlertRules:: [
    // The exporter is down, or gone from Prometheus' targets: every backup_* series then
    // vanishes and every backup alert resolves, silently; this one fires instead. The
    // selector must name the exporter's scrape job (backupExporterSelector), or the absent()
    // branch fires forever.
    {
      alert: 'BackupExporterDown',
      expr: |||
        up%(sel)s == 0
        or
        absent(up%(sel)s)
      ||| % { sel: sel },
      'for': cfg.exporterDownFor,
      labels: { severity: 'critical' },
      annotations: {
        summary: 'backup_exporter {{ with $labels.instance }}{{ . }} {{ end }}is down: no backup alert can fire',
        description: utils.fill(utils.fold(|||
          {{- if $labels.instance }}Prometheus has failed to scrape the backup_exporter
          {{ $labels.instance }} (job {{ $labels.job }}) for ${for}.
          {{- else }}Prometheus has had no backup_exporter target (job {{ $labels.job }}) for
          ${for}: the exporter, or its scrape configuration, is gone.{{ end }}
          Its backup metrics are gone with it, so the backup alerts it fed have resolved and
          cannot fire until it is back, whatever the state of the backups.
        |||), { 'for': utils.durationText(cfg.exporterDownFor) }),
      },
    },

    // The exporter cannot read a backup system: its metrics are frozen at the last good
    // refresh.
    {
      alert: 'BackupExporterSourceDown',
      expr: 'backup_exporter_source_up%s == 0' % sel,
      'for': cfg.sourceDownFor,
      labels: { severity: 'warning' },
      annotations: {
        summary: 'backup_exporter cannot read {{ $labels.system }} source {{ $labels.source }}',
        description: utils.fill(utils.fold(|||
          Refreshes of the {{ $labels.system }} source {{ $labels.source }} (exporter
          {{ $labels.instance }}) have been failing for more than ${for}. Its backup
          metrics are those of the last successful refresh and grow stale.
          backup_exporter_refresh_errors_total{source="{{ $labels.source }}"} tells the reason;
          the exporter's status page and log give the message.
        |||), { 'for': utils.durationText(cfg.sourceDownFor) }),
      },
    },

    // No successful refresh for refreshStaleHours (also catches a source that flaps up and
    // down). Raise it above the longest refresh_interval of the exporter's sources.
    {
      alert: 'BackupExporterRefreshStale',
      expr: 'time() - backup_exporter_last_refresh_success_timestamp_seconds%s > %s * 3600'
            % [sel, utils.num(cfg.refreshStaleHours)],
      'for': cfg.refreshStaleFor,
      labels: { severity: 'warning' },
      annotations: {
        summary: 'backup_exporter data of {{ $labels.source }} is {{ $value | humanizeDuration }} old',
        description: utils.fold(|||
          The last successful refresh of the {{ $labels.system }} source {{ $labels.source }}
          (exporter {{ $labels.instance }}) was {{ $value | humanizeDuration }} ago. Every
          backup metric of this source is at least that old.
        |||),
      },
    },

    // A reload refused the configuration: the exporter runs on with the previous one, so the
    // change the operator made is not in force, and the next restart would fail on the file.
    {
      alert: 'BackupExporterConfigReloadFailed',
      expr: 'backup_exporter_config_last_reload_successful%s == 0' % sel,
      'for': cfg.configReloadFailedFor,
      labels: { severity: 'warning' },
      annotations: {
        summary: 'backup_exporter {{ $labels.instance }} refused its new configuration',
        description: utils.fill(utils.fold(|||
          The last reload of the backup_exporter {{ $labels.instance }} (job {{ $labels.job }})
          refused the configuration it read, ${for} ago or more: the exporter runs on with the
          previous one, so the change is not in force, and a restart would fail on the file.
          The exporter's log line "reloading the configuration failed" names the file and the
          key.
        |||), { 'for': utils.durationText(cfg.configReloadFailedFor) }),
      },
    },
  ],
}
