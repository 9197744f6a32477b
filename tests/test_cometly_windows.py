"""DST-safe request windows: bounds worked out by hand for America/New_York, plus properties.

2026-03-08 (spring forward): 02:00 EST (07:00Z) jumps to 03:00 EDT; 02:00–02:59:59 never happens.
2026-11-01 (fall back): 02:00 EDT (06:00Z) goes back to 01:00 EST; 01:00–01:59:59 happens twice,
first 05:00Z–05:59:59Z (EDT), then 06:00Z–06:59:59Z (EST). Cometly reads a wall time as
zoneinfo fold=0 does: a repeated time as its first pass, a missing one with the EST offset.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from cometly_elt.cometly.windows import Piece, day_pieces, local_day_span, request_bounds

NY = ZoneInfo("America/New_York")


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def cometly_reads(text: str, tz: ZoneInfo) -> datetime:
    """The fake's rule (docs/scenarios.md §3), written independently of the code under test."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz).astimezone(timezone.utc)


@pytest.mark.parametrize(
    "utc_start, utc_end, start_date, end_date",
    [
        # an ordinary window
        ("2026-03-03T05:00:00Z", "2026-03-04T05:00:00Z", "2026-03-03 00:00:00", "2026-03-04 00:00:00"),
        # spring forward: across the missing hour
        ("2026-03-08T05:00:00Z", "2026-03-08T09:00:00Z", "2026-03-08 00:00:00", "2026-03-08 05:00:00"),
        # ... ending just where the missing hour would end, starting at its first real second
        ("2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z", "2026-03-08 01:30:00", "2026-03-08 03:00:00"),
        ("2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z", "2026-03-08 03:00:00", "2026-03-08 04:00:00"),
        # fall back: a window that is exactly the repeated hour's second pass starts at its
        # first pass (nothing else reads earlier than 06:00Z) and ends after the repetition
        ("2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01 01:00:00", "2026-11-01 02:00:00"),
        # ending inside the second pass (06:30Z = 01:30 EST): 01:30 would read 05:30Z
        ("2026-11-01T05:00:00Z", "2026-11-01T06:30:00Z", "2026-11-01 01:00:00", "2026-11-01 02:00:00"),
        # starting inside the second pass
        ("2026-11-01T06:30:00Z", "2026-11-01T08:00:00Z", "2026-11-01 01:30:00", "2026-11-01 03:00:00"),
        # ending inside the first pass: 01:30 reads 05:30Z exactly
        ("2026-11-01T04:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01 00:00:00", "2026-11-01 01:30:00"),
        # sub-second edges widen to whole seconds
        ("2026-03-03T05:00:00.250Z", "2026-03-03T06:00:00.250Z", "2026-03-03 00:00:00", "2026-03-03 01:00:01"),
    ],
)
def test_request_bounds_by_hand(utc_start, utc_end, start_date, end_date):
    bounds = request_bounds(z(utc_start), z(utc_end), NY)
    assert bounds.params == {"start_date": start_date, "end_date": end_date}


def test_local_days_last_23_and_25_hours():
    assert local_day_span(date(2026, 3, 8), NY) == (z("2026-03-08T05:00:00Z"), z("2026-03-09T04:00:00Z"))
    assert local_day_span(date(2026, 11, 1), NY) == (z("2026-11-01T04:00:00Z"), z("2026-11-02T05:00:00Z"))
    assert local_day_span(date(2026, 3, 3), NY) == (z("2026-03-03T05:00:00Z"), z("2026-03-04T05:00:00Z"))


def test_day_pieces_cut_a_utc_range_at_local_midnights():
    pieces = day_pieces(z("2026-03-07T12:00:00Z"), z("2026-03-09T12:00:00Z"), NY)
    assert pieces == [
        Piece(z("2026-03-07T12:00:00Z"), z("2026-03-08T05:00:00Z"), date(2026, 3, 7)),
        Piece(z("2026-03-08T05:00:00Z"), z("2026-03-09T04:00:00Z"), date(2026, 3, 8)),
        Piece(z("2026-03-09T04:00:00Z"), z("2026-03-09T12:00:00Z"), date(2026, 3, 9)),
    ]


def test_a_repeated_hour_at_midnight_no_export_reaches_is_fetched_by_list():
    # America/Santiago fell back at 2023-04-02 00:00 (-03) to 2023-04-01 23:00 (-04): Saturday's
    # 23:00–23:59:59 happened twice. The second pass (03:00Z–03:59:59Z) reads as neither
    # Saturday's 23:59:59 (02:59:59Z, first pass) nor Sunday's 00:00:00 (04:00Z).
    santiago = ZoneInfo("America/Santiago")
    assert day_pieces(z("2023-04-02T01:00:00Z"), z("2023-04-02T06:00:00Z"), santiago) == [
        Piece(z("2023-04-02T01:00:00Z"), z("2023-04-02T03:00:00Z"), date(2023, 4, 1)),
        Piece(z("2023-04-02T03:00:00Z"), z("2023-04-02T04:00:00Z"), None),
        Piece(z("2023-04-02T04:00:00Z"), z("2023-04-02T06:00:00Z"), date(2023, 4, 2)),
    ]


ZONES = [ZoneInfo(n) for n in ("America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
                               "America/Havana", "Asia/Kolkata", "UTC", "America/Santiago")]


def _offset_changes(tz: ZoneInfo) -> list[datetime]:
    """Hours (UTC) in which `tz` changed its offset, 2022–2027, found by scanning."""
    hour, end, found = datetime(2022, 1, 1, tzinfo=timezone.utc), datetime(2028, 1, 1, tzinfo=timezone.utc), []
    while hour < end:
        if hour.astimezone(tz).utcoffset() != (hour + timedelta(hours=1)).astimezone(tz).utcoffset():
            found.append(hour)
        hour += timedelta(hours=1)
    return found


CHANGES = [t for tz in ZONES for t in _offset_changes(tz)]
# Half the examples land within a few hours of a DST change, where the bugs live.
instants = st.one_of(
    st.datetimes(min_value=datetime(2022, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(timezone.utc)),
    st.tuples(st.sampled_from(CHANGES), st.timedeltas(timedelta(hours=-3), timedelta(hours=3))).map(
        lambda t: t[0] + t[1]),
)


@settings(max_examples=400, deadline=None)
@given(tz=st.sampled_from(ZONES), start=instants,
       length=st.one_of(st.timedeltas(timedelta(seconds=1), timedelta(hours=3)),
                        st.timedeltas(timedelta(seconds=1), timedelta(days=3))))
def test_request_bounds_cover_every_instant(tz, start, length):
    end = start + length
    params = request_bounds(start, end, tz).params
    first, last = cometly_reads(params["start_date"], tz), cometly_reads(params["end_date"], tz)
    assert first <= start and last >= end - timedelta(microseconds=1)
    assert params["start_date"] < params["end_date"]


@settings(max_examples=300, deadline=None)
@given(tz=st.sampled_from(ZONES), start=instants, length=st.timedeltas(timedelta(seconds=1), timedelta(days=5)))
def test_day_pieces_tile_the_range_and_stay_inside_their_day(tz, start, length):
    end = start + length
    pieces = day_pieces(start, end, tz)
    assert pieces[0].utc_start == start and pieces[-1].utc_end == end
    for before, after in zip(pieces, pieces[1:]):
        assert before.utc_end == after.utc_start
    for piece in pieces:
        assert piece.utc_start < piece.utc_end
        if piece.day is not None:
            day = piece.day.isoformat()
            assert cometly_reads(f"{day} 00:00:00", tz) <= piece.utc_start
            assert piece.utc_end <= cometly_reads(f"{day} 23:59:59", tz) + timedelta(seconds=1)
