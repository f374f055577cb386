#!/usr/bin/env bash
# The real OpenStack freezer-api 19.0.0 (from PyPI) for the Freezer integration tests
# (tests/freezer_real.rs, harness in tests/common/freezer_real.rs).
#
#   scripts/freezer-api.sh install
#       Creates the venv ${FREEZER_VENV:-<repo>/target/freezer-venv} and installs
#       freezer-api==19.0.0 into it, unless it is already there (then it returns at once).
#   scripts/freezer-api.sh start --port PORT --state DIR [--roles ROLES] [--watch-pid PID]
#       Installs if needed, writes the server's configuration into DIR, creates its SQLite
#       schema, starts it on 127.0.0.1:PORT in its own session (pid in DIR/freezer-api.pid)
#       and returns once GET / answers. The database is empty: the tests seed it over HTTP.
#       ROLES (default member,reader) are the roles of callers that send no X-Roles header;
#       "admin" gives the admin view (job lists span every project). With --watch-pid, a
#       watcher stops the server when process PID ends (a test run killed before it could
#       stop the server itself).
#   scripts/freezer-api.sh stop --state DIR
#       Stops the server started with that DIR (and nothing else). DIR stays, for its logs.
#
# Keystone is not involved: scripts/freezer/noauth.py takes the place of keystone's authtoken
# filter and trusts every caller, so the server listens on 127.0.0.1 only. DIR holds
# freezer-api.conf, freezer-paste.ini, freezer.db, freezer-api.log (the server's log),
# freezer-api.out (its stdout and stderr), db-sync.log. `start` empties DIR first only when
# this script made it (marker file .freezer-api-state); it refuses any other non-empty DIR.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HELPERS="$REPO/scripts/freezer"
VENV="${FREEZER_VENV:-$REPO/target/freezer-venv}"
VERSION="19.0.0"
HOST="127.0.0.1"
MARKER=".freezer-api-state"
READY_SECONDS=60
STOP_SECONDS=5

say() { echo "freezer-api.sh: $*" >&2; }
die() {
  say "$*"
  exit 1
}
usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

installed() {
  [ -x "$VENV/bin/freezer-api" ] && [ -x "$VENV/bin/freezer-manage" ] &&
    [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("freezer-api"))' 2>/dev/null)" = "$VERSION" ]
}

cmd_install() {
  installed && return 0
  local python="${PYTHON:-python3}"
  command -v "$python" >/dev/null || die "$python not found (Debian: apt-get install python3 python3-venv)"
  "$python" -c 'import venv, ensurepip' 2>/dev/null ||
    die "$python cannot create a venv (Debian: apt-get install python3-venv)"
  say "installing freezer-api==$VERSION into $VENV"
  if [ -e "$VENV" ] && [ ! -f "$VENV/pyvenv.cfg" ]; then
    die "$VENV exists and is not a venv; remove it or set FREEZER_VENV"
  fi
  # --clear: a venv whose python is gone (or another freezer-api version) starts over.
  "$python" -m venv --clear "$VENV"
  local log="$VENV/pip-install.log"
  # Every dependency pinned (scripts/freezer/constraints.txt): a new release on PyPI cannot
  # change the server the tests run against.
  if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    --constraint "$HELPERS/constraints.txt" "freezer-api==$VERSION" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "pip install freezer-api==$VERSION failed (log: $log)"
  fi
  installed || die "freezer-api $VERSION is still not usable in $VENV after pip install"
  say "installed freezer-api $VERSION"
}

# The absolute form of a path that may not exist yet.
absolute() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$(pwd)" "$1" ;;
  esac
}

# True when something accepts connections on HOST:$1.
port_taken() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# True when pid $1 runs freezer-api with the configuration of state dir $2.
is_our_server() {
  local pid="$1" conf="$2/freezer-api.conf" args=() i found_bin=0
  [ -r "/proc/$pid/cmdline" ] || return 1
  mapfile -d '' -t args <"/proc/$pid/cmdline" || return 1
  for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in */freezer-api) found_bin=1 ;; esac
    if [ "$found_bin" = 1 ] && [ "${args[i]}" = "--config-file" ] &&
      [ "${args[i + 1]:-}" = "$conf" ]; then
      return 0
    fi
  done
  return 1
}

# True while pid $1 exists and is not a zombie (a zombie has closed its files and sockets).
running() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [ "${stat%% *}" != Z ]
}

log_tail() {
  local f
  for f in "$1/freezer-api.out" "$1/freezer-api.log"; do
    [ -s "$f" ] || continue
    echo "---- last lines of $f" >&2
    tail -n 40 "$f" >&2
  done
}

cmd_start() {
  local port="" state="" roles="member,reader" watch=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) port="${2:-}"; shift 2 || usage ;;
      --state) state="${2:-}"; shift 2 || usage ;;
      --roles) roles="${2:-}"; shift 2 || usage ;;
      --watch-pid) watch="${2:-}"; shift 2 || usage ;;
      *) usage ;;
    esac
  done
  [ -z "$watch" ] || [[ "$watch" =~ ^[0-9]+$ ]] || die "start: --watch-pid must be a pid (got '$watch')"
  [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] ||
    die "start: --port must be a port number (got '$port')"
  [ -n "$state" ] || die "start: --state DIR is required"
  [[ "$roles" =~ ^[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*$ ]] ||
    die "start: --roles must be comma-separated role names (got '$roles')"
  state="$(absolute "$state")"

  cmd_install

  local pidfile="$state/freezer-api.pid"
  if [ -e "$state" ]; then
    [ -d "$state" ] || die "start: $state is not a directory"
    if [ -f "$state/$MARKER" ]; then
      if [ -s "$pidfile" ] && is_our_server "$(cat "$pidfile")" "$state"; then
        die "start: a freezer-api already runs with $state (pid $(cat "$pidfile")); stop it first"
      fi
      rm -rf "$state"
    elif [ -n "$(ls -A "$state")" ]; then
      die "start: $state is not empty and was not made by this script; choose another --state"
    fi
  fi
  port_taken "$port" && die "start: something already listens on $HOST:$port"
  mkdir -p "$state"
  : >"$state/$MARKER"

  "$VENV/bin/python" "$HELPERS/helpers.py" paste-ini \
    "$VENV/etc/freezer/freezer-paste.ini" "$state/freezer-paste.ini" "$state" "$roles"

  cat >"$state/freezer-api.conf" <<EOF
# Written by scripts/freezer-api.sh: a loopback test server, no keystone.
[DEFAULT]
bind_host = $HOST
bind_port = $port
log_file = $state/freezer-api.log
use_stderr = false
debug = false

[paste_deploy]
config_file = $state/freezer-paste.ini

[database]
connection = sqlite:///$state/freezer.db

[oslo_policy]
# This file is never written: the policy defaults built into freezer-api apply.
policy_file = $state/no-policy.yaml

[centralized_scheduler]
# Central clients would make the API create keystone trusts; there is no keystone here.
enabled = false
EOF

  # freezer-manage reports a failed sync on its output but exits 0: check the tables.
  "$VENV/bin/freezer-manage" --config-file "$state/freezer-api.conf" db sync \
    >"$state/db-sync.log" 2>&1 || true
  if ! "$VENV/bin/python" "$HELPERS/helpers.py" check-db "$state/freezer.db" >>"$state/db-sync.log" 2>&1; then
    tail -n 30 "$state/db-sync.log" >&2
    die "start: freezer-manage db sync did not create the schema (log: $state/db-sync.log)"
  fi

  # Its own session (setsid), so the caller's terminal signals do not reach it; the inner
  # shell writes its pid, then becomes freezer-api (exec keeps the pid).
  (
    cd "$state"
    PYTHONPATH="$HELPERS" setsid bash -c 'echo $$ >"$0" && exec "$@"' "$pidfile" \
      "$VENV/bin/freezer-api" --config-file "$state/freezer-api.conf" \
      </dev/null >"$state/freezer-api.out" 2>&1 &
  )
  local i pid=""
  for ((i = 0; i < 100; i++)); do
    [ -s "$pidfile" ] && pid="$(cat "$pidfile")" && [ -n "$pid" ] && break
    sleep 0.05
  done
  [ -n "$pid" ] || die "start: freezer-api did not write $pidfile"

  local verdict
  if verdict="$("$VENV/bin/python" "$HELPERS/helpers.py" wait-ready "http://$HOST:$port/" "$pid" "$READY_SECONDS")"; then
    say "freezer-api $VERSION up at http://$HOST:$port (pid $pid, state $state, roles $roles)"
    if [ -n "$watch" ]; then
      # Detached from the caller's output and session, so neither waits for nor kills it.
      setsid bash "${BASH_SOURCE[0]}" watch --state "$state" --pid "$watch" \
        </dev/null >>"$state/watch.log" 2>&1 &
    fi
    echo "http://$HOST:$port"
    return 0
  fi
  log_tail "$state"
  if is_our_server "$pid" "$state"; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  die "start: freezer-api not ready on $HOST:$port: $verdict"
}

cmd_stop() {
  local state=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --state) state="${2:-}"; shift 2 || usage ;;
      *) usage ;;
    esac
  done
  [ -n "$state" ] || die "stop: --state DIR is required"
  state="$(absolute "$state")"
  local pidfile="$state/freezer-api.pid" pid i
  if [ ! -s "$pidfile" ]; then
    say "stop: no $pidfile, nothing to stop"
    return 0
  fi
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || die "stop: $pidfile does not hold a pid"
  if ! running "$pid"; then
    rm -f "$pidfile"
    return 0
  fi
  is_our_server "$pid" "$state" ||
    die "stop: pid $pid is not freezer-api with $state/freezer-api.conf; left alone"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_SECONDS * 20; i++)); do
    running "$pid" || break
    sleep 0.05
  done
  # Still running, and still ours (not a new process that got the pid): KILL.
  if running "$pid" && is_our_server "$pid" "$state"; then
    say "stop: pid $pid still there ${STOP_SECONDS}s after TERM, sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      running "$pid" || break
      sleep 0.05
    done
  fi
  running "$pid" && die "stop: pid $pid did not end"
  rm -f "$pidfile"
}

# Internal (start --watch-pid): waits until process --pid ends, then stops the server of
# --state; returns at once when that server ends first.
cmd_watch() {
  local state="" watched="" server
  while [ $# -gt 0 ]; do
    case "$1" in
      --state) state="${2:-}"; shift 2 || usage ;;
      --pid) watched="${2:-}"; shift 2 || usage ;;
      *) usage ;;
    esac
  done
  [ -n "$state" ] && [[ "$watched" =~ ^[0-9]+$ ]] || usage
  server="$(cat "$state/freezer-api.pid" 2>/dev/null)" || return 0
  while running "$watched"; do
    running "$server" || return 0
    sleep 1
  done
  if running "$server" && is_our_server "$server" "$state"; then
    say "watch: pid $watched ended, stopping freezer-api pid $server"
    cmd_stop --state "$state"
  fi
}

case "${1:-}" in
  watch) shift; cmd_watch "$@" ;;
  install) shift; [ $# -eq 0 ] || usage; cmd_install ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) usage ;;
esac
