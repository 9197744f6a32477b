"""The whole product path on tests/data/example.json, as a user drives it.

Real PostgreSQL, the fakes as a process, the `cometly-elt` commands as
subprocesses, Airflow running the DAGs in-process (no scheduler), real dbt.

Expected marts, worked out by hand from docs/scenarios.md §3's attribution rule
(first_platform_touch, lifetime, sources facebook_ads + instagram_ads, Space
timezone America/New_York, which is UTC-5 before 2026-03-08):

- event 101 purchase, contact 1, 2026-03-03T03:30Z, 89.5: candidates are the
  facebook touch of 03-01 and the google touch of 03-02; the first paid touch in
  the Meta sources is facebook -> ad 4000000001 (campaign 2000000001). Local time
  2026-03-02 22:30 -> report date 2026-03-02.
- event 102 lead_generated, contact 2, 2026-03-02T19:00Z: first paid Meta touch is
  the instagram touch of 02-20 -> ad 4000000002 (campaign 2000000002); local
  2026-03-02 14:00.
- event 103 custom_event_3 ("Demo Booked"), contact 2, 2026-03-04T15:00Z: same
  touch -> ad 4000000002; local 2026-03-04 10:00.
- event 104 purchase, contact 3: only a google_organic touch -> not attributed to
  Meta, not returned.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from conftest import cli
from helpers import expected_marts
from helpers.expected_marts import EXPECTED_AD_RESULTS, ad_results

# Tier (tests/conftest.py): `cometly-elt sync` and `results set` run their DAGs in-process.
pytestmark = pytest.mark.airflow

# The workspace of the `acme` fixture (tests/airflow_stack.py).
WS = "acme"


def campaign_results(wh):
    return expected_marts.campaign_results(wh, WS, (
        "report_date::text", "campaign_id", "campaign_name", "result_event", "results", "result_value", "spend",
        "impressions", "clicks", "cost_per_result", "round(roas, 4)"))


def test_sync_now_then_result_metric_gives_the_hand_worked_marts(acme, wh):
    sync = cli("sync", WS)
    assert "Synced 'acme'" in sync.stdout

    assert ad_results(wh, WS) == EXPECTED_AD_RESULTS
    assert wh.execute(
        "select campaign_id, campaign_name, status, objective from marts.dim_campaigns"
        " where workspace_id = %s order by 1", (WS,)
    ).fetchall() == [
        ("2000000001", "Spring Sale", "ACTIVE", "OUTCOME_SALES"),
        ("2000000002", "Leads Q1", "PAUSED", "OUTCOME_LEADS"),
    ]
    # No result metric yet: rows for spend only, results 0, cost per result null, ROAS 0.
    assert campaign_results(wh) == [
        ("2026-02-20", "2000000002", "Leads Q1", None, 0, Decimal("0"), Decimal("30.00"), 2500, 40, None, Decimal("0")),
        ("2026-03-01", "2000000001", "Spring Sale", None, 0, Decimal("0"), Decimal("50.00"), 4000, 80, None,
         Decimal("0")),
        ("2026-03-02", "2000000001", "Spring Sale", None, 0, Decimal("0"), Decimal("45.50"), 3900, 71, None,
         Decimal("0")),
    ]
    status = cli("status", WS, "--json")
    assert '"last_synced_at": null' not in status.stdout

    cli("results", "set", WS, "--campaign", "2000000001", "--event", "purchase")

    # Spring Sale now counts purchases: 89.5 / 45.50 = 1.9670 ROAS, 45.50 per result.
    assert campaign_results(wh) == [
        ("2026-02-20", "2000000002", "Leads Q1", None, 0, Decimal("0"), Decimal("30.00"), 2500, 40, None, Decimal("0")),
        ("2026-03-01", "2000000001", "Spring Sale", "purchase", 0, Decimal("0"), Decimal("50.00"), 4000, 80, None,
         Decimal("0")),
        ("2026-03-02", "2000000001", "Spring Sale", "purchase", 1, Decimal("89.5"), Decimal("45.50"), 3900, 71,
         Decimal("45.50"), Decimal("1.9670")),
    ]
    # purchase was synced: its whole history, 2026-02-15 to the last sync's day, was loaded already.
    status = json.loads(cli("status", WS, "--json").stdout)
    days = (datetime.fromisoformat(status["synced_through"]).astimezone(ZoneInfo("America/New_York")).date()
            - date(2026, 2, 15)).days + 1
    assert status["progress"]["result_backfill"] == {"campaign_id": "2000000001", "event": "purchase",
                                                      "state": "done", "done_days": days, "total_days": days}
    assert f"{days} of {days} days, done" in cli("status", WS).stdout


def test_rerunning_sync_changes_nothing(acme, wh):
    cli("sync", WS)
    first = (ad_results(wh, WS), campaign_results(wh))
    cli("sync", WS)
    cli("sync", WS, "--full-refresh")
    assert (ad_results(wh, WS), campaign_results(wh)) == first
    # received = loaded + rejected in every batch (the table's check constraint holds it; count them)
    assert wh.execute("select count(*) from raw_cometly.load_batches where workspace_id = %s", (WS,)).fetchone()[0] > 0


def test_sync_of_unknown_or_paused_workspace_is_refused_in_one_line(acme):
    unknown = cli("sync", "nope", check=False)
    assert unknown.returncode != 0
    assert unknown.stderr.strip() == "cometly-elt: no workspace 'nope': see 'cometly-elt workspace list'"
    cli("workspace", "pause", WS)
    paused = cli("sync", WS, check=False)
    assert paused.returncode != 0
    assert "paused" in paused.stderr and "resume" in paused.stderr
