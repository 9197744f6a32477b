"""One rate budget per Cometly Space and endpoint, shared through PostgreSQL by every process that calls it.

Cometly counts calls per Space, per endpoint, in fixed one-minute windows that
open at the first call (Laravel's throttle) and answers 429 past the limit
(docs/cometly-api.md §3). Parallel mapped tasks and a backfill beside a
scheduled run all call the same Space, so the count lives in one row
(`control.rate_budget`, written by `control/rate_budget.py`) that each call
spends from atomically, and a process that finds the window spent sleeps until
it ends: no busy loop, and no 429 in the normal course of things.

Our window must never end before Cometly's. It opens when a call is granted
(before Cometly sees the call) and is pushed to "answer time + one minute" when
an answer shows it was the first of Cometly's window (`X-RateLimit-Remaining` =
limit - 1). Every answer also corrects the count (`Limit`, `Remaining`: another
client of the same key spends too), and a 429 closes the window for
`Retry-After` (or until `X-RateLimit-Reset`).

`minute` is how long Cometly's minute lasts in real seconds: 60, except against
a fake whose clock runs faster.

Meta is paced the other way: its quotas are large for our few calls per account,
so `hooks/meta.py` budgets nothing ahead and waits when an answer says it is
throttled (docs/meta-api.md §5).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import psycopg
from psycopg.conninfo import make_conninfo

from cometly_elt.control import rate_budget as rows

# Per Space per minute (docs/cometly-api.md §3.2).
DOCUMENTED_LIMITS = {"list_events": 7, "get_event": 30, "create_export": 5, "export_status": 30}
API_MINUTE = 60.0


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


def retry_after_seconds(headers: Mapping[str, str], default: float) -> float:
    """How long a 429 asks us to wait: `Retry-After`, else `X-RateLimit-Reset` (epoch), else `default`."""
    retry_after = _header_int(headers, "Retry-After")
    if retry_after is not None:
        return max(retry_after, 0)
    reset = _header_int(headers, "X-RateLimit-Reset")
    if reset is not None:
        return max(reset - time.time(), 0)
    return default


class RateBudget:
    """The shared budget of one Space (workspace); one instance per process, one connection of its own."""

    def __init__(self, conninfo: str, workspace_id: str, *, minute: float = API_MINUTE,
                 sleep: Callable[[float], None] = time.sleep):
        self.workspace_id = workspace_id
        self.minute = float(minute)
        self._conninfo = conninfo
        self._sleep = sleep
        # Autocommit: a spent call must be visible to the other processes at once.
        self._conn = psycopg.connect(conninfo, autocommit=True)
        self._known: set[str] = set()

    @classmethod
    def beside(cls, conn: psycopg.Connection, workspace_id: str, **kwargs) -> RateBudget:
        """A budget in the database `conn` is connected to, on a connection of its own."""
        return cls(make_conninfo(conn.info.dsn, password=conn.info.password), workspace_id, **kwargs)

    def sibling(self) -> RateBudget:
        """The same Space's budget on a connection of its own, for another thread."""
        return RateBudget(self._conninfo, self.workspace_id, minute=self.minute, sleep=self._sleep)

    def close(self) -> None:
        self._conn.close()

    def acquire(self, endpoint: str) -> int:
        """Wait until a call to `endpoint` fits the budget, spend it; return its window number."""
        if endpoint not in self._known:
            rows.open_budget(self._conn, self.workspace_id, endpoint, DOCUMENTED_LIMITS[endpoint])
            self._known.add(endpoint)
        while True:
            window = rows.spend(self._conn, self.workspace_id, endpoint, self.minute)
            if window is not None:
                return window
            seconds_left = rows.seconds_left(self._conn, self.workspace_id, endpoint)
            if seconds_left > 0:
                self._sleep(seconds_left)

    def observe(self, endpoint: str, window: int, status: int, headers: Mapping[str, str]) -> None:
        """Learn from Cometly's answer to a call made in `window`."""
        limit = _header_int(headers, "X-RateLimit-Limit")
        if status == 429:
            rows.close_for(self._conn, self.workspace_id, endpoint, limit=limit,
                           seconds=retry_after_seconds(headers, default=self.minute))
            return
        remaining = _header_int(headers, "X-RateLimit-Remaining")
        if remaining is None:
            return
        rows.correct(self._conn, self.workspace_id, endpoint, window=window, limit=limit, remaining=remaining,
                     first_of_window=limit is not None and remaining == limit - 1, minute=self.minute)
