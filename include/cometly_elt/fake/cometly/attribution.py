"""Which touch gets an event's credit: the fake's published convention (docs/scenarios.md §3), since
Cometly does not publish its own rule."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from cometly_elt.fake.cometly.world import Event, Touch

DAY_SECONDS = 86400


def _earliest(touches: Iterator[Touch]) -> Touch | None:
    return next(touches, None)


def _latest(touches: Iterator[Touch]) -> Touch | None:
    """The latest touch; among touches at the same time, the one listed first."""
    best = None
    for touch in touches:
        if best is None or touch.at > best.at:
            best = touch
    return best


# Each model picks the credited touch among the candidates (in time order) for sources S.
# The event is returned only if the credited touch's source is in S.
_MODELS: dict[str, Callable[[tuple[Touch, ...], frozenset[str]], Touch | None]] = {
    "first_platform_touch": lambda c, s: _earliest(t for t in c if t.paid and t.source in s),
    "last_platform_touch": lambda c, s: _latest(t for t in c if t.paid and t.source in s),
    "first_touch": lambda c, s: _earliest(iter(c)),
    "last_touch": lambda c, s: _latest(iter(c)),
    # Unverified conventions (docs/cometly-api.md §6.3: the real rule for these is not published):
    # last_non_direct_touch credits the latest candidate that is not `direct`; the
    # multi-touch models give one row per event when any candidate (paid only for
    # linear_paid) has a source in S, with the touchpoint fields of the latest such one.
    "last_non_direct_touch": lambda c, s: _latest(t for t in c if t.source != "direct"),
    "linear": lambda c, s: _latest(t for t in c if t.source in s),
    "u_shaped": lambda c, s: _latest(t for t in c if t.source in s),
    "linear_paid": lambda c, s: _latest(t for t in c if t.paid and t.source in s),
}


@dataclass(frozen=True)
class Attribution:
    sources: frozenset[str]
    model: str
    window_days: int  # 0 = lifetime

    def credit(self, event: Event) -> Touch | None:
        hi = bisect_right(event.touch_times, event.at)
        lo = 0 if self.window_days == 0 else bisect_left(event.touch_times, event.at - self.window_days * DAY_SECONDS)
        touch = _MODELS[self.model](event.touches[lo:hi], self.sources)
        return touch if touch is not None and touch.source in self.sources else None
