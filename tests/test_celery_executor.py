"""The same DAGs on Airflow's CeleryExecutor: a Redis broker and two workers (docs/executors.md).

Only configuration changes (AIRFLOW__CORE__EXECUTOR and the [celery] settings); the DAG
code is the one LocalExecutor runs. Each worker stands for a machine of its own: its own
hostname (a UTS namespace), and an empty home, temporary directory, working directory,
AIRFLOW_HOME and log folder. Tasks pass everything through PostgreSQL and Airflow's
metadata database, so consecutive steps of one workspace may run on either worker.

Redis is Debian's `redis-server` (scripts/redis.sh finds or installs it), started here
on a free loopback port with nothing saved to disk.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
import redis

from airflow_stack import airflow_components, metadata_connection, stop_process_groups, wait_for_runs
from conftest import EXAMPLE_SCENARIO, ROOT, empty_warehouse, free_port, set_up_workspace
from helpers.expected_marts import EXPECTED_AD_RESULTS, ad_results, mart_tables

pytestmark = [pytest.mark.airflow, pytest.mark.timeout(1500)]

DAG_ID = "cometly_sync_pro"
WORKSPACES = ("acme", "globex")
WORKERS = ("worker-1", "worker-2")

# The public marts, every column, in a stable order: what "identical" means below.
MARTS = {
    "fct_ad_results_daily": "workspace_id, report_date, ad_id, event_name",
    "fct_campaign_results_daily": "workspace_id, report_date, campaign_id",
    "dim_campaigns": "workspace_id, campaign_id",
}


@pytest.fixture(scope="session")
def redis_server_binary() -> str:
    found = subprocess.run([str(ROOT / "scripts" / "redis.sh")], capture_output=True, text=True)
    if found.returncode != 0:
        pytest.skip(f"no Redis for the CeleryExecutor test: {found.stderr.strip()}")
    return found.stdout.strip()


@pytest.fixture
def broker_url(redis_server_binary, tmp_path) -> Iterator[str]:
    """A Redis server of this test's own on loopback: no snapshot, no append-only file."""
    port = free_port()
    data = tmp_path / "redis"
    data.mkdir()
    with open(data / "redis.log", "wb") as log:
        server = subprocess.Popen([redis_server_binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", str(data)], stdout=log, stderr=subprocess.STDOUT)
    try:
        client = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert server.poll() is None and time.monotonic() < deadline, (data / "redis.log").read_text()
                time.sleep(0.2)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(30)


@pytest.fixture
def two_workspaces(wh, fast_fake):
    """Two pro workspaces on example.json, so one run of cometly_sync_pro has two chains of tasks."""
    api = fast_fake(EXAMPLE_SCENARIO, "--no-rate-limits")
    for workspace_id in WORKSPACES:
        set_up_workspace(api, workspace_id, plan="pro")
    return api


@contextmanager
def celery_workers(tmp_path: Path, names: tuple[str, ...]) -> Iterator[None]:
    """`airflow celery worker`s, one task at a time each, every one as if on a machine of its own."""
    # A UTS namespace gives the worker its own hostname, which Airflow records on each task instance.
    # Root may create one; anyone else does it in a user namespace where they are root.
    unshare = ["unshare", "--uts"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
    probe = subprocess.run([*unshare, "hostname", names[0]], capture_output=True, text=True)
    assert probe.returncode == 0, f"cannot give the workers hostnames of their own: {probe.stderr.strip()}"
    processes = []
    for name in names:
        disk = tmp_path / name
        for directory in ("home", "tmp", "airflow", "logs"):
            (disk / directory).mkdir(parents=True)
        env = {**os.environ, "HOME": str(disk / "home"), "TMPDIR": str(disk / "tmp"),
               "AIRFLOW_HOME": str(disk / "airflow"), "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(disk / "logs"),
               "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
        command = [*unshare, "sh", "-c", 'hostname "$0" && exec airflow celery worker --concurrency 1', name]
        with open(tmp_path / f"airflow-celery-{name}.log", "wb") as log:
            processes.append(subprocess.Popen(command, cwd=disk, env=env, stdout=log, stderr=subprocess.STDOUT,
                                              start_new_session=True))
    try:
        yield
    finally:
        stop_process_groups(processes)


def task_hosts(run_id: str) -> list[tuple[str, int, str, str]]:
    """(task_id, map_index, hostname, state) of every task instance of the run, from Airflow's metadata."""
    with metadata_connection() as conn:
        return conn.execute("select task_id, map_index, hostname, state from task_instance"
                            " where dag_id = %s and run_id = %s order by 1, 2", (DAG_ID, run_id)).fetchall()


def interval_of_manual_run() -> tuple[datetime, datetime]:
    with metadata_connection() as conn:
        [interval] = conn.execute("select data_interval_start, data_interval_end from dag_run"
                                  " where dag_id = %s and run_type = 'manual'", (DAG_ID,)).fetchall()
    return interval


def test_two_celery_workers_share_a_run_and_build_the_marts_an_in_process_run_builds(
        wh, two_workspaces, broker_url, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    monkeypatch.setenv("AIRFLOW__CELERY__BROKER_URL", broker_url)
    monkeypatch.setenv("AIRFLOW__CELERY__RESULT_BACKEND",
                       "db+" + os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    with airflow_components(tmp_path, monkeypatch) as base, celery_workers(tmp_path, WORKERS):
        # The scheduler starts the latest scheduled run of each plan DAG by itself.
        [run] = wait_for_runs(base, DAG_ID, backfilled=0)
    placement = task_hosts(run["dag_run_id"])
    assert run["state"] == "success", placement
    # Every task of the run (the mapped ones once per workspace) ran on a worker, and both had a share.
    assert {state for _, _, _, state in placement} == {"success"}
    assert {map_index for task_id, map_index, _, _ in placement if task_id == "sync_workspace"} == {0, 1}
    assert {host for _, _, host, _ in placement} == set(WORKERS), placement
    for workspace_id in WORKSPACES:
        assert ad_results(wh, workspace_id) == EXPECTED_AD_RESULTS
    on_celery = mart_tables(wh, MARTS, every_column=True)

    # The same DAG and data interval again, this time run in-process as without Celery, on an empty warehouse.
    empty_warehouse(wh)
    for workspace_id in WORKSPACES:
        set_up_workspace(two_workspaces, workspace_id, plan="pro")
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    log = tmp_path / "airflow-dags-test.log"
    # `dags test` runs the interval that ends at the date it is given (a manual run's interval).
    with open(log, "wb") as out:
        local = subprocess.run(["airflow", "dags", "test", DAG_ID, run["data_interval_end"]], stdout=out,
                               stderr=subprocess.STDOUT)
    assert local.returncode == 0, log.read_text()[-3000:]
    assert interval_of_manual_run() == (datetime.fromisoformat(run["data_interval_start"]),
                                        datetime.fromisoformat(run["data_interval_end"]))
    assert mart_tables(wh, MARTS, every_column=True) == on_celery
    assert all(on_celery.values())
