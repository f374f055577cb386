#!/usr/bin/env bash
# Runs every test of backup_exporter: unit tests, integration tests against the simulated
# vendor servers, the promtool checks of the exposition, and the alert rule unit tests.
# Installs what the tests need when it is missing: promtool and the Prometheus server (Debian's
# prometheus package) and Alertmanager (Debian's prometheus-alertmanager package), which the
# dashboard and end-to-end tests run for real (tests/common/stack.rs); the Python
# prometheus_client (python3-prometheus-client), whose OpenMetrics parser checks the
# OpenMetrics exposition (tests/openmetrics.rs); and jsonnet (Debian's jsonnet package), with
# which tests/mixin.rs generates the rule file and dashboards from mixin/.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
{ command -v promtool && command -v prometheus; } >/dev/null 2>&1 || need_apt+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1 ||
  need_apt+=(prometheus-alertmanager)
# tests/openmetrics.rs uses the python3 on PATH when it has prometheus_client, else Debian's.
{ python3 -c 'import prometheus_client.openmetrics.parser' ||
  /usr/bin/python3 -c 'import prometheus_client.openmetrics.parser'; } >/dev/null 2>&1 ||
  need_apt+=(python3-prometheus-client)
command -v jsonnet >/dev/null 2>&1 || need_apt+=(jsonnet)
# The real freezer-api runs from a Python venv (scripts/freezer-api.sh); Debian splits venv out.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing ${need_apt[*]} (Debian packages)"
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    # Not root: sudo without a password prompt, or say exactly what to install.
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo="sudo"
    else
      echo "scripts/test.sh: the tests need the Debian packages ${need_apt[*]}, and this user" >&2
      echo "cannot install them (not root, no sudo without a password). As root, run:" >&2
      echo "  apt-get update && apt-get install -y --no-install-recommends ${need_apt[*]}" >&2
      echo "then run bash scripts/test.sh again." >&2
      exit 1
    fi
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ -d alerts ]; then
  echo "== promtool: alert rules"
  for rules in alerts/*.rules.yml; do
    [ -e "$rules" ] && promtool check rules "$rules"
  done
  for t in alerts/tests/*.test.yml; do
    [ -e "$t" ] && promtool test rules "$t"
  done
fi

# OpenStack's freezer-api from PyPI, in a venv under target/ (pip; fast when already there):
# tests/freezer_real.rs runs it for real (tests/common/freezer_real.rs).
echo "== freezer-api 19.0.0 (real server for tests/freezer_real.rs)"
bash scripts/freezer-api.sh install

echo "== cargo test"
# Benches are measurements (scripts/bench.sh), not tests: --all-targets would run them.
cargo test --locked --lib --bins --tests --examples
cargo test --locked --doc
