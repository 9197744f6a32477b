"""Shared fixtures: real PostgreSQL databases per test session and the fake APIs as real processes.

`make test` has started the project-local server and written .local/env.sh;
the tests use databases of their own on it (`cometly_test` and `cometly_test_airflow`),
never the warehouse or the project's Airflow.

Test tiers. Every test gets one of two markers here, at collection, from what it uses:
- `airflow`: the test starts Airflow's components (scheduler, api-server, dag-processor, triggerer,
  workers) or runs a DAG (`dag.test()`, `airflow dags test`, and `cometly-elt sync` or `results set`,
  which run their DAG in-process when no scheduler runs). That is: its module or the test itself is
  marked `pytest.mark.airflow`, or it starts Airflow's components: it uses, directly or through its
  fixtures, a fixture named in AIRFLOW_FIXTURES (such as `airflow_stack`), or its module imports
  `airflow_components` (tests/airflow_stack.py).
- `fast`: every other test. `make test-fast` runs only these.
A `fast` test that still runs a DAG or starts a component fails, saying so: the tests' Airflow metadata
gained a DAG run or a job (scheduler, dag-processor, triggerer), or an Airflow component runs among the
session's processes when the test ends. So a new test never goes without a tier, nor silently into the
wrong one: mark its module `pytestmark = pytest.mark.airflow` when it fails so.

Airflow's metadata database for the tests is made by the session fixture `airflow_metadata` (a copy of
a database migrated once per Airflow version), the first time a test needs it: every `airflow` test, every test on the warehouse
(`warehouse_url`, `wh`: the product's commands keep their secrets in Airflow's connections), and tests
that ask for it. Pure unit tests and the fakes' tests never wait for it.

Under pytest-xdist (`make test` runs two workers) each worker has databases of its own
(`cometly_test_gw0`, `cometly_test_gw0_airflow`, ...). Tests that start Airflow's components are put in
one `xdist_group` (AIRFLOW_STACK_GROUP) here: one worker runs them one after the other, since two stacks
at once would only fight for the CPU; the other `airflow` tests are grouped by module.
"""  # noqa: E501 -- one long docstring line; rewrapping it would change the text

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

# The helpers the test modules share (tests/helpers/, tests/airflow_stack.py), as plugins: pytest rewrites their
# asserts and finds their fixtures, so that no test module imports another.
pytest_plugins = ["airflow_stack", "helpers.browser", "helpers.expected_marts", "helpers.fake_admin", "helpers.landing"]

ROOT = Path(__file__).resolve().parents[1]
# A copy of shared/scenarios/example.json, so the suite needs nothing outside the repository.
EXAMPLE_SCENARIO = ROOT / "tests" / "data" / "example.json"
# Parallel sessions (or developers) pick their own with COMETLY_TEST_DATABASE; each xdist worker adds its id.
TEST_DATABASE = "_".join(filter(None, (os.environ.get("COMETLY_TEST_DATABASE", "cometly_test"),
                                       os.environ.get("PYTEST_XDIST_WORKER"))))
AIRFLOW_TEST_DATABASE = f"{TEST_DATABASE}_airflow"
# Fixtures whose use means that a test starts Airflow's components.
AIRFLOW_FIXTURES = frozenset({"airflow_stack"})
AIRFLOW_STACK_GROUP = "airflow_stack"
_ACTIVITY_BEFORE = pytest.StashKey[tuple[int, int]]()


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def _libpq(url: str) -> str:
    """An SQLAlchemy URL (`postgresql+psycopg2://`) as psycopg takes it."""
    return url.replace("+psycopg2", "")


def _runs_tests(config) -> bool:
    """False in pytest-xdist's controller, which hands the tests to its workers."""
    return bool(os.environ.get("PYTEST_XDIST_WORKER")) or not getattr(config.option, "numprocesses", None)


def pytest_configure(config):
    """Point Airflow at the tests' own metadata database before anything imports Airflow, and make sure
    it does not exist yet: `airflow_metadata` creates it for the tests that need it, and a test that uses
    it without that fixture fails on every run, not only after another test created it."""
    metadata = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    if not metadata:
        return
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = _with_database(metadata, AIRFLOW_TEST_DATABASE)
    if _runs_tests(config):
        with psycopg.connect(_with_database(_libpq(metadata), "postgres"), autocommit=True) as conn:
            conn.execute(f"drop database if exists {AIRFLOW_TEST_DATABASE} with (force)")


# What makes Airflow's metadata database ready for the tests: the schema, and the pool the DAGs use.
AIRFLOW_METADATA_SETUP = (["airflow", "db", "migrate"], ["airflow", "pools", "set", "cometly_dbt", "1", "dbt builds"])


def _airflow_metadata_template(admin: psycopg.Connection) -> str:
    """A database made by AIRFLOW_METADATA_SETUP, kept on the server between sessions and copied for each:
    one per Airflow version and set-up, so that a session copies it in a second instead of migrating
    (tens of seconds, minutes on a busy machine). Built under another name and renamed when complete,
    under a lock: a session killed meanwhile leaves none half-made, and parallel workers build it once."""
    key = json.dumps([importlib.metadata.version("apache-airflow"), AIRFLOW_METADATA_SETUP])
    template = f"cometly_test_airflow_template_{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    admin.execute("select pg_advisory_lock(hashtext(%s))", (template,))
    try:
        if admin.execute("select from pg_database where datname = %s", (template,)).fetchone() is None:
            building = f"{template}_building"
            admin.execute(f"drop database if exists {building} with (force)")
            admin.execute(f"create database {building}")
            env = {**os.environ, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
                   _with_database(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], building)}
            for command in AIRFLOW_METADATA_SETUP:
                result = subprocess.run(command, capture_output=True, text=True, env=env)
                if result.returncode != 0:
                    pytest.fail(f"{' '.join(command)} failed for the test metadata database: {result.stderr[-2000:]}")
            admin.execute(f"alter database {building} rename to {template}")
    finally:
        admin.execute("select pg_advisory_unlock(hashtext(%s))", (template,))
    return template


@pytest.fixture(scope="session")
def airflow_metadata() -> str:
    """Airflow's metadata for the tests, in a fresh, migrated database of their own: the runs and
    connections the tests create never show in the project's Airflow, no run of an earlier session is in
    the way, and two sessions never share connections. Its URL."""
    url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    if not url:
        pytest.exit("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN is not set: run the tests through 'make test'", returncode=2)
    with psycopg.connect(_with_database(_libpq(url), "postgres"), autocommit=True) as admin:
        template = _airflow_metadata_template(admin)
        admin.execute(f"drop database if exists {AIRFLOW_TEST_DATABASE} with (force)")
        admin.execute(f"create database {AIRFLOW_TEST_DATABASE} template {template}")
    return url


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    """Each test's tier (see the top of this file); `airflow` tests get Airflow's metadata first, and a
    pytest-xdist group: the stack's, or their module's, whose fixtures (a synced world) are then built
    once. The longest work first, so that no worker is left with it at the end: the stack's group, the
    other `airflow` modules, then the fast tests."""
    order = {}
    for item in items:
        module = getattr(item, "module", None)
        stack = bool(AIRFLOW_FIXTURES & set(item.fixturenames)) or "airflow_components" in vars(module or object)
        airflow = stack or item.get_closest_marker("airflow") is not None
        if airflow and item.get_closest_marker("fast"):
            raise pytest.UsageError(f"{item.nodeid} is marked fast but starts Airflow or runs a DAG")
        if not airflow:
            item.add_marker(pytest.mark.fast)
            order[item] = 2
            continue
        item.add_marker(pytest.mark.airflow)
        if not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(AIRFLOW_STACK_GROUP if stack else item.module.__name__))
        if "airflow_metadata" not in item.fixturenames:
            item.fixturenames.insert(0, "airflow_metadata")
        order[item] = 0 if stack else 1
    # By file, so that a module's tests stay together and its fixtures are built once.
    rank_of_file: dict[Path, int] = {}
    for item, rank in order.items():
        rank_of_file[item.path] = min(rank, rank_of_file.get(item.path, rank))
    items.sort(key=lambda item: rank_of_file[item.path])


def _airflow_activity() -> tuple[int, int]:
    """(the latest DAG run's id, the latest job's id) in the tests' metadata; (0, 0) before it exists."""
    url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    if not url:
        return 0, 0
    try:
        with psycopg.connect(_libpq(url), autocommit=True, connect_timeout=10) as conn:
            return conn.execute("select (select coalesce(max(id), 0) from dag_run),"
                                " (select coalesce(max(id), 0) from job)").fetchone()
    except (psycopg.OperationalError, psycopg.errors.UndefinedTable):
        return 0, 0


# An Airflow component among this session's processes (the api-server writes no job, a component may
# use another metadata database): `airflow api-server`, `airflow celery worker`...
AIRFLOW_COMPONENT = re.compile(r"\bairflow\b.*\b(api[-_]server|scheduler|dag[-_]processor|triggerer|celery worker)\b")


def _airflow_components_running() -> list[str]:
    import psutil

    commands = []
    for process in psutil.Process().children(recursive=True):
        try:
            command = " ".join(process.cmdline())
        except psutil.Error:
            continue
        if AIRFLOW_COMPONENT.search(command):
            commands.append(command)
    return commands


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if item.get_closest_marker("fast"):
        item.stash[_ACTIVITY_BEFORE] = _airflow_activity()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A `fast` test that ran a DAG or started a component fails; a failure on Airflow's metadata
    database by a test without `airflow_metadata` says what to add."""
    report = yield
    if call.when == "call" and _ACTIVITY_BEFORE in item.stash:
        runs_before, jobs_before = item.stash[_ACTIVITY_BEFORE]
        runs, jobs = _airflow_activity()
        components = _airflow_components_running()
        if runs > runs_before or jobs > jobs_before or components:
            report.outcome = "failed"
            report.longrepr = (f"{item.nodeid} is in the fast tier but ran {runs - runs_before} DAG run(s),"
                               f" started {jobs - jobs_before} Airflow job(s) and runs {components or 'no component'}:"
                               " mark its module `pytestmark = pytest.mark.airflow` (tests/conftest.py says why)."
                               + (f"\n{report.longrepr}" if report.longrepr else ""))
    if report.failed and f'database "{AIRFLOW_TEST_DATABASE}" does not exist' in str(report.longrepr):
        report.sections.append(("Airflow metadata", "this test uses Airflow's metadata database: give it the"
                                " `airflow_metadata` fixture (tests/conftest.py)"))
    return report


@pytest.fixture(scope="session")
def warehouse_url(airflow_metadata) -> str:
    """A fresh, migrated test database; WAREHOUSE_URL points at it for the whole session. With it
    Airflow's metadata, where the product's commands keep the workspaces' secrets."""
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
        self._log = open(log_path, "wb")  # noqa: SIM115 -- kept open for the server's lifetime, closed in stop()
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


def set_up_with(*args: str) -> None:
    """`cometly-elt ARGS`, which must succeed, run in this process to set a test up: the command's own
    parser and actions, without a new interpreter importing Airflow (about 3 CPU-seconds a command).
    Tests of what a command prints, exits with or leaves behind run it with `cli`."""
    from cometly_elt.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    assert code == 0, f"cometly-elt {' '.join(args)}: {err.getvalue()}"


def tune_connection(conn_id: str, extra: dict) -> None:
    """Add `extra` to a stored Airflow connection, as an operator would (e.g. Cometly's {"fetch": "export"})."""
    from cometly_elt import credentials

    stored = credentials.get(conn_id)
    credentials.store(conn_id, conn_type=stored.conn_type, host=stored.host, password=stored.password,
                      extra={**stored.extra_dejson, **extra}, description=stored.description)


def set_up_workspace(api: FakeApi, workspace_id: str, *, plan: str = "pro", api_key: str = "ck_acme_live",
                     events: tuple[str, ...] = ("purchase", "lead_generated", "custom_event_3"),
                     history_start: str = "2026-02-15", model: str = "first_touch") -> None:
    """A workspace on example.json's Space and ad account, through the product's commands."""
    set_up_with("workspace", "add", workspace_id, "--name", workspace_id.title(), "--plan", plan,
                "--history-start", history_start)
    set_up_with("cometly", "connect", workspace_id, "--api-key", api_key, "--base-url", api.cometly_url)
    set_up_with("cometly", "configure", workspace_id, "--model", model, "--window", "lifetime",
                "--timezone", "America/New_York", "--yes")
    set_up_with("cometly", "select", workspace_id, *events)
    set_up_with("meta", "connect", workspace_id, "--ad-account", "act_1000000001", "--access-token",
                "EAAB_acme_valid", "--base-url", api.meta_url)


@pytest.fixture
def fast_fake(fake_api, monkeypatch):
    """Factory: the fake on a scenario with its clock 600x faster, and the client told so."""
    monkeypatch.setenv("COMETLY_API_MINUTE_SECONDS", "0.1")

    def start(scenario=EXAMPLE_SCENARIO, *extra_args: str) -> FakeApi:
        return fake_api(scenario, "--clock-speed", "600", *extra_args)

    return start
