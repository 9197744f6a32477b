"""The fake Cometly API against the documented behaviour (docs/cometly-api.md §8).

Every expected value below is worked out by hand from the scenario in the test
(or from tests/data/example.json) and docs/scenarios.md §3's attribution rules.
"""

from __future__ import annotations

import gzip
import json
import time
from datetime import datetime, timedelta

import httpx
import pytest

from helpers.fake_admin import FakeAdmin

ACME = "ck_acme_live"
META = ["facebook_ads", "instagram_ads"]


def events_params(start: str, end: str, **arrays_and_scalars) -> list[tuple[str, str]]:
    """Query parameters as a Laravel client sends them: lists as `name[]=...`."""
    params = [("start_date", start), ("end_date", end)]
    for name, value in arrays_and_scalars.items():
        if isinstance(value, list):
            params += [(f"{name}[]", str(v)) for v in value]
        else:
            params.append((name, str(value)))
    return params


def get(api, path: str, key: str | None = ACME, params=None) -> httpx.Response:
    headers = {"Accept": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.get(api.cometly_url + path, params=params, headers=headers, timeout=10)


def post(api, path: str, body: dict, key: str = ACME) -> httpx.Response:
    headers = {"Accept": "application/json", "Authorization": f"Bearer {key}"}
    return httpx.post(api.cometly_url + path, json=body, headers=headers, timeout=10)


def walk(api, params: list, per_page: int, key: str = ACME) -> list[list[dict]]:
    """Every page, following next_cursor and re-sending the filters."""
    pages, cursor = [], None
    while True:
        extra = [("per_page", str(per_page))] + ([("cursor", cursor)] if cursor else [])
        response = get(api, "/events", key, params + extra)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "the cursor never ends"


def ids(rows: list[dict]) -> list[int]:
    return [row["id"] for row in rows]


def touch(time_utc: str, source: str, ad: str = "", **names) -> dict:
    return {"time_utc": time_utc, "source": source, "account_id": "1" if ad else "",
            "campaign_id": f"c{ad}" if ad else "", "adset_id": f"s{ad}" if ad else "", "ad_id": ad, **names}


def space(events_by_contact: dict, touches_by_contact: dict | None = None, **extra) -> dict:
    touches_by_contact = touches_by_contact or {}
    return {
        "id": "space_t", "timezone": "America/New_York", "api_keys": [{"key": "ck_t", "status": "active"}],
        "contacts": [{"id": c, "touchpoints": touches_by_contact.get(c, []), "events": events}
                     for c, events in events_by_contact.items()],
        **extra,
    }


def event(event_id: int, time_utc: str, name: str = "purchase") -> dict:
    return {"id": event_id, "event_name": name, "time_utc": time_utc}


# ---------------------------------------------------------------- authentication


def test_auth_401_for_missing_unknown_revoked_keys_and_403_for_an_inactive_subscription(fake_api, example_scenario):
    other = {"id": "space_other", "timezone": "Europe/Berlin", "api_keys": [{"key": "ck_other", "status": "active"}],
             "contacts": [{"id": 9, "events": [event(201, "2026-03-02T10:00:00Z")]}]}
    lapsed = {"id": "space_lapsed", "timezone": "UTC", "subscription_active": False,
              "api_keys": [{"key": "ck_lapsed", "status": "active"}, {"key": "ck_lapsed_old", "status": "revoked"}]}
    example_scenario["cometly"]["spaces"] += [other, lapsed]
    api = fake_api(example_scenario)
    params = events_params("2026-03-01 00:00:00", "2026-03-05 00:00:00")

    no_header = httpx.get(api.cometly_url + "/events", params=params)
    assert (no_header.status_code, no_header.json()) == (401, {"message": "Unauthenticated."})
    basic = httpx.get(api.cometly_url + "/events", params=params, headers={"Authorization": f"Basic {ACME}"})
    assert basic.status_code == 401
    assert get(api, "/events", "ck_nobody", params).status_code == 401
    assert get(api, "/events", "ck_acme_old", params).json() == {"message": "Unauthenticated."}
    bare_scheme = httpx.get(api.cometly_url + "/events", params=params, headers={"Authorization": "Bearer"})
    assert bare_scheme.status_code == 401

    assert get(api, "/events", "ck_lapsed", params).status_code == 403
    assert get(api, "/events", "ck_lapsed_old", params).status_code == 401  # authentication comes first
    assert get(api, "/events/101", "ck_lapsed").status_code == 403

    # A key sees its own Space only: another Space's event is not found, not forbidden.
    assert get(api, "/events/201", "ck_other").status_code == 200
    assert get(api, "/events/201", ACME).status_code == 404
    assert ids(get(api, "/events", "ck_other", params).json()["data"]) == [201]


# ---------------------------------------------------------------- validation


ALL_SOURCES = [  # docs/cometly-api.md §6.2, the 52 values
    "facebook_ads", "google_ads", "linkedin_ads", "tiktok_ads", "youtube_ads", "instagram_ads", "bing_ads",
    "yahoo_ads", "pinterest_ads", "reddit_ads", "snapchat_ads", "telegram_ads", "twitch_ads", "x_ads", "quora_ads",
    "duckduckgo_ads", "facebook_organic", "google_organic", "linkedin_organic", "tiktok_organic", "youtube_organic",
    "instagram_organic", "bing_organic", "yahoo_organic", "pinterest_organic", "reddit_organic", "snapchat_organic",
    "telegram_organic", "twitch_organic", "x_organic", "quora_organic", "duckduckgo_organic", "messenger_organic",
    "brave_organic", "threads_organic", "ai_chat_gpt", "ai_perplexity", "ai_copilot", "ai_claude", "ai_grok",
    "ai_gemini", "ai_deepseek", "email", "sms", "referral", "direct", "shop_app", "substack", "capterra",
    "trustpilot", "g2", "yelp",
]
TEN_NAMES = ["add_payment_info", "add_to_cart", "complete_registration", "contact", "initiate_checkout",
             "lead_generated", "purchase", "schedule", "sign_up", "start_trial"]
ATTRIBUTED = {"attribution_model": "first_platform_touch", "attribution_window": "0"}
S, E = "2026-03-01 00:00:00", "2026-03-05 00:00:00"

# (what, query parameters, the field the 422 names, or None when the request is valid)
VALIDATION_CASES = [
    ("no start", [("end_date", E)], "start_date"),
    ("no end", [("start_date", S)], "end_date"),
    ("ISO start", events_params("2026-03-01T00:00:00", E), "start_date"),
    ("ISO Z end", events_params(S, "2026-03-05T00:00:00Z"), "end_date"),
    ("date-only start", events_params("2026-03-01", E), "start_date"),
    ("impossible date", events_params("2026-02-30 00:00:00", E), "start_date"),
    ("end equals start", events_params(S, S), "end_date"),
    ("end before start", events_params(E, S), "end_date"),
    ("end one second after start", events_params(S, "2026-03-01 00:00:01"), None),
    ("10 event names", events_params(S, E, event_names=TEN_NAMES), None),
    ("11 event names", events_params(S, E, event_names=TEN_NAMES + ["subscribe"]), "event_names"),
    ("duplicate event name", events_params(S, E, event_names=["purchase", "purchase"]), "event_names.1"),
    ("custom_event_0", events_params(S, E, event_names=["custom_event_0"]), "event_names.0"),
    ("custom_event_51", events_params(S, E, event_names=["custom_event_51"]), "event_names.0"),
    ("custom_event_1 and _50", events_params(S, E, event_names=["custom_event_1", "custom_event_50"]), None),
    ("upsell_purchase", events_params(S, E, event_names=["upsell_purchase"]), None),
    ("unknown event name", events_params(S, E, event_names=["Purchase"]), "event_names.0"),
    ("scalar event_names", events_params(S, E, event_names="purchase"), "event_names"),
    ("indexed event_names", events_params(S, E) + [("event_names[0]", "purchase")], None),
    ("sources without model", events_params(S, E, sources=META, attribution_window=0), "attribution_model"),
    ("sources without window", events_params(S, E, sources=META, attribution_model="last_touch"), "attribution_window"),
    ("16 sources", events_params(S, E, sources=ALL_SOURCES[:16], **ATTRIBUTED), "sources"),
    ("15 sources", events_params(S, E, sources=ALL_SOURCES[:15], **ATTRIBUTED), None),
    ("duplicate source", events_params(S, E, sources=["direct", "direct"], **ATTRIBUTED), "sources.1"),
    ("unknown source", events_params(S, E, sources=["meta_ads"], **ATTRIBUTED), "sources.0"),
    ("scalar sources", events_params(S, E, sources="facebook_ads", **ATTRIBUTED), "sources"),
    ("unknown model", events_params(S, E, sources=META, attribution_model="first_touch_source_specific",
                                    attribution_window=0), "attribution_model"),
    ("window 3", events_params(S, E, sources=META, attribution_model="last_touch", attribution_window=3),
     "attribution_window"),
    ("window lifetime",
     events_params(S, E, sources=META, attribution_model="last_touch", attribution_window="lifetime"),
     "attribution_window"),
    ("touchpoint field without sources", events_params(S, E, fields=["event_name", "ad_id"]), "fields.1"),
    ("touchpoint field with sources", events_params(S, E, fields=["ad_id"], sources=META, **ATTRIBUTED), None),
    ("unknown field", events_params(S, E, fields=["revenue"]), "fields.0"),
    ("per_page 0", events_params(S, E, per_page=0), "per_page"),
    ("per_page 4001", events_params(S, E, per_page=4001), "per_page"),
    ("per_page 2.5", events_params(S, E, per_page="2.5"), "per_page"),
    ("per_page 4000", events_params(S, E, per_page=4000), None),
    ("per_page 1", events_params(S, E, per_page=1), None),
    ("query_mode people", events_params(S, E, query_mode="people"), "query_mode"),
    ("query_mode company", events_params(S, E, query_mode="company"), None),
] + [
    (f"sources {i}..{i + 14}", events_params(S, E, sources=ALL_SOURCES[i:i + 15], **ATTRIBUTED), None)
    for i in range(0, 52, 15)
] + [
    (f"model {model}", events_params(S, E, sources=META, attribution_model=model, attribution_window=7), None)
    for model in ["first_touch", "last_touch", "linear", "first_platform_touch", "last_platform_touch",
                  "linear_paid", "u_shaped", "last_non_direct_touch"]
] + [
    (f"window {w}", events_params(S, E, sources=META, attribution_model="last_touch", attribution_window=w), None)
    for w in [0, 1, 7, 14, 30, 60, 90]
]


def test_every_documented_422_rule_and_its_valid_neighbour(fake_api, example_scenario):
    api = fake_api(example_scenario, "--no-rate-limits")
    wrong = []
    for what, params, field in VALIDATION_CASES:
        response = get(api, "/events", ACME, params)
        if field is None:
            if response.status_code != 200:
                wrong.append(f"{what}: expected 200, got {response.status_code} {response.text}")
        elif response.status_code != 422 or field not in response.json().get("errors", {}):
            wrong.append(f"{what}: expected 422 naming {field}, got {response.status_code} {response.text}")
    assert wrong == []


def test_422_body_is_laravel_shaped(fake_api):
    api = fake_api()
    response = get(api, "/events", ACME, [("per_page", "10")])
    assert response.status_code == 422
    assert response.json() == {
        "message": "The start date field is required. (and 1 more error)",
        "errors": {"start_date": ["The start date field is required."],
                   "end_date": ["The end date field is required."]},
    }


# ---------------------------------------------------------------- rows and attribution (example.json)

FULL_DAYS = ("2026-02-15 00:00:00", "2026-03-31 23:59:59")
AD1 = {"source": "facebook_ads", "account_id": "1000000001", "campaign_id": "2000000001", "adset_id": "3000000001",
       "ad_id": "4000000001"}
AD2 = {"source": "instagram_ads", "account_id": "1000000001", "campaign_id": "2000000002", "adset_id": "3000000002",
       "ad_id": "4000000002"}

# Worked out by hand from example.json (times UTC):
#   contact 1: facebook ad 4000000001 03-01 14:00, google_ads 03-02 16:00; event 101 purchase 03-03 03:30
#   contact 2: instagram ad 4000000002 02-20 10:00, facebook ad 4000000001 03-02 18:00;
#              events 102 lead 03-02 19:00, 103 custom_event_3 03-04 15:00
#   contact 3: google_organic 03-02 12:00; event 104 purchase 03-02 13:00 (no paid touch: never returned for Meta)
# Window 7 ends 7 x 86400 s before the event: the instagram touch (02-20) is 10+ days before 102 and 103.
# last_touch credits 101 to google_ads (its latest touch), which is not a Meta source: 101 is dropped.
EXPECTED_ATTRIBUTION = {
    ("first_platform_touch", 7): {101: AD1, 102: AD1, 103: AD1},
    ("first_platform_touch", 0): {101: AD1, 102: AD2, 103: AD2},
    ("last_platform_touch", 7): {101: AD1, 102: AD1, 103: AD1},
    ("last_platform_touch", 0): {101: AD1, 102: AD1, 103: AD1},
    ("first_touch", 7): {101: AD1, 102: AD1, 103: AD1},
    ("first_touch", 0): {101: AD1, 102: AD2, 103: AD2},
    ("last_touch", 7): {102: AD1, 103: AD1},
    ("last_touch", 0): {102: AD1, 103: AD1},
    # 1 day: 101's facebook touch is 37.5 h old, 103's 45 h; only 102 (1 h) keeps its touch.
    ("first_platform_touch", 1): {102: AD1},
}


@pytest.mark.parametrize("model,window", sorted(EXPECTED_ATTRIBUTION))
def test_attribution_of_the_example_scenario(fake_api, model, window):
    api = fake_api()
    params = events_params(*FULL_DAYS, sources=META, attribution_model=model, attribution_window=window,
                           fields=["source", "account_id", "campaign_id", "adset_id", "ad_id"])
    rows = get(api, "/events", ACME, params).json()["data"]
    touchpoints = {row["id"]: {k: v for k, v in row.items() if k not in ("id", "event_time_utc")} for row in rows}
    assert touchpoints == EXPECTED_ATTRIBUTION[(model, window)]


def test_rows_carry_exactly_the_requested_fields(fake_api):
    api = fake_api()
    bare = get(api, "/events", ACME, events_params(*FULL_DAYS)).json()["data"]
    assert bare == [
        {"id": 104, "event_time_utc": "2026-03-02T13:00:00Z"},
        {"id": 103, "event_time_utc": "2026-03-04T15:00:00Z"},
        {"id": 102, "event_time_utc": "2026-03-02T19:00:00Z"},
        {"id": 101, "event_time_utc": "2026-03-03T03:30:00Z"},
    ]
    fields = ["event_name", "configured_name", "amount", "order_id", "profile_id"]
    rows = get(api, "/events", ACME, events_params(*FULL_DAYS, fields=fields)).json()["data"]
    assert rows[1] == {"id": 103, "event_time_utc": "2026-03-04T15:00:00Z", "event_name": "custom_event_3",
                       "configured_name": "Demo Booked", "amount": 0, "order_id": None, "profile_id": 2}
    assert rows[3] == {"id": 101, "event_time_utc": "2026-03-03T03:30:00Z", "event_name": "purchase",
                       "configured_name": "purchase", "amount": 89.5, "order_id": "A-1", "profile_id": 1}
    # Names come from the credited touch; the google touch has none.
    named = get(api, "/events", ACME, events_params(
        *FULL_DAYS, sources=["google_ads"], attribution_model="last_touch", attribution_window=0,
        fields=["source", "account_id", "campaign_id", "campaign_name", "ad_id", "ad_name", "event_name"],
    )).json()["data"]
    assert named == [{"id": 101, "event_time_utc": "2026-03-03T03:30:00Z", "source": "google_ads", "account_id": "7777",
                      "campaign_id": "g1", "campaign_name": None, "ad_id": "g111", "ad_name": None,
                      "event_name": "purchase"}]
    meta_named = get(api, "/events", ACME, events_params(
        *FULL_DAYS, sources=META, attribution_model="first_platform_touch", attribution_window=0,
        event_names=["purchase"], fields=["campaign_name", "ad_name", "adset_name"])).json()["data"]
    assert meta_named == [{"id": 101, "event_time_utc": "2026-03-03T03:30:00Z", "campaign_name": "Spring Sale",
                           "ad_name": "Carousel A", "adset_name": None}]


def test_event_names_filter(fake_api):
    api = fake_api()
    rows = get(api, "/events", ACME,
               events_params(*FULL_DAYS, event_names=["purchase", "custom_event_3"])).json()["data"]
    assert ids(rows) == [104, 103, 101]


def test_window_edge_and_ties(fake_api):
    # Event 1 is exactly 7 days after touch A (included), event 2 one second later (A is out).
    # Touches B and C share a time: ties go to the one listed first.
    scenario = {"cometly": {"spaces": [space(
        {1: [event(1, "2026-05-08T12:00:00Z"), event(2, "2026-05-08T12:00:01Z")],
         2: [event(3, "2026-05-02T00:00:00Z")]},
        {1: [touch("2026-05-01T12:00:00Z", "facebook_ads", "A")],
         2: [touch("2026-05-01T00:00:00Z", "instagram_ads", "C"), touch("2026-05-01T00:00:00Z", "facebook_ads", "B"),
             touch("2026-04-30T00:00:00Z", "direct")]},
    )]}}
    api = fake_api(scenario)

    def credited(model, window):
        params = events_params("2026-04-01 00:00:00", "2026-06-01 00:00:00", sources=META, attribution_model=model,
                               attribution_window=window, fields=["ad_id"])
        return {row["id"]: row["ad_id"] for row in get(api, "/events", "ck_t", params).json()["data"]}

    assert credited("first_platform_touch", 7) == {1: "A", 3: "C"}
    assert credited("last_platform_touch", 7) == {1: "A", 3: "C"}
    assert credited("first_platform_touch", 0) == {1: "A", 2: "A", 3: "C"}
    assert credited("first_touch", 0) == {1: "A", 2: "A"}  # event 3's first touch is direct


# ---------------------------------------------------------------- pagination

# Twelve events an hour apart, listed (and timed) in this id order; odd ids belong to
# contact 1 (a facebook touch before them all), even ids to contact 2 (organic only).
ORDER = [7, 3, 11, 1, 9, 5, 12, 2, 10, 4, 8, 6]


def paging_scenario() -> dict:
    contacts = {1: [], 2: []}
    for hour, event_id in enumerate(ORDER):
        contacts[2 - event_id % 2].append(event(event_id, f"2026-05-01T{hour:02d}:30:00Z"))
    return {"cometly": {"spaces": [space(contacts, {1: [touch("2026-04-30T00:00:00Z", "facebook_ads", "A")],
                                                    2: [touch("2026-04-30T00:00:00Z", "google_organic")]})]}}


PAGING_DAY = ("2026-04-30 00:00:00", "2026-05-01 23:59:59")


@pytest.mark.parametrize("per_page", [1, 2, 3, 4000])
def test_walking_the_cursor_visits_every_matching_event_once(fake_api, per_page):
    api = fake_api(paging_scenario(), "--no-rate-limits")
    everything = walk(api, events_params(*PAGING_DAY), per_page, "ck_t")
    assert [i for page in everything for i in ids(page)] == [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    assert all(len(page) == per_page for page in everything[:-1])
    meta = walk(api, events_params(*PAGING_DAY, sources=META, attribution_model="last_touch", attribution_window=0),
                per_page, "ck_t")
    assert [i for page in meta for i in ids(page)] == [11, 9, 7, 5, 3, 1]
    # 00:00 to 04:59:59 in New York (EDT) is 04:00Z to 08:59:59Z: the events at hours 4..8 of ORDER.
    window = walk(api, events_params("2026-05-01 00:00:00", "2026-05-01 04:59:59"), per_page, "ck_t")
    assert [i for page in window for i in ids(page)] == [12, 10, 9, 5, 2]


def test_envelope_full_last_page_and_urls_without_filters(fake_api):
    api = fake_api(paging_scenario(), "--no-rate-limits")
    filters = events_params(*PAGING_DAY, sources=META, attribution_model="last_touch", attribution_window=0)
    first = get(api, "/events", "ck_t", filters + [("per_page", "3")]).json()
    path = api.cometly_url + "/events"
    assert ids(first["data"]) == [11, 9, 7]
    assert (first["path"], first["per_page"], first["prev_cursor"], first["prev_page_url"]) == (path, 3, None, None)
    assert first["next_page_url"] == f"{path}?cursor={first['next_cursor']}"

    second = get(api, "/events", "ck_t", filters + [("per_page", "3"), ("cursor", first["next_cursor"])]).json()
    assert ids(second["data"]) == [5, 3, 1]
    assert second["next_cursor"] is None and second["next_page_url"] is None  # exactly full, yet the last
    assert second["prev_page_url"] == f"{path}?cursor={second['prev_cursor']}"
    back = get(api, "/events", "ck_t", filters + [("per_page", "3"), ("cursor", second["prev_cursor"])]).json()
    assert ids(back["data"]) == [11, 9, 7] and back["prev_cursor"] is None

    one_page = get(api, "/events", "ck_t", filters + [("per_page", "6")]).json()
    assert ids(one_page["data"]) == [11, 9, 7, 5, 3, 1] and one_page["next_cursor"] is None

    # Following next_page_url blindly loses the filters, as with the real API.
    blind = httpx.get(first["next_page_url"], headers={"Authorization": "Bearer ck_t"})
    assert blind.status_code == 422

    empty = get(api, "/events", "ck_t", events_params("2026-06-01 00:00:00", "2026-06-02 00:00:00"))
    assert empty.status_code == 200
    assert empty.json() == {"data": [], "path": path, "per_page": 200, "next_cursor": None, "next_page_url": None,
                            "prev_cursor": None, "prev_page_url": None}

    garbled = get(api, "/events", "ck_t", filters + [("per_page", "3"), ("cursor", "not-a-cursor")]).json()
    assert ids(garbled["data"]) == [11, 9, 7]  # Laravel reads a malformed cursor as none


# ---------------------------------------------------------------- time zones and DST


def dst_scenario() -> dict:
    # New York: 2026-11-01 is 25 h long (04:00Z to 04:59:59Z next day), 2026-03-08 is 23 h (05:00Z to 03:59:59Z).
    return {"cometly": {"spaces": [space({1: [
        event(1, "2026-11-01T03:59:59Z"),  # 10-31 23:59:59 EDT: the day before
        event(2, "2026-11-01T04:00:00Z"),  # 00:00:00 EDT: first second
        event(3, "2026-11-01T05:30:00Z"),  # 01:30 EDT, first time round
        event(4, "2026-11-01T06:30:00Z"),  # 01:30 EST, the repeated hour
        event(5, "2026-11-02T04:59:59Z"),  # 23:59:59 EST: last second
        event(6, "2026-11-02T05:00:00Z"),  # 11-02 00:00 EST: the day after
        event(11, "2026-03-08T04:59:59Z"),  # 03-07 23:59:59 EST
        event(12, "2026-03-08T05:00:00Z"),  # 00:00 EST
        event(13, "2026-03-08T07:30:00Z"),  # 03:30 EDT, just after the skipped hour
        event(14, "2026-03-09T03:59:59Z"),  # 23:59:59 EDT
        event(15, "2026-03-09T04:00:00Z"),  # 03-09 00:00 EDT
    ]})]}}


def test_a_dst_day_returns_exactly_its_events(fake_api):
    api = fake_api(dst_scenario(), "--no-rate-limits")

    def between(start, end):
        return sorted(ids(get(api, "/events", "ck_t", events_params(start, end)).json()["data"]))

    assert between("2026-11-01 00:00:00", "2026-11-01 23:59:59") == [2, 3, 4, 5]
    assert between("2026-03-08 00:00:00", "2026-03-08 23:59:59") == [12, 13, 14]
    # A repeated wall-clock time is read as its first occurrence (fold=0): 01:45 is 05:45Z, before event 4.
    assert between("2026-11-01 01:30:00", "2026-11-01 01:45:00") == [3]
    # A skipped one with the offset before the change: 02:30 is read as 07:30Z, and 03:30 EDT is 07:30Z too.
    assert between("2026-03-08 02:30:00", "2026-03-08 03:30:00") == [13]


# ---------------------------------------------------------------- GET /events/{id}


def test_get_event(fake_api):
    api = fake_api()
    response = get(api, "/events/103")
    assert response.status_code == 200
    assert response.json() == {
        "id": 103, "profile_id": 2, "company_id": None, "space_id": "space_acme", "event_name": "custom_event_3",
        "configured_name": "Demo Booked", "amount": 0, "is_upsell": False, "event_time_utc": "2026-03-04T15:00:00Z",
        "order_id": None, "order_name": None,
    }
    assert get(api, "/events/999").status_code == 404
    assert get(api, "/events/abc").status_code == 422
    assert response.headers["X-RateLimit-Limit"] == "30"


# ---------------------------------------------------------------- rate limits


def test_rate_limit_on_a_sped_up_clock(fake_api, example_scenario):
    example_scenario["cometly"]["spaces"].append(
        {"id": "space_b", "timezone": "UTC", "api_keys": [{"key": "ck_b", "status": "active"}]})
    api = fake_api(example_scenario, "--clock-speed", "20")  # a fake minute lasts 3 real seconds
    params = events_params(*FULL_DAYS)

    assert get(api, "/events", "ck_unknown", params).status_code == 401  # spends no quota
    remaining = []
    for n in range(7):
        # A 422 spends quota like any other call.
        response = get(api, "/events", ACME, params if n else [("per_page", "1")])
        assert response.status_code == (200 if n else 422)
        assert response.headers["X-RateLimit-Limit"] == "7"
        remaining.append(response.headers["X-RateLimit-Remaining"])
    assert remaining == ["6", "5", "4", "3", "2", "1", "0"]

    refused = get(api, "/events", ACME, params)
    assert refused.status_code == 429
    assert refused.json() == {"message": "Too Many Attempts."}
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 3  # real seconds, not fake ones
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert abs(int(refused.headers["X-RateLimit-Reset"]) - (time.time() + retry_after)) <= 2  # Unix time, real clock

    # Other endpoints and other Spaces have their own budgets.
    assert get(api, "/events/101").status_code == 200
    assert get(api, "/events", "ck_b", params).status_code == 200

    time.sleep(retry_after)
    again = get(api, "/events", ACME, params)
    assert again.status_code == 200
    assert again.headers["X-RateLimit-Remaining"] == "6"


def test_no_rate_limits_switch(fake_api):
    api = fake_api(paging_scenario(), "--no-rate-limits")
    statuses = {get(api, "/events", "ck_t", events_params(*PAGING_DAY)).status_code for _ in range(9)}
    assert statuses == {200}


# ---------------------------------------------------------------- exports


def poll(api, export_id: int) -> dict:
    response = get(api, f"/events/exports/{export_id}")
    assert response.status_code == 200, response.text
    return response.json()


def test_export_round_trip(fake_api):
    api = fake_api(dst_scenario(), "--no-rate-limits")
    # DST day in New York (25 h): the file has exactly the list endpoint's rows for that local day.
    created = post(api, "/events/exports", {"date": "2026-11-01", "fields": ["event_name"]}, key="ck_t")
    assert created.status_code == 202
    body = created.json()
    assert body["status"] == "queued" and isinstance(body["export_id"], int) and body["message"]

    export_id = body["export_id"]
    statuses = []
    for _ in range(3):
        status = get(api, f"/events/exports/{export_id}", "ck_t").json()
        statuses.append(status["status"])
        assert status["export_id"] == export_id and status["created_at"].endswith("Z")
        assert ("message" in status) == (status["status"] != "completed")
        assert ("download_url" in status) == (status["status"] == "completed")
    assert statuses == ["queued", "processing", "completed"]

    fake_now = datetime.strptime(FakeAdmin(api).request("GET", "clock").json()["now"], "%Y-%m-%dT%H:%M:%SZ")
    expires = datetime.strptime(status["expires_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs(expires - (fake_now + timedelta(minutes=15))) <= timedelta(seconds=5)
    assert status["download_url"].startswith(api.url + "/")

    file = httpx.get(status["download_url"])  # presigned: no Cometly auth
    assert file.status_code == 200 and "content-encoding" not in file.headers
    rows = [json.loads(line) for line in gzip.decompress(file.content).decode().splitlines()]
    assert sorted(ids(rows)) == [2, 3, 4, 5]
    listed = get(api, "/events", "ck_t", events_params("2026-11-01 00:00:00", "2026-11-01 23:59:59",
                                                        fields=["event_name"])).json()["data"]
    assert sorted(rows, key=lambda r: r["id"]) == sorted(listed, key=lambda r: r["id"])
    assert rows[0] == {"id": 5, "event_time_utc": "2026-11-02T04:59:59Z", "event_name": "purchase"}

    # After 15 minutes the URL has expired (S3's 403); a new poll signs a fresh one.
    FakeAdmin(api).request("POST", "clock", {"advance_seconds": 16 * 60})
    expired = httpx.get(status["download_url"])
    assert expired.status_code == 403
    assert "<Code>AccessDenied</Code>" in expired.text and "Request has expired" in expired.text
    fresh = get(api, f"/events/exports/{export_id}", "ck_t").json()
    assert fresh["download_url"] != status["download_url"]
    assert httpx.get(fresh["download_url"]).status_code == 200


def test_export_with_attribution_matches_the_hand_worked_rows(fake_api):
    api = fake_api()
    # New York 2026-03-02 runs 05:00Z to 04:59:59Z on 03-03: events 104, 102 and 101 (03-02 22:30 local).
    export_id = post(api, "/events/exports", {"date": "2026-03-02", "sources": META,
                                              "attribution_model": "first_platform_touch", "attribution_window": 0,
                                              "fields": ["ad_id", "amount"]}).json()["export_id"]
    for _ in range(3):
        status = poll(api, export_id)
    rows = [json.loads(line)
            for line in gzip.decompress(httpx.get(status["download_url"]).content).decode().splitlines()]
    assert rows == [
        {"id": 102, "event_time_utc": "2026-03-02T19:00:00Z", "ad_id": "4000000002", "amount": 0},
        {"id": 101, "event_time_utc": "2026-03-03T03:30:00Z", "ad_id": "4000000001", "amount": 89.5},
    ]


def test_export_validation_failure_and_unknown_ids(fake_api, example_scenario):
    example_scenario["cometly"]["spaces"].append(
        {"id": "space_b", "timezone": "UTC", "api_keys": [{"key": "ck_b", "status": "active"}]})
    api = fake_api(example_scenario, "--no-rate-limits")
    assert post(api, "/events/exports", {"date": "2026-03-02 00:00:00"}).status_code == 422
    assert post(api, "/events/exports", {"date": "2026-03-02", "end_date": "2026-03-03"}).status_code == 422
    assert post(api, "/events/exports", {}).json()["errors"] == {"date": ["The date field is required."]}
    assert post(api, "/events/exports", {"date": "2026-03-02", "event_names": "purchase"}).status_code == 422
    assert post(api, "/events/exports", {"date": "2026-03-02", "sources": ["facebook_ads"]}).status_code == 422

    assert FakeAdmin(api).request("POST", "cometly/exports/fail", {"next": 1}).status_code == 200
    doomed = post(api, "/events/exports", {"date": "2026-03-02"}).json()["export_id"]
    fine = post(api, "/events/exports", {"date": "2026-03-03"}).json()["export_id"]
    final = [poll(api, doomed) for _ in range(3)][-1]
    assert final["status"] == "failed" and final["message"] and "download_url" not in final
    assert [poll(api, fine) for _ in range(3)][-1]["status"] == "completed"

    assert get(api, "/events/exports/424242").status_code == 404
    assert get(api, f"/events/exports/{fine}", "ck_b").status_code == 404  # another Space's export


def test_export_progresses_on_the_fake_clock(fake_api):
    api = fake_api()
    export_id = post(api, "/events/exports", {"date": "2026-03-02"}).json()["export_id"]
    FakeAdmin(api).request("POST", "clock", {"advance_seconds": 3600})
    assert poll(api, export_id)["status"] == "completed"  # on its first poll, an hour later
