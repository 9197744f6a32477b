"""Extraction and loading into raw_cometly, against the fake Cometly as a real process and a real PostgreSQL.

Expected rows are worked out by hand from the scenarios (docs/scenarios.md).

example.json, First Touch – Source Specific (first_platform_touch over facebook_ads and
instagram_ads), lifetime window, events purchase / lead_generated / custom_event_3:
- 101 purchase (contact 1, 2026-03-03T03:30Z, 89.5, order A-1): the first Meta paid touch is
  facebook_ads on 03-01 → account 1000000001, campaign 2000000001 "Spring Sale", ad set
  3000000001, ad 4000000001 "Carousel A" (no account or ad set names in the scenario);
- 102 lead_generated (contact 2, 2026-03-02T19:00Z, no amount → 0) and 103 custom_event_3
  ("Demo Booked", 2026-03-04T15:00Z): the first Meta paid touch is instagram_ads on 02-20 →
  campaign 2000000002, ad set 3000000002, ad 4000000002, no names;
- 104 purchase (contact 3): only google_organic touches → not attributed to Meta, absent.
"""

from __future__ import annotations

import copy
import json
import multiprocessing
import os
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from cometly_elt.cometly.extract import fill, window_jobs
from cometly_elt.cometly.rate_budget import RateBudget
from cometly_elt.errors import UserError
from cometly_elt.hooks.cometly import CometlyHook
from helpers.fake_admin import FakeAdmin

KEY = "ck_acme_live"
NY = "America/New_York"
EXAMPLE_EVENTS = ["purchase", "lead_generated", "custom_event_3"]
KEY_REJECTED = (
    "Cometly rejected this API key: it may have expired or been revoked. "
    "Generate a new one in Cometly (Integrations → API) and connect again."
)


# Served with limits lifted unless a test is about them (our budget's minute is then tiny too).
EXAMPLE = Path(__file__).resolve().parent / "data" / "example.json"


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# 2026-02-28 00:00 to 2026-03-07 00:00 New York time (EST, UTC-5): the week around the example.
WEEK = (z("2026-02-28T05:00:00Z"), z("2026-03-07T05:00:00Z"))

META_1 = ("1000000001", None, "2000000001", "Spring Sale", "3000000001", None, "4000000001", "Carousel A")
META_2 = ("1000000001", None, "2000000002", None, "3000000002", None, "4000000002", None)
EXAMPLE_ROWS = [
    ("101", "purchase", "purchase", z("2026-03-03T03:30:00Z"), Decimal("89.5"), "A-1", *META_1),
    ("102", "lead_generated", "lead_generated", z("2026-03-02T19:00:00Z"), Decimal("0"), None, *META_2),
    ("103", "custom_event_3", "Demo Booked", z("2026-03-04T15:00:00Z"), Decimal("0"), None, *META_2),
]


def extract(wh, api, window=WEEK, *, key=KEY, workspace="ws1", version=1, events=EXAMPLE_EVENTS,
            model="first_touch", window_days=0, tz=NY, method="list", minute=0.01, hook=None, **kwargs):
    """One extraction; `minute` is the shared budget's minute (tiny where the fake's limits are lifted)."""
    hook = hook or CometlyHook.for_key(api.cometly_url, key)
    if hook.budget is None:
        hook.budget = RateBudget(os.environ["WAREHOUSE_URL"], workspace, minute=minute)
    try:
        return fill(
            wh, hook, workspace_id=workspace, settings_version=version, model=model, window_days=window_days,
            timezone=tz, jobs=window_jobs(events, window[0], window[1]), method=method, **kwargs,
        )
    finally:
        hook.budget.close()


def rows(wh, workspace="ws1", version=1) -> list[tuple]:
    return wh.execute(
        "select event_id, event_name, configured_name, event_time_utc, amount, order_id, account_id, account_name,"
        " campaign_id, campaign_name, adset_id, adset_name, ad_id, ad_name"
        " from raw_cometly.events where workspace_id = %s and settings_version = %s order by event_time_utc, event_id",
        (workspace, version),
    ).fetchall()


def ids(wh, workspace="ws1", version=1) -> list[str]:
    return [r[0] for r in rows(wh, workspace, version)]


def batches(wh, workspace="ws1") -> list[tuple]:
    return wh.execute(
        "select method, window_start_utc, window_end_utc, event_names, received, loaded, rejected, api_calls"
        " from raw_cometly.load_batches where workspace_id = %s order by window_start_utc, batch_id",
        (workspace,),
    ).fetchall()


def by_time(rows_: list[tuple]) -> list[tuple]:
    return sorted(rows_, key=lambda r: (r[3], r[0]))


def space(contacts, *, key="ck_test", tz=NY, labels=None) -> dict:
    return {"cometly": {"spaces": [{"id": "space_test", "timezone": tz, "custom_events": labels or {},
                                    "api_keys": [{"key": key, "status": "active"}], "contacts": contacts}]}}


META_TOUCH = {"time_utc": "2026-01-01T00:00:00Z", "source": "facebook_ads", "account_id": "1000000001",
              "campaign_id": "2000000001", "adset_id": "3000000001", "ad_id": "4000000001"}


def purchases(*times: str, first_id: int = 1) -> dict:
    """One contact touched by a Meta ad on 2026-01-01, buying at each of `times`."""
    return space([{"id": 1, "touchpoints": [META_TOUCH],
                   "events": [{"id": first_id + i, "event_name": "purchase", "time_utc": t}
                              for i, t in enumerate(times)]}])


# ---------------------------------------------------------------- what lands in raw_cometly.events

def test_example_rows_match_the_hand_worked_rows(wh, fake_api):
    api = fake_api(EXAMPLE, "--no-rate-limits")

    result = extract(wh, api)

    assert by_time(rows(wh)) == by_time(EXAMPLE_ROWS)
    assert (result.batches, result.received, result.loaded, result.rejected, result.api_calls) == (1, 3, 3, 0, 1)
    assert batches(wh) == [("list", *WEEK, ["custom_event_3", "lead_generated", "purchase"], 3, 3, 0, 1)]


def test_last_touch_credits_the_latest_meta_touch(wh, fake_api):
    # Contact 2's latest Meta paid touch before 102 and 103 is facebook_ads on 03-02 18:00 (campaign
    # 2000000001, no names in that touch); contact 1 has only one Meta touch.
    api = fake_api(EXAMPLE, "--no-rate-limits")

    extract(wh, api, model="last_touch")

    facebook = ("1000000001", None, "2000000001", None, "3000000001", None, "4000000001", None)
    assert [(r[0], *r[6:]) for r in by_time(rows(wh))] == [
        ("102", *facebook), ("101", *META_1), ("103", *facebook),
    ]


def test_a_one_day_window_keeps_only_touches_within_a_day(wh, fake_api):
    # 101: its facebook touch is 37.5 h earlier → out; 103: no Meta touch within a day → out;
    # 102: facebook 1 h earlier (instagram on 02-20 is out of the window) → credited to facebook.
    api = fake_api(EXAMPLE, "--no-rate-limits")

    extract(wh, api, window_days=1)

    assert [(r[0], r[8]) for r in rows(wh)] == [("102", "2000000001")]


def test_more_than_ten_events_are_asked_in_requests_of_at_most_ten(wh, fake_api):
    api = fake_api(EXAMPLE, "--no-rate-limits")
    twelve = EXAMPLE_EVENTS + ["add_to_cart", "contact", "schedule", "sign_up", "subscribe", "start_trial",
                               "view_content", "custom_event_1", "custom_event_50"]

    result = extract(wh, api, events=twelve)

    assert by_time(rows(wh)) == by_time(EXAMPLE_ROWS)
    assert len(FakeAdmin(api).calls(endpoint="list_events")) == 2  # the fake answers 422 to more than 10 names
    assert result.api_calls == 2


def test_small_pages_are_followed_with_every_filter_and_visit_each_event_once(wh, fake_api):
    api = fake_api(EXAMPLE, "--no-rate-limits")

    result = extract(wh, api, per_page=1)

    assert by_time(rows(wh)) == by_time(EXAMPLE_ROWS)
    # 3 rows, 1 per page; the third page is exactly full and says so with next_cursor null.
    assert len(FakeAdmin(api).calls(endpoint="list_events")) == 3
    assert (result.received, result.api_calls) == (3, 3)


def test_export_path_equals_list_path_row_for_row(wh, fake_api):
    api = fake_api(EXAMPLE, "--no-rate-limits")

    listed = extract(wh, api, workspace="by_list", method="list")
    exported = extract(wh, api, workspace="by_export", method="export")

    assert rows(wh, "by_export") == rows(wh, "by_list") == by_time(EXAMPLE_ROWS)
    assert (listed.received, exported.received) == (3, 3)
    # one batch per local day, 2026-02-28 .. 2026-03-06 (all 24 h in EST)
    days = [(b[1], b[2], b[4]) for b in batches(wh, "by_export")]
    assert [d[0] for d in days] == [z(f"2026-{d}T05:00:00Z") for d in
                                    ("02-28", "03-01", "03-02", "03-03", "03-04", "03-05", "03-06")]
    # 101 (03-03T03:30Z) is 2026-03-02 22:30 local: a 03-02 conversion, like 102
    assert [d[2] for d in days] == [0, 0, 2, 0, 1, 0, 0]
    assert {b[0] for b in batches(wh, "by_export")} == {"export"}


def test_a_long_window_that_fits_one_page_costs_one_list_call(wh, fake_api):
    api = fake_api(EXAMPLE, "--no-rate-limits")

    result = extract(wh, api, (z("2026-02-28T05:00:00Z"), z("2026-03-07T06:00:00Z")), method="auto")

    assert by_time(rows(wh)) == by_time(EXAMPLE_ROWS)
    # Three rows in a week: one page, where one export per local day would have cost 8 creates and 8 polls.
    admin = FakeAdmin(api)
    assert (len(admin.calls(endpoint="list_events")), len(admin.calls(endpoint="create_export"))) == (1, 0)
    assert (result.batches, result.api_calls) == (1, 1)


# ---------------------------------------------------------------- exactly once across daylight saving

# 2026-03-08, spring forward at 07:00Z (02:00 EST → 03:00 EDT)
SPRING = {"201": "2026-03-08T06:59:59Z", "202": "2026-03-08T07:00:00Z", "203": "2026-03-08T07:30:00Z"}
# 2026-11-01, fall back at 06:00Z: 01:00–01:59:59 is lived 05:00Z–05:59:59Z (EDT), then 06:00Z–06:59:59Z (EST)
FALL = {"301": "2026-11-01T05:30:00Z", "302": "2026-11-01T06:15:00Z", "303": "2026-11-01T06:45:00Z",
        "304": "2026-11-01T07:10:00Z"}


@pytest.fixture
def dst_api(fake_api):
    times = list(SPRING.values()) + list(FALL.values())
    scenario = purchases(*times, first_id=201)
    events = scenario["cometly"]["spaces"][0]["contacts"][0]["events"]
    for event, event_id in zip(events, list(SPRING) + list(FALL)):
        event["id"] = int(event_id)
    return fake_api(scenario, "--no-rate-limits")


@pytest.mark.parametrize("windows, expected", [
    # hourly syncs across spring forward
    ([("06:00", "07:00"), ("07:00", "08:00")], [["201"], ["202", "203"]]),
    # windows cut at half hours: 203 (07:30Z) is asked for by the first (its end is inclusive) but
    # belongs to the second
    ([("06:30", "07:30"), ("07:30", "09:00")], [["201", "202"], ["203"]]),
], ids=["hourly", "half-hours"])
def test_spring_forward_windows_load_each_event_once(wh, dst_api, windows, expected):
    for (start, end), want in zip(windows, expected):
        result = extract(wh, dst_api, (z(f"2026-03-08T{start}:00Z"), z(f"2026-03-08T{end}:00Z")),
                         key="ck_test", events=["purchase"])
        assert result.received == result.loaded == len(want)

    assert ids(wh) == ["201", "202", "203"]
    assert [b[4] for b in batches(wh)] == [len(w) for w in expected]


@pytest.mark.parametrize("windows, expected", [
    # hourly syncs: the second one is exactly the repeated hour's second pass
    ([("04:00", "05:00"), ("05:00", "06:00"), ("06:00", "07:00"), ("07:00", "08:00")],
     [[], ["301"], ["302", "303"], ["304"]]),
    # one ending inside the second pass (06:30Z = 01:30 EST, which Cometly reads as 01:30 EDT =
    # 05:30Z), the next starting there
    ([("05:00", "06:30"), ("06:30", "08:00")], [["301", "302"], ["303", "304"]]),
    # one ending inside the first pass
    ([("04:00", "05:45"), ("05:45", "08:00")], [["301"], ["302", "303", "304"]]),
], ids=["hourly", "inside-second-pass", "inside-first-pass"])
def test_fall_back_windows_load_each_event_once(wh, dst_api, windows, expected):
    for (start, end), want in zip(windows, expected):
        result = extract(wh, dst_api, (z(f"2026-11-01T{start}:00Z"), z(f"2026-11-01T{end}:00Z")),
                         key="ck_test", events=["purchase"])
        assert result.received == result.loaded == len(want)

    assert ids(wh) == ["301", "302", "303", "304"]


def test_exports_of_dst_days_cover_23_and_25_hours(wh, dst_api):
    extract(wh, dst_api, (z("2026-03-08T05:00:00Z"), z("2026-03-09T04:00:00Z")), key="ck_test",
            events=["purchase"], method="export")
    extract(wh, dst_api, (z("2026-11-01T04:00:00Z"), z("2026-11-02T05:00:00Z")), key="ck_test",
            events=["purchase"], method="export")

    assert [(b[1], b[2], b[4]) for b in batches(wh)] == [
        (z("2026-03-08T05:00:00Z"), z("2026-03-09T04:00:00Z"), 3),  # 2026-03-08: 23 h
        (z("2026-11-01T04:00:00Z"), z("2026-11-02T05:00:00Z"), 4),  # 2026-11-01: 25 h
    ]
    assert ids(wh) == ["201", "202", "203", "301", "302", "303", "304"]


# ---------------------------------------------------------------- replacing semantics

def test_a_rerun_leaves_an_identical_table(wh, fake_api):
    api = fake_api(EXAMPLE, "--no-rate-limits")
    extract(wh, api)
    first = rows(wh)

    extract(wh, api)

    assert rows(wh) == first == by_time(EXAMPLE_ROWS)
    assert wh.execute("select count(*) from raw_cometly.events").fetchone() == (3,)


def test_a_conversion_that_lost_its_attribution_disappears(wh, fake_api, example_scenario):
    extract(wh, fake_api(example_scenario, "--no-rate-limits"))
    # Later, Cometly credits contact 2 to Google: its Meta touches are gone.
    changed = copy.deepcopy(example_scenario)
    contact_2 = changed["cometly"]["spaces"][0]["contacts"][1]
    for touch in contact_2["touchpoints"]:
        touch["source"] = "google_ads"

    extract(wh, fake_api(changed, "--no-rate-limits"))

    assert ids(wh) == ["101"]


def test_a_reextract_replaces_only_its_workspace_version_and_window(wh, fake_api, example_scenario):
    api = fake_api(example_scenario, "--no-rate-limits")
    extract(wh, api)
    extract(wh, api, workspace="other")
    extract(wh, api, version=2)
    changed = copy.deepcopy(example_scenario)
    for touch in changed["cometly"]["spaces"][0]["contacts"][1]["touchpoints"]:
        touch["source"] = "google_ads"

    # only 2026-03-04 (local), where 103 lives; 102 (03-02) is outside the window
    extract(wh, fake_api(changed, "--no-rate-limits"), (z("2026-03-04T05:00:00Z"), z("2026-03-05T05:00:00Z")))

    assert ids(wh) == ["102", "101"]
    assert ids(wh, "other") == ids(wh, version=2) == ["102", "101", "103"]


# ---------------------------------------------------------------- rows that cannot be loaded

ODD_PAGE = {"next_cursor": None, "data": [
    {"id": 501, "event_time_utc": "2026-03-02T10:00:00Z", "event_name": "purchase", "amount": 5},
    {"event_time_utc": "2026-03-02T10:00:00Z", "event_name": "purchase"},
    {"id": 502, "event_time_utc": "yesterday", "event_name": "purchase"},
    {"id": 503, "event_time_utc": "2026-03-02T10:00:00Z", "event_name": "purchase", "amount": "lots"},
    {"id": 504, "event_time_utc": "2026-03-02T10:00:00Z", "event_name": "add_to_cart"},
    {"id": 505, "event_time_utc": "2026-01-01T00:00:00Z", "event_name": "purchase"},
    {"id": 506, "event_time_utc": "2026-03-02T10:00:00", "event_name": "purchase"},
    {"id": 507, "event_time_utc": "2026-03-02T10:00:00Z", "event_name": "purchase", "campaign_name": ["x"]},
    {"id": 501, "event_time_utc": "2026-03-02T11:00:00Z", "event_name": "purchase", "amount": 6},
    {"id": "508", "event_time_utc": "2026-03-02T12:00:00Z", "event_name": "purchase", "amount": "12.30",
     "campaign_id": 2000000001},
]}


def test_rows_that_cannot_be_loaded_are_kept_with_a_reason(wh, fake_api):
    api = fake_api(EXAMPLE, "--no-rate-limits")
    FakeAdmin(api).faults({"api": "cometly", "path": "/events$", "times": 1, "fault": "status", "status": 200,
                           "body": ODD_PAGE})

    result = extract(wh, api, events=["purchase"])

    assert (result.received, result.loaded, result.rejected) == (10, 2, 8)
    assert [(r[0], r[4], r[8]) for r in rows(wh)] == [
        ("501", Decimal("5"), None), ("508", Decimal("12.30"), "2000000001")]
    rejected = wh.execute(
        "select reason, payload from raw_cometly.rejected_rows order by rejected_at, reason").fetchall()
    reasons = {json.dumps(json.loads(payload), sort_keys=True): reason for reason, payload in rejected}

    def reason_of(index: int) -> str:
        return reasons[json.dumps(ODD_PAGE["data"][index], sort_keys=True)]

    assert reason_of(1) == "event has no id"
    assert reason_of(2).startswith("unreadable event") and "event_time_utc" in reason_of(2)
    assert reason_of(3).startswith("unreadable event") and "amount" in reason_of(3)
    assert reason_of(4) == "event 'add_to_cart' was not asked for"
    assert reason_of(5) == "event_time_utc 2026-01-01T00:00:00+00:00 is outside the time range asked for"
    assert reason_of(6) == "event_time_utc 2026-03-02T10:00:00 has no timezone"
    assert reason_of(7).startswith("unreadable event") and "campaign_name" in reason_of(7)
    assert "duplicate key within the batch" in reasons.values()
    assert batches(wh)[0][4:7] == (10, 2, 8)


# ---------------------------------------------------------------- failures on the way

def test_a_503_then_success_is_retried(wh, fake_api):
    api = fake_api(EXAMPLE, "--no-rate-limits")
    FakeAdmin(api).faults({"api": "cometly", "path": "/events$", "times": 1, "fault": "status", "status": 503})

    result = extract(wh, api)

    assert by_time(rows(wh)) == by_time(EXAMPLE_ROWS)
    assert [c["status"] for c in FakeAdmin(api).calls(endpoint="list_events")] == [503, 200]
    assert result.api_calls == 2


@pytest.mark.parametrize("fault", [{"fault": "reset"}, {"fault": "malformed_json"}], ids=["reset", "malformed"])
def test_a_broken_answer_is_asked_again(wh, fake_api, fault):
    api = fake_api(EXAMPLE, "--no-rate-limits")
    FakeAdmin(api).faults({"api": "cometly", "path": "/events$", "times": 1, **fault})

    extract(wh, api, per_page=1)

    assert by_time(rows(wh)) == by_time(EXAMPLE_ROWS)
    assert len(FakeAdmin(api).calls(endpoint="list_events")) == 4


def test_a_hanging_answer_times_out_and_is_asked_again(wh, fake_api):
    api = fake_api(EXAMPLE, "--no-rate-limits")
    FakeAdmin(api).faults({"api": "cometly", "path": "/events$", "times": 1, "fault": "timeout", "seconds": 5})

    extract(wh, api, hook=CometlyHook.for_key(api.cometly_url, KEY, timeout=1))

    assert by_time(rows(wh)) == by_time(EXAMPLE_ROWS)


def test_a_429_with_retry_after_under_a_sped_up_clock_is_survived(wh, fake_api):
    """40 purchases, 1 per page: 40 list calls at 7 per fake minute (1 real second at speed 60).
    Our budget believes in a 0.1 s minute, so Cometly refuses some calls; they wait Retry-After."""
    times = [f"2026-03-02T{h:02d}:{m:02d}:00Z" for h in range(10, 14) for m in range(0, 60, 6)]
    api = fake_api(purchases(*times), "--clock-speed", "60")

    result = extract(wh, api, (z("2026-03-02T05:00:00Z"), z("2026-03-03T05:00:00Z")), key="ck_test",
                     events=["purchase"], per_page=1, minute=0.1)

    statuses = [c["status"] for c in FakeAdmin(api).calls(endpoint="list_events")]
    assert statuses.count(429) > 0 and statuses.count(200) == 40
    assert (result.loaded, len(ids(wh))) == (40, 40)


def test_a_key_revoked_mid_sync_fails_with_the_rejected_key_line(wh, fake_api):
    api = fake_api(EXAMPLE, "--no-rate-limits")
    FakeAdmin(api).faults({"api": "cometly", "path": "/events$", "calls": [2], "fault": "status", "status": 401,
                           "body": {"message": "Unauthenticated."}})

    with pytest.raises(UserError) as raised:
        extract(wh, api, per_page=1)

    assert str(raised.value) == KEY_REJECTED
    assert [c["status"] for c in FakeAdmin(api).calls(endpoint="list_events")] == [200, 401]  # not retried
    assert rows(wh) == [] and batches(wh) == []


def test_a_real_revocation_mid_sync_gets_the_same_line(wh, fake_api):
    api = fake_api(EXAMPLE, "--no-rate-limits")
    hook = CometlyHook.for_key(api.cometly_url, KEY)
    pages = hook.event_pages

    def revoke_after_first_page(params):
        for n, page in enumerate(pages(params)):
            yield page
            if n == 0:
                FakeAdmin(api).call("POST", "cometly/keys", {"key": KEY, "status": "revoked"})

    hook.event_pages = revoke_after_first_page
    with pytest.raises(UserError, match="^Cometly rejected this API key"):
        extract(wh, api, hook=hook, per_page=1)


def test_validation_errors_are_not_retried(wh, fake_api):
    api = fake_api(EXAMPLE, "--no-rate-limits")
    FakeAdmin(api).faults({"api": "cometly", "path": "/events$", "fault": "status", "status": 422,
                           "body": {"message": "The selected sources.0 is invalid."}})

    with pytest.raises(UserError, match="HTTP 422.*The selected sources.0 is invalid."):
        extract(wh, api)

    assert len(FakeAdmin(api).calls(endpoint="list_events")) == 1


def test_a_cometly_that_keeps_failing_gives_up_with_a_clear_line(wh, fake_api):
    api = fake_api(EXAMPLE, "--no-rate-limits")
    FakeAdmin(api).faults({"api": "cometly", "path": "/events$", "fault": "status", "status": 502})

    with pytest.raises(UserError, match=r"^Cometly kept failing at .*/events \(HTTP 502\)"):
        extract(wh, api, hook=CometlyHook.for_key(api.cometly_url, KEY, max_attempts=3))

    assert len(FakeAdmin(api).calls(endpoint="list_events")) == 3


# ---------------------------------------------------------------- exports that fail

def test_a_failed_export_is_created_again(wh, fake_api):
    api = fake_api(EXAMPLE, "--no-rate-limits")
    FakeAdmin(api).call("POST", "cometly/exports/fail", {"next": 1})

    extract(wh, api, method="export")

    assert by_time(rows(wh)) == by_time(EXAMPLE_ROWS)
    assert len(FakeAdmin(api).calls(endpoint="create_export")) == 8  # 7 days, one of them twice


def test_an_export_failing_every_time_stops_with_a_clear_line(wh, fake_api):
    api = fake_api(EXAMPLE, "--no-rate-limits")
    FakeAdmin(api).call("POST", "cometly/exports/fail", {"next": 100})

    with pytest.raises(UserError, match=r"^Cometly's export of 2026-02-28 failed 3 times \(Export failed"):
        extract(wh, api, (WEEK[0], z("2026-03-01T05:00:00Z")), method="export")


def test_an_expired_download_url_is_polled_again(wh, fake_api):
    api = fake_api(EXAMPLE, "--no-rate-limits")
    FakeAdmin(api).faults({"api": "cometly", "path": "^/_s3/", "times": 1, "fault": "status", "status": 403,
                           "body": "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"})

    extract(wh, api, method="export")

    assert by_time(rows(wh)) == by_time(EXAMPLE_ROWS)
    downloads = FakeAdmin(api).calls(endpoint="export_download")
    assert [d["status"] for d in downloads].count(403) == 1 and len(downloads) == 8


# ---------------------------------------------------------------- one budget for every process

def _extract_in_another_process(args):
    warehouse_url, cometly_url, window, minute = args
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        hook = CometlyHook.for_key(cometly_url, "ck_test", budget=RateBudget(warehouse_url, "ws1", minute=minute))
        result = fill(conn, hook, workspace_id="ws1", settings_version=1, model="first_touch", window_days=0,
                      timezone=NY, jobs=window_jobs(["purchase"], window[0], window[1]), per_page=1, method="list")
        hook.budget.close()
        return result.loaded


def test_two_processes_of_one_space_keep_together_to_seven_list_calls_a_minute(wh, warehouse_url, fake_api):
    """A backfill beside a scheduled run: 12 + 12 purchases, 1 per page, two processes at once, fake
    clock 30x (a fake minute lasts 2 real seconds). Cometly refuses the 8th call of any of its
    minutes with 429, so none in its log means never more than 7 a minute; and no call was wasted."""
    day_1 = [f"2026-03-02T{10 + n:02d}:00:00Z" for n in range(12)]
    day_2 = [f"2026-03-04T{10 + n:02d}:00:00Z" for n in range(12)]
    api = fake_api(purchases(*day_1, *day_2), "--clock-speed", "30")
    windows = [(z("2026-03-02T05:00:00Z"), z("2026-03-03T05:00:00Z")),
               (z("2026-03-04T05:00:00Z"), z("2026-03-05T05:00:00Z"))]

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        loaded = pool.map(_extract_in_another_process, [(warehouse_url, api.cometly_url, w, 2.0) for w in windows])

    assert loaded == [12, 12]
    log = FakeAdmin(api).calls(endpoint="list_events")
    assert [c["status"] for c in log] == [200] * 24  # 12 pages each, the last exactly full
    # 24 calls at 7 a minute need 4 of Cometly's minutes: 3 must pass between the first and the last
    span = z(log[-1]["at"]) - z(log[0]["at"])
    assert span.total_seconds() >= 179  # (the log has whole seconds)
