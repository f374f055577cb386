// The rule group: the backup alerts, then the exporter's own, each linking its section of
// alerts/RUNBOOK.md at runbookURL (`#` and the alert's name in lower case, the anchor of its
// heading there).
(import 'backups.libsonnet') +
(import 'exporter.libsonnet') +
{
  local cfg = $._config,
  local withRunbook(rule) = rule {
    annotations+: { runbook_url: cfg.runbookURL + '#' + std.asciiLower(rule.alert) },
  },

  prometheusAlerts+:: {
    groups+: [
      {
        name: cfg.ruleGroupName,
        rules: [withRunbook(r) for r in $.backupAlertRules + $.exporterAlertRules],
      },
    ],
  },
}
