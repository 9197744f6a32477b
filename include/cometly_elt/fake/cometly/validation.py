"""Reading GET /events and POST /events/exports requests as Laravel's validator does: one 422 listing
every problem (docs/cometly-api.md §4, §5, §7.1, §7.3)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from cometly_elt.fake.cometly.attribution import Attribution
from cometly_elt.fake.cometly.errors import ApiError
from cometly_elt.fake.cometly.events import SELECTABLE_FIELDS, EventQuery
from cometly_elt.fake.cometly.vocabulary import (
    ATTRIBUTION_MODELS,
    ATTRIBUTION_WINDOWS,
    EVENT_NAMES,
    QUERY_MODES,
    SOURCES,
    TOUCHPOINT_FIELDS,
)
from cometly_elt.fake.cometly.world import Space

PER_PAGE_DEFAULT, PER_PAGE_MAX = 200, 4000
LOCAL_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
LOCAL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


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


def _name_list(v: _Validation, params: dict, key: str, allowed: frozenset[str],
               most: int | None = None) -> list[str] | None:
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
    # Attribution settings without sources are ignored (docs/cometly-api.md §8: the docs are silent).
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
        if key in body:  # one local day per export, never a range (docs/cometly-api.md §7.3)
            v.fail(key, f"The {_label(key)} field is prohibited.")
    names, attribution, fields = _filters(v, body)
    v.check()
    last_second = day + timedelta(hours=23, minutes=59, seconds=59)
    return EventQuery(space.local_seconds(day), space.local_seconds(last_second), names, attribution, fields)
