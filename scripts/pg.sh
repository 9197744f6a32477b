#!/usr/bin/env bash
# The project-local PostgreSQL server: pg.sh start | stop | status
#
# Data lives under .local/ (port in .local/pg.port, log in .local/pg.log).
# As root the server runs as the `postgres` user, which cannot enter a 0700
# home such as /root; then the data directory sits under /var/tmp and
# .local/pgdata is a link to it.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# The server user may not be able to enter the caller's directory.
cd /
LOCAL="$ROOT/.local"
SUPERUSER=cometly
mkdir -p "$LOCAL"

die() { echo "pg.sh: $*" >&2; exit 1; }

find_bindir() {
    local d
    if command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null || true)
        [ -x "$d/initdb" ] && { echo "$d"; return; }
    fi
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/initdb" ] && { echo "$d"; return; }
    die "PostgreSQL server binaries not found (no initdb): install them, e.g. 'apt-get install postgresql'."
}

BIN=$(find_bindir)

if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (created by the Debian 'postgresql' package)."
    # One directory per checkout, so two clones never share a server.
    BASE="/var/tmp/cometly-elt-pg/$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)"
    AS_SERVER=(runuser -u postgres --)
else
    BASE="$LOCAL/pg"
    AS_SERVER=()
fi
DATA="$BASE/data"
SOCKDIR="$BASE/run"
LOG="$BASE/server.log"

port() {
    if [ ! -s "$LOCAL/pg.port" ]; then
        python3 - >"$LOCAL/pg.port" <<'PY'
import socket
for port in range(55432, 56432):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
PY
    fi
    cat "$LOCAL/pg.port"
}

running() { "${AS_SERVER[@]}" "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

psql_admin() { "$BIN/psql" -X -q -h 127.0.0.1 -p "$(port)" -U "$SUPERUSER" -d postgres -v ON_ERROR_STOP=1 "$@"; }

ensure_database() {
    local db=$1
    if [ "$(psql_admin -tAc "select 1 from pg_database where datname = '$db'")" != 1 ]; then
        psql_admin -c "create database $db"
    fi
}

start() {
    mkdir -p "$BASE" "$SOCKDIR"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$BASE" "$SOCKDIR"
        chmod 0700 "$BASE"
        ln -sfn "$DATA" "$LOCAL/pgdata"
        ln -sfn "$LOG" "$LOCAL/pg.log"
    fi
    if [ ! -s "$DATA/PG_VERSION" ]; then
        "${AS_SERVER[@]}" "$BIN/initdb" -D "$DATA" -U "$SUPERUSER" --auth=trust \
            --encoding=UTF8 --locale=C.UTF-8 >"$BASE/initdb.log" 2>&1 \
            || die "initdb failed: see $BASE/initdb.log"
    fi
    if running; then
        echo "PostgreSQL: reusing the running server on 127.0.0.1:$(port)"
    else
        "${AS_SERVER[@]}" "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
            -o "-p $(port) -k $SOCKDIR -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null \
            || die "the server did not start: see $LOG"
        echo "PostgreSQL: started on 127.0.0.1:$(port) (data in $DATA)"
    fi
    ensure_database warehouse
    ensure_database airflow
}

stop() {
    if [ -s "$DATA/PG_VERSION" ] && running; then
        "${AS_SERVER[@]}" "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
        echo "PostgreSQL: stopped"
    else
        echo "PostgreSQL: not running"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) if running; then echo "running on 127.0.0.1:$(port)"; else echo "not running"; exit 3; fi ;;
    port) port ;;
    *) die "usage: pg.sh start|stop|status|port" ;;
esac
