"""The coverage ledger: every path fetches exactly what the warehouse lacks, and the ledger stays true.

By hand from example.json (first touch, Meta sources, lifetime, America/New_York):
101 purchase at 03-03T03:30Z (03-02 local) on ad 4000000001, 89.5; 102 lead_generated at
03-02T19:00Z (03-02) on ad 4000000002; 103 custom_event_3 at 03-04T15:00Z on ad 4000000002.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import partial

import pytest

from cometly_elt import result_backfill, sync, warehouse
from cometly_elt.cometly.extract import fill
from cometly_elt.cometly.rate_budget import RateBudget
from cometly_elt.control import coverage
from cometly_elt.control.coverage import FetchJob
from cometly_elt.errors import UserError
from cometly_elt.hooks.cometly import CometlyHook
from conftest import EXAMPLE_SCENARIO, cli, set_up_workspace
from helpers import expected_marts
from helpers.fake_admin import FakeAdmin


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


NOW = datetime.now(timezone.utc)
PURCHASE_AND_LEAD = [
    ("2026-03-02", "4000000001", "purchase", 1, Decimal("89.5")),
    ("2026-03-02", "4000000002", "lead_generated", 1, Decimal("0")),
]


ad_results = partial(expected_marts.ad_results,
                     columns=("report_date::text", "ad_id", "event_name", "results", "result_value"))
campaign_results = partial(expected_marts.campaign_results,
                           columns=("report_date::text", "campaign_id", "result_event", "results", "spend"))


def run_sync(workspace_id: str, end: datetime = NOW) -> None:
    """One sync of the workspace for the interval ending at `end`: the sync DAG's steps, in-process."""
    with warehouse.connect() as conn:
        plan = sync.plan_sync(conn, workspace_id, end - timedelta(hours=3), end)
    sync.extract_cometly(plan)
    sync.extract_meta(plan)
    sync.reprocess(plan)
    built = sync.build_marts([plan])
    sync.mark_synced([sync.SyncPlan.from_xcom(b) for b in built])


# ---------------------------------------------------------------- the planner, on hand-made ledgers

H, T = z("2026-01-01T05:00:00Z"), z("2026-03-01T05:00:00Z")


def ledger(wh, event: str, covered: str, settled: str = "{}") -> None:
    wh.execute("insert into control.event_coverage (workspace_id, settings_version, event_name, covered, settled)"
               " values ('ws1', 1, %s, %s, %s)", (event, covered, settled))


def test_nothing_loaded_is_one_job_for_all_events(wh):
    assert coverage.fetch_plan(wh, "ws1", 1, ["purchase", "lead_generated"], (H, T)) == [
        FetchJob(("lead_generated", "purchase"), H, T)]


def test_an_event_selected_later_gets_its_history_alone_and_the_window_with_the_others(wh):
    ledger(wh, "purchase", "{[2026-01-01T05:00Z,2026-03-01T05:00Z)}", "{[2026-01-01T05:00Z,2026-02-26T05:00Z)}")
    window = (z("2026-02-28T05:00:00Z"), T)

    jobs = coverage.fetch_plan(wh, "ws1", 1, ["purchase", "lead_generated"], (H, T), reread=window)

    # lead_generated is missing everywhere; purchase's last three days are provisional (loaded when recent).
    assert jobs == [FetchJob(("lead_generated",), H, z("2026-02-26T05:00:00Z")),
                    FetchJob(("lead_generated", "purchase"), z("2026-02-26T05:00:00Z"), T)]


def test_a_result_backfill_fetches_gaps_only_not_provisional_days(wh):
    ledger(wh, "lead_generated", "{[2026-01-01T05:00Z,2026-01-10T05:00Z),[2026-02-01T05:00Z,2026-03-01T05:00Z)}",
           "{[2026-01-01T05:00Z,2026-01-10T05:00Z)}")

    jobs = coverage.fetch_plan(wh, "ws1", 1, ["lead_generated"], (H, T), provisional_is_missing=False)

    assert jobs == [FetchJob(("lead_generated",), z("2026-01-10T05:00:00Z"), z("2026-02-01T05:00:00Z"))]


def test_more_than_ten_events_are_asked_for_in_groups_of_ten(wh):
    events = [f"custom_event_{n}" for n in range(1, 13)]
    jobs = coverage.fetch_plan(wh, "ws1", 1, events, (H, T))
    assert [len(j.events) for j in jobs] == [10, 2]


def test_day_progress_counts_local_days_loaded_completely(wh):
    # New York: 01-01 to 01-05 local are 05:00Z to 05:00Z; half of 01-04 is loaded.
    ledger(wh, "purchase", "{[2026-01-01T05:00Z,2026-01-04T05:00Z),[2026-01-04T05:00Z,2026-01-04T17:00Z)}")
    progress = coverage.day_progress(wh, "ws1", 1, ["purchase", "lead_generated"], H.date(), "America/New_York",
                                     z("2026-01-06T05:00:00Z"))
    assert progress == {"purchase": (3, 5), "lead_generated": (0, 5)}


# ---------------------------------------------------------------- events selected later, or again


@pytest.fixture
def example_api(fast_fake):
    return fast_fake(EXAMPLE_SCENARIO, "--no-rate-limits")


def test_an_event_selected_after_the_first_sync_gets_its_whole_history(wh, example_api):
    set_up_workspace(example_api, "ws_a", events=("purchase", "lead_generated"))
    set_up_workspace(example_api, "ws_b", events=("purchase",))
    run_sync("ws_a")
    run_sync("ws_b")
    cli("cometly", "select", "ws_b", "lead_generated")
    status = cli("status", "ws_b").stdout
    assert "lead_generated 0 of" in status

    run_sync("ws_b")

    assert ad_results(wh, "ws_a") == PURCHASE_AND_LEAD
    assert ad_results(wh, "ws_b") == PURCHASE_AND_LEAD
    assert campaign_results(wh, "ws_b") == campaign_results(wh, "ws_a")


def test_an_event_unselected_then_selected_again_days_later_gets_the_days_it_missed(wh, example_api):
    set_up_workspace(example_api, "ws_a", events=("purchase", "lead_generated"))
    set_up_workspace(example_api, "ws_c", events=("purchase", "lead_generated"))
    run_sync("ws_a")
    # The lead (03-02T19:00Z) happens while ws_c has lead_generated unselected.
    run_sync("ws_c", z("2026-03-02T12:00:00Z"))
    cli("cometly", "unselect", "ws_c", "lead_generated")
    run_sync("ws_c", z("2026-03-05T00:00:00Z"))
    cli("cometly", "select", "ws_c", "lead_generated")

    run_sync("ws_c")

    assert ad_results(wh, "ws_c") == ad_results(wh, "ws_a") == PURCHASE_AND_LEAD
    assert campaign_results(wh, "ws_c") == campaign_results(wh, "ws_a")


# ---------------------------------------------------------------- result metrics


def test_results_set_on_a_covered_event_makes_no_cometly_call(wh, example_api):
    set_up_workspace(example_api, "ws_a", events=("purchase", "lead_generated"))
    run_sync("ws_a")
    wh.execute("insert into control.result_metrics (workspace_id, campaign_id, event_name)"
               " values ('ws_a', '2000000001', 'purchase')")
    FakeAdmin(example_api).clear_calls()

    planned = result_backfill.plan("ws_a", "2000000001")
    filled = result_backfill.fill_history("ws_a", planned["event"])
    result_backfill.rebuild("ws_a", planned["history_start"])

    assert filled == {"jobs": 0, "api_calls": 0}
    assert FakeAdmin(example_api).calls("cometly") == []
    backfill = cli("status", "ws_a").stdout
    assert "Result backfill" in backfill and "days, done" in backfill
    # Spring Sale (2000000001) counts the purchase of 03-02.
    assert ("2026-03-02", "2000000001", "purchase", 1, Decimal("45.50")) in campaign_results(wh, "ws_a")


def test_results_set_on_an_event_not_loaded_yet_fetches_only_that_event(wh, example_api):
    set_up_workspace(example_api, "ws_b", events=("purchase",))
    run_sync("ws_b")
    cli("cometly", "select", "ws_b", "lead_generated")
    wh.execute("insert into control.result_metrics (workspace_id, campaign_id, event_name)"
               " values ('ws_b', '2000000002', 'lead_generated')")
    (before,) = wh.execute("select coalesce(max(batch_id), 0) from raw_cometly.load_batches").fetchone()

    planned = result_backfill.plan("ws_b", "2000000002")
    filled = result_backfill.fill_history("ws_b", planned["event"])

    assert filled["api_calls"] == 1  # the lead's whole history fits one page
    assert wh.execute("select event_names from raw_cometly.load_batches where batch_id > %s",
                      (before,)).fetchall() == [(["lead_generated"],)]
    status = cli("status", "ws_b", "--json").stdout
    assert '"event_name": "lead_generated"' in status
    lead = [c for c in json.loads(status)["coverage"] if c["event_name"] == "lead_generated"][0]
    assert lead["loaded_days"] == lead["total_days"] > 250


# ---------------------------------------------------------------- a crash leaves the ledger true


def test_a_crash_between_two_pieces_keeps_the_ledger_true_and_the_rerun_fetches_the_rest(wh, example_api):
    hook = CometlyHook.for_key(example_api.cometly_url, "ck_acme_live",
                               budget=RateBudget(os.environ["WAREHOUSE_URL"], "ws1", minute=0.1))
    args = {"workspace_id": "ws1", "settings_version": 1, "model": "first_touch", "window_days": 0,
            "timezone": "America/New_York"}
    events = ["purchase", "lead_generated", "custom_event_3"]
    wanted = (z("2026-02-15T05:00:00Z"), z("2026-03-10T05:00:00Z"))
    # 03-02 (local) was loaded earlier: the plan has two pieces, before and after it.
    fill(wh, hook, jobs=[FetchJob(tuple(events), z("2026-03-02T05:00:00Z"), z("2026-03-03T05:00:00Z"))], **args)
    jobs = coverage.fetch_plan(wh, "ws1", 1, events, wanted)
    assert [(j.utc_start, j.utc_end) for j in jobs] == [(wanted[0], z("2026-03-02T05:00:00Z")),
                                                        (z("2026-03-03T05:00:00Z"), wanted[1])]
    # Cometly fails the second piece's request (422 is not retried): the run dies between the pieces.
    FakeAdmin(example_api).faults(
        {"api": "cometly", "method": "GET", "path": "/events$", "calls": [2], "fault": "status", "status": 422})
    with pytest.raises(UserError, match="HTTP 422"):
        fill(wh, hook, jobs=jobs, **args)

    # The ledger claims what is loaded, and the rows are there: 101 and 102, both of 03-02 local, loaded earlier.
    (covered,) = wh.execute("select covered::text from control.event_coverage where event_name = 'purchase'").fetchone()
    assert covered == '{["2026-02-15 05:00:00+00","2026-03-03 05:00:00+00")}'
    assert wh.execute("select event_id from raw_cometly.events order by 1").fetchall() == [("101",), ("102",)]

    FakeAdmin(example_api).clear_faults()
    (before,) = wh.execute("select max(batch_id) from raw_cometly.load_batches").fetchone()
    fill(wh, hook, jobs=coverage.fetch_plan(wh, "ws1", 1, events, wanted), **args)
    hook.budget.close()

    assert wh.execute("select window_start_utc, window_end_utc from raw_cometly.load_batches where batch_id > %s",
                      (before,)).fetchall() == [(z("2026-03-03T05:00:00Z"), wanted[1])]
    assert wh.execute("select event_id from raw_cometly.events order by 1").fetchall() == [("101",), ("102",), ("103",)]


# ---------------------------------------------------------------- list and exports at once


def hourly_purchases(first_day: datetime, days: int) -> dict:
    touch = {"time_utc": "2026-01-01T00:00:00Z", "source": "facebook_ads", "account_id": "1000000001",
             "campaign_id": "2000000001", "adset_id": "3000000001", "ad_id": "4000000001"}
    events = [{"id": n + 1, "event_name": "purchase", "amount": 1,
               "time_utc": (first_day + timedelta(hours=n, minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")}
              for n in range(days * 24)]
    return {"cometly": {"spaces": [{"id": "busy", "timezone": "UTC",
                                    "api_keys": [{"key": "ck_busy", "status": "active"}],
                                    "contacts": [{"id": 1, "touchpoints": [touch], "events": events}]}]}}


def test_a_busy_job_is_listed_from_its_oldest_day_and_exported_from_its_newest_until_they_meet(wh, fake_api):
    """20 days of hourly purchases at 4 a page: 120 pages, 17 of Cometly's minutes by listing alone;
    exports take 5 days a minute. Fake clock 600x, limits on."""
    first = z("2026-04-01T00:00:00Z")
    api = fake_api(hourly_purchases(first, 20), "--clock-speed", "600")
    hook = CometlyHook.for_key(api.cometly_url, "ck_busy",
                               budget=RateBudget(os.environ["WAREHOUSE_URL"], "busy1", minute=0.1))
    end = first + timedelta(days=20)

    fill(wh, hook, workspace_id="busy1", settings_version=1, model="first_touch", window_days=0, timezone="UTC",
         jobs=[FetchJob(("purchase",), first, end)], per_page=4)
    hook.budget.close()

    assert wh.execute("select count(*), count(distinct event_id) from raw_cometly.events").fetchone() == (480, 480)
    batches = wh.execute("select method, window_start_utc, window_end_utc, received from raw_cometly.load_batches"
                         " order by window_start_utc").fetchall()
    # Each side took one end: list windows first, then exported days; together they tile the 20 days once.
    methods = [b[0] for b in batches]
    assert methods == sorted(methods, key=["list", "export"].index) and {"list", "export"} == set(methods)
    assert [b[1] for b in batches][0] == first and batches[-1][2] == end
    assert all(a[2] == b[1] for a, b in zip(batches, batches[1:]))
    assert sum(b[3] for b in batches) == 480
    assert [c for c in FakeAdmin(api).calls("cometly") if c["status"] == 429] == []  # the budget kept to the limits
    (covered,) = wh.execute("select covered::text from control.event_coverage").fetchone()
    assert covered == '{["2026-04-01 00:00:00+00","2026-04-21 00:00:00+00")}'


def test_removing_a_workspace_removes_its_ledger(wh, example_api):
    set_up_workspace(example_api, "ws_a", events=("purchase",))
    run_sync("ws_a")
    assert wh.execute("select count(*) from control.event_coverage where workspace_id = 'ws_a'").fetchone() == (1,)
    cli("workspace", "remove", "ws_a", "--yes")
    assert wh.execute("select count(*) from control.event_coverage where workspace_id = 'ws_a'").fetchone() == (0,)


def test_more_than_ten_events_are_exported_in_two_groups_and_every_row_lands(wh, fast_fake):
    """Twelve custom events on one New York day (2026-04-01, UTC-4): two request groups, an export each."""
    touch = {"time_utc": "2026-03-01T00:00:00Z", "source": "facebook_ads", "account_id": "1000000001",
             "campaign_id": "2000000001", "adset_id": "3000000001", "ad_id": "4000000001"}
    events = [{"id": n, "event_name": f"custom_event_{n}", "time_utc": f"2026-04-01T{n + 4:02d}:00:00Z"}
              for n in range(1, 13)]
    api = fast_fake({"cometly": {"spaces": [{"id": "s12", "timezone": "America/New_York",
                                             "api_keys": [{"key": "ck_12", "status": "active"}],
                                             "contacts": [{"id": 1, "touchpoints": [touch], "events": events}]}]}},
                    "--no-rate-limits")
    hook = CometlyHook.for_key(api.cometly_url, "ck_12", budget=RateBudget(os.environ["WAREHOUSE_URL"], "ws12",
                                                                         minute=0.1))
    names = [f"custom_event_{n}" for n in range(1, 13)]
    jobs = coverage.fetch_plan(wh, "ws12", 1, names, (z("2026-04-01T04:00:00Z"), z("2026-04-02T04:00:00Z")))

    fill(wh, hook, workspace_id="ws12", settings_version=1, model="first_touch", window_days=0,
         timezone="America/New_York", jobs=jobs, method="export")
    hook.budget.close()

    assert [len(j.events) for j in jobs] == [10, 2]
    assert [c["endpoint"] for c in FakeAdmin(api).calls("cometly")].count("create_export") == 2
    assert wh.execute("select count(*) from raw_cometly.events").fetchone() == (12,)
