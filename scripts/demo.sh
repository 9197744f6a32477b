#!/usr/bin/env bash
# `make demo`: the product end to end on a generated demo world (three workspaces, one per
# plan), against the fake Cometly and Meta APIs. Idempotent: a second run prints the same table.
# Needs .local/env.sh sourced (the Makefile does it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEMO="$ROOT/.local/demo"
RUN="$ROOT/.local/run"
mkdir -p "$DEMO" "$RUN" "$ROOT/.local/logs"
step() { printf '\n== %s\n' "$*"; }

step "Demo world (seeded, deterministic)"
[ -s "$DEMO/scenario.json" ] || cometly-elt fake generate --preset demo --out "$DEMO/scenario.json" >/dev/null
echo "$DEMO/scenario.json"

step "Fake Cometly and Meta APIs"
if [ -s "$RUN/fake.pid" ] && kill -0 "$(cat "$RUN/fake.pid")" 2>/dev/null; then
    port=$(cat "$DEMO/fake.port")
    echo "reusing the fake on port $port"
else
    port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # The fake's clock runs 600x: its rate-limit minute and export jobs last 0.1 s.
    setsid cometly-elt fake serve --scenario "$DEMO/scenario.json" --port "$port" --clock-speed 600 \
        >"$ROOT/.local/logs/fake.log" 2>&1 </dev/null &
    echo $! >"$RUN/fake.pid"
    echo "$port" >"$DEMO/fake.port"
    for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/_fake/health" >/dev/null 2>&1 && break; sleep 0.2; done
    echo "started on port $port (log .local/logs/fake.log)"
fi
export COMETLY_API_MINUTE_SECONDS=0.1
base="http://127.0.0.1:$port"

# Registering the workspaces, the three plan DAGs' runs, then the result metrics with their
# backfills: one process, which imports Airflow and dbt once.
python "$ROOT/scripts/demo_runs.py" "$base" "$ROOT/.local/logs"

step "Campaign results"
for plan in hobby pro ultra; do
    cometly-elt report "demo_$plan"
    echo
done
cat <<TXT
Next:
  make airflow                      the Airflow UI (DAGs, runs, the Cometly and Meta connections)
  cometly-elt status demo_pro       settings, Last Synced, progress
  psql "\$WAREHOUSE_URL"              the marts: marts.fct_campaign_results_daily, marts.fct_ad_results_daily,
                                    marts.dim_campaigns (source .local/env.sh first)
  make down                         stop the fake, Airflow and PostgreSQL
TXT
