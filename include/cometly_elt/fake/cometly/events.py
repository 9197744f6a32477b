"""What GET /events, an export and GET /events/{id} select, and the rows they answer with
(docs/cometly-api.md §7.1, §7.2)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cometly_elt.fake.cometly.attribution import Attribution
from cometly_elt.fake.cometly.vocabulary import TOUCHPOINT_FIELDS
from cometly_elt.fake.cometly.world import Event, Space, Touch

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
    """GET /events/{id}: the bare event object."""
    return {name: value(space, event) for name, value in EVENT_VALUES.items()}


def all_rows(space: Space, query: EventQuery) -> list[dict]:
    """Every matching row, in the list endpoint's order (what an export file holds)."""
    rows = []
    for event in sorted(space.in_range(query.start, query.end), key=lambda e: e.id, reverse=True):
        matched, touch = query.match(event)
        if matched:
            rows.append(query.row(space, event, touch))
    return rows
