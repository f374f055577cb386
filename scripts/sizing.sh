#!/usr/bin/env bash
# Sizing, per vendor at its benchmark size, side by side: series on /metrics (data and total,
# per device), /metrics bytes plain and gzip, RSS of the exporter binary in `run` mode (idle
# between refreshes, peak after 3 refreshes) and its refresh time against downloading the same
# requests over one connection. Sizes: CrashPlan PRO 20 000 computers (BENCH_DEVICES), Code42
# 20 000 devices with 26 667 device-destination pairs (BENCH_DEVICES, BENCH_PAIRS, or
# BENCH_TARGETS per device), Rackspace 500 agents x 2 configurations (BENCH_AGENTS,
# BENCH_CONFIGS), Freezer 2000 hosts in two projects with 30 backups each (BENCH_HOSTS,
# BENCH_BACKUPS), pages of 500 (BENCH_PAGE_SIZE), no latency (BENCH_LATENCY ms for Rackspace and
# Freezer), a refresh every 30 s (BENCH_INTERVAL), some vendors only (BENCH_VENDORS=code42,...).
# BENCH_MARKDOWN=1 also prints the table as markdown; BENCH_EXPORTER=path measures another build
# of the exporter (copied aside) with the same simulators. About 5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --locked --bench sizing
