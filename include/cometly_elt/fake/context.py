"""What every part of the fake server shares: its clock, its fault schedule, its switches, its call log."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from cometly_elt.fake.faults import FaultSchedule


class Clock:
    """The fake's notion of now, which tests can speed up or move.

    `speed` fake seconds pass per real second; rate-limit windows and export
    job progress run on this clock, so a test at speed 60 sees a minute pass
    every real second.
    """

    def __init__(self, start: datetime | None = None, speed: float = 1.0):
        self._origin_real = time.monotonic()
        self._origin_fake = start or datetime.now(timezone.utc)
        self.speed = speed

    def now(self) -> datetime:
        elapsed = time.monotonic() - self._origin_real
        return self._origin_fake + timedelta(seconds=elapsed * self.speed)

    def set_speed(self, speed: float) -> None:
        self._origin_fake, self._origin_real = self.now(), time.monotonic()
        self.speed = speed

    def advance(self, seconds: float) -> None:
        self._origin_fake += timedelta(seconds=seconds)

    def real_seconds(self, fake_seconds: float) -> float:
        """How long a client really waits for `fake_seconds` of fake time to pass."""
        return fake_seconds / self.speed


@dataclass(frozen=True)
class Call:
    """One request to a fake API, as the call log and the fault schedule see it.

    `endpoint` is a stable name (`list_events`, `act/insights`, ...) and
    `space` the tenant it was made for (a Cometly Space id, a Meta `act_N`),
    or None when the request does not tell.
    """

    api: str  # "cometly" or "meta"
    method: str
    path: str
    endpoint: str
    space: str | None


class CallLog:
    """Every API call with its fake time and status, to check later that a client kept to its rate budget."""

    def __init__(self) -> None:
        self._calls: list[tuple[Call, datetime, int]] = []

    def record(self, call: Call, at: datetime, status: int) -> None:
        self._calls.append((call, at, status))

    def clear(self) -> None:
        self._calls.clear()

    def entries(self) -> list[dict]:
        return [
            {"api": c.api, "endpoint": c.endpoint, "space": c.space, "method": c.method, "path": c.path,
             "at": _iso(at), "status": status}
            for c, at, status in self._calls
        ]

    def per_minute(self) -> list[dict]:
        """Call counts per (api, endpoint, space, fake-clock minute), with a count per status."""
        groups: dict[tuple, Counter] = {}
        for c, at, status in self._calls:
            minute = _iso(at.replace(second=0, microsecond=0))
            groups.setdefault((c.api, c.endpoint, c.space, minute), Counter())[str(status)] += 1
        return [
            {"api": api, "endpoint": endpoint, "space": space, "minute": minute,
             "count": sum(statuses.values()), "statuses": dict(statuses)}
            for (api, endpoint, space, minute), statuses in groups.items()
        ]


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeContext:
    clock: Clock = field(default_factory=Clock)
    rate_limits: bool = True
    # Filled in by the server once it knows its own address, for absolute URLs
    # (Meta's paging.next, Cometly's next_page_url and export download_url).
    base_url: str = "http://127.0.0.1"
    faults: FaultSchedule = field(default_factory=FaultSchedule)
    calls: CallLog = field(default_factory=CallLog)
