"""The DAG files: they import cleanly, with the contract's ids, schedules and params, and parse fast."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pendulum
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(ROOT / "dags"))


def test_every_dag_file_imports(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {
        "cometly_sync_hobby", "cometly_sync_pro", "cometly_sync_ultra", "cometly_sync_now", "cometly_result_backfill",
    }


@pytest.mark.parametrize("dag_id, hours",
                         [("cometly_sync_hobby", 6), ("cometly_sync_pro", 3), ("cometly_sync_ultra", 1)])
def test_plan_dags_have_real_data_intervals(dagbag, dag_id, hours):
    from airflow.sdk import CronDataIntervalTimetable
    from airflow.timetables.interval import CronDataIntervalTimetable as SchedulerTimetable

    dag = dagbag.get_dag(dag_id)
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    # What the scheduler makes of it: the run at 06:00 UTC covers the interval that ended then.
    timetable = SchedulerTimetable(dag.timetable.expression, "UTC")
    interval = timetable.infer_manual_data_interval(run_after=pendulum.datetime(2026, 3, 1, 6, tz="UTC"))
    assert interval.end == datetime(2026, 3, 1, 6, tzinfo=timezone.utc)
    assert interval.end - interval.start == timedelta(hours=hours)
    assert dag.doc_md


def test_manual_dags_have_the_contract_params(dagbag):
    now = dagbag.get_dag("cometly_sync_now")
    assert type(now.timetable).__name__ == "NullTimetable"
    assert set(now.params) == {"workspace_id", "full_refresh"}
    assert now.params["full_refresh"] is False
    backfill = dagbag.get_dag("cometly_result_backfill")
    assert set(backfill.params) == {"workspace_id", "campaign_id"}


def test_dag_files_do_no_database_work_at_parse_time():
    # Parsing with an unreachable warehouse still works: nothing connects at import.
    result = subprocess.run(
        ["python", "-c", "import sys; sys.path.insert(0, 'dags'); import cometly_sync, cometly_result_backfill"],
        cwd=ROOT, capture_output=True, text=True,
        env={**__import__("os").environ, "WAREHOUSE_URL": "postgresql://nobody@127.0.0.1:1/none"},
    )
    assert result.returncode == 0, result.stderr
