"""Airflow's real components for the tests that are about orchestration.

`airflow_components()` starts api-server, scheduler and dag-processor (plus any
extra commands, such as Celery workers) on the tests' metadata database and a
free port, and stops them afterwards; `SharedStack` keeps them for the next tests
of a module; `dag_runs()` reads runs through the REST API as a user of the UI would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
import pytest
import requests

from conftest import free_port

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
