"""A scenario's Spaces as the fake Cometly holds them: events indexed by time and id, each with its
contact's touches (docs/scenarios.md §2)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from cometly_elt.fake.cometly.vocabulary import TOUCH_ID_FIELDS, TOUCH_NAME_FIELDS

UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_seconds(text: str) -> int:
    """`YYYY-MM-DDTHH:MM:SSZ` as Unix seconds."""
    return int(datetime.fromisoformat(text).timestamp())  # much faster than strptime, and reads the Z


def iso_utc(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime(UTC_FORMAT)


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
        # zoneinfo's fold=0 reads a skipped or repeated wall-clock time as PHP/Carbon does (docs/cometly-api.md §5).
        return int(local.replace(tzinfo=self.tz, fold=0).timestamp())


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
    return Touch(at=utc_seconds(spec["time_utc"]), source=spec["source"], paid=spec["source"].endswith("_ads"),
                 fields=fields)
