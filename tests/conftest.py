"""Shared fixtures: a real PostgreSQL database per test session and the fake APIs as real processes.

`make test` has started the project-local server and written .local/env.sh;
the tests use their own database on it (`cometly_test`), never the warehouse.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[1]
# A copy of shared/scenarios/example.json, so the suite needs nothing outside the repository.
EXAMPLE_SCENARIO = ROOT / "tests" / "data" / "example.json"
# Parallel sessions (or developers) pick their own with COMETLY_TEST_DATABASE.
TEST_DATABASE = os.environ.get("COMETLY_TEST_DATABASE", "cometly_test")


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def pytest_configure(config):
    """Airflow's metadata for the tests lives in its own fresh database (`<test database>_airflow`),
    so the runs and connections the tests create never show in the project's Airflow, no run of
    an earlier session is in the way, and two sessions never share connections. Set before
    anything imports Airflow."""
    metadata = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    if not metadata or os.environ.get("COMETLY_TEST_AIRFLOW_DB_READY"):
        return
    database = f"{TEST_DATABASE}_airflow"
    with psycopg.connect(_with_database(metadata.replace("+psycopg2", ""), "postgres"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {database} with (force)")
        conn.execute(f"create database {database}")
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = _with_database(metadata, database)
    for command in (["airflow", "db", "migrate"], ["airflow", "pools", "set", "cometly_dbt", "1", "dbt builds"]):
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise pytest.UsageError(f"{' '.join(command)} failed for the test metadata database: {result.stderr[-2000:]}")
    os.environ["COMETLY_TEST_AIRFLOW_DB_READY"] = "1"


@pytest.fixture(scope="session")
def warehouse_url() -> str:
    """A fresh, migrated test database; WAREHOUSE_URL points at it for the whole session."""
    base = os.environ.get("WAREHOUSE_URL")
    if not base:
        pytest.exit("WAREHOUSE_URL is not set: run the tests through 'make test'", returncode=2)
    with psycopg.connect(_with_database(base, "postgres"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {TEST_DATABASE} with (force)")
        conn.execute(f"create database {TEST_DATABASE}")
    url = _with_database(base, TEST_DATABASE)
    os.environ["WAREHOUSE_URL"] = url
    from cometly_elt import warehouse

    warehouse.migrate(url)
    return url


def empty_warehouse(conn) -> None:
    """No row in control and raw tables, no dbt schema: as after `make setup` on a new machine."""
    tables = conn.execute(
        "select format('%I.%I', schemaname, tablename) from pg_tables"
        " where schemaname in ('control', 'raw_cometly', 'raw_meta') and tablename <> 'schema_migrations'"
    ).fetchall()
    conn.execute("truncate " + ", ".join(t for (t,) in tables) + " cascade")
    for schema in ("staging", "intermediate", "marts"):
        conn.execute(f"drop schema if exists {schema} cascade")


@pytest.fixture
def wh(warehouse_url):
    """An autocommit connection to an emptied test warehouse."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        empty_warehouse(conn)
        yield conn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeApi:
    """`cometly-elt fake serve` running as a real process on a free port."""

    def __init__(self, scenario: Path, extra_args: list[str], log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cometly_url = f"{self.url}/public-api/v1"
        self.meta_url = self.url
        self._log = open(log_path, "wb")
        cli = shutil.which("cometly-elt") or sys.executable
        cmd = [cli] if cli != sys.executable else [sys.executable, "-m", "cometly_elt.cli"]
        self.proc = subprocess.Popen(
            cmd + ["fake", "serve", "--scenario", str(scenario), "--port", str(self.port), *extra_args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fake server exited with {self.proc.returncode}: {log_path.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"fake server did not listen within 30 s: {log_path.read_text()}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


@pytest.fixture
def fake_api(tmp_path):
    """Factory: fake_api(scenario_dict_or_path, *extra_args) -> FakeApi (stopped after the test)."""
    started: list[FakeApi] = []

    def start(scenario=EXAMPLE_SCENARIO, *extra_args: str) -> FakeApi:
        if isinstance(scenario, dict):
            path = tmp_path / f"scenario{len(started)}.json"
            path.write_text(json.dumps(scenario))
        else:
            path = Path(scenario)
        api = FakeApi(path, list(extra_args), tmp_path / f"fake{len(started)}.log")
        started.append(api)
        return api

    yield start
    for api in started:
        api.stop()


@pytest.fixture
def example_scenario() -> dict:
    return json.loads(EXAMPLE_SCENARIO.read_text())


def cli(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """`cometly-elt ARGS` as a user runs it (the test's WAREHOUSE_URL and environment)."""
    result = subprocess.run(["cometly-elt", *args], capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL)
    if check:
        assert result.returncode == 0, f"cometly-elt {' '.join(args)}: {result.stderr}"
    return result


def cli_ok(*args: str) -> str:
    """The output of `cometly-elt ARGS`, which must succeed."""
    return cli(*args).stdout


def set_up_workspace(api: FakeApi, workspace_id: str, *, plan: str = "pro", api_key: str = "ck_acme_live",
                     events: tuple[str, ...] = ("purchase", "lead_generated", "custom_event_3"),
                     history_start: str = "2026-02-15", model: str = "first_touch") -> None:
    """A workspace on example.json's Space and ad account, through the product's commands."""
    cli("workspace", "add", workspace_id, "--name", workspace_id.title(), "--plan", plan,
        "--history-start", history_start)
    cli("cometly", "connect", workspace_id, "--api-key", api_key, "--base-url", api.cometly_url)
    cli("cometly", "configure", workspace_id, "--model", model, "--window", "lifetime",
        "--timezone", "America/New_York", "--yes")
    cli("cometly", "select", workspace_id, *events)
    cli("meta", "connect", workspace_id, "--ad-account", "act_1000000001", "--access-token", "EAAB_acme_valid",
        "--base-url", api.meta_url)


@pytest.fixture
def fast_fake(fake_api, monkeypatch):
    """Factory: the fake on a scenario with its clock 600x faster, and the client told so."""
    monkeypatch.setenv("COMETLY_API_MINUTE_SECONDS", "0.1")

    def start(scenario=EXAMPLE_SCENARIO, *extra_args: str) -> FakeApi:
        return fake_api(scenario, "--clock-speed", "600", *extra_args)

    return start
