"""The dbt marts on a real PostgreSQL: rows landed by SQL as extraction would land them,
`cometly_elt.dbt.build()`, and the marts compared with rows worked out by hand.

The world is tests/data/example.json extracted with first_platform_touch,
lifetime window, sources facebook_ads + instagram_ads, Space timezone America/New_York
(EST, UTC-5, before 2026-03-08), selected events purchase, lead_generated and
custom_event_3 ("Demo Booked"), campaign 2000000001's result metric = purchase.

Attribution by docs/scenarios.md §3's rule (earliest candidate touch whose source is a Meta source
and paid, touches at or before the event, lifetime window):
- event 101 purchase 2026-03-03T03:30Z, contact 1: candidates T1 facebook_ads 03-01
  (ad 4000000001) and T2 google_ads 03-02; T1 is credited. Local time 2026-03-02 22:30
  -> report date 2026-03-02, amount 89.5.
- event 102 lead_generated 2026-03-02T19:00Z, contact 2: candidates T1 instagram_ads 02-20
  (ad 4000000002) and T2 facebook_ads 03-02 18:00Z; the earliest, T1, is credited.
  Local 14:00 -> 2026-03-02, amount 0.
- event 103 custom_event_3 2026-03-04T15:00Z, contact 2: same touches, T1 credited.
  Local 10:00 -> 2026-03-04, amount 0.
- event 104 purchase, contact 3: only a google_organic touch, no Meta paid touch -> not
  returned by Cometly, so never landed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from functools import partial

import pytest

from cometly_elt import dbt
from helpers import expected_marts
from helpers.landing import (
    ACME,
    ACME_ACCOUNT,
    add_version,
    add_workspace,
    land_events,
    land_example,
    land_meta_account,
    select_events,
    set_result_metric,
)

BETA = "space_beta"

# fct_ad_results_daily for the example, from the attribution worked out above.
EXAMPLE_AD_RESULTS = [
    (ACME, date(2026, 3, 2), ACME_ACCOUNT, "2000000001", "3000000001", "4000000001", "purchase", "purchase", 1,
     Decimal("89.5")),
    (ACME, date(2026, 3, 2), ACME_ACCOUNT, "2000000002", "3000000002", "4000000002", "lead_generated", "lead_generated",
     1, Decimal("0")),
    (ACME, date(2026, 3, 4), ACME_ACCOUNT, "2000000002", "3000000002", "4000000002", "custom_event_3", "Demo Booked", 1,
     Decimal("0")),
]

# fct_campaign_results_daily for the example. Rows exist where spend > 0 or the
# campaign's result-event results > 0:
# - 02-20 Leads Q1: spend 30 (Meta's New York date), no result metric -> results 0,
#   cost_per_result null, roas 0/30 = 0.
# - 03-01 Spring Sale: spend 50, no purchase that day -> results 0, cpr null, roas 0.
# - 03-02 Spring Sale: spend 45.50, 1 purchase worth 89.5 -> cpr 45.50, roas 89.5/45.5
#   = 179/91 = 1.967033 (6 places).
# - 03-02 and 03-04 Leads Q1: a lead and a Demo Booked, but no result metric and no
#   spend -> no row.
EXAMPLE_CAMPAIGN_RESULTS = [
    # workspace, date, account, campaign, name, result_event, results, value, spend, impressions, clicks, cpr, roas
    (ACME, date(2026, 2, 20), ACME_ACCOUNT, "2000000002", "Leads Q1", None, 0, Decimal("0"), Decimal("30.00"), 2500,
     40, None, Decimal("0")),
    (ACME, date(2026, 3, 1), ACME_ACCOUNT, "2000000001", "Spring Sale", "purchase", 0, Decimal("0"), Decimal("50.00"),
     4000, 80, None, Decimal("0")),
    (ACME, date(2026, 3, 2), ACME_ACCOUNT, "2000000001", "Spring Sale", "purchase", 1, Decimal("89.5"),
     Decimal("45.50"), 3900, 71, Decimal("45.5"), Decimal("1.967033")),
]

EXAMPLE_CAMPAIGNS = [
    (ACME, ACME_ACCOUNT, "2000000001", "Spring Sale", "ACTIVE", "OUTCOME_SALES"),
    (ACME, ACME_ACCOUNT, "2000000002", "Leads Q1", "PAUSED", "OUTCOME_LEADS"),
]


# Beta: another tenant whose ids collide with Acme's (event ids, campaign, ad set and ad
# ids), in Europe/Paris (UTC+1 in March), selecting purchase only.
BETA_ACCOUNT = "5000000005"
BETA_EVENTS = [
    # 2026-03-02T23:30Z is 00:30 on 03-03 in Paris -> report date 2026-03-03
    ("101", "purchase", "purchase", "2026-03-02T23:30:00Z", "40", None,
     BETA_ACCOUNT, "2000000001", "3000000001", "4000000001", "Beta Launch", None),
    # not selected in Beta
    ("102", "lead_generated", "lead_generated", "2026-03-02T12:00:00Z", "0", None,
     BETA_ACCOUNT, "2000000001", "3000000001", "4000000001", "Beta Launch", None),
]
BETA_TREE = [("2000000001", "Beta Launch", "ACTIVE", "OUTCOME_SALES", "3000000001", "All", "4000000001", "Hero")]
BETA_INSIGHTS = [("4000000001", "2000000001", "3000000001", "2026-03-03", "20.00", 1000, 10)]
BETA_AD_RESULTS = [
    (BETA, date(2026, 3, 3), BETA_ACCOUNT, "2000000001", "3000000001", "4000000001", "purchase", "purchase", 1,
     Decimal("40")),
]
# 1 purchase worth 40 for 20 spent: cost per result 20, roas 2
BETA_CAMPAIGN_RESULTS = [
    (BETA, date(2026, 3, 3), BETA_ACCOUNT, "2000000001", "Beta Launch", "purchase", 1, Decimal("40"), Decimal("20.00"),
     1000, 10, Decimal("20"), Decimal("2")),
]


def land_beta(wh) -> None:
    add_workspace(wh, BETA, "Europe/Paris")
    select_events(wh, BETA, {"purchase": "purchase"})
    set_result_metric(wh, BETA, "2000000001", "purchase")
    land_events(wh, BETA, BETA_EVENTS)
    land_meta_account(wh, BETA, BETA_ACCOUNT, "Europe/Paris", BETA_TREE, BETA_INSIGHTS)


# ------------------------------------------------------------------ reading the marts

# Every column the marts' users read, dates as dates.
ad_results = partial(expected_marts.ad_results, columns=(
    "workspace_id", "report_date", "ad_account_id", "campaign_id", "adset_id", "ad_id", "event_name", "event_label",
    "results", "result_value"))
campaign_results = partial(expected_marts.campaign_results, columns=(
    "workspace_id", "report_date", "ad_account_id", "campaign_id", "campaign_name", "result_event", "results",
    "result_value", "spend", "impressions", "clicks", "round(cost_per_result, 6)", "round(roas, 6)"))


def campaigns(wh, workspace_id: str) -> list[tuple]:
    return wh.execute(
        "select workspace_id, ad_account_id, campaign_id, campaign_name, status, objective"
        " from marts.dim_campaigns where workspace_id = %s order by campaign_id",
        (workspace_id,),
    ).fetchall()


def ad_result_counts(wh, workspace_id: str) -> dict[tuple, int]:
    """(report_date, ad_id, event_name) -> results."""
    return {(d, ad, event): n for (_, d, _, _, _, ad, event, _, n, _) in ad_results(wh, workspace_id)}


def delete_event(wh, workspace_id: str, event_id: str) -> None:
    wh.execute("delete from raw_cometly.events where workspace_id = %s and event_id = %s", (workspace_id, event_id))


# ------------------------------------------------------------------ tests

def test_example_marts_equal_the_hand_worked_rows(wh):
    land_example(wh)

    dbt.build()

    assert ad_results(wh, ACME) == EXAMPLE_AD_RESULTS
    assert campaign_results(wh, ACME) == EXAMPLE_CAMPAIGN_RESULTS
    assert campaigns(wh, ACME) == EXAMPLE_CAMPAIGNS
    assert wh.execute("select count(*) from marts.dq_unmatched_conversions").fetchone() == (0,)


def test_rebuilding_one_workspace_and_date_leaves_other_dates_and_workspaces_alone(wh):
    land_example(wh)
    land_beta(wh)
    dbt.build()
    # Raw changes on a date outside the rebuilt range and in the other workspace: a
    # rebuild of Acme's 2026-03-02 must not pick them up (nor lose what is there).
    land_events(wh, ACME, [("105", "purchase", "purchase", "2026-03-02T20:00:00Z", "10", None,
                            ACME_ACCOUNT, "2000000001", "3000000001", "4000000001", None, None)])
    delete_event(wh, ACME, "103")  # 2026-03-04
    delete_event(wh, BETA, "101")  # Beta's 2026-03-03

    dbt.build(workspace_id=ACME, date_from=date(2026, 3, 2), date_to=date(2026, 3, 2))

    # 03-02: events 101 and 105, both purchases on ad 4000000001 (105 is 15:00 local)
    assert ad_result_counts(wh, ACME) == {
        (date(2026, 3, 2), "4000000001", "purchase"): 2,
        (date(2026, 3, 2), "4000000002", "lead_generated"): 1,
        (date(2026, 3, 4), "4000000002", "custom_event_3"): 1,  # not rebuilt: still there
    }
    assert ad_results(wh, BETA) == BETA_AD_RESULTS
    assert campaign_results(wh, BETA) == BETA_CAMPAIGN_RESULTS


def test_one_build_of_several_workspaces_replaces_each_ones_own_scope_only(wh):
    land_example(wh)
    land_beta(wh)
    dbt.build()
    land_events(wh, ACME, [("105", "purchase", "purchase", "2026-03-02T20:00:00Z", "10", None,
                            ACME_ACCOUNT, "2000000001", "3000000001", "4000000001", None, None)])
    delete_event(wh, ACME, "103")  # 2026-03-04: outside Acme's scope below
    delete_event(wh, BETA, "101")  # Beta's only purchase, 2026-03-03: inside Beta's scope

    # What a plan DAG's run does: one build, each workspace with the dates its sync touched.
    dbt.build_workspaces([dbt.WorkspaceScope(ACME, date(2026, 3, 2), date(2026, 3, 2)),
                          dbt.WorkspaceScope(BETA, date(2026, 3, 3), date(2026, 3, 3))])

    assert ad_result_counts(wh, ACME) == {
        (date(2026, 3, 2), "4000000001", "purchase"): 2,  # 101 and the new 105
        (date(2026, 3, 2), "4000000002", "lead_generated"): 1,
        (date(2026, 3, 4), "4000000002", "custom_event_3"): 1,  # not in the scope: still there
    }
    assert ad_results(wh, BETA) == []
    # Beta Launch still spent 20.00 on 03-03: its row stays, with no result
    assert [r[6:9] for r in campaign_results(wh, BETA)] == [(0, Decimal("0"), Decimal("20.00"))]


def test_a_conversion_that_lost_its_attribution_disappears_on_rebuild(wh):
    land_example(wh)
    dbt.build()
    # Cometly no longer credits event 101 (the only purchase on 03-02): extraction's
    # window replacement removed it from raw.
    delete_event(wh, ACME, "101")

    dbt.build(workspace_id=ACME, date_from=date(2026, 3, 1), date_to=date(2026, 3, 3))

    assert (date(2026, 3, 2), "4000000001", "purchase") not in ad_result_counts(wh, ACME)
    # Spring Sale still spent 45.50 on 03-02: the row stays, with 0 results
    spring_sale_0302 = [r for r in campaign_results(wh, ACME) if r[1] == date(2026, 3, 2)]
    assert spring_sale_0302 == [
        (ACME, date(2026, 3, 2), ACME_ACCOUNT, "2000000001", "Spring Sale", "purchase",
         0, Decimal("0"), Decimal("45.50"), 3900, 71, None, Decimal("0")),
    ]


def test_a_building_settings_version_never_shows_until_it_is_active(wh):
    land_example(wh)
    # Version 2 (say a 7-day window) is being extracted beside the active version 1: in
    # it, event 101 is credited to ad 4000000002 instead.
    add_version(wh, ACME, 2, "building")
    land_events(wh, ACME, [("101", "purchase", "purchase", "2026-03-03T03:30:00Z", "89.5", "A-1",
                            ACME_ACCOUNT, "2000000002", "3000000002", "4000000002", None, None)], version=2)

    dbt.build()
    assert ad_results(wh, ACME) == EXAMPLE_AD_RESULTS

    wh.execute("update control.attribution_versions set state = 'retired' where workspace_id = %s and version = 1",
               (ACME,))
    wh.execute("update control.attribution_versions set state = 'active' where workspace_id = %s and version = 2",
               (ACME,))
    dbt.build(workspace_id=ACME, full_refresh_workspace=True)

    # only version 2's single event remains
    assert ad_result_counts(wh, ACME) == {(date(2026, 3, 2), "4000000002", "purchase"): 1}


def test_unselected_events_never_show(wh):
    land_example(wh)
    # Cometly returned an add_to_cart too (selected once, since unselected)
    land_events(wh, ACME, [("106", "add_to_cart", "add_to_cart", "2026-03-02T15:00:00Z", "0", None,
                            ACME_ACCOUNT, "2000000001", "3000000001", "4000000001", None, None)])
    dbt.build()
    assert ad_results(wh, ACME) == EXAMPLE_AD_RESULTS

    # Unselecting shows at once: selection is applied by the marts views, not stored
    wh.execute("delete from control.selected_events where workspace_id = %s and event_name = 'lead_generated'", (ACME,))
    assert ad_result_counts(wh, ACME) == {
        (date(2026, 3, 2), "4000000001", "purchase"): 1,
        (date(2026, 3, 4), "4000000002", "custom_event_3"): 1,
    }


def test_a_relabelled_custom_event_shows_its_new_label_on_old_rows(wh):
    land_example(wh)
    dbt.build()

    wh.execute("update control.event_catalog set label = 'Sales Call Booked'"
               " where workspace_id = %s and event_name = 'custom_event_3'", (ACME,))

    labels = {(r[6], r[7]) for r in ad_results(wh, ACME)}
    assert ("custom_event_3", "Sales Call Booked") in labels
    assert ("custom_event_3", "Demo Booked") not in labels


def test_a_timezone_change_moves_conversions_after_the_workspace_is_refreshed(wh):
    land_example(wh)
    land_beta(wh)
    dbt.build()

    wh.execute("update control.workspaces set timezone = 'Asia/Kolkata' where workspace_id = %s", (ACME,))
    dbt.build(workspace_id=ACME, full_refresh_workspace=True)

    # Asia/Kolkata is UTC+5:30: 101 at 03:30Z -> 09:00 on 03-03; 102 at 19:00Z on 03-02
    # -> 00:30 on 03-03; 103 at 15:00Z on 03-04 -> 20:30 on 03-04.
    assert ad_result_counts(wh, ACME) == {
        (date(2026, 3, 3), "4000000001", "purchase"): 1,
        (date(2026, 3, 3), "4000000002", "lead_generated"): 1,
        (date(2026, 3, 4), "4000000002", "custom_event_3"): 1,
    }
    # Spend keeps Meta's dates (the ad account's timezone): Spring Sale spent on 03-01
    # and 03-02, its purchase now counts on 03-03 with no spend that day.
    assert [(r[1], r[6], r[8], r[11], r[12]) for r in campaign_results(wh, ACME) if r[3] == "2000000001"] == [
        (date(2026, 3, 1), 0, Decimal("50.00"), None, Decimal("0")),
        (date(2026, 3, 2), 0, Decimal("45.50"), None, Decimal("0")),
        (date(2026, 3, 3), 1, Decimal("0"), Decimal("0"), None),
    ]
    assert ad_results(wh, BETA) == BETA_AD_RESULTS


def test_workspaces_with_colliding_ids_never_see_each_others_rows(wh):
    land_example(wh)
    land_beta(wh)

    dbt.build()

    assert ad_results(wh, ACME) == EXAMPLE_AD_RESULTS
    assert campaign_results(wh, ACME) == EXAMPLE_CAMPAIGN_RESULTS
    assert campaigns(wh, ACME) == EXAMPLE_CAMPAIGNS
    assert ad_results(wh, BETA) == BETA_AD_RESULTS
    assert campaign_results(wh, BETA) == BETA_CAMPAIGN_RESULTS
    assert campaigns(wh, BETA) == [(BETA, BETA_ACCOUNT, "2000000001", "Beta Launch", "ACTIVE", "OUTCOME_SALES")]


def test_conversions_on_ads_meta_does_not_know_are_kept_and_listed(wh):
    land_example(wh)
    set_result_metric(wh, ACME, "2000000099", "purchase")
    land_events(wh, ACME, [
        # an ad in an account that is not connected (17:00Z = 12:00 local on 03-02)
        ("107", "purchase", "purchase", "2026-03-02T17:00:00Z", "25", None,
         "1000000009", "2000000099", "3000000099", "4000000099", "Partner Promo", "Banner"),
        # an ad of the connected account that Meta's tree does not have yet
        ("108", "purchase", "purchase", "2026-03-02T17:30:00Z", "5", None,
         ACME_ACCOUNT, "2000000001", "3000000001", "4000000077", "Spring Sale", None),
        # a Meta touch credited without an ad id
        ("109", "purchase", "purchase", "2026-03-02T18:00:00Z", "7", None,
         "", "", "", "", None, None),
    ])

    dbt.build()

    counts = ad_result_counts(wh, ACME)
    assert counts[(date(2026, 3, 2), "4000000099", "purchase")] == 1
    assert counts[(date(2026, 3, 2), "4000000077", "purchase")] == 1
    assert len(counts) == 5  # the example's 3 rows + 2; 109 has no ad to sit on
    assert wh.execute(
        "select report_date, ad_account_id, campaign_id, ad_id, campaign_name, results, result_value, reason"
        " from marts.dq_unmatched_conversions where workspace_id = %s order by reason", (ACME,)
    ).fetchall() == [
        (date(2026, 3, 2), "1000000009", "2000000099", "4000000099", "Partner Promo", 1, Decimal("25"),
         "ad_account_not_connected"),
        (date(2026, 3, 2), ACME_ACCOUNT, "2000000001", "4000000077", "Spring Sale", 1, Decimal("5"), "ad_not_in_meta"),
        (date(2026, 3, 2), None, None, None, None, 1, Decimal("7"), "no_ad_id"),
    ]
    # Partner Promo is not in Meta: Cometly's name and ids, results without spend.
    # Spring Sale on 03-02: purchases 101 (89.5) and 108 (5, an ad Meta lacks but whose
    # campaign Cometly gave) -> 2 results worth 94.5; cpr 45.50 / 2 = 22.75.
    rows = {r[3]: r for r in campaign_results(wh, ACME) if r[1] == date(2026, 3, 2)}
    assert rows["2000000099"] == (ACME, date(2026, 3, 2), "1000000009", "2000000099", "Partner Promo", "purchase",
                                  1, Decimal("25"), Decimal("0"), 0, 0, Decimal("0"), None)
    assert rows["2000000001"][6:8] == (2, Decimal("94.5"))
    assert rows["2000000001"][11] == Decimal("22.75")


def test_a_failing_data_test_fails_the_build_with_one_line_naming_it(wh):
    land_example(wh)
    # an active settings version but no timezone: report dates cannot be computed
    wh.execute("update control.workspaces set timezone = null where workspace_id = %s", (ACME,))

    with pytest.raises(dbt.DbtBuildError) as failure:
        dbt.build()

    message = str(failure.value)
    assert "\n" not in message
    assert "not_null_stg_control__workspaces_timezone" in message
    assert message.startswith("dbt build failed: ")


def test_contradictory_vars_are_refused_in_one_line(wh):
    with pytest.raises(dbt.DbtBuildError, match=r"^dbt build failed: Compilation Error: var date_from \(2026-03-05\)"
                                                 r" is after date_to \(2026-03-01\)$"):
        dbt.build(workspace_id=ACME, date_from=date(2026, 3, 5), date_to=date(2026, 3, 1))


BUILD_IN_ANOTHER_PROCESS = """
import sys
from datetime import date
from cometly_elt import dbt
dbt.build(workspace_id=sys.argv[1], date_from=date(2026, 3, 1), date_to=date(2026, 3, 4))
"""


def test_syncs_running_at_once_keep_every_workspace_right(wh):
    land_example(wh)
    land_beta(wh)
    dbt.build()
    land_events(wh, ACME, [("105", "purchase", "purchase", "2026-03-02T20:00:00Z", "10", None,
                            ACME_ACCOUNT, "2000000001", "3000000001", "4000000001", None, None)])
    land_events(wh, BETA, [("103", "purchase", "purchase", "2026-03-03T10:00:00Z", "60", None,
                            BETA_ACCOUNT, "2000000001", "3000000001", "4000000001", None, None)])

    # Acme twice (a scheduled sync and a Sync Now) and Beta, all at once, as separate
    # processes the way Airflow runs tasks.
    builds = [
        subprocess.Popen([sys.executable, "-c", BUILD_IN_ANOTHER_PROCESS, workspace],
                         env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for workspace in (ACME, BETA, ACME)
    ]
    outputs = [build.communicate(timeout=300)[0] for build in builds]
    assert [build.returncode for build in builds] == [0, 0, 0], outputs[-1][-2000:]

    assert ad_result_counts(wh, ACME)[(date(2026, 3, 2), "4000000001", "purchase")] == 2
    # Beta: 101 (40) and 103 (60) on 03-03
    assert [(r[1], r[8], r[9]) for r in ad_results(wh, BETA)] == [(date(2026, 3, 3), 2, Decimal("100"))]
    (duplicates,) = wh.execute(
        "select count(*) from (select 1 from intermediate.int_ad_conversions_daily"
        " group by workspace_id, report_date, event_name, ad_account_id, campaign_id, adset_id, ad_id"
        " having count(*) > 1) d").fetchone()
    assert duplicates == 0
