"""The dbt project itself: its unit tests (time zones, result metrics, null rules, labels),
its docs, and the profile read from WAREHOUSE_URL."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from cometly_elt import dbt

PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"
MART_COLUMNS = {
    "fct_ad_results_daily": ["workspace_id", "report_date", "ad_account_id", "campaign_id", "adset_id", "ad_id",
                             "event_name", "event_label", "results", "result_value", "is_final"],
    "fct_campaign_results_daily": ["workspace_id", "report_date", "ad_account_id", "campaign_id", "campaign_name",
                                   "result_event", "results", "result_value", "spend", "impressions", "clicks",
                                   "cost_per_result", "roas", "is_final"],
    "dim_campaigns": ["workspace_id", "ad_account_id", "campaign_id", "campaign_name", "status", "objective"],
}


def test_unit_tests_pass(wh):
    # `build` without the sync API's exclusion of unit tests
    results = dbt.run(["build"])

    passed = {r.node.name for r in results if r.node.resource_type == "unit_test" and str(r.status) == "pass"}
    assert {
        "report_date_new_york_spring_forward_day",
        "report_date_new_york_fall_back_day",
        "report_date_kolkata_half_hour_offset",
        "report_date_lord_howe_half_hour_daylight_saving",
        "report_date_chatham_quarter_hour_offset",
        "each_campaign_counts_its_own_result_event",
        "cost_per_result_and_roas_are_null_exactly_when_dividing_by_zero",
        "a_relabelled_custom_event_shows_its_catalog_label",
        "selected_conversions_show_current_labels_and_their_meta_ad",
        "ad_results_take_meta_ids_when_known_and_sum_per_ad",
        "final_dates_across_the_new_york_spring_forward",
        "final_dates_of_an_ad_account_in_another_timezone",
    } <= passed


def test_marts_have_exactly_the_contract_columns_each_described(wh):
    dbt.run(["build", "--select", "+marts", "--exclude", "test_type:unit"])
    for view, columns in MART_COLUMNS.items():
        found = wh.execute(
            "select a.attname, col_description(a.attrelid, a.attnum) from pg_attribute a"
            " where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum",
            (f"marts.{view}",),
        ).fetchall()
        assert [name for name, _ in found] == columns
        assert all(description for _, description in found), f"undescribed columns in {view}"


def test_docs_generate_works(warehouse_url):
    dbt.run(["docs", "generate"])


def test_dbt_command_line_reads_the_profile_from_warehouse_url(warehouse_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_PG_")}
    env["WAREHOUSE_URL"] = warehouse_url
    result = subprocess.run(["dbt", "debug", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT)],
                            env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:]
    assert f"database: {warehouse_url.rsplit('/', 1)[1]}" in result.stdout
