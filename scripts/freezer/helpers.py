"""Steps of scripts/freezer-api.sh that are easier in Python (run with the venv's python).

    helpers.py paste-ini SHIPPED_INI OUT_INI STATE_DIR ROLES
        The paste pipeline freezer-api 19.0.0 ships (etc/freezer/freezer-paste.ini in the
        venv), with keystone's ``authtoken`` filter replaced by ``noauth`` (noauth.py beside
        this file) and the healthcheck's disable file moved into STATE_DIR.
    helpers.py check-db SQLITE_FILE
        Exits non-zero unless ``freezer-manage db sync`` created the schema (it exits 0 when it
        fails).
    helpers.py wait-ready URL PID SECONDS
        Polls GET URL until it answers 300 Multiple Choices (freezer-api's version list at
        ``/``); exits 1 when process PID ends first, 2 when SECONDS pass.
"""

import configparser
import os
import sqlite3
import sys
import time
import urllib.error
import urllib.request

# The shipped sections we drop: keystone's filter, and an "unauthenticated" pipeline that
# names an application the file never defines (it cannot be loaded).
_DROPPED = ("filter:authtoken", "composite:unauthenticated_freezer_api",
            "pipeline:unauthenticated_api")

# Tables the sqlalchemy backend needs (freezer_api/db/sqlalchemy/models.py).
_TABLES = ("clients", "actions", "jobs", "job_actions", "sessions", "backups",
           "alembic_version")


def paste_ini(shipped, out, state, roles):
    ini = configparser.RawConfigParser(strict=True)
    ini.optionxform = str  # keep key case as written
    if not ini.read(shipped):
        sys.exit("paste-ini: cannot read %s" % shipped)
    pipeline = ini.get("pipeline:api", "pipeline").split()
    if pipeline.count("authtoken") != 1:
        sys.exit("paste-ini: expected one 'authtoken' in the shipped pipeline, got %r"
                 % pipeline)
    ini.set("pipeline:api", "pipeline",
            " ".join("noauth" if f == "authtoken" else f for f in pipeline))
    for section in _DROPPED:
        ini.remove_section(section)
    ini.add_section("filter:noauth")
    ini.set("filter:noauth", "paste.filter_factory", "noauth:filter_factory")
    ini.set("filter:noauth", "default_roles", roles)
    ini.set("app:healthcheck", "disable_by_file_path",
            os.path.join(state, "healthcheck_disable"))
    with open(out, "w") as f:
        f.write("# Written by scripts/freezer-api.sh from the paste pipeline freezer-api\n"
                "# ships, keystone's authtoken replaced by scripts/freezer/noauth.py.\n"
                "# Test server on 127.0.0.1 only.\n\n")
        ini.write(f)


def check_db(path):
    if not os.path.isfile(path):
        sys.exit("check-db: %s was not created" % path)
    db = sqlite3.connect(path)
    try:
        have = {row[0] for row in
                db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = [t for t in _TABLES if t not in have]
        if missing:
            sys.exit("check-db: tables missing after db sync: %s" % ", ".join(missing))
        revision = db.execute("SELECT version_num FROM alembic_version").fetchone()
        if not revision:
            sys.exit("check-db: alembic_version is empty")
        print("schema at alembic revision %s" % revision[0])
    finally:
        db.close()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) counts as dead.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_ready(url, pid, seconds):
    deadline = time.monotonic() + seconds
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    last = "no answer yet"
    while True:
        if not _alive(pid):
            print("process %d ended (last: %s)" % (pid, last))
            return 1
        try:
            with opener.open(url, timeout=2) as resp:
                last = "HTTP %d" % resp.status
        except urllib.error.HTTPError as e:
            if e.code == 300:
                print("answered 300 Multiple Choices")
                return 0
            last = "HTTP %d" % e.code
        except (OSError, ValueError) as e:
            last = str(e)
        if time.monotonic() >= deadline:
            print("no answer within %ss (last: %s)" % (seconds, last))
            return 2
        time.sleep(0.2)


def main(argv):
    if len(argv) == 5 and argv[0] == "paste-ini":
        paste_ini(*argv[1:])
        return 0
    if len(argv) == 2 and argv[0] == "check-db":
        check_db(argv[1])
        return 0
    if len(argv) == 4 and argv[0] == "wait-ready":
        return wait_ready(argv[1], int(argv[2]), float(argv[3]))
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
