"""GET /events pages as Laravel's cursor paginator gives them (docs/cometly-api.md §4)."""

from __future__ import annotations

import base64
import json

from cometly_elt.fake.cometly.events import EventQuery
from cometly_elt.fake.cometly.world import Event, Space, Touch


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

