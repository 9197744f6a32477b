"""What every part of the fake server shares: its clock, its fault schedule, its switches, its call log."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from cometly_elt.fake.calls import CallLog
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


@dataclass
class FakeContext:
    clock: Clock = field(default_factory=Clock)
    rate_limits: bool = True
    # Filled in by the server once it knows its own address, for absolute URLs
    # (Meta's paging.next).
    base_url: str = "http://127.0.0.1"
    faults: FaultSchedule = field(default_factory=FaultSchedule)
    calls: CallLog = field(default_factory=CallLog)
