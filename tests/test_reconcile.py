"""`cometly-elt reconcile` on worlds with one cause of difference each, synced in-process from the
fakes (real PostgreSQL, real dbt), the command run as a user runs it.

The base world is example.json (see test_sync_e2e for its attribution by hand): under
first_platform_touch, lifetime, Meta sources, Space and workspace in America/New_York,
Cometly counts 1 purchase (101) and 1 lead_generated (102) on 2026-03-02 and 1
custom_event_3 (103) on 2026-03-04; purchase 104 has no Meta touch and is not counted.
Campaign 2000000001 (Spring Sale) counts purchases as its result. The workspace syncs
its history from 2026-03-01 to 2026-04-15T00:00Z, so its last final date is
2026-04-14 - 28 days = 2026-03-17 and 03-01..03-05 are final.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from cometly_elt import dbt, sync, warehouse
from conftest import EXAMPLE_SCENARIO, cli, set_up_workspace

WS = "acme"
SPRING = "2000000001"
SYNCED_TO = datetime(2026, 4, 15, tzinfo=timezone.utc)
RANGE = ("--from", "2026-03-01", "--to", "2026-03-05")


def example() -> dict:
    return json.loads(EXAMPLE_SCENARIO.read_text())


def add_contact(world: dict, contact: dict) -> None:
    world["cometly"]["spaces"][0]["contacts"].append(contact)


def facebook_touch(time_utc: str, account: str = "1000000001", ad: str = "4000000001") -> dict:
    return {"time_utc": time_utc, "source": "facebook_ads", "account_id": account,
            "campaign_id": "2000000001" if ad == "4000000001" else (f"2{ad[1:]}" if ad else ""),
            "adset_id": "3000000001" if ad == "4000000001" else (f"3{ad[1:]}" if ad else ""), "ad_id": ad}


def sync_in_process(interval_end: datetime = SYNCED_TO) -> None:
    """A first sync of the whole history to `interval_end`, step by step as the DAG runs it."""
    with warehouse.connect() as conn:
        plan = sync.plan_sync(conn, WS, interval_end, interval_end)
    sync.extract_cometly(plan)
    sync.extract_meta(plan)
    sync.build_marts([plan])
    sync.mark_synced([plan])


@pytest.fixture
def world(wh, fast_fake):
    """world(scenario, events=...) -> the workspace set up on it, Spring Sale counting purchases."""

    def start(scenario: dict, events=("purchase", "lead_generated", "custom_event_3")):
        api = fast_fake(scenario)
        set_up_workspace(api, WS, events=events, history_start="2026-03-01")
        wh.execute("insert into control.result_metrics (workspace_id, campaign_id, event_name)"
                   " values (%s, %s, 'purchase')", (WS, SPRING))
        return api

    return start


def reconcile(*extra: str):
    result = cli("reconcile", WS, *RANGE, "--json", *extra, check=False)
    return result, json.loads(result.stdout) if result.stdout.strip() else None


def days(report: dict) -> dict:
    """(date, event) -> (final, cometly, received, loaded, rejected, ad results, no ad id, campaign results, status)"""
    return {(d["report_date"], d["event_name"]): (d["is_final"], d["cometly"], d["received"], d["loaded"],
                                                  d["rejected"], d["in_ad_results"], d["no_ad_id"],
                                                  d["in_campaign_results"], d["status"]) for d in report["days"]}


# The example's purchase (on Spring Sale, the result metric) and lead on 03-02, as each world keeps them.
EXAMPLE_MARCH_2 = {
    ("2026-03-02", "purchase"): (True, 1, 1, 1, 0, 1, 0, 1, "equal"),
    ("2026-03-02", "lead_generated"): (True, 1, 1, 1, 0, 1, 0, 0, "equal"),
}


def causes(report: dict) -> dict:
    """(date, event) -> [(cause, count)]"""
    return {(d["report_date"], d["event_name"]): [(c["cause"], c["count"]) for c in d["causes"]]
            for d in report["days"]}


def test_a_clean_world_is_equal_on_every_day_then_a_lost_row_is_unexplained_then_settings_explain(world, wh):
    world(example())
    sync_in_process()

    result, report = reconcile()

    assert result.returncode == 0, result.stderr
    assert days(report) == {
        **EXAMPLE_MARCH_2,
        ("2026-03-04", "custom_event_3"): (True, 1, 1, 1, 0, 1, 0, 0, "equal"),
    }
    # Leads Q1 has no result metric: its lead and Demo Booked are not campaign results
    assert causes(report)[("2026-03-02", "lead_generated")] == [("not_result_metric", 1)]
    assert report["unexplained"] == 0
    assert report["api_calls"] == 1  # three rows: one page for the whole range

    # a final day's raw row vanishes behind the marts' back
    wh.execute("delete from raw_cometly.events where workspace_id = %s and event_id = '101'", (WS,))
    result = cli("reconcile", WS, *RANGE, check=False)

    assert result.returncode == 1
    assert "2026-03-02 purchase: unexplained: 1 conversion in Cometly not received by any load on a final day" \
        in result.stdout
    assert "2026-03-02 purchase: unexplained: -1 loaded conversion not in fct_ad_results_daily" in result.stdout
    assert "2 of 3 day-events equal, 0 explained, 1 unexplained." in result.stdout
    assert result.stderr.strip() == ("cometly-elt: 2 conversions differ without a known cause"
                                     " (lines marked 'unexplained' above)")
    # the warehouse's half: dq_reconciliation_daily's test fails on the day
    assert wh.execute("select unexplained_difference from marts.dq_reconciliation_daily"
                      " where workspace_id = %s and report_date = '2026-03-02' and event_name = 'purchase'",
                      (WS,)).fetchone() == (1,)
    with pytest.raises(dbt.DbtBuildError, match="unexplained_difference"):
        dbt.run(["test", "--select", "dq_reconciliation_daily"])

    # A 1-day window: 101 (37.5 h after its facebook touch) and 103 (45 h) are no longer
    # credited to Meta; 102 is, to the facebook touch an hour before it. The marts keep
    # version 1 until the reprocess: every difference is the settings'.
    cli("cometly", "configure", WS, "--model", "first_touch", "--window", "1", "--timezone", "America/New_York",
        "--yes")
    result, report = reconcile()

    assert result.returncode == 0, result.stderr
    assert report["cometly_settings"] == {"version": 2, "model": "first_touch", "window": "1 day"}
    assert days(report)[("2026-03-02", "purchase")] == (True, 0, 0, 0, 0, 1, 0, 1, "explained")
    assert causes(report)[("2026-03-02", "purchase")] == [("settings_changed", -1)]
    assert causes(report)[("2026-03-04", "custom_event_3")] == [("settings_changed", -1), ("not_result_metric", 1)]
    assert days(report)[("2026-03-02", "lead_generated")][-1] == "equal"


def test_one_cause_of_each_kind_is_named_with_its_count(world):
    """Each on its own day or event: a rejected row (03-03 purchase), ads Meta does not know
    (03-05 purchase), an event not selected (custom_event_3), the ad account in Los Angeles."""
    scenario = example()
    scenario["meta"]["ad_accounts"][0]["timezone_name"] = "America/Los_Angeles"
    # 2026-03-03T15:00Z is 10:00 on 03-03 in New York; its order id holds a NUL character
    add_contact(scenario, {"id": 4, "touchpoints": [facebook_touch("2026-03-03T14:00:00Z")],
                           "events": [{"id": 105, "event_name": "purchase", "time_utc": "2026-03-03T15:00:00Z",
                                       "amount": 10, "order_id": "A-\u0000"}]})
    # 03-05 purchases: one on an ad of an account not connected, one credited without an ad id
    add_contact(scenario, {"id": 5, "touchpoints": [facebook_touch("2026-03-05T14:00:00Z", "1000000009",
                                                                   "4000000099")],
                           "events": [{"id": 106, "event_name": "purchase", "time_utc": "2026-03-05T16:00:00Z"}]})
    add_contact(scenario, {"id": 6, "touchpoints": [facebook_touch("2026-03-05T14:00:00Z", "", "")],
                           "events": [{"id": 107, "event_name": "purchase", "time_utc": "2026-03-05T17:00:00Z"}]})
    world(scenario, events=("purchase", "lead_generated"))
    sync_in_process()

    result, report = reconcile()

    assert result.returncode == 0, result.stderr
    assert days(report) == {
        **EXAMPLE_MARCH_2,
        ("2026-03-03", "purchase"): (True, 1, 1, 0, 1, 0, 0, 0, "explained"),
        ("2026-03-04", "custom_event_3"): (True, 1, 0, 0, 0, 0, 0, 0, "explained"),
        # both loaded: one in fct_ad_results_daily with Cometly's ids, one with no ad to sit on
        ("2026-03-05", "purchase"): (True, 2, 2, 2, 0, 1, 1, 0, "explained"),
    }
    assert causes(report) == {
        ("2026-03-02", "purchase"): [("account_timezone", 1)],
        ("2026-03-02", "lead_generated"): [("not_result_metric", 1)],
        ("2026-03-03", "purchase"): [("rejected", 1)],
        ("2026-03-04", "custom_event_3"): [("not_selected", 1)],
        ("2026-03-05", "purchase"): [("unknown_ad", 1), ("unknown_ad", 1), ("not_result_metric", 1)],
    }
    lines = {(d["report_date"], d["event_name"]): [c["line"] for c in d["causes"]] for d in report["days"]}
    assert lines[("2026-03-03", "purchase")] == [
        "1 row rejected: a text field holds a NUL character, which PostgreSQL text cannot store: 1"]
    assert "ad account 1000000001, which reports in America/Los_Angeles" in lines[("2026-03-02", "purchase")][0]


def test_a_provisional_day_is_named(world):
    world(example())
    # synced to 03-04 12:00Z: 103 (03-04T15:00Z) not received yet, every date provisional
    sync_in_process(datetime(2026, 3, 4, 12, tzinfo=timezone.utc))

    result, report = reconcile()

    assert result.returncode == 0, result.stderr
    assert days(report)[("2026-03-04", "custom_event_3")] == (False, 1, 0, 0, 0, 0, 0, 0, "explained")
    assert causes(report)[("2026-03-04", "custom_event_3")] == [("provisional", 1)]
    assert days(report)[("2026-03-02", "purchase")] == (False, 1, 1, 1, 0, 1, 0, 1, "equal")


def test_bad_input_is_refused_in_one_line(wh):
    unknown = cli("reconcile", "nope", check=False)
    assert (unknown.returncode, unknown.stderr.strip()) == (
        1, "cometly-elt: no workspace 'nope': see 'cometly-elt workspace list'")
    backwards = cli("reconcile", "nope", "--from", "2026-03-05", "--to", "2026-03-01", check=False)
    assert backwards.stderr.strip() == ("cometly-elt: --from 2026-03-05 is after --to 2026-03-01:"
                                        " give the first and the last local date")
    cli("workspace", "add", WS, "--name", "Acme", "--plan", "pro")
    unconnected = cli("reconcile", WS, check=False)
    assert unconnected.stderr.strip() == ("cometly-elt: workspace 'acme' is not connected to Cometly:"
                                          " run 'cometly-elt cometly connect acme --api-key KEY'")
    not_a_date = cli("reconcile", WS, "--from", "March", check=False)
    assert not_a_date.returncode == 2 and "'March' is not a date YYYY-MM-DD" in not_a_date.stderr
