"""The fake Cometly public API: events, attribution, cursor pages, exports, rate limits.

It serves the `cometly` section of a scenario (shared/scenarios/FORMAT.md) the way
shared/reference/cometly-api.md §10 says the real service behaves: a Laravel
application (Bearer auth, 422 validation bodies with an `errors` map, cursor
paginator, throttle headers). Checks run in the documented order: authentication
(401/403 spend no quota), then the rate limit, then validation (422 spends quota).

Mounted by the server under `/public-api/v1`; the export files are served by the
same service at `/_s3/<token>.ndjson.gz` (the real ones come from presigned S3 URLs).

Export timing: a job is done `EXPORT_DONE_AFTER` (fake time) after its creation or on its
3rd status poll, whichever comes first, so that tests need not wait. A process serving the
fake may set `EXPORT_DONE_AFTER` and `EXPORTS_DONE_BY_POLLS = False` before creating the app
to time exports as the real service does, by its clock alone (bench/bench_backfill.py does).
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import re
import secrets
import time
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Iterator
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cometly_elt.fake.context import FakeContext

# ---------------------------------------------------------------- vocabulary (reference §6)

STANDARD_EVENTS = (
    "add_payment_info", "add_to_cart", "complete_registration", "contact", "initiate_checkout",
    "lead_generated", "purchase", "schedule", "sign_up", "start_trial", "submit_application",
    "subscribe", "upsell_purchase", "view_content", "webinar_registration",
)
CUSTOM_EVENTS = tuple(f"custom_event_{n}" for n in range(1, 51))
EVENT_NAMES = frozenset(STANDARD_EVENTS + CUSTOM_EVENTS)

PAID_SOURCES = (
    "facebook_ads", "google_ads", "linkedin_ads", "tiktok_ads", "youtube_ads", "instagram_ads",
    "bing_ads", "yahoo_ads", "pinterest_ads", "reddit_ads", "snapchat_ads", "telegram_ads",
    "twitch_ads", "x_ads", "quora_ads", "duckduckgo_ads",
)
SOURCES = frozenset(PAID_SOURCES + (
    "facebook_organic", "google_organic", "linkedin_organic", "tiktok_organic", "youtube_organic",
    "instagram_organic", "bing_organic", "yahoo_organic", "pinterest_organic", "reddit_organic",
    "snapchat_organic", "telegram_organic", "twitch_organic", "x_organic", "quora_organic",
    "duckduckgo_organic", "messenger_organic", "brave_organic", "threads_organic",
    "ai_chat_gpt", "ai_perplexity", "ai_copilot", "ai_claude", "ai_grok", "ai_gemini", "ai_deepseek",
    "email", "sms", "referral", "direct", "shop_app", "substack", "capterra", "trustpilot", "g2", "yelp",
))
ATTRIBUTION_MODELS = (
    "first_touch", "last_touch", "linear", "first_platform_touch", "last_platform_touch",
    "linear_paid", "u_shaped", "last_non_direct_touch",
)
ATTRIBUTION_WINDOWS = (0, 1, 7, 14, 30, 60, 90)
QUERY_MODES = ("profile", "company")

TOUCH_NAME_FIELDS = ("account_name", "campaign_name", "adset_name", "ad_name")
TOUCH_ID_FIELDS = ("account_id", "campaign_id", "adset_id", "ad_id")
TOUCHPOINT_FIELDS = ("source",) + TOUCH_ID_FIELDS + TOUCH_NAME_FIELDS
# The event's own fields, in GET /events/{id}'s order. company_id and order_name are
# documented but scenarios have no such thing, so they are null.
EVENT_VALUES: dict[str, Callable[[Space, Event], Any]] = {
    "id": lambda s, e: e.id,
    "profile_id": lambda s, e: e.contact_id,
    "company_id": lambda s, e: None,
    "space_id": lambda s, e: s.id,
    "event_name": lambda s, e: e.name,
    "configured_name": lambda s, e: s.label(e.name),
    "amount": lambda s, e: e.amount,
    "is_upsell": lambda s, e: e.name == "upsell_purchase",
    "event_time_utc": lambda s, e: e.time_utc,
    "order_id": lambda s, e: e.order_id,
    "order_name": lambda s, e: None,
}
SELECTABLE_FIELDS = frozenset(EVENT_VALUES) | frozenset(TOUCHPOINT_FIELDS)

# Per Space, per endpoint, per minute (reference §3.2; get_event is 30 per its own page, 7 per the MCP page).
RATE_LIMITS = {"list_events": 7, "get_event": 30, "create_export": 5, "export_status": 30}
RATE_WINDOW_SECONDS = 60

PER_PAGE_DEFAULT, PER_PAGE_MAX = 200, 4000
EXPORT_URL_LIFETIME = timedelta(minutes=15)
# An export is queued, then processing, then done after this much fake time, or on
# the 3rd status poll, whichever comes first (so that tests need not wait).
EXPORT_PROCESSING_AFTER = timedelta(seconds=10)
EXPORT_DONE_AFTER = timedelta(seconds=60)
# A real export is done when Cometly has processed it (reference §7.4: about 3.5 minutes in the
# docs' example), however often it is polled: False keeps the fake to its clock alone.
EXPORTS_DONE_BY_POLLS = True
EXPORT_STAGES = ("queued", "processing", "done")
EXPORT_MESSAGES = {
    "queued": "Export is queued. Please check back in a few minutes.",
    "processing": "Export is being processed. Please check back in a few minutes.",
    "failed": "Export failed. Please create a new export.",
}

UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
LOCAL_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
LOCAL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DAY_SECONDS = 86400


def utc_seconds(text: str) -> int:
    """`YYYY-MM-DDTHH:MM:SSZ` as Unix seconds."""
    return int(datetime.fromisoformat(text).timestamp())  # much faster than strptime, and reads the Z


def iso_utc(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime(UTC_FORMAT)


# ---------------------------------------------------------------- the world

@dataclass(frozen=True)
class Touch:
    at: int
    source: str
    paid: bool
    fields: dict[str, Any]  # the row's touchpoint fields: source, ids, names (None when unnamed)


@dataclass(frozen=True)
class Event:
    id: int
    contact_id: int
    name: str
    at: int
    time_utc: str
    amount: int | float
    order_id: str | None
    # The contact's touches in time order (ties in listed order), shared by its events.
    touches: tuple[Touch, ...]
    touch_times: tuple[int, ...]


@dataclass
class Space:
    id: str
    tz: ZoneInfo
    subscription_active: bool
    labels: dict[str, str]
    by_time: list[Event]  # sorted by (time, id)
    times: list[int]
    by_id: dict[int, Event]

    def label(self, event_name: str) -> str:
        return self.labels.get(event_name, event_name)

    def in_range(self, start: int, end: int) -> list[Event]:
        """Events with start <= time <= end (Unix seconds, both inclusive)."""
        return self.by_time[bisect_left(self.times, start):bisect_right(self.times, end)]

    def local_seconds(self, local: datetime) -> int:
        # zoneinfo's fold=0 reads a skipped or repeated wall-clock time as PHP/Carbon does (reference §5).
        return int(local.replace(tzinfo=self.tz, fold=0).timestamp())


@dataclass
class ApiKey:
    space: Space
    status: str  # active | revoked


def build_space(spec: dict) -> Space:
    events: list[Event] = []
    for contact in spec.get("contacts", []):
        touches = tuple(sorted((_touch(t) for t in contact.get("touchpoints", [])), key=lambda t: t.at))
        touch_times = tuple(t.at for t in touches)
        for e in contact.get("events", []):
            events.append(Event(
                id=e["id"], contact_id=contact["id"], name=e["event_name"], at=utc_seconds(e["time_utc"]),
                time_utc=e["time_utc"], amount=e.get("amount", 0), order_id=e.get("order_id"),
                touches=touches, touch_times=touch_times,
            ))
    events.sort(key=lambda e: (e.at, e.id))
    return Space(
        id=spec["id"], tz=ZoneInfo(spec["timezone"]), subscription_active=spec.get("subscription_active", True),
        labels=dict(spec.get("custom_events", {})), by_time=events, times=[e.at for e in events],
        by_id={e.id: e for e in events},
    )


def _touch(spec: dict) -> Touch:
    fields = {"source": spec["source"]}
    fields.update({key: spec.get(key) for key in TOUCH_ID_FIELDS + TOUCH_NAME_FIELDS})
    return Touch(at=utc_seconds(spec["time_utc"]), source=spec["source"], paid=spec["source"].endswith("_ads"), fields=fields)


# ---------------------------------------------------------------- attribution (FORMAT.md)

def _earliest(touches: Iterator[Touch]) -> Touch | None:
    return next(touches, None)


def _latest(touches: Iterator[Touch]) -> Touch | None:
    """The latest touch; among touches at the same time, the one listed first."""
    best = None
    for touch in touches:
        if best is None or touch.at > best.at:
            best = touch
    return best


# Each model picks the credited touch among the candidates (in time order) for sources S.
# The event is returned only if the credited touch's source is in S.
_MODELS: dict[str, Callable[[tuple[Touch, ...], frozenset[str]], Touch | None]] = {
    "first_platform_touch": lambda c, s: _earliest(t for t in c if t.paid and t.source in s),
    "last_platform_touch": lambda c, s: _latest(t for t in c if t.paid and t.source in s),
    "first_touch": lambda c, s: _earliest(iter(c)),
    "last_touch": lambda c, s: _latest(iter(c)),
    # Unverified conventions (reference §11.2: the real rule for these is not published):
    # last_non_direct_touch credits the latest candidate that is not `direct`; the
    # multi-touch models give one row per event when any candidate (paid only for
    # linear_paid) has a source in S, with the touchpoint fields of the latest such one.
    "last_non_direct_touch": lambda c, s: _latest(t for t in c if t.source != "direct"),
    "linear": lambda c, s: _latest(t for t in c if t.source in s),
    "u_shaped": lambda c, s: _latest(t for t in c if t.source in s),
    "linear_paid": lambda c, s: _latest(t for t in c if t.paid and t.source in s),
}


@dataclass(frozen=True)
class Attribution:
    sources: frozenset[str]
    model: str
    window_days: int  # 0 = lifetime

    def credit(self, event: Event) -> Touch | None:
        hi = bisect_right(event.touch_times, event.at)
        lo = 0 if self.window_days == 0 else bisect_left(event.touch_times, event.at - self.window_days * DAY_SECONDS)
        touch = _MODELS[self.model](event.touches[lo:hi], self.sources)
        return touch if touch is not None and touch.source in self.sources else None


@dataclass(frozen=True)
class EventQuery:
    """What GET /events and an export select: a UTC range (inclusive), names, attribution, fields."""

    start: int
    end: int
    event_names: frozenset[str] | None
    attribution: Attribution | None
    fields: tuple[str, ...]  # extra fields asked for, beyond id and event_time_utc

    def match(self, event: Event) -> tuple[bool, Touch | None]:
        if self.event_names is not None and event.name not in self.event_names:
            return False, None
        if self.attribution is None:
            return True, None
        touch = self.attribution.credit(event)
        return touch is not None, touch

    def row(self, space: Space, event: Event, touch: Touch | None) -> dict:
        row = {"id": event.id, "event_time_utc": event.time_utc}
        for name in self.fields:
            row[name] = touch.fields[name] if name in TOUCHPOINT_FIELDS else EVENT_VALUES[name](space, event)
        return row


def event_object(space: Space, event: Event) -> dict:
    """GET /events/{id}: the bare event object (reference §7.2)."""
    return {name: value(space, event) for name, value in EVENT_VALUES.items()}


# ---------------------------------------------------------------- request validation (Laravel-style 422)

class ApiError(Exception):
    def __init__(self, status: int, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return JSONResponse(body, status_code=self.status)


class _Validation:
    """Collects messages per field like Laravel's validator, then raises one 422."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def fail(self, key: str, message: str) -> None:
        self.errors.setdefault(key, []).append(message)

    def check(self) -> None:
        messages = [m for ms in self.errors.values() for m in ms]
        if messages:
            more = len(messages) - 1
            suffix = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
            raise ApiError(422, messages[0] + suffix, self.errors)


def _label(key: str) -> str:
    return key.replace("_", " ")


def laravel_query(query_string: str) -> dict[str, Any]:
    """Query parameters as PHP reads them: `x[]=a&x[]=b` and `x[0]=a` are lists, `x=a` a string."""
    params: dict[str, Any] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        match = re.fullmatch(r"([^\[\]]+)\[([^\[\]]*)\]", name)
        if match is None:
            params[name] = value
            continue
        base, index = match.groups()
        items = params.get(base)
        if not isinstance(items, dict):
            items = params[base] = {}
        items[index if index else f"\0{len(items)}"] = value
    return {k: list(v.values()) if isinstance(v, dict) else v for k, v in params.items()}


def _blank(value: Any) -> bool:
    # Laravel turns empty strings into null before validating.
    return value is None or value == ""


def _integer(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        return int(value)
    return None


def _local_datetime(v: _Validation, params: dict, key: str) -> datetime | None:
    value = params.get(key)
    if _blank(value):
        v.fail(key, f"The {_label(key)} field is required.")
        return None
    try:
        if isinstance(value, str) and LOCAL_DATETIME.fullmatch(value):
            return datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        pass
    v.fail(key, f"The {_label(key)} field must match the format Y-m-d H:i:s.")
    return None


def _name_list(v: _Validation, params: dict, key: str, allowed: frozenset[str], most: int | None = None) -> list[str] | None:
    """An array of names from `allowed`: 1 to `most` of them, without duplicates when `most` is set."""
    if key not in params:
        return None
    value = params[key]
    if not isinstance(value, list):
        v.fail(key, f"The {_label(key)} field must be an array.")
        return None
    if not value:
        v.fail(key, f"The {_label(key)} field must have at least 1 items.")
    if most is not None and len(value) > most:
        v.fail(key, f"The {_label(key)} field must not have more than {most} items.")
    for i, item in enumerate(value):
        if not isinstance(item, str) or item not in allowed:
            v.fail(f"{key}.{i}", f"The selected {key}.{i} is invalid.")
        elif most is not None and item in value[:i]:
            v.fail(f"{key}.{i}", f"The {key}.{i} field has a duplicate value.")
    return value


def _filters(v: _Validation, params: dict) -> tuple[frozenset | None, Attribution | None, tuple[str, ...]]:
    """The parameters GET /events and POST /events/exports share."""
    mode = params.get("query_mode")  # scenarios have no companies: both modes list the same events
    if not _blank(mode) and mode not in QUERY_MODES:
        v.fail("query_mode", "The selected query mode is invalid.")
    names = _name_list(v, params, "event_names", EVENT_NAMES, 10)
    sources = _name_list(v, params, "sources", SOURCES, 15)
    model, window = params.get("attribution_model"), params.get("attribution_window")
    if _blank(model):
        if sources is not None:
            v.fail("attribution_model", "The attribution model field is required when sources is present.")
    elif model not in ATTRIBUTION_MODELS:
        v.fail("attribution_model", "The selected attribution model is invalid.")
    if _blank(window):
        if sources is not None:
            v.fail("attribution_window", "The attribution window field is required when sources is present.")
    elif _integer(window) is None:
        v.fail("attribution_window", "The attribution window field must be an integer.")
    elif _integer(window) not in ATTRIBUTION_WINDOWS:
        v.fail("attribution_window", "The selected attribution window is invalid.")
    fields = _name_list(v, params, "fields", SELECTABLE_FIELDS) or []
    for i, name in enumerate(fields):
        if name in TOUCHPOINT_FIELDS and sources is None:
            v.fail(f"fields.{i}", f"The fields.{i} field is prohibited unless sources is present.")
    # Attribution settings without sources are ignored (reference §10.9, the configurable default).
    attribution = None
    if sources is not None and not v.errors:
        attribution = Attribution(frozenset(sources), model, _integer(window))
    extra = tuple(dict.fromkeys(f for f in fields if f not in ("id", "event_time_utc")))
    return (frozenset(names) if names is not None else None), attribution, extra


def parse_list_request(params: dict, space: Space) -> tuple[EventQuery, int, str | None]:
    v = _Validation()
    start = _local_datetime(v, params, "start_date")
    end = _local_datetime(v, params, "end_date")
    if start and end and end <= start:
        v.fail("end_date", "The end date field must be a date after start date.")
    names, attribution, fields = _filters(v, params)
    per_page = PER_PAGE_DEFAULT
    if not _blank(params.get("per_page")):
        per_page = _integer(params["per_page"])
        if per_page is None:
            v.fail("per_page", "The per page field must be an integer.")
        elif not 1 <= per_page <= PER_PAGE_MAX:
            v.fail("per_page", f"The per page field must be between 1 and {PER_PAGE_MAX}.")
    cursor = params.get("cursor")
    v.check()
    query = EventQuery(space.local_seconds(start), space.local_seconds(end), names, attribution, fields)
    return query, per_page, cursor if isinstance(cursor, str) else None


def parse_export_request(body: dict, space: Space) -> EventQuery:
    v = _Validation()
    day = None
    value = body.get("date")
    if _blank(value):
        v.fail("date", "The date field is required.")
    else:
        try:
            if isinstance(value, str) and LOCAL_DATE.fullmatch(value):
                day = datetime.strptime(value, "%Y-%m-%d")
        except ValueError:
            pass
        if day is None:
            v.fail("date", "The date field must match the format Y-m-d.")
    for key in ("start_date", "end_date"):
        if key in body:  # one local day per export, never a range (reference §7.3)
            v.fail(key, f"The {_label(key)} field is prohibited.")
    names, attribution, fields = _filters(v, body)
    v.check()
    last_second = day + timedelta(hours=23, minutes=59, seconds=59)
    return EventQuery(space.local_seconds(day), space.local_seconds(last_second), names, attribution, fields)


# ---------------------------------------------------------------- cursor pages (Laravel's CursorPaginator)

def encode_cursor(event_id: int, points_to_next: bool) -> str:
    raw = json.dumps({"id": event_id, "_pointsToNextItems": points_to_next}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str | None) -> tuple[int, bool] | None:
    """(id, points_to_next), or None for no cursor; Laravel ignores a malformed cursor (first page)."""
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        event_id, forward = data["id"], data["_pointsToNextItems"]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(event_id, int) or not isinstance(forward, bool):
        return None
    return event_id, forward


def cursor_page(space: Space, query: EventQuery, per_page: int, cursor: str | None, path: str) -> dict:
    """One page in id-descending order, peeking one row past it to know whether more follow."""
    position = decode_cursor(cursor)
    events = space.in_range(query.start, query.end)
    if position is None:
        ordered = sorted(events, key=lambda e: e.id, reverse=True)
    elif position[1]:
        ordered = sorted((e for e in events if e.id < position[0]), key=lambda e: e.id, reverse=True)
    else:
        ordered = sorted((e for e in events if e.id > position[0]), key=lambda e: e.id)
    hits: list[tuple[Event, Touch | None]] = []
    for event in ordered:
        matched, touch = query.match(event)
        if matched:
            hits.append((event, touch))
            if len(hits) > per_page:
                break
    has_more = len(hits) > per_page
    hits = hits[:per_page]
    backwards = position is not None and not position[1]
    if backwards:
        hits.reverse()
    next_cursor = prev_cursor = None
    if hits:
        if has_more or backwards:
            next_cursor = encode_cursor(hits[-1][0].id, True)
        if position is not None and (has_more or not backwards):
            prev_cursor = encode_cursor(hits[0][0].id, False)
    return {
        "data": [query.row(space, e, t) for e, t in hits],
        "path": path,
        "per_page": per_page,
        # Like Laravel, the page URLs carry only the cursor: clients must re-send their filters.
        "next_cursor": next_cursor,
        "next_page_url": f"{path}?cursor={next_cursor}" if next_cursor else None,
        "prev_cursor": prev_cursor,
        "prev_page_url": f"{path}?cursor={prev_cursor}" if prev_cursor else None,
    }


def all_rows(space: Space, query: EventQuery) -> list[dict]:
    """Every matching row, in the list endpoint's order."""
    rows = []
    for event in sorted(space.in_range(query.start, query.end), key=lambda e: e.id, reverse=True):
        matched, touch = query.match(event)
        if matched:
            rows.append(query.row(space, event, touch))
    return rows


# ---------------------------------------------------------------- rate limits (Laravel throttle: fixed window from the first hit)

@dataclass
class _Window:
    opened: datetime
    hits: int = 0


class RateLimiter:
    def __init__(self, ctx: FakeContext):
        self.ctx = ctx
        self._windows: dict[tuple[str, str], _Window] = {}

    def hit(self, space_id: str, endpoint: str) -> tuple[bool, dict[str, str]]:
        """(allowed, headers): counts the call unless it is refused."""
        limit, now = RATE_LIMITS[endpoint], self.ctx.clock.now()
        window = self._windows.get((space_id, endpoint))
        if window is None or (now - window.opened).total_seconds() >= RATE_WINDOW_SECONDS:
            window = self._windows[(space_id, endpoint)] = _Window(now)
        if self.ctx.rate_limits and window.hits >= limit:
            # Clients sleep in real seconds: say how long the rest of the fake window really lasts.
            left = RATE_WINDOW_SECONDS - (now - window.opened).total_seconds()
            retry_after = max(1, math.ceil(self.ctx.clock.real_seconds(left)))
            return False, {
                "X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0",
                "Retry-After": str(retry_after), "X-RateLimit-Reset": str(int(time.time()) + retry_after),
            }
        window.hits += 1
        return True, {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(max(0, limit - window.hits))}


# ---------------------------------------------------------------- exports

@dataclass
class Export:
    id: int
    space: Space
    query: EventQuery
    created_at: datetime
    doomed: bool  # forced to end as `failed`
    polls: int = 0
    completed_at: datetime | None = None

    def poll(self, now: datetime) -> str:
        self.polls += 1
        elapsed = now - self.created_at
        by_time = 2 if elapsed >= EXPORT_DONE_AFTER else 1 if elapsed >= EXPORT_PROCESSING_AFTER else 0
        by_polls = min(self.polls - 1, 2) if EXPORTS_DONE_BY_POLLS else 0
        stage = EXPORT_STAGES[max(by_time, by_polls)]
        if stage != "done":
            return stage
        if self.doomed:
            return "failed"
        self.completed_at = self.completed_at or now
        return "completed"


@dataclass
class _Download:
    export: Export
    expires_at: datetime


_EXPIRED_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>{message}</Message>'
    "<X-Amz-Expires>900</X-Amz-Expires><Expires>{expires}</Expires><ServerTime>{now}</ServerTime>"
    "<RequestId>{request_id}</RequestId><HostId>{host_id}</HostId></Error>"
)


# ---------------------------------------------------------------- the service

Handler = Callable[[Request, Space], Awaitable[Response]]


@dataclass
class CometlyService:
    """The Spaces, keys and export jobs of one fake Cometly, and its HTTP endpoints."""

    ctx: FakeContext
    spaces: dict[str, Space]
    keys: dict[str, ApiKey]
    limiter: RateLimiter
    exports: dict[int, Export] = field(default_factory=dict)
    downloads: dict[str, _Download] = field(default_factory=dict)
    exports_to_fail: int = 0
    next_export_id: int = 90001

    @classmethod
    def from_section(cls, section: dict, ctx: FakeContext) -> CometlyService:
        spaces, keys = {}, {}
        for spec in section.get("spaces", []):
            space = spaces[spec["id"]] = build_space(spec)
            for key in spec.get("api_keys", []):
                keys[key["key"]] = ApiKey(space, key["status"])
        return cls(ctx=ctx, spaces=spaces, keys=keys, limiter=RateLimiter(ctx))

    # -- checks every endpoint makes, in the documented order

    def authenticate(self, request: Request) -> Space:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        key = self.keys.get(token.strip()) if scheme.lower() == "bearer" else None
        if key is None or key.status != "active":
            raise ApiError(401, "Unauthenticated.")
        if not key.space.subscription_active:
            raise ApiError(403, "Your Cometly subscription is inactive.")
        return key.space

    def endpoint(self, name: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            try:
                space = self.authenticate(request)
            except ApiError as err:
                return err.response()
            allowed, headers = self.limiter.hit(space.id, name)
            if not allowed:
                response = JSONResponse({"message": "Too Many Attempts."}, status_code=429)
            else:
                try:
                    response = await handler(request, space)
                except ApiError as err:
                    response = err.response()
            response.headers.update(headers)
            return response

        return serve

    # -- endpoints

    async def list_events(self, request: Request, space: Space) -> Response:
        query, per_page, cursor = parse_list_request(laravel_query(request.url.query), space)
        return JSONResponse(cursor_page(space, query, per_page, cursor, str(request.url.replace(query=""))))

    async def get_event(self, request: Request, space: Space) -> Response:
        event_id = request.path_params["event_id"]
        if not event_id.isdigit():
            raise ApiError(422, "Invalid event ID provided.", {"event_id": ["Invalid event ID provided."]})
        event = space.by_id.get(int(event_id))
        if event is None:
            raise ApiError(404, "Event not found.")
        return JSONResponse(event_object(space, event))

    async def create_export(self, request: Request, space: Space) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = {}  # Laravel reads an unparsable JSON body as no input
        query = parse_export_request(body if isinstance(body, dict) else {}, space)
        export = Export(self.next_export_id, space, query, self.ctx.clock.now(), doomed=self.exports_to_fail > 0)
        self.exports_to_fail = max(0, self.exports_to_fail - 1)
        self.exports[export.id] = export
        self.next_export_id += 1
        return JSONResponse(
            {"export_id": export.id, "status": "queued", "message": "Export queued. Poll its status until it completes."},
            status_code=202,
        )

    async def export_status(self, request: Request, space: Space) -> Response:
        export_id = request.path_params["export_id"]
        export = self.exports.get(int(export_id)) if export_id.isdigit() else None
        if export is None or export.space is not space:
            raise ApiError(404, "Export not found.")
        now = self.ctx.clock.now()
        status = export.poll(now)
        body: dict[str, Any] = {"export_id": export.id, "status": status, "created_at": iso_utc(export.created_at)}
        if status == "completed":
            token = secrets.token_urlsafe(24)
            download = self.downloads[token] = _Download(export, now + EXPORT_URL_LIFETIME)
            body.update(
                completed_at=iso_utc(export.completed_at),
                download_url=f"{request.base_url}_s3/{token}.ndjson.gz",
                expires_at=iso_utc(download.expires_at),
            )
        else:
            body["message"] = EXPORT_MESSAGES[status]
        return JSONResponse(body)

    async def download(self, request: Request) -> Response:
        """The presigned-URL stand-in: gzip NDJSON, no Cometly auth, S3's 403 once expired."""
        download = self.downloads.get(request.path_params["token"])
        now = self.ctx.clock.now()
        if download is None or now > download.expires_at:
            message = "Request has expired" if download else "Access Denied"
            xml = _EXPIRED_XML.format(
                message=message, expires=iso_utc(download.expires_at) if download else "", now=iso_utc(now),
                request_id=secrets.token_hex(8).upper(), host_id=secrets.token_urlsafe(32),
            )
            return Response(xml, status_code=403, media_type="application/xml")
        export = download.export
        lines = "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in all_rows(export.space, export.query))
        return Response(gzip.compress(lines.encode(), mtime=0), media_type="application/gzip")

    # -- what the admin endpoints and the call log need

    def space_for_key(self, authorization: str) -> str | None:
        key = self.keys.get(authorization.partition(" ")[2].strip())
        return key.space.id if key else None

    def space_for_download(self, token: str) -> str | None:
        download = self.downloads.get(token)
        return download.export.space.id if download else None

    def set_key_status(self, key: str, status: str) -> None:
        self.keys[key].status = status

    def set_subscription(self, space_id: str, active: bool) -> None:
        self.spaces[space_id].subscription_active = active

    def fail_export(self, export_id: int) -> None:
        self.exports[export_id].doomed = True


async def _not_found(request: Request, exc: HTTPException) -> Response:
    route = request.url.path.removeprefix(request.scope.get("root_path", "")).lstrip("/")
    if exc.status_code == 405:
        return JSONResponse({"message": f"The {request.method} method is not supported for route {route}."}, status_code=405)
    return JSONResponse({"message": f"The route {route} could not be found."}, status_code=exc.status_code)


def create_app(cometly_section: dict, ctx: FakeContext) -> Starlette:
    """The API to mount at `/public-api/v1`; `app.state.service` is the CometlyService behind it."""
    service = CometlyService.from_section(cometly_section, ctx)
    routes = [
        Route("/events", service.endpoint("list_events", service.list_events), methods=["GET"]),
        Route("/events/exports", service.endpoint("create_export", service.create_export), methods=["POST"]),
        Route("/events/exports/{export_id}", service.endpoint("export_status", service.export_status), methods=["GET"]),
        Route("/events/{event_id}", service.endpoint("get_event", service.get_event), methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _not_found})
    app.state.service = service
    return app
