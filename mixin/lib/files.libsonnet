// The files generated from a mixin, by their path in the repository: the rule file (with its
// header), the same rules as a PrometheusRule, and the dashboards.
local utils = import 'utils.libsonnet';

function(mixin) {
  local cfg = mixin._config,
  local selector = utils.selector([cfg.backupExporterSelector]),

  'alerts/backup_exporter.rules.yml': utils.fill(|||
    # Alerting rules for backup_exporter, for every backup system through the vendor-neutral
    # backup_* metrics (the exporter's own backup_exporter_* ones for the last two alerts).
    #
    # Generated from the monitoring mixin in mixin/ by `bash scripts/mixin.sh`: edit the mixin,
    # not this file. Its comments explain each rule; its _config (mixin/config.libsonnet) sets
    # the exporter's job selector, the runbook address, the `for` durations and the limits.
    #
    # Load with `rule_files: [backup_exporter.rules.yml]` in prometheus.yml and route on the
    # `severity` label in Alertmanager. Each alert's runbook_url links its section of
    #   ${runbook}
    # BackupExporterDown and the two alerts on the exporter's own metrics select its targets by
    #   ${selector}
    # If your scrape job is named otherwise, or your team reads the runbook elsewhere, generate
    # your rule file from the mixin with your own _config (mixin/README.md).
    #
    # Staleness thresholds are not in this file: the exporter exports one
    # backup_stale_threshold_seconds series per target it expects to back up, from its config
    # (`stale_threshold` at the top level or per [[source]], default 3d, and
    # [[source.stale_override]] tables matching device / device_id / target regexes; "off" exports
    # none). Tune there; no rule is copied per device.
    #
    # Backup alerts aggregate with `max by` over the backup labels, so two exporters scraping the
    # same source (an HA pair) give one alert, labelled alertname, severity, system, source, device,
    # device_id, target: the labels the exporter's own alert sender uses, for Alertmanager to
    # deduplicate the two.
    #
    # Unit tests: promtool test rules alerts/tests/*.test.yml
  |||, { runbook: cfg.runbookURL, selector: selector }) + utils.manifestYaml(mixin.prometheusAlerts),

  'examples/kubernetes/prometheusrule.yaml': utils.fill(|||
    # The alert rules of alerts/backup_exporter.rules.yml as a PrometheusRule of the Prometheus
    # Operator. Generated from the monitoring mixin in mixin/ by `bash scripts/mixin.sh`, with the
    # same _config: edit the mixin, not this file.
    #
    #   kubectl apply -f examples/kubernetes/prometheusrule.yaml
    #
    # The operator loads it into the Prometheus whose ruleSelector matches its labels: add the
    # label yours selects under metadata.labels (kube-prometheus-stack: `release: <release name>`).
    # BackupExporterDown and the exporter's own alerts select its targets by
    #   ${selector}
    # the job servicemonitor.yaml and podmonitor.yaml give them. Each alert's runbook_url links
    #   ${runbook}
  |||, { runbook: cfg.runbookURL, selector: selector }) + utils.manifestYaml({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'backup-exporter',
      labels: { 'app.kubernetes.io/name': 'backup_exporter' },
    },
    spec: mixin.prometheusAlerts,
  }),
} + {
  ['dashboards/' + name]: utils.manifestJson(mixin.grafanaDashboards[name])
  for name in std.objectFields(mixin.grafanaDashboards)
}
