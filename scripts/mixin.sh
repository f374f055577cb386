#!/usr/bin/env bash
# Generates the files of the monitoring mixin (mixin/): alerts/backup_exporter.rules.yml,
# dashboards/*.json and examples/kubernetes/prometheusrule.yaml, with jsonnet (Debian's
# `jsonnet` package, 0.18: apt-get install jsonnet).
#
#   bash scripts/mixin.sh            regenerate the committed files in place (then commit them)
#   bash scripts/mixin.sh DIR        write them under DIR instead (tests/mixin.rs compares the two)
#
# MIXIN_CONFIG, jsonnet merged into the mixin's _config (mixin/config.libsonnet), generates
# files for your own setup:
#
#   MIXIN_CONFIG='{backupExporterSelector: "job=\"backups\"", runbookURL: "https://wiki.example.com/RUNBOOK.md"}' \
#     bash scripts/mixin.sh /tmp/backup-mixin
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v jsonnet >/dev/null 2>&1; then
  echo "scripts/mixin.sh: jsonnet is not installed: apt-get install jsonnet (Debian's package)" >&2
  exit 1
fi
out="${1:-.}"
config="${MIXIN_CONFIG:-}"
[ -n "$config" ] || config='{}'
# jsonnet -m writes each file under $out but creates no folder.
for dir in alerts dashboards examples/kubernetes; do
  mkdir -p "$out/$dir"
done
jsonnet -S -m "$out" --tla-code "config=$config" mixin/lib/generate.jsonnet >/dev/null
