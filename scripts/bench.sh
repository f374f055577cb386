#!/usr/bin/env bash
# Measures refresh cost against download cost, and /metrics cost against upstream latency:
# a simulated 20 000-device CrashPlan PRO server (BENCH_DEVICES to change the size), then a
# simulated 20 000-device Code42 console with 2 destinations each (BENCH_DEVICES,
# BENCH_TARGETS), with peak memory and /metrics size.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --locked --bench refresh
cargo bench --locked --bench code42
