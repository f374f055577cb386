#!/usr/bin/env bash
# Measures refresh cost against download cost, and /metrics cost against upstream latency:
# a simulated 20 000-device CrashPlan PRO server (BENCH_DEVICES to change the size), then a
# simulated 20 000-device Code42 console with 2 destinations each (BENCH_DEVICES,
# BENCH_TARGETS; BENCH_LATENCY per answer, 0 unless set), with each step of a refresh timed
# alone, peak memory and /metrics size, then a simulated Rackspace Cloud Backup
# account of 500 agents with 2 configurations each (BENCH_AGENTS, BENCH_CONFIGS) answering
# after 20 ms per request (BENCH_LATENCY), cold and warm refresh against download, and the
# warm refresh at concurrency 1, 4 and 8 (BENCH_CONCURRENCY, default 4), then a simulated
# OpenStack Freezer deployment of 2000 hosts in two projects with 30 backups each (BENCH_HOSTS,
# BENCH_BACKUPS; 60 000 backups) read through keystone in pages of 500 (BENCH_PAGE_SIZE), the
# same way: 20 ms per request, cold and warm refresh against download, CPU-only times, peak
# heap and /metrics size, and the warm refresh at concurrency 1, 4 and 8 (about 30 s), then the
# status page under load: /healthz latency (p50, p99) and the refresh time of the exporter
# serving the 20 000-device Code42 console, alone and while 20 clients fetch / (BENCH_CLIENTS),
# then the sizing table (scripts/sizing.sh): per vendor, series, /metrics bytes, RSS of the
# exporter binary in `run` mode, and its refresh against downloading the same requests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --locked --bench refresh
cargo bench --locked --bench code42
cargo bench --locked --bench rackspace
cargo bench --locked --bench freezer
cargo bench --locked --bench pages
cargo bench --locked --bench sizing
