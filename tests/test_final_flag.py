"""is_final on fct_ad_results_daily and fct_campaign_results_daily: a local date is final once
no sync re-reads it, measured from the workspace's last successful sync.

Rows are test_dbt_marts' example (New York workspace and ad account; ad results on 03-02
and 03-04, campaign rows on 02-20, 03-01 and 03-02). Meta's 28 re-read dates dominate
Cometly's 72 hours: after a sync through T the last final date is the ad account's local
date of T's last second, minus 28 days. The boundaries by hand:

- T = 2026-03-30T04:00:00Z is midnight in New York (EDT, UTC-4 since 03-08): the last
  second read is 03-29 23:59:59, so 03-01..03-29 are re-read and 03-01 is the last final
  date: 03-02 provisional.
- One second later the sync read 00:00:00 on 03-30: 03-02..03-30 re-read, 03-02 final.
  With a fixed EST offset (UTC-5) it would still be 23:00 on 03-29: 03-02 provisional.
- An ad account in Los Angeles (PDT, UTC-7): 04:00:00Z is 21:00 on 03-29 there, so 03-02
  stays provisional in the New York workspace.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from cometly_elt import dbt, sync
from cometly_elt.dbt import PROJECT_DIR
from cometly_elt.meta.extract import INSIGHTS_LOOKBACK_DAYS
from helpers.landing import (
    ACME,
    ACME_ACCOUNT,
    EXAMPLE_EVENTS,
    EXAMPLE_INSIGHTS,
    EXAMPLE_TREE,
    add_workspace,
    land_events,
    land_example,
    land_meta_account,
    select_events,
    set_result_metric,
)


def synced_through(wh, workspace_id: str, moment: str) -> None:
    wh.execute(
        "insert into control.sync_state (workspace_id, last_synced_at, synced_through) values (%s, now(), %s)"
        " on conflict (workspace_id) do update set synced_through = excluded.synced_through",
        (workspace_id, moment),
    )


def ad_flags(wh) -> list[tuple]:
    return wh.execute(
        "select report_date, event_name, is_final from marts.fct_ad_results_daily"
        " where workspace_id = %s order by 1, 2", (ACME,)
    ).fetchall()


def campaign_flags(wh) -> list[tuple]:
    return wh.execute(
        "select report_date, campaign_id, is_final from marts.fct_campaign_results_daily"
        " where workspace_id = %s order by 1, 2", (ACME,)
    ).fetchall()


MARCH_2, MARCH_4 = date(2026, 3, 2), date(2026, 3, 4)
SPRING, LEADS = "2000000001", "2000000002"


def test_boundary_days_on_both_sides_of_a_sync_at_a_known_time_without_any_rebuild(wh):
    land_example(wh)
    dbt.build()
    # never synced: nothing is final
    assert {flag for *_, flag in ad_flags(wh) + campaign_flags(wh)} == {False}

    synced_through(wh, ACME, "2026-03-30T04:00:00Z")
    assert campaign_flags(wh) == [
        (date(2026, 2, 20), LEADS, True),
        (date(2026, 3, 1), SPRING, True),
        (MARCH_2, SPRING, False),
    ]
    assert ad_flags(wh) == [(MARCH_2, "lead_generated", False), (MARCH_2, "purchase", False),
                            (MARCH_4, "custom_event_3", False)]

    # Last Synced moves one second: the views follow, no dbt build in between
    synced_through(wh, ACME, "2026-03-30T04:00:01Z")
    assert campaign_flags(wh)[-1] == (MARCH_2, SPRING, True)
    assert ad_flags(wh) == [(MARCH_2, "lead_generated", True), (MARCH_2, "purchase", True),
                            (MARCH_4, "custom_event_3", False)]


def test_an_ad_account_in_another_timezone_keeps_its_own_dates_provisional(wh):
    add_workspace(wh, ACME, "America/New_York")
    select_events(wh, ACME, {"purchase": "purchase", "lead_generated": "lead_generated",
                             "custom_event_3": "Demo Booked"})
    set_result_metric(wh, ACME, SPRING, "purchase")
    land_events(wh, ACME, EXAMPLE_EVENTS)
    land_meta_account(wh, ACME, ACME_ACCOUNT, "America/Los_Angeles", EXAMPLE_TREE, EXAMPLE_INSIGHTS)
    dbt.build()

    synced_through(wh, ACME, "2026-03-30T04:00:01Z")
    assert campaign_flags(wh)[-1] == (MARCH_2, SPRING, False)
    assert ad_flags(wh)[:2] == [(MARCH_2, "lead_generated", False), (MARCH_2, "purchase", False)]
    # 07:00:01Z is midnight and a second in Los Angeles
    synced_through(wh, ACME, "2026-03-30T07:00:01Z")
    assert campaign_flags(wh)[-1] == (MARCH_2, SPRING, True)


def test_the_model_uses_the_syncs_own_lookbacks():
    model = (PROJECT_DIR / "models" / "intermediate" / "int_workspace_final_dates.sql").read_text()
    hours = int(re.search(r"conversions_lookback_hours = (\d+)", model).group(1))
    days = int(re.search(r"delivery_lookback_days = (\d+)", model).group(1))
    assert timedelta(hours=hours) == sync.COMETLY_LOOKBACK
    assert days == INSIGHTS_LOOKBACK_DAYS
