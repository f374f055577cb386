// The monitoring mixin of backup_exporter: its Prometheus alerts (prometheusAlerts) and
// Grafana dashboards (grafanaDashboards), set up by _config (config.libsonnet). The files the
// repository ships (alerts/backup_exporter.rules.yml, dashboards/*.json,
// examples/kubernetes/prometheusrule.yaml) are generated from it by scripts/mixin.sh.
(import 'config.libsonnet') +
(import 'alerts/alerts.libsonnet') +
(import 'dashboards/dashboards.libsonnet')
