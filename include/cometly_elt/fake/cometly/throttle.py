"""Cometly's rate limits as Laravel's throttle counts them: per Space and endpoint, a fixed
one-minute window from its first call, on the fake's clock (docs/cometly-api.md §3)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime

from cometly_elt.fake.context import FakeContext

# Per Space, per endpoint, per minute (docs/cometly-api.md §3.2; get_event is 30 per its own page, 7 per the MCP page).
RATE_LIMITS = {"list_events": 7, "get_event": 30, "create_export": 5, "export_status": 30}
RATE_WINDOW_SECONDS = 60


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
