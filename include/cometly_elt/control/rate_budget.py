"""The rows of the Cometly rate budget (`control.rate_budget`): one per workspace and endpoint.

The rules they keep (Cometly's fixed one-minute windows, how answers correct
the count) are in `cometly/rate_budget.py`; this module is the SQL. Each
statement is atomic on its own: callers use an autocommit connection, so a
spent call is visible to every other process at once. Time is PostgreSQL's
clock, the same for every process.
"""

from __future__ import annotations

import psycopg

_OPEN = """
insert into control.rate_budget (workspace_id, endpoint, call_limit) values (%(ws)s, %(endpoint)s, %(limit)s)
on conflict do nothing
"""

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


def open_budget(conn: psycopg.Connection, workspace_id: str, endpoint: str, call_limit: int) -> None:
    """The endpoint's row, at `call_limit` calls a window, unless it exists."""
    conn.execute(_OPEN, {"ws": workspace_id, "endpoint": endpoint, "limit": call_limit})


def spend(conn: psycopg.Connection, workspace_id: str, endpoint: str, minute: float) -> int | None:
    """Spend one call: the number of the window it was spent in, or None when the window is spent.
    A window that has ended gives way to a new one lasting `minute` seconds."""
    granted = conn.execute(_SPEND, {"ws": workspace_id, "endpoint": endpoint, "minute": minute}).fetchone()
    return None if granted is None else granted[0]


def seconds_left(conn: psycopg.Connection, workspace_id: str, endpoint: str) -> float:
    """Until the endpoint's window ends (negative once it has)."""
    return conn.execute(_SECONDS_LEFT, {"ws": workspace_id, "endpoint": endpoint}).fetchone()[0]


def correct(conn: psycopg.Connection, workspace_id: str, endpoint: str, *, window: int, limit: int | None,
            remaining: int, first_of_window: bool, minute: float) -> None:
    """What an answer to a call spent in `window` showed: the limit, the calls left (another client of
    the key spends too) and whether it opened the service's window, which then ends `minute` from now."""
    conn.execute(_CORRECT, {"ws": workspace_id, "endpoint": endpoint, "window": window, "limit": limit,
                            "remaining": remaining, "first_of_window": first_of_window, "minute": minute})


def close_for(conn: psycopg.Connection, workspace_id: str, endpoint: str, *, seconds: float,
              limit: int | None) -> None:
    """The window is spent for at least `seconds` more (a 429 said so)."""
    conn.execute(_CLOSE_FOR, {"ws": workspace_id, "endpoint": endpoint, "seconds": seconds, "limit": limit})
