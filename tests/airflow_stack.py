"""Airflow's real components for the tests that are about orchestration.

`airflow_components()` starts api-server, scheduler and dag-processor (plus any
extra commands, such as Celery workers) on the tests' metadata database and a
free port, and stops them afterwards; `SharedStack` keeps them for the next tests
of a module; `dag_runs()` reads runs through the REST API as a user of the UI would,
and the `wait_for_*` functions wait for them. A pytest plugin (tests/conftest.py): its
fixture `airflow_stack` gives a module's tests one stack on workspace `acme`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
import pytest
import requests

from conftest import EXAMPLE_SCENARIO, free_port, set_up_workspace

COMPONENTS = (["api-server", "--port"], ["scheduler"], ["dag-processor"])


def metadata_connection() -> psycopg.Connection:
    return psycopg.connect(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("+psycopg2", ""),
                           autocommit=True)


@contextmanager
def airflow_components(tmp_path: Path, monkeypatch, extra: tuple[list[str], ...] = (),
                       components: tuple[list[str], ...] = COMPONENTS) -> Iterator[str]:
    """The components running; yields the api-server's base URL. `extra` commands are `airflow` sub-commands;
    `components` may leave out some of COMPONENTS (the api-server must stay)."""
    # No run of an earlier test in the way: the scheduler then starts its own latest run afresh.
    with metadata_connection() as conn:
        conn.execute("truncate dag_run, backfill_dag_run, backfill cascade")
    port = free_port()
    base = f"http://localhost:{port}"
    monkeypatch.setenv("AIRFLOW__API__PORT", str(port))
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", base)
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", f"{base}/execution/")
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL", "5")
    processes = []
    for command in (*components, *extra):
        args = ["airflow", *command] + ([str(port)] if command[-1] == "--port" else [])
        name = "-".join(c.lstrip("-") for c in command if not c.startswith("--"))[:60]
        with open(tmp_path / f"airflow-{name}.log", "wb") as log:  # the process keeps its own copy of the handle
            processes.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/api/v2/monitor/health", timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(1)
        else:
            pytest.fail(f"the api-server did not start: {(tmp_path / 'airflow-api-server.log').read_text()[-3000:]}")
        yield base
    finally:
        stop_process_groups(processes)


class SharedStack:
    """Airflow's components for the tests of a module: started by the first test that asks, once that
    test's own set-up is done (its workspaces exist before the scheduler's first loop), and left running
    for the next ones, which then wait for no start-up of their own."""

    def __init__(self, tmp_path: Path):
        self._tmp_path = tmp_path
        self._running = ExitStack()
        self._base: str | None = None

    def base(self) -> str:
        """The api-server's base URL, the components started if they are not yet."""
        if self._base is None:
            monkeypatch = self._running.enter_context(pytest.MonkeyPatch.context())
            self._base = self._running.enter_context(airflow_components(self._tmp_path, monkeypatch))
        return self._base

    def stop(self) -> None:
        self._running.close()


@pytest.fixture
def acme(wh, fast_fake):
    """A pro workspace "acme" on example.json (the fake's clock 600x faster, no rate limits)."""
    api = fast_fake(EXAMPLE_SCENARIO, "--no-rate-limits")
    # The example's events are months old: recent-data discovery does not see the custom one's label,
    # so it is selected by name; its label arrives with the synced rows.
    set_up_workspace(api, "acme", plan="pro")
    return api


@pytest.fixture(scope="module")
def shared_stack(tmp_path_factory):
    stack = SharedStack(tmp_path_factory.mktemp("airflow"))
    yield stack
    stack.stop()


@pytest.fixture
def airflow_stack(acme, shared_stack):
    """Airflow's components (LocalExecutor), started after the module's first workspace is set up; the
    module's next tests find them running (each with its workspace set up again on an emptied warehouse)."""
    return shared_stack.base()


def stop_process_groups(processes: list[subprocess.Popen]) -> None:
    """SIGTERM each process's group (started with start_new_session), SIGKILL what lingers."""
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _auth_headers(base: str) -> dict:
    from cometly_elt.trigger import admin_login

    user, password = admin_login()
    token = requests.post(f"{base}/auth/token", json={"username": user, "password": password}, timeout=30)
    token.raise_for_status()
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def dag_runs(base: str, dag_id: str) -> list[dict]:
    runs = requests.get(f"{base}/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100}, timeout=30,
                        headers=_auth_headers(base))
    runs.raise_for_status()
    return runs.json()["dag_runs"]


def wait_for_dag_parsed(dag_id: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while subprocess.run(["airflow", "dags", "details", dag_id], capture_output=True).returncode != 0:
        assert time.monotonic() < deadline, f"the dag-processor did not parse {dag_id}"
        time.sleep(3)


def _finished(runs: list[dict]) -> bool:
    return all(r["state"] in ("success", "failed") for r in runs)


def _wait_for(base: str, dag_ids: tuple[str, ...], ready: Callable[[dict[str, list[dict]]], bool],
              timeout: float, every: float) -> dict[str, list[dict]]:
    """{dag_id: its runs} once `ready` says so of them, asked every `every` seconds until `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        runs = {dag_id: dag_runs(base, dag_id) for dag_id in dag_ids}
        if ready(runs):
            return runs
        if time.monotonic() >= deadline:
            raise AssertionError(f"runs did not finish: "
                                 f"{ {d: [(r['dag_run_id'], r['state']) for r in rs] for d, rs in runs.items()} }")
        time.sleep(every)


def wait_for_runs(base: str, dag_id: str, backfilled: int, timeout: float = 900) -> list[dict]:
    """All of the DAG's runs once none is queued or running, `backfilled` backfill runs exist
    and so does the scheduler's own latest run (catchup is off: it makes just that one)."""
    def ready(runs: dict[str, list[dict]]) -> bool:
        return (sum(r["run_type"] == "backfill" for r in runs[dag_id]) >= backfilled
                and any(r["run_type"] == "scheduled" for r in runs[dag_id]) and _finished(runs[dag_id]))

    return _wait_for(base, (dag_id,), ready, timeout, every=5)[dag_id]


def wait_for_new_run(base: str, dag_id: str, before: set[str], timeout: float = 600) -> dict:
    """The run of `dag_id` not in `before` (the one just started), once it has finished."""
    def new(runs: dict[str, list[dict]]) -> list[dict]:
        return [r for r in runs[dag_id] if r["dag_run_id"] not in before]

    return new(_wait_for(base, (dag_id,), lambda runs: bool(new(runs)) and _finished(new(runs)[:1]),
                         timeout, every=3))[0]


def wait_for_each_dags_runs(base: str, dag_ids: tuple[str, ...], timeout: float = 1500) -> dict[str, list[dict]]:
    """{dag_id: its runs} once each DAG has one and none is queued or running."""
    return _wait_for(base, dag_ids, lambda runs: all(rs and _finished(rs) for rs in runs.values()), timeout,
                     every=10)
