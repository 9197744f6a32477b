"""The skeleton: local server, databases, Airflow configuration, the package."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]


def run(*cmd: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, **kwargs)


def test_local_server_has_warehouse_and_airflow_databases():
    url = os.environ["WAREHOUSE_URL"]
    with psycopg.connect(url) as conn:
        names = {n for (n,) in conn.execute("select datname from pg_database")}
    assert {"warehouse", "airflow"} <= names


def test_pg_start_reuses_the_running_server():
    result = run("scripts/pg.sh", "start")
    assert result.returncode == 0, result.stderr
    assert "reusing the running server" in result.stdout


def test_airflow_metadata_is_postgres_not_sqlite():
    # The project's configuration (the tests themselves use a database of their own).
    exports = (ROOT / ".local" / "env.sh").read_text()
    url = next(line.split("=", 1)[1].strip('"') for line in exports.splitlines()
               if line.startswith("export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="))
    assert url.startswith("postgresql+psycopg2://")
    assert url.endswith("/airflow")
    result = run("airflow", "config", "get-value", "database", "sql_alchemy_conn")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("postgresql+psycopg2://")


def test_airflow_dags_list_works_with_project_config(airflow_metadata):
    result = run("airflow", "dags", "list", "-o", "plain")
    assert result.returncode == 0, result.stderr


def test_fernet_key_is_generated_once_and_kept_private():
    key = ROOT / ".local" / "fernet.key"
    assert key.stat().st_mode & 0o077 == 0
    before = key.read_text()
    result = run("make", "setup")
    assert result.returncode == 0, result.stderr
    assert key.read_text() == before


def test_package_and_console_script():
    result = run("cometly-elt", "--help")
    assert result.returncode == 0
    assert "workspace" in result.stdout or "COMMAND" in result.stdout


def test_warehouse_migrate_is_idempotent(warehouse_url):
    from cometly_elt import warehouse

    assert warehouse.migrate(warehouse_url) == []
    with psycopg.connect(warehouse_url) as conn:
        schemas = {s for (s,) in conn.execute("select nspname from pg_namespace")}
    assert {"control", "raw_cometly", "raw_meta"} <= schemas
