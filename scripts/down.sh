#!/usr/bin/env bash
# `make down`: stop what the project started (by pid files); delete nothing.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
for pidfile in "$ROOT"/.local/run/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    name=$(basename "$pidfile" .pid)
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null
        echo "$name: stopped"
    fi
    rm -f "$pidfile"
done
"$ROOT/scripts/pg.sh" stop
