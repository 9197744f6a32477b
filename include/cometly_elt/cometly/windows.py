"""Request windows that cover a UTC range exactly once, daylight saving included.

Cometly reads `start_date`/`end_date` as wall-clock times in the Space's
timezone, both inclusive, to the second, and an export's `date` as a local day
(00:00:00–23:59:59). A wall-clock time can be missing (spring forward) or occur
twice (fall back); Cometly resolves either as zoneinfo does with fold=0 (the
reading before the change). So some UTC instants can be neither a start nor an
end (the second pass of a repeated hour), and a local day lasts 23 or 25 hours.

The rule: ask for wall-clock bounds whose readings enclose the UTC range
(widening where DST forces it), then keep rows by `event_time_utc` inside the
range. Widened margins belong to the neighbouring windows, never to this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

API_FORMAT = "%Y-%m-%d %H:%M:%S"
SECOND = timedelta(seconds=1)


def as_cometly_reads(wall: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant Cometly reads a naive wall-clock time as (fold=0, like PHP/Carbon)."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)


def wall_clock(instant: datetime, tz: ZoneInfo) -> datetime:
    """The naive local wall-clock time of a UTC instant."""
    return instant.astimezone(tz).replace(tzinfo=None)


def _floor_second(instant: datetime) -> datetime:
    return instant.replace(microsecond=0)


def _ceil_second(instant: datetime) -> datetime:
    return instant if instant.microsecond == 0 else instant.replace(microsecond=0) + SECOND


def _is_repeated(wall: datetime, tz: ZoneInfo) -> bool:
    """True if `wall` occurs twice (its first reading has the larger UTC offset)."""
    return wall.replace(tzinfo=tz, fold=0).utcoffset() > wall.replace(tzinfo=tz, fold=1).utcoffset()


def _after_repetition(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first wall-clock second at or after `wall` that occurs only once."""
    first, second = wall.replace(tzinfo=tz, fold=0), wall.replace(tzinfo=tz, fold=1)
    lo, hi = wall, wall + (first.utcoffset() - second.utcoffset())  # lo repeated, hi not
    while hi - lo > SECOND:
        mid = _floor_second(lo + (hi - lo) / 2)
        lo, hi = (mid, hi) if _is_repeated(mid, tz) else (lo, mid)
    return hi


@dataclass(frozen=True)
class RequestBounds:
    """Wall-clock `start_date`/`end_date` for GET /events."""

    start: datetime  # naive, Space-local
    end: datetime

    @property
    def params(self) -> dict[str, str]:
        return {"start_date": self.start.strftime(API_FORMAT), "end_date": self.end.strftime(API_FORMAT)}

    def reads(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The UTC instants Cometly reads the bounds as: rows outside them were not asked for."""
        return as_cometly_reads(self.start, tz), as_cometly_reads(self.end, tz)


def request_bounds(utc_start: datetime, utc_end: datetime, tz: ZoneInfo) -> RequestBounds:
    """The narrowest wall-clock bounds whose readings enclose [utc_start, utc_end).

    The start's fold=0 reading is never later than the instant (fold=0 is the
    earlier of two readings), so it needs no care; an end in the second pass
    of a repeated hour reads an hour early and moves to the hour's end.
    """
    if not utc_start < utc_end:
        raise ValueError(f"empty window: {utc_start} is not before {utc_end}")
    start = wall_clock(_floor_second(utc_start), tz)
    end = wall_clock(_ceil_second(utc_end), tz)
    if as_cometly_reads(end, tz) < utc_end:
        end = _after_repetition(end, tz)
    return RequestBounds(start, end)


def local_day_span(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[first, end) in UTC that Cometly's export of local `day` covers (23 h, 24 h or 25 h)."""
    first = as_cometly_reads(datetime.combine(day, time(0)), tz)
    last = as_cometly_reads(datetime.combine(day, time(23, 59, 59)), tz)
    return first, last + SECOND


@dataclass(frozen=True)
class Piece:
    """A slice [utc_start, utc_end) of a window, fetched by one local day's export or, if
    `day` is None, by a list request; each piece is loaded as one batch."""

    utc_start: datetime
    utc_end: datetime
    day: date | None = None


def day_pieces(utc_start: datetime, utc_end: datetime, tz: ZoneInfo) -> list[Piece]:
    """[utc_start, utc_end) cut at local midnights: one piece per local day's export.

    The pieces tile the range with no gap and no overlap. Where no day's export
    reaches (a repeated hour at midnight, in a few timezones), a list piece
    fills the hole.
    """
    if not utc_start < utc_end:
        raise ValueError(f"empty window: {utc_start} is not before {utc_end}")
    pieces: list[Piece] = []
    covered_to = utc_start
    day = utc_start.astimezone(tz).date()
    while covered_to < utc_end:
        first, end = local_day_span(day, tz)
        if first > covered_to:
            pieces.append(Piece(covered_to, min(first, utc_end)))
        start, end = max(first, covered_to), min(end, utc_end)
        if start < end:
            pieces.append(Piece(start, end, day))
        covered_to = max(covered_to, end)
        day += timedelta(days=1)
    return pieces
