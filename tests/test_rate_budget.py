"""The shared rate budget, on the real PostgreSQL: one count per Space and endpoint for every process."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter

import pytest

from cometly_elt.cometly.rate_budget import RateBudget


class Sleeps:
    """time.sleep that also remembers how long each wait was."""

    def __init__(self):
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)


@pytest.fixture
def budget(wh, warehouse_url):
    made = []

    def make(workspace_id="ws1", minute=0.5):
        sleeps = Sleeps()
        made.append(RateBudget(warehouse_url, workspace_id, minute=minute, sleep=sleeps))
        made[-1].sleeps = sleeps
        return made[-1]

    yield make
    for b in made:
        b.close()


def test_the_eighth_list_call_of_a_minute_sleeps_once_until_the_minute_ends(budget):
    b = budget(minute=0.5)
    started = time.monotonic()
    windows = [b.acquire("list_events") for _ in range(8)]

    assert windows == [1] * 7 + [2]
    assert len(b.sleeps.waits) == 1  # one sleep, no polling
    assert 0.4 < b.sleeps.waits[0] <= 0.5
    assert time.monotonic() - started >= 0.5


def test_endpoints_and_spaces_have_budgets_of_their_own(budget):
    a, other_space = budget("ws1"), budget("ws2")
    for _ in range(7):
        a.acquire("list_events")
        other_space.acquire("list_events")
    for _ in range(5):
        a.acquire("create_export")

    assert a.sleeps.waits == [] and other_space.sleeps.waits == []


def test_two_budgets_of_one_space_share_the_count(budget):
    first, second = budget(minute=5), budget(minute=5)
    for _ in range(4):
        first.acquire("list_events")
    for _ in range(3):
        second.acquire("list_events")
    # The minute is spent: an eighth call would wait ~5 s; check that without waiting.
    (left,) = first._conn.execute(
        "select extract(epoch from window_ends_at - clock_timestamp()) from control.rate_budget"
        " where workspace_id = 'ws1' and endpoint = 'list_events' and used = call_limit"
    ).fetchone()
    assert 4 < left <= 5


def _spend(args):
    url, count, minute = args
    b = RateBudget(url, "shared", minute=minute)
    try:
        return [(b.acquire("list_events"), time.time()) for _ in range(count)]
    finally:
        b.close()


def test_processes_calling_at_once_never_spend_more_than_seven_a_minute(wh, warehouse_url):
    minute = 0.4
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        grants = [g for process in pool.map(_spend, [(warehouse_url, 10, minute)] * 3) for g in process]

    per_window = Counter(window for window, _ in grants)
    assert sum(per_window.values()) == 30
    assert max(per_window.values()) <= 7
    assert len(per_window) >= 5  # 30 calls need at least ceil(30 / 7) minutes
    opened = sorted(min(at for w, at in grants if w == window) for window in per_window)
    assert all(later - earlier >= minute - 0.02 for earlier, later in zip(opened, opened[1:]))


def test_a_429_closes_the_window_for_retry_after(budget):
    b = budget(minute=0.2)
    window = b.acquire("list_events")
    b.observe("list_events", window, 429, {"Retry-After": "1", "X-RateLimit-Limit": "7", "X-RateLimit-Remaining": "0"})
    b.acquire("list_events")

    assert len(b.sleeps.waits) == 1 and 0.9 < b.sleeps.waits[0] <= 1.0


def test_answers_correct_the_count_and_the_limit(budget):
    b = budget(minute=5)
    window = b.acquire("list_events")
    # Someone else spends this key too: Cometly says a limit of 3, none left.
    b.observe("list_events", window, 200, {"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "0"})

    row = b._conn.execute(
        "select call_limit, used from control.rate_budget where workspace_id = 'ws1' and endpoint = 'list_events'"
    ).fetchone()
    assert row == (3, 3)


def test_the_first_answer_of_cometlys_window_moves_our_window_end_after_it(budget):
    b = budget(minute=1.0)
    window = b.acquire("list_events")
    time.sleep(0.3)  # the answer took a while: Cometly's window opened when the call arrived
    b.observe("list_events", window, 200, {"X-RateLimit-Limit": "7", "X-RateLimit-Remaining": "6"})

    (left,) = b._conn.execute(
        "select extract(epoch from window_ends_at - clock_timestamp()) from control.rate_budget"
        " where workspace_id = 'ws1' and endpoint = 'list_events'"
    ).fetchone()
    assert 0.95 < left <= 1.0


def test_an_answer_from_an_old_window_changes_nothing(budget):
    b = budget(minute=0.2)
    old = b.acquire("list_events")
    time.sleep(0.25)
    b.acquire("list_events")  # a new window
    b.observe("list_events", old, 200, {"X-RateLimit-Limit": "7", "X-RateLimit-Remaining": "0"})

    (used,) = b._conn.execute(
        "select used from control.rate_budget where workspace_id = 'ws1' and endpoint = 'list_events'"
    ).fetchone()
    assert used == 1
