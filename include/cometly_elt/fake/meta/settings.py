"""Switches for what only Meta does, set through `POST /_fake/meta/settings` (docs/meta-api.md §6)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass
class Settings:
    default_limit: int = 25
    max_limit: int = 5000  # a larger `limit` gets error 1 (HTTP 500) "reduce the amount of data"
    max_rows_per_sync_call: int | None = None  # a sync insights call with more rows gets 100/1487534
    # Whether edges list DELETED objects when asked to (an open question: docs/meta-api.md §7).
    deleted_in_edges: bool = True
    empty_first_page: bool = False  # first page empty but with `next` (the SDK stops there)
    short_pages: bool = False  # pages of half the limit while more remain
    usage_headers: bool = True
    future_check: str = "account"  # "utc": the reported bug of checking `until` against UTC today
    quota_ads_management: int | None = None  # calls per ad account and rolling hour; None: Meta's dev-tier formula
    quota_ads_insights: int | None = None
    quota_app: int = 20000  # calls per rolling hour for the whole app (error 4 beyond)

    def update(self, changes: Any) -> None:
        if not isinstance(changes, dict):
            raise ValueError("expected a JSON object of settings")
        known = {f.name: f.default for f in fields(self)}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown setting {key!r}; known: {', '.join(known)}")
            default = known[key]
            if key == "future_check":
                valid = value in ("account", "utc")
            elif isinstance(default, bool):
                valid = isinstance(value, bool)
            else:  # a count; the optional ones may be null
                valid = (value is None and default is None) or (
                    isinstance(value, int) and not isinstance(value, bool) and value >= 1)
            if not valid:
                raise ValueError(f"{key}: {value!r} is not a valid value")
            setattr(self, key, value)
