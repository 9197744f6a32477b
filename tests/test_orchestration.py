"""The per-plan DAGs as the scheduler runs them (`airflow dags test DAG DATE`): which workspaces,
which interval, failures kept apart, and a settings change swapped in whole.

Attribution facts of example.json used below (worked by hand from docs/scenarios.md §3):
first_platform_touch credits event 102 (lead, 2026-03-02T19:00Z) to the instagram ad
4000000002; last_platform_touch credits it to the facebook ad 4000000001 (touch of
2026-03-02T18:00Z). Event 101 (purchase, 2026-03-03T03:30Z) goes to 4000000001 under both.
"""

from __future__ import annotations

import copy
import subprocess
from datetime import datetime, timezone

import pytest

from conftest import cli, set_up_workspace
from helpers.fake_admin import FakeAdmin

# Tier (tests/conftest.py): `airflow dags test` runs the plan DAGs.
pytestmark = pytest.mark.airflow


def dags_test(dag_id: str, logical_date: str) -> subprocess.CompletedProcess:
    return subprocess.run(["airflow", "dags", "test", dag_id, logical_date], capture_output=True, text=True,
                          timeout=900)


@pytest.fixture
def two_keys(example_scenario):
    """example.json with a second active key on the same Space, so two workspaces can fail apart."""
    scenario = copy.deepcopy(example_scenario)
    scenario["cometly"]["spaces"][0]["api_keys"].append({"key": "ck_acme_second", "status": "active"})
    return scenario


def sync_state(wh, workspace_id):
    return wh.execute("select last_synced_at, synced_through, last_error from control.sync_state"
                      " where workspace_id = %s", (workspace_id,)).fetchone()


def test_a_plan_run_syncs_only_its_active_workspaces_and_only_its_interval(wh, fast_fake, two_keys):
    api = fast_fake(two_keys, "--no-rate-limits")
    set_up_workspace(api, "pro_one", plan="pro")
    set_up_workspace(api, "hobby_one", plan="hobby", api_key="ck_acme_second")
    set_up_workspace(api, "pro_paused", plan="pro", api_key="ck_acme_second")
    cli("workspace", "pause", "pro_paused")

    first = dags_test("cometly_sync_pro", "2026-03-04T03:00:00+00:00")
    assert first.returncode == 0, first.stdout[-3000:]
    assert sync_state(wh, "pro_one")[1] == datetime(2026, 3, 4, 3, tzinfo=timezone.utc)
    assert sync_state(wh, "hobby_one") is None
    assert sync_state(wh, "pro_paused") is None
    # The first sync covered the history: from 2026-02-15 00:00 New York (05:00 UTC).
    assert wh.execute("select min(window_start_utc), max(window_end_utc) from raw_cometly.load_batches"
                      " where workspace_id = 'pro_one'").fetchone() == (
        datetime(2026, 2, 15, 5, tzinfo=timezone.utc), datetime(2026, 3, 4, 3, tzinfo=timezone.utc))
    (before,) = wh.execute("select max(batch_id) from raw_cometly.load_batches").fetchone()

    second = dags_test("cometly_sync_pro", "2026-03-04T06:00:00+00:00")
    assert second.returncode == 0, second.stdout[-3000:]
    # The next run: its interval 03:00-06:00 plus the 3-day re-pull, nothing else.
    assert wh.execute("select min(window_start_utc), max(window_end_utc) from raw_cometly.load_batches"
                      " where workspace_id = 'pro_one' and batch_id > %s", (before,)).fetchone() == (
        datetime(2026, 3, 1, 3, tzinfo=timezone.utc), datetime(2026, 3, 4, 6, tzinfo=timezone.utc))
    # Events 101 (03-03 03:30Z) and 102 (03-02 19:00Z) are in; 103 (03-04 15:00Z) is still to come.
    assert wh.execute("select event_id from raw_cometly.events where workspace_id = 'pro_one'"
                      " order by event_id").fetchall() == [("101",), ("102",)]


def test_a_failing_workspace_leaves_the_others_synced_and_is_named(wh, fast_fake, two_keys):
    api = fast_fake(two_keys, "--no-rate-limits")
    set_up_workspace(api, "good", plan="pro")
    set_up_workspace(api, "revoked", plan="pro", api_key="ck_acme_second")
    FakeAdmin(api).call("POST", "cometly/keys", {"key": "ck_acme_second", "status": "revoked"})

    run = dags_test("cometly_sync_pro", "2026-03-04T03:00:00+00:00")
    assert run.returncode != 0
    assert "1 of 2 workspaces failed to sync: revoked: Cometly rejected this API key" in run.stdout + run.stderr
    assert sync_state(wh, "good")[0] is not None
    last_synced, _, error = sync_state(wh, "revoked")
    assert last_synced is None
    assert error.startswith("Cometly rejected this API key: it may have expired or been revoked.")
    status = cli("status", "revoked").stdout
    assert "Cometly rejected this API key" in status and "never" in status
