"""Backfill planning: exports keep Cometly's 5 creates a minute busy, and no more, with one poll each.

The Space: one person touched by a Meta ad on 2026-01-01, buying once a day at 12:00 UTC
(07:00 in New York, winter) from 2026-01-05 to 2026-01-24: 20 local days, one event, so one
request group and one export per day. Fake clock 60x: a Cometly minute lasts one real second,
and the fake's export is done 60 fake seconds after its creation.

By hand: 20 exports at 5 creates a minute need 4 of Cometly's minutes, the first opening at
the first create, so the last create comes 3 minutes (180 s) after the first at the earliest
and, with no minute left idle, before the 4th minute ends (240 s). Cometly answers 429 to a
6th create in one of its minutes, so none in its log means never more than 5 a minute. Each
export is polled once, a minute after its creation, when it is done: 20 creates, 20 polls
and 20 downloads, one purchase loaded per day.
"""

from __future__ import annotations

import multiprocessing
from datetime import datetime, timedelta, timezone

import psycopg

from cometly_elt.cometly.extract import fill, window_jobs
from cometly_elt.cometly.rate_budget import RateBudget
from cometly_elt.hooks.cometly import CometlyHook
from helpers.fake_admin import FakeAdmin

NY = "America/New_York"
FIRST_DAY = datetime(2026, 1, 5, 5, tzinfo=timezone.utc)  # local midnight, EST
DAYS = 20
MINUTE = 1.0  # real seconds in a Cometly minute at clock speed 60


def purchases_every_day() -> dict:
    touch = {"time_utc": "2026-01-01T00:00:00Z", "source": "facebook_ads", "account_id": "1000000001",
             "campaign_id": "2000000001", "adset_id": "3000000001", "ad_id": "4000000001"}
    events = [{"id": n + 1, "event_name": "purchase", "amount": 10,
               "time_utc": (FIRST_DAY + timedelta(days=n, hours=7)).strftime("%Y-%m-%dT%H:%M:%SZ")}
              for n in range(DAYS)]
    return {"cometly": {"spaces": [{"id": "space_busy", "timezone": NY,
                                    "api_keys": [{"key": "ck_busy", "status": "active"}],
                                    "contacts": [{"id": 1, "touchpoints": [touch], "events": events}]}]}}


def extract_days(warehouse_url: str, cometly_url: str, first: int, days: int, start_together=None) -> int:
    """Local days first..first+days-1 exported into workspace ws1 (whose budget every caller shares)."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        hook = CometlyHook.for_key(cometly_url, "ck_busy", budget=RateBudget(warehouse_url, "ws1", minute=MINUTE))
        if start_together is not None:
            start_together.wait()
        try:
            return fill(
                conn, hook, workspace_id="ws1", settings_version=1, model="first_touch", window_days=0, timezone=NY,
                jobs=window_jobs(["purchase"], FIRST_DAY + timedelta(days=first),
                                 FIRST_DAY + timedelta(days=first + days)), method="export",
            ).loaded
        finally:
            hook.budget.close()


def _half_in_a_process(args) -> int:
    warehouse_url, cometly_url, first, days, start_together = args
    return extract_days(warehouse_url, cometly_url, first, days, start_together)


def seconds(call: dict) -> float:
    return datetime.fromisoformat(call["at"].replace("Z", "+00:00")).timestamp()


def assert_planned_at_the_limit(calls: list[dict]) -> None:
    by_endpoint = {name: [c for c in calls if c["endpoint"] == name]
                   for name in ("create_export", "export_status", "export_download")}
    assert [c["status"] for c in calls if c["status"] == 429] == []
    assert [len(by_endpoint[name]) for name in by_endpoint] == [DAYS, DAYS, DAYS]
    creates = [seconds(c) for c in by_endpoint["create_export"]]
    assert 180 <= max(creates) - min(creates) < 240


def test_twenty_days_take_twenty_creates_in_four_busy_minutes_and_one_poll_each(wh, warehouse_url, fake_api):
    api = fake_api(purchases_every_day(), "--clock-speed", "60")

    loaded = extract_days(warehouse_url, api.cometly_url, 0, DAYS)

    assert loaded == DAYS
    assert_planned_at_the_limit(FakeAdmin(api).calls())
    assert wh.execute("select method, count(*), sum(loaded) from raw_cometly.load_batches group by method").fetchall() \
        == [("export", DAYS, DAYS)]


def test_two_processes_sharing_the_space_keep_together_to_the_same_plan(wh, warehouse_url, fake_api):
    """As the result backfill's parallel month chunks: 10 days each, at once, one budget."""
    api = fake_api(purchases_every_day(), "--clock-speed", "60")
    spawn = multiprocessing.get_context("spawn")
    start_together = spawn.Manager().Barrier(2)

    with spawn.Pool(2) as pool:
        loaded = pool.map(_half_in_a_process, [(warehouse_url, api.cometly_url, first, DAYS // 2, start_together)
                                               for first in (0, DAYS // 2)])

    assert loaded == [DAYS // 2, DAYS // 2]
    assert_planned_at_the_limit(FakeAdmin(api).calls())
