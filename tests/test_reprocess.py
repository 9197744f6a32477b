"""Settings changes: a new attribution version is built beside the active one and swapped in
whole; a timezone change only rebuilds the marts.

By hand from example.json (docs/scenarios.md §3's rule, Meta sources, lifetime):
- first_platform_touch: 101 purchase -> ad 4000000001, 102 lead -> 4000000002 (instagram touch of
  02-20), 103 Demo Booked -> 4000000002;
- last_platform_touch: all three -> 4000000001 (contact 2's latest paid Meta touch is the facebook
  touch of 03-02 18:00Z, before both of its events).
Report dates in America/New_York (UTC-5): 101 -> 03-02, 102 -> 03-02, 103 -> 03-04; in
Asia/Kolkata (UTC+5:30): 101 at 09:00 -> 03-03, 102 at 00:30 -> 03-03, 103 at 20:30 -> 03-04.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from conftest import EXAMPLE_SCENARIO, cli, set_up_workspace
from helpers.expected_marts import ad_results
from helpers.fake_admin import FakeAdmin

# Tier (tests/conftest.py): `cometly-elt sync` runs the Sync Now DAG in-process.
pytestmark = pytest.mark.airflow

WS = "acme"

FIRST_TOUCH = [("2026-03-02", "4000000001", "purchase"), ("2026-03-02", "4000000002", "lead_generated"),
               ("2026-03-04", "4000000002", "custom_event_3")]
LAST_TOUCH = [("2026-03-02", "4000000001", "lead_generated"), ("2026-03-02", "4000000001", "purchase"),
              ("2026-03-04", "4000000001", "custom_event_3")]


def marts(wh):
    return ad_results(wh, WS, ("report_date::text", "ad_id", "event_name"))


def status(workspace_id=WS) -> dict:
    return json.loads(cli("status", workspace_id, "--json").stdout)


def test_model_change_is_built_beside_and_swapped_in_only_when_complete(wh, fast_fake):
    api = fast_fake(EXAMPLE_SCENARIO, "--no-rate-limits")
    set_up_workspace(api, WS)
    cli("sync", WS)
    assert marts(wh) == FIRST_TOUCH

    refused = cli("cometly", "configure", WS, "--model", "last_touch", "--window", "lifetime",
                  "--timezone", "America/New_York", check=False)
    assert refused.returncode != 0 and "--yes" in refused.stderr
    cli("cometly", "configure", WS, "--model", "last_touch", "--window", "lifetime",
        "--timezone", "America/New_York", "--yes")
    assert status()["building"]["version"] == 2
    assert marts(wh) == FIRST_TOUCH

    # Cometly refuses the reprocess's request (the sync's second: the first re-reads the active version's
    # last days): the sync fails, the marts keep the old, complete numbers.
    FakeAdmin(api).faults(
        {"api": "cometly", "method": "GET", "path": "/events$", "calls": [2], "fault": "status", "status": 422,
         "body": {"message": "The attribution model field is invalid."}})
    assert cli("sync", WS, check=False).returncode != 0
    assert marts(wh) == FIRST_TOUCH
    assert status()["attribution"]["version"] == 1

    FakeAdmin(api).clear_faults()
    cli("sync", WS)
    assert marts(wh) == LAST_TOUCH
    after = status()
    assert (after["attribution"]["version"], after["attribution"]["model"], after["building"]) == (
        2, "last_touch", None)
    assert "reprocess" not in after["progress"]
    assert wh.execute("select distinct settings_version from raw_cometly.events where workspace_id = %s",
                      (WS,)).fetchall() == [(2,)]


def test_timezone_change_rebuilds_report_dates_without_reextracting_history(wh, fast_fake):
    api = fast_fake(EXAMPLE_SCENARIO, "--no-rate-limits")
    set_up_workspace(api, WS)
    cli("sync", WS)
    (batches_before,) = wh.execute("select max(batch_id) from raw_cometly.load_batches").fetchone()

    cli("cometly", "configure", WS, "--model", "first_touch", "--window", "lifetime", "--timezone", "Asia/Kolkata")
    assert status()["building"] is None
    cli("sync", WS)

    assert marts(wh) == [("2026-03-03", "4000000001", "purchase"), ("2026-03-03", "4000000002", "lead_generated"),
                         ("2026-03-04", "4000000002", "custom_event_3")]
    # Extracted again: the incremental window (the 3-day re-pull up to now), and the 10.5 hours by which
    # the history's first day, 2026-02-15, starts earlier in Kolkata (18:30Z the day before) than in New
    # York (05:00Z), which the history did not hold yet. Not March.
    windows = wh.execute("select window_start_utc, window_end_utc from raw_cometly.load_batches where batch_id > %s"
                         " order by 1", (batches_before,)).fetchall()
    assert windows[0] == (datetime(2026, 2, 14, 18, 30, tzinfo=timezone.utc),
                          datetime(2026, 2, 15, 5, tzinfo=timezone.utc))
    assert all(start > datetime.now(timezone.utc) - timedelta(days=4) for start, _ in windows[1:])
