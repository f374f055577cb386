#!/usr/bin/env bash
# Measures refresh cost against download cost, and /metrics cost against upstream latency,
# on a simulated 20 000-device CrashPlan PRO server (BENCH_DEVICES to change the size).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --locked --bench refresh
