#!/usr/bin/env bash
# `make airflow`: Airflow's api-server, scheduler, dag-processor and triggerer on the
# project's PostgreSQL, each in the background with a pid file under .local/run
# (stopped by `make down`) and a log under .local/logs.  Needs .local/env.sh sourced.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN="$ROOT/.local/run"
LOGS="$ROOT/.local/logs"
mkdir -p "$RUN" "$LOGS"

start_component() {
    local name=$1; shift
    local pidfile="$RUN/airflow-$name.pid"
    if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "airflow $name: already running (pid $(cat "$pidfile"))"
        return
    fi
    # setsid: its own process group, so `make down` stops its children too.
    setsid airflow "$name" "$@" >"$LOGS/airflow-$name.log" 2>&1 < /dev/null &
    echo $! >"$pidfile"
    echo "airflow $name: started (log .local/logs/airflow-$name.log)"
}

case "${1:-start}" in
    start)
        start_component api-server
        start_component scheduler
        start_component dag-processor
        start_component triggerer
        base=$(airflow config get-value api base_url 2>/dev/null || echo http://localhost:8080)
        for _ in $(seq 120); do
            curl -fsS "$base/api/v2/monitor/health" >/dev/null 2>&1 && break
            sleep 1
        done
        curl -fsS "$base/api/v2/monitor/health" >/dev/null 2>&1 \
            || { echo "airflow: the api-server did not answer on $base: see .local/logs/airflow-api-server.log" >&2; exit 1; }
        passwords="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
        login=$(python -c 'import json,sys; u,p=next(iter(json.load(open(sys.argv[1])).items())); print(f"{u} / {p}")' "$passwords")
        echo "Airflow UI: $base  (login: $login)"
        ;;
    *) echo "usage: airflow.sh start" >&2; exit 2 ;;
esac
