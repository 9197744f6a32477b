"""One rate budget per Cometly Space and endpoint, shared through PostgreSQL by every process that calls it.

Cometly counts calls per Space, per endpoint, in fixed one-minute windows that
open at the first call (Laravel's throttle) and answers 429 past the limit.
Parallel mapped tasks and a backfill beside a scheduled run all call the same
Space, so the count lives in one row (`control.rate_budget`) that each call
spends from atomically, and a process that finds the window spent sleeps until
it ends: no busy loop, and no 429 in the normal course of things.

Our window must never end before Cometly's. It opens when a call is granted
(before Cometly sees the call) and is pushed to "answer time + one minute" when
an answer shows it was the first of Cometly's window (`X-RateLimit-Remaining` =
limit - 1). Every answer also corrects the count (`Limit`, `Remaining`: another
client of the same key spends too), and a 429 closes the window for
`Retry-After` (or until `X-RateLimit-Reset`).

Time is PostgreSQL's clock, the same for every process. `minute` is how long
Cometly's minute lasts in real seconds: 60, except against a fake whose clock
runs faster.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import psycopg
from psycopg.conninfo import make_conninfo

# Per Space per minute (docs/cometly-api.md §3.2).
DOCUMENTED_LIMITS = {"list_events": 7, "get_event": 30, "create_export": 5, "export_status": 30}
API_MINUTE = 60.0

_SPEND = """
with now as (select clock_timestamp() as t)
update control.rate_budget b set
    used = case when b.window_ends_at <= now.t then 1 else b.used + 1 end,
    window_number = b.window_number + (b.window_ends_at <= now.t)::int,
    window_ends_at = case when b.window_ends_at <= now.t
                          then now.t + make_interval(secs => %(minute)s) else b.window_ends_at end
from now
where b.workspace_id = %(ws)s and b.endpoint = %(endpoint)s
  and (b.window_ends_at <= now.t or b.used < b.call_limit)
returning b.window_number
"""

_SECONDS_LEFT = """
select extract(epoch from window_ends_at - clock_timestamp())::float
from control.rate_budget where workspace_id = %(ws)s and endpoint = %(endpoint)s
"""

_CORRECT = """
update control.rate_budget set
    call_limit = coalesce(%(limit)s, call_limit),
    used = greatest(used, coalesce(%(limit)s, call_limit) - %(remaining)s),
    window_ends_at = case when %(first_of_window)s
                          then greatest(window_ends_at, clock_timestamp() + make_interval(secs => %(minute)s))
                          else window_ends_at end
where workspace_id = %(ws)s and endpoint = %(endpoint)s and window_number = %(window)s
"""

_CLOSE_FOR = """
update control.rate_budget set
    call_limit = coalesce(%(limit)s, call_limit),
    used = coalesce(%(limit)s, call_limit),
    window_ends_at = greatest(window_ends_at, clock_timestamp() + make_interval(secs => %(seconds)s))
where workspace_id = %(ws)s and endpoint = %(endpoint)s
"""


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

    def _params(self, endpoint: str, **more) -> dict:
        return {"ws": self.workspace_id, "endpoint": endpoint, "minute": self.minute, **more}

    def acquire(self, endpoint: str) -> int:
        """Wait until a call to `endpoint` fits the budget, spend it; return its window number."""
        if endpoint not in self._known:
            self._conn.execute(
                "insert into control.rate_budget (workspace_id, endpoint, call_limit) values (%s, %s, %s)"
                " on conflict do nothing",
                (self.workspace_id, endpoint, DOCUMENTED_LIMITS[endpoint]),
            )
            self._known.add(endpoint)
        while True:
            granted = self._conn.execute(_SPEND, self._params(endpoint)).fetchone()
            if granted is not None:
                return granted[0]
            (seconds_left,) = self._conn.execute(_SECONDS_LEFT, self._params(endpoint)).fetchone()
            if seconds_left > 0:
                self._sleep(seconds_left)

    def observe(self, endpoint: str, window: int, status: int, headers: Mapping[str, str]) -> None:
        """Learn from Cometly's answer to a call made in `window`."""
        limit = _header_int(headers, "X-RateLimit-Limit")
        if status == 429:
            seconds = retry_after_seconds(headers, default=self.minute)
            self._conn.execute(_CLOSE_FOR, self._params(endpoint, limit=limit, seconds=seconds))
            return
        remaining = _header_int(headers, "X-RateLimit-Remaining")
        if remaining is None:
            return
        first_of_window = limit is not None and remaining == limit - 1
        self._conn.execute(
            _CORRECT,
            self._params(endpoint, limit=limit, remaining=remaining, window=window, first_of_window=first_of_window),
        )
