#!/usr/bin/env bash
# `make setup`: idempotent. .venv from the lock, the project-local PostgreSQL,
# Airflow's config and metadata database, the warehouse schemas, .local/env.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCAL="$ROOT/.local"
VENV="$ROOT/.venv"
UV_VERSION=0.13.8
mkdir -p "$LOCAL"

die() { echo "setup: $*" >&2; exit 1; }

find_python() {
    local p
    for p in ${PYTHON:-} python3.13 python3.12 python3.11 python3; do
        command -v "$p" >/dev/null 2>&1 || continue
        if "$p" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$p"; return
        fi
    done
    die "Python 3.11 or newer (with venv) is required: install it, e.g. 'apt-get install python3 python3-venv'."
}

# --- .venv from requirements.txt (reinstalled only when the lock changes) ---
PY=$(find_python)
# Bytecode compiled at install: where PYTHONDONTWRITEBYTECODE is set (as on our CI machines) Python would
# otherwise compile Airflow's ~1,500 modules from source in every process, about 1.5 CPU-seconds each
# time a command, a task or a test starts. The flags are part of what the venv is made from.
SYNC_FLAGS="--compile-bytecode"
lock_hash=$(cat "$ROOT/requirements.txt" "$ROOT/pyproject.toml" <(echo "$SYNC_FLAGS") | sha256sum | cut -c1-16)
if [ "$(cat "$VENV/.lock-hash" 2>/dev/null)" != "$lock_hash" ]; then
    echo "setup: installing the pinned requirements into .venv (first time: a few minutes)"
    if [ ! -x "$LOCAL/uv/bin/uv" ]; then
        "$PY" -m venv "$LOCAL/uv"
        "$LOCAL/uv/bin/pip" install -q "uv==$UV_VERSION" || die "could not install uv from the package registry."
    fi
    UV="$LOCAL/uv/bin/uv"
    [ -x "$VENV/bin/python" ] || "$UV" venv -q --python "$PY" "$VENV"
    VIRTUAL_ENV="$VENV" "$UV" pip sync -q $SYNC_FLAGS "$ROOT/requirements.txt"
    VIRTUAL_ENV="$VENV" "$UV" pip install -q --no-deps -e "$ROOT"
    echo "$lock_hash" >"$VENV/.lock-hash"
fi
# The project's own modules too (only those changed since the last run are compiled again).
"$VENV/bin/python" -m compileall -q -j 0 "$ROOT/include" "$ROOT/dags" "$ROOT/plugins" >/dev/null

# --- PostgreSQL: the local server unless WAREHOUSE_URL names another ---
if [ -n "${WAREHOUSE_URL:-}" ]; then
    warehouse_url=$WAREHOUSE_URL
else
    "$ROOT/scripts/pg.sh" start
    warehouse_url="postgresql://cometly@127.0.0.1:$(cat "$LOCAL/pg.port")/warehouse"
fi
# Airflow's metadata: database `airflow` on the same server.
metadata_url=$("$VENV/bin/python" - "$warehouse_url" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit
u = urlsplit(sys.argv[1])
print(urlunsplit(("postgresql+psycopg2", u.netloc, "/airflow", u.query, "")))
PY
)

# --- Airflow config from airflow.cfg.example, secrets generated once ---
AIRFLOW_HOME="$LOCAL/airflow"
mkdir -p "$AIRFLOW_HOME"
umask_old=$(umask); umask 077
[ -s "$LOCAL/fernet.key" ] || "$PY" -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())' >"$LOCAL/fernet.key"
[ -s "$LOCAL/jwt.secret" ] || "$PY" -c 'import secrets; print(secrets.token_urlsafe(32))' >"$LOCAL/jwt.secret"
PROJECT_DIR="$ROOT" AIRFLOW_HOME="$AIRFLOW_HOME" METADATA_URL="$metadata_url" \
FERNET_KEY=$(cat "$LOCAL/fernet.key") JWT_SECRET=$(cat "$LOCAL/jwt.secret") \
    "$PY" -c 'import os, string, sys; sys.stdout.write(string.Template(open(sys.argv[1]).read()).substitute(os.environ))' \
    "$ROOT/airflow.cfg.example" >"$AIRFLOW_HOME/airflow.cfg.new"
mv "$AIRFLOW_HOME/airflow.cfg.new" "$AIRFLOW_HOME/airflow.cfg"

cat >"$LOCAL/env.sh.new" <<ENV
# Written by make setup: source it to use airflow, dbt and cometly-elt with this project's configuration.
export PATH="$VENV/bin:\$PATH"
export AIRFLOW_HOME="$AIRFLOW_HOME"
export AIRFLOW_CONFIG="$AIRFLOW_HOME/airflow.cfg"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$metadata_url"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export WAREHOUSE_URL="$warehouse_url"
export DBT_PROFILES_DIR="$ROOT/dbt_project"
export DBT_PROJECT_DIR="$ROOT/dbt_project"
ENV
mv "$LOCAL/env.sh.new" "$LOCAL/env.sh"
umask "$umask_old"

# shellcheck source=/dev/null
. "$LOCAL/env.sh"
airflow db migrate >"$LOCAL/airflow-db-migrate.log" 2>&1 || die "airflow db migrate failed: see .local/airflow-db-migrate.log"
# dbt builds rebuild views every workspace shares: one at a time.
airflow pools set cometly_dbt 1 "dbt builds: one at a time" >/dev/null 2>&1 || die "could not create the Airflow pool cometly_dbt"
cometly-elt warehouse migrate
echo "setup: done. Run 'source .local/env.sh' to use airflow, dbt and cometly-elt by hand."
