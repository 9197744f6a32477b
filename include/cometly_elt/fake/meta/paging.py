"""Cursor pages as the Graph API gives them: opaque cursors, `paging.next` only while more remain
(docs/meta-api.md §3), with the fake's switches for short and empty pages."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

from cometly_elt.fake.meta.errors import invalid_parameter, reduce_data
from cometly_elt.fake.meta.requests import GraphRequest, int_param, requested_fields, select
from cometly_elt.fake.meta.settings import Settings


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"pos:{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if text.startswith("pos:"):
            return int(text[4:])
    except (ValueError, UnicodeDecodeError):
        pass
    raise invalid_parameter("The after cursor is invalid")


def page(req: GraphRequest, items: list[dict], allowed: tuple[str, ...] | None, node_type: str,
         settings: Settings, base_url: str) -> dict:
    """One page of `items` (only the requested fields of them when `allowed` names the selectable ones)."""
    limit = int_param("limit", req.params.get("limit"), settings.default_limit)
    if limit > settings.max_limit:
        raise reduce_data(code=1)
    names = requested_fields(req, allowed, node_type) if allowed else None
    start = decode_cursor(req.params["after"]) + 1 if req.params.get("after") else 0
    size = max(1, limit // 2) if settings.short_pages else limit
    if settings.empty_first_page and start == 0 and items and "after" not in req.params:
        size = 0
    chunk = items[start:start + size]
    body: dict[str, Any] = {"data": [select(i, names) if names else i for i in chunk]}
    if items:
        cursors = {"before": encode_cursor(start), "after": encode_cursor(start + len(chunk) - 1)}
        body["paging"] = {"cursors": cursors}
        if start + len(chunk) < len(items):
            query = {k: v for k, v in req.query.items() if k not in ("after", "before")}
            query.update(limit=str(limit), after=body["paging"]["cursors"]["after"])
            body["paging"]["next"] = f"{base_url}/{req.version}{req.path}?{urlencode(query)}"
    if req.params.get("summary") == "true" and allowed:
        body["summary"] = {"total_count": len(items)}
    return body
