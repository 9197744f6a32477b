"""Seeded, deterministic worlds in scenario form (docs/scenarios.md), for the demo and benchmarks.

Each generated Space comes with its own Meta ad account in the same timezone.
Cometly touchpoints on facebook_ads/instagram_ads name that account's real
campaign, ad set and ad (ids and names) on a day the ad delivered; other touches
are Google/TikTok ads, organic, AI, email and direct traffic. Insights have one
row per ad and local day with delivery; a paused campaign stops delivering after
two thirds of the period, an archived one after a third.

Credentials are derived from the Space id (documented contract for the demo):
- the i-th Space (1-based) is `space_ids[i-1]`, or `space_<i>` by default;
- Cometly API keys: `ck_<space_id>` (active) and `ck_<space_id>_revoked` (revoked);
- its Meta ad account is `act_<1000000000 + i>`, named after the Space;
- Meta access tokens: `EAAB_<space_id>` (valid for that account) and
  `EAAB_<space_id>_expired` (expired).

The `demo` preset: Spaces demo_hobby, demo_pro, demo_ultra (one per plan) in
America/New_York, Europe/Berlin, Australia/Sydney; 4 campaigns x 2 ad sets x
3 ads per account; 3 labelled custom events; 150 events a day per Space from
2026-08-01 for 93 days (about 42,000 events, daylight-saving changes included).

Same options, same JSON, byte for byte: nothing depends on the clock or on hash order.
"""

from __future__ import annotations

import dataclasses
import random
import time
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cometly_elt.errors import UserError

DAY = 86400
TIMEZONES = ("America/New_York", "Europe/Berlin", "Australia/Sydney")
CAMPAIGN_NAMES = (
    "Spring Sale", "Retargeting - Site Visitors", "Prospecting - Lookalike", "Lead Magnet Q3",
    "Brand Awareness", "Black Friday Teaser", "Evergreen Conversions", "New Collection Launch",
)
ADSET_NAMES = ("Broad 25-54", "Lookalike 1%", "Interests - Fitness", "Website Visitors 30d", "Advantage+ Audience")
AD_NAMES = ("Carousel", "Video", "Static Image", "UGC Testimonial", "Collection")
OBJECTIVES = ("OUTCOME_SALES", "OUTCOME_LEADS", "OUTCOME_TRAFFIC")
CUSTOM_EVENT_LABELS = ("Demo Booked", "Qualified Lead", "Trial Activated", "Call Booked", "Quote Requested")
STANDARD_EVENT_WEIGHTS = {
    "purchase": 30, "add_to_cart": 20, "lead_generated": 18, "initiate_checkout": 10, "sign_up": 7,
}
CUSTOM_EVENTS_WEIGHT = 15
TOUCH_KINDS = {"meta": 55, "google_ads": 12, "organic": 12, "direct": 10, "email": 6, "tiktok_ads": 5}
ORGANIC_SOURCES = ("google_organic", "facebook_organic", "instagram_organic", "ai_chat_gpt", "referral")


@dataclass(frozen=True)
class WorldOptions:
    seed: int = 1
    spaces: int = 1
    space_ids: tuple[str, ...] = ()  # default space_1..space_N
    timezones: tuple[str, ...] = TIMEZONES  # used in turn
    start: str = "2026-08-01"
    days: int = 30
    events_per_day: int = 40  # per Space
    campaigns: int = 3  # per ad account
    adsets: int = 2  # per campaign
    ads: int = 2  # per ad set
    custom_events: int = 2  # labelled custom events per Space

    def space_id(self, index: int) -> str:
        return self.space_ids[index] if self.space_ids else f"space_{index + 1}"


PRESETS = {
    "demo": WorldOptions(
        seed=1, spaces=3, space_ids=("demo_hobby", "demo_pro", "demo_ultra"), start="2026-08-01", days=93,
        events_per_day=150, campaigns=4, adsets=2, ads=3, custom_events=3,
    ),
}

# The options a person may set (command-line flags and serve --generate specs): type and help.
OPTION_HELP = {
    "seed": (int, "random seed (same seed, same world)"),
    "spaces": (int, "number of Spaces, each with its own Meta ad account"),
    "space_ids": (str, "comma-separated Space ids (sets the number of Spaces)"),
    "timezones": (str, "comma-separated IANA timezones, used in turn"),
    "start": (str, "first local day, YYYY-MM-DD"),
    "days": (int, "number of days"),
    "events_per_day": (int, "conversion events per day per Space"),
    "campaigns": (int, "campaigns per ad account"),
    "adsets": (int, "ad sets per campaign"),
    "ads": (int, "ads per ad set"),
    "custom_events": (int, "labelled custom events per Space (at most 5)"),
}


def options_from_flags(preset: str | None, flags: dict) -> WorldOptions:
    """Options from a preset name (or the defaults) with typed overrides."""
    if preset is not None and preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}: expected one of {', '.join(PRESETS)}")
    options = PRESETS[preset] if preset else WorldOptions()
    changes = dict(flags)
    for key in ("space_ids", "timezones"):
        if key in changes:
            changes[key] = tuple(part.strip() for part in changes[key].split(",") if part.strip())
    if changes.get("space_ids"):
        changes["spaces"] = len(changes["space_ids"])
    elif "spaces" in changes:
        changes["space_ids"] = options.space_ids[:changes["spaces"]]  # a preset's ids, as far as they go
    options = dataclasses.replace(options, **changes)
    _check(options)
    return options


def options_from_spec(spec: str) -> WorldOptions:
    """`demo`, `days=30,spaces=2` or `demo,seed=7`: a preset and/or key=value options, comma-separated.

    List options take `;` between items here: `space_ids=a;b`.
    """
    preset, flags = None, {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        if "=" not in part:
            preset = part
            continue
        key, _, value = part.partition("=")
        key = key.strip().replace("-", "_")
        if key not in OPTION_HELP:
            raise UserError(f"unknown generator option {key!r}: expected one of {', '.join(OPTION_HELP)}")
        kind = OPTION_HELP[key][0]
        try:
            flags[key] = kind(value.strip().replace(";", ","))
        except ValueError:
            raise UserError(f"generator option {key}: expected a whole number, got {value!r}") from None
    return options_from_flags(preset, flags)


def _check(options: WorldOptions) -> None:
    for key in ("spaces", "days", "events_per_day", "campaigns", "adsets", "ads"):
        if getattr(options, key) < 1:
            raise UserError(f"generator option {key}: expected at least 1")
    if not 0 <= options.custom_events <= len(CUSTOM_EVENT_LABELS):
        raise UserError(f"generator option custom_events: expected 0 to {len(CUSTOM_EVENT_LABELS)}")
    if options.space_ids and len(options.space_ids) != options.spaces:
        raise UserError(f"generator options: {options.spaces} Spaces but {len(options.space_ids)} space_ids")
    if len(set(options.space_ids)) != len(options.space_ids):
        raise UserError("generator option space_ids: ids must differ")
    try:
        date.fromisoformat(options.start)
    except ValueError:
        raise UserError(f"generator option start: expected YYYY-MM-DD, got {options.start!r}") from None
    if not options.timezones:
        raise UserError("generator option timezones: expected at least one")
    for name in options.timezones:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise UserError(f"generator option timezones: unknown timezone {name!r}") from None


def generate_world(options: WorldOptions) -> dict:
    spaces, accounts, tokens = [], [], []
    for index in range(options.spaces):
        rng = random.Random(options.seed * 1000 + index)
        space_id = options.space_id(index)
        tz = ZoneInfo(options.timezones[index % len(options.timezones)])
        period = _Period(date.fromisoformat(options.start), options.days, tz)
        account, delivering = _ad_account(rng, options, index, space_id, period)
        accounts.append(account)
        tokens += [
            {"token": f"EAAB_{space_id}", "status": "valid", "ad_accounts": [account["id"]]},
            {"token": f"EAAB_{space_id}_expired", "status": "expired", "ad_accounts": [account["id"]]},
        ]
        spaces.append(_space(rng, options, space_id, period, account, delivering))
    return {"cometly": {"spaces": spaces}, "meta": {"access_tokens": tokens, "ad_accounts": accounts}}


def connections(world: dict) -> list[dict]:
    """For a generated world: each Space with the credentials the demo connects it with."""
    accounts = world.get("meta", {}).get("ad_accounts", [])
    result = []
    for index, space in enumerate(world.get("cometly", {}).get("spaces", [])):
        account = accounts[index]["id"] if index < len(accounts) else None
        result.append({
            "space_id": space["id"],
            "timezone": space["timezone"],
            "api_key": next((k["key"] for k in space.get("api_keys", []) if k["status"] == "active"), None),
            "ad_account": account,
            "access_token": next((t["token"] for t in world["meta"]["access_tokens"]
                                  if t["status"] == "valid" and account in t["ad_accounts"]), None),
        })
    return result


@dataclass(frozen=True)
class _Period:
    first_day: date
    days: int
    tz: ZoneInfo

    def midnight(self, day: int) -> int:
        """Unix seconds of local midnight starting day `day` (0 = the first day; may be outside the period)."""
        local = datetime.combine(self.first_day + timedelta(days=day), datetime.min.time(), tzinfo=self.tz)
        return int(local.timestamp())


def _utc(at: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


# ---------------------------------------------------------------- Meta: campaign tree and insights

def _ad_account(rng: random.Random, options: WorldOptions, index: int, space_id: str, period: _Period):
    """The account, and per local day the (campaign, ad set, ad) that delivered."""
    number = 1_000_000_000 + index + 1
    base = 120_200_000_000_000_000 + (index + 1) * 10**10
    campaigns, windows = [], []
    for c in range(options.campaigns):
        status, last_day = "ACTIVE", period.days - 1
        if options.campaigns >= 3 and c == options.campaigns - 1:
            status, last_day = "PAUSED", period.days * 2 // 3
        elif options.campaigns >= 4 and c == options.campaigns - 2:
            status, last_day = "ARCHIVED", period.days // 3
        campaign_id = base + (c + 1) * 10**6
        created = datetime.combine(period.first_day - timedelta(days=rng.randint(10, 60)),
                                   datetime.min.time(), tzinfo=period.tz) + timedelta(hours=rng.randint(8, 18))
        campaigns.append({
            "id": str(campaign_id),
            "name": _nth_name(CAMPAIGN_NAMES, c),
            "status": status,
            "objective": OBJECTIVES[c % len(OBJECTIVES)],
            "created_time": created.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "adsets": [
                {"id": str(campaign_id + (s + 1) * 1000), "name": ADSET_NAMES[s % len(ADSET_NAMES)], "status": "ACTIVE",
                 "ads": [{"id": str(campaign_id + (s + 1) * 1000 + a + 1),
                          "name": f"{AD_NAMES[a % len(AD_NAMES)]} {chr(ord('A') + a % 26)}", "status": "ACTIVE"}
                         for a in range(options.ads)]}
                for s in range(options.adsets)
            ],
        })
        windows.append(last_day)
    insights, delivering = [], [[] for _ in range(period.days)]
    for day in range(period.days):
        local_date = (period.first_day + timedelta(days=day)).isoformat()
        for campaign, last_day in zip(campaigns, windows):
            if day > last_day:
                continue
            for adset in campaign["adsets"]:
                for ad in adset["ads"]:
                    if rng.random() < 0.07:  # an ad without delivery that day has no row
                        continue
                    spend = rng.uniform(4, 90)
                    impressions = int(spend * rng.uniform(60, 140))
                    insights.append({"ad_id": ad["id"], "date": local_date, "spend": f"{spend:.2f}",
                                     "impressions": impressions, "clicks": int(impressions * rng.uniform(0.005, 0.03))})
                    delivering[day].append((campaign, adset, ad))
    account = {
        "id": f"act_{number}", "name": f"{space_id} ads", "currency": "USD", "timezone_name": period.tz.key,
        "account_status": 1, "campaigns": campaigns, "insights": insights,
    }
    return account, delivering


# ---------------------------------------------------------------- Cometly: people, touches, conversions

def _space(rng: random.Random, options: WorldOptions, space_id: str, period: _Period, account: dict,
           delivering: list[list]) -> dict:
    labels = {f"custom_event_{n + 1}": CUSTOM_EVENT_LABELS[n] for n in range(options.custom_events)}
    names = list(STANDARD_EVENT_WEIGHTS) + list(labels)
    weights = list(STANDARD_EVENT_WEIGHTS.values()) + [CUSTOM_EVENTS_WEIGHT / max(1, len(labels))] * len(labels)
    midnights = [period.midnight(day) for day in range(period.days + 1)]
    start, end = midnights[0], midnights[-1]
    account_ref = {"account_id": account["id"].removeprefix("act_"), "account_name": account["name"]}
    contacts, events = [], []
    target = options.days * options.events_per_day
    while len(events) < target:
        first_touch = period.midnight(rng.randrange(-7, period.days)) + rng.randrange(DAY)
        touches, touch_times = _touches(rng, first_touch, midnights, delivering, account_ref)
        own = [e for e in _conversions(rng, touch_times, names, weights) if start <= e["at"] < end]
        if not own:
            continue
        contacts.append({"id": len(contacts) + 1, "touchpoints": touches, "events": own})
        events += own
    # Ids grow with time, as a database's would.
    events.sort(key=lambda e: e["at"])
    for number, event in enumerate(events, start=100_001):
        event["id"] = number
        event["time_utc"] = _utc(event.pop("at"))
        if event["event_name"] == "purchase":
            event["order_id"] = f"{space_id}-{number}"
    for contact in contacts:
        contact["events"] = [{key: e[key] for key in ("id", "event_name", "time_utc", "amount", "order_id") if key in e}
                             for e in contact["events"]]
    return {
        "id": space_id,
        "timezone": period.tz.key,
        "subscription_active": True,
        "api_keys": [{"key": f"ck_{space_id}", "status": "active"},
                     {"key": f"ck_{space_id}_revoked", "status": "revoked"}],
        "custom_events": labels,
        "contacts": contacts,
    }


def _touches(rng, at: int, midnights: list[int], delivering: list[list],
             account_ref: dict) -> tuple[list[dict], list[int]]:
    """A person's touches from `at` on, and their times (Unix seconds)."""
    touches, times = [], []
    for _ in range(rng.choices((1, 2, 3, 4), (45, 30, 15, 10))[0]):
        kind = rng.choices(list(TOUCH_KINDS), list(TOUCH_KINDS.values()))[0]
        day = bisect_right(midnights, at) - 1  # the local day, if inside the period
        if kind == "meta" and 0 <= day < len(delivering) and delivering[day]:
            campaign, adset, ad = rng.choice(delivering[day])
            touch = {"source": rng.choices(("facebook_ads", "instagram_ads"), (3, 1))[0], **account_ref,
                     "campaign_id": campaign["id"], "campaign_name": campaign["name"],
                     "adset_id": adset["id"], "adset_name": adset["name"], "ad_id": ad["id"], "ad_name": ad["name"]}
        elif kind in ("google_ads", "tiktok_ads"):
            n = rng.randint(1, 2)
            platform = "Google" if kind == "google_ads" else "TikTok"
            touch = {"source": kind, "account_id": "5550001" if kind == "google_ads" else "7770001",
                     "campaign_id": f"{kind[0]}{n}", "campaign_name": f"{platform} campaign {n}",
                     "adset_id": f"{kind[0]}{n}1", "ad_id": f"{kind[0]}{n}11"}
        else:
            source = {"direct": "direct", "email": "email"}.get(kind) or rng.choice(ORGANIC_SOURCES)
            touch = {"source": source, "account_id": "", "campaign_id": "", "adset_id": "", "ad_id": ""}
        touches.append({"time_utc": _utc(at), **touch})
        times.append(at)
        at += int(rng.expovariate(1 / (1.5 * DAY))) + 60
    return touches, times


def _conversions(rng, touch_times: list[int], names: list[str], weights: list[float]) -> list[dict]:
    events = []
    for _ in range(rng.choices((1, 2, 3), (70, 22, 8))[0]):
        if rng.random() < 0.08:  # converted before any tracked touch: not attributable
            at = touch_times[0] - rng.randrange(60, 5 * DAY)
        else:
            at = rng.choice(touch_times) + int(rng.expovariate(1 / (0.7 * DAY))) + 60
        name = rng.choices(names, weights)[0]
        event = {"event_name": name, "at": at}
        if name == "purchase":
            event["amount"] = round(rng.uniform(19, 249), 2)
        events.append(event)
    return events


def _nth_name(names: tuple[str, ...], n: int) -> str:
    """names[n], numbered once the list runs out (so names stay distinct)."""
    name = names[n % len(names)]
    return name if n < len(names) else f"{name} {n // len(names) + 1}"
