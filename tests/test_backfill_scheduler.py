"""`airflow backfill create` with a real scheduler, dag-processor and api-server (LocalExecutor).

Airflow 3 removed `airflow dags backfill`; its successor queues the runs and the
scheduler executes them. The backfilled runs sync the workspace like the
scheduled ones, and backfilling the same dates again changes nothing.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from airflow_stack import dag_runs, wait_for_dag_parsed, wait_for_runs
from conftest import cli
from helpers.expected_marts import EXPECTED_AD_RESULTS, ad_results

pytestmark = pytest.mark.airflow


def test_backfill_create_reproduces_runs_and_rerunning_changes_nothing(wh, airflow_stack):
    dag_id = "cometly_sync_pro"
    # Make sure the dag-processor has serialized the DAG before asking for a backfill.
    wait_for_dag_parsed(dag_id)

    create = subprocess.run(["airflow", "backfill", "create", "--dag-id", dag_id,
                             "--from-date", "2026-03-04T00:00:00+00:00", "--to-date", "2026-03-04T05:00:00+00:00"],
                            capture_output=True, text=True)
    assert create.returncode == 0, create.stderr
    # Logical dates 00:00 and 03:00: the intervals 00:00-03:00 and 03:00-06:00. The scheduler also
    # runs the latest scheduled interval, which syncs up to now: wait for everything.
    runs = wait_for_runs(airflow_stack, dag_id, backfilled=2)
    assert {(r["data_interval_end"][:19], r["state"]) for r in runs if r["run_type"] == "backfill"} == {
        ("2026-03-04T03:00:00", "success"), ("2026-03-04T06:00:00", "success")}
    assert all(r["state"] == "success" for r in runs)
    # Both intervals were extracted (with the 3-day re-pull when not the first sync).
    ends = {end for (end,) in wh.execute("select distinct window_end_utc::text from raw_cometly.load_batches")}
    assert {"2026-03-04 03:00:00+00", "2026-03-04 06:00:00+00"} <= ends
    # The latest scheduled run synced the whole history up to now: the hand-worked marts.
    first = ad_results(wh, "acme")
    assert first == EXPECTED_AD_RESULTS

    # The scheduler marks the first backfill complete on a later loop; until then Airflow refuses a second.
    deadline = time.monotonic() + 180
    while True:
        again = subprocess.run(["airflow", "backfill", "create", "--dag-id", dag_id, "--reprocess-behavior",
                                "completed", "--from-date", "2026-03-04T00:00:00+00:00",
                                "--to-date", "2026-03-04T05:00:00+00:00"], capture_output=True, text=True)
        if "AlreadyRunningBackfill" not in again.stderr or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert again.returncode == 0, again.stderr
    time.sleep(5)
    wait_for_runs(airflow_stack, dag_id, backfilled=2)
    assert ad_results(wh, "acme") == first
    assert cli("status", "acme").returncode == 0


def test_sync_now_command_hands_the_run_to_a_running_scheduler(wh, airflow_stack):
    started = cli("sync", "acme")
    # With a scheduler alive the command only triggers, through Airflow's REST API, and says where to watch.
    assert started.stdout.startswith("Sync Now started for 'acme' (run ")
    assert f"watch it at {airflow_stack}/dags/cometly_sync_now/runs/" in started.stdout
    run_id = started.stdout.split("(run ", 1)[1].split(")", 1)[0]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        run = next(r for r in dag_runs(airflow_stack, "cometly_sync_now") if r["dag_run_id"] == run_id)
        if run["state"] in ("success", "failed"):
            break
        time.sleep(5)
    assert run["state"] == "success"
    assert run["conf"] == {"workspace_id": "acme", "full_refresh": False}
