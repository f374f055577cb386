// The Grafana dashboards, by file name.
(import 'overview.libsonnet') +
(import 'drill-down.libsonnet') +
(import 'storage.libsonnet') +
(import 'health.libsonnet')
