"""The Airflow UI in a real browser: log in, see the five DAGs, trigger Sync Now with its form.

Headless Chromium from the Debian packages (scripts/chromium.sh finds or installs it),
driven by Playwright's Python package with `executable_path`: Playwright downloads no
browser. A real api-server, scheduler and dag-processor (LocalExecutor) run the DAG on
the fake APIs; screenshots of every step are saved under test-artifacts/airflow-ui/.
"""

from __future__ import annotations

import json

import pytest

# Fixtures (plugins): `airflow_stack`, started once `acme`, a pro workspace "acme" on example.json, is set up;
# `page`, a headless Chromium's.
from airflow_stack import dag_runs, wait_for_dag_parsed, wait_for_new_run
from conftest import ROOT, cli
from helpers.browser import screenshot

pytestmark = [pytest.mark.airflow, pytest.mark.browser]

WS = "acme"
DAG_IDS = ("cometly_sync_hobby", "cometly_sync_pro", "cometly_sync_ultra", "cometly_sync_now",
           "cometly_result_backfill")
ARTIFACTS = ROOT / "test-artifacts" / "airflow-ui"


def test_log_in_see_the_dags_and_trigger_sync_now_from_its_form(wh, airflow_stack, page):
    from cometly_elt.trigger import admin_login

    wait_for_dag_parsed("cometly_sync_now")
    base = airflow_stack
    user, password = admin_login()

    page.goto(base)
    page.locator("input[name=username]").wait_for()
    screenshot(page, ARTIFACTS, "01-login")
    page.locator("input[name=username]").fill(user)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/auth/" not in url)

    page.goto(f"{base}/dags")
    for dag_id in DAG_IDS:
        page.get_by_role("link", name=dag_id, exact=True).first.wait_for()
    screenshot(page, ARTIFACTS, "02-dags")

    page.goto(f"{base}/dags/cometly_sync_now")
    page.get_by_role("button", name="Trigger").first.click()
    form = page.get_by_role("dialog")
    form.locator("input[name=element_workspace_id]").fill(WS)
    screenshot(page, ARTIFACTS, "03-trigger-form")
    before = {r["dag_run_id"] for r in dag_runs(base, "cometly_sync_now")}
    form.get_by_role("button", name="Trigger").click()
    form.wait_for(state="hidden")

    run = wait_for_new_run(base, "cometly_sync_now", before)
    assert (run["conf"], run["state"]) == ({"workspace_id": WS, "full_refresh": False}, "success")
    page.goto(f"{base}/dags/cometly_sync_now/runs/{run['dag_run_id']}")
    page.get_by_text("success").first.wait_for()
    screenshot(page, ARTIFACTS, "04-run-succeeded")

    assert wh.execute("select count(*) from marts.fct_ad_results_daily where workspace_id = %s",
                      (WS,)).fetchone()[0] > 0
    assert json.loads(cli("status", WS, "--json").stdout)["last_synced_at"] is not None
