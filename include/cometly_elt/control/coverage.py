"""The coverage ledger (`control.event_coverage`): what the warehouse already holds, and what to fetch.

The ledger is the one source of truth about loaded Cometly rows. For each workspace,
attribution settings version and event it keeps two UTC multiranges: `covered` (loaded
completely) and `settled` (loaded when already older than the re-pull lookback, so final).
Every load records its piece here in the same transaction (`record`), so a crash never
leaves coverage claimed for rows that are not there.

Every path plans its Cometly requests with `fetch_plan`: a first sync, an incremental
sync, an event selected later or selected again after a pause, a reprocess, a result
backfill and a full refresh differ only in their inputs (what is wanted, which window is
re-read whatever the ledger says, and whether provisional ranges count as missing).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import psycopg

from cometly_elt.cometly.catalog import request_groups

# Cometly re-attributes recent conversions: rows are provisional until this old, and every
# incremental sync re-reads at least this much before its window.
LOOKBACK = timedelta(days=3)


@dataclass(frozen=True)
class FetchJob:
    """One request group's events, missing over [utc_start, utc_end)."""

    events: tuple[str, ...]
    utc_start: datetime
    utc_end: datetime


def local_midnight_utc(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(tz)).astimezone(timezone.utc)


def record(conn: psycopg.Connection, workspace_id: str, version: int, events: Iterable[str],
           utc_start: datetime, utc_end: datetime) -> None:
    """Claim [utc_start, utc_end) as loaded for `events`; call it inside the load's transaction.

    The part older than the lookback at this moment is settled as well. Events are upserted in
    name order, so two loads of the same events never wait on each other's rows in a cycle."""
    conn.execute(
        """
        insert into control.event_coverage as c (workspace_id, settings_version, event_name, covered, settled)
        select %(w)s, %(v)s, event_name, tstzmultirange(tstzrange(%(s)s, %(e)s)),
               case when %(s)s < now() - %(lookback)s
                    then tstzmultirange(tstzrange(%(s)s, least(%(e)s, now() - %(lookback)s)))
                    else '{}'::tstzmultirange end
        from unnest(%(events)s::text[]) as event_name
        order by event_name
        on conflict (workspace_id, settings_version, event_name) do update
        set covered = c.covered + excluded.covered, settled = c.settled + excluded.settled, updated_at = now()
        """,
        {"w": workspace_id, "v": version, "events": sorted(set(events)), "s": utc_start, "e": utc_end,
         "lookback": LOOKBACK},
    )


def forget_other_versions(conn: psycopg.Connection, workspace_id: str, keep_version: int) -> None:
    """A version was swapped in: the others' rows are gone, so is their coverage."""
    conn.execute("delete from control.event_coverage where workspace_id = %s and settings_version <> %s",
                 (workspace_id, keep_version))


def fetch_plan(conn: psycopg.Connection, workspace_id: str, version: int, events: Iterable[str],
               wanted: tuple[datetime, datetime], *, reread: tuple[datetime, datetime] | None = None,
               provisional_is_missing: bool = True) -> list[FetchJob]:
    """What to fetch so that every event is loaded over `wanted`: its missing ranges (and, unless told
    otherwise, its provisional ones), plus `reread` (a run's window) whatever the ledger says.

    Events missing the same ranges share requests: the timeline is cut wherever any event's need
    starts or ends, and each piece is asked for the events that need it, in Cometly's request groups.
    """
    events = sorted(set(events))
    if not events or not wanted[0] < wanted[1]:
        return []
    start, end = wanted
    reread_start, reread_end = (max(reread[0], start), min(reread[1], end)) if reread else (end, end)
    rows = conn.execute(
        """
        with need as (
            select e.event_name,
                   tstzmultirange(tstzrange(%(s)s, %(e)s))
                   - coalesce(case when %(provisional)s then c.settled else c.covered end, '{}')
                   + case when %(rs)s < %(re)s then tstzmultirange(tstzrange(%(rs)s, %(re)s))
                          else '{}'::tstzmultirange end as ranges
            from unnest(%(events)s::text[]) as e(event_name)
            left join control.event_coverage c
              on c.workspace_id = %(w)s and c.settings_version = %(v)s and c.event_name = e.event_name
        )
        select event_name, lower(r), upper(r) from need, unnest(ranges) as r order by lower(r)
        """,
        {"w": workspace_id, "v": version, "events": events, "s": start, "e": end, "rs": reread_start,
         "re": reread_end, "provisional": provisional_is_missing},
    ).fetchall()
    return _jobs(rows)


def _jobs(rows: list[tuple[str, datetime, datetime]]) -> list[FetchJob]:
    """(event, start, end) needs → jobs: one per stretch of time needed by the same events."""
    cuts = sorted({t for _, s, e in rows for t in (s, e)})
    stretches: list[tuple[frozenset[str], datetime, datetime]] = []
    for lo, hi in zip(cuts, cuts[1:]):
        needing = frozenset(name for name, s, e in rows if s <= lo and hi <= e)
        if not needing:
            continue
        if stretches and stretches[-1][0] == needing and stretches[-1][2] == lo:
            stretches[-1] = (needing, stretches[-1][1], hi)
        else:
            stretches.append((needing, lo, hi))
    return [FetchJob(tuple(group), lo, hi)
            for needing, lo, hi in stretches for group in request_groups(sorted(needing))]


def day_progress(conn: psycopg.Connection, workspace_id: str, version: int, events: Iterable[str],
                 history_start: date, tz: str, until: datetime) -> dict[str, tuple[int, int]]:
    """event → (local days loaded completely, local days) from `history_start` to `until`'s local day.

    A day counts as loaded when all of it before `until` is covered."""
    last_day = (until - timedelta(seconds=1)).astimezone(ZoneInfo(tz)).date()
    rows = conn.execute(
        """
        select e.event_name,
               count(*) filter (where c.covered @> tstzrange(d.first, least(d.next, %(until)s))),
               count(*)
        from unnest(%(events)s::text[]) as e(event_name)
        left join control.event_coverage c
          on c.workspace_id = %(w)s and c.settings_version = %(v)s and c.event_name = e.event_name
        cross join lateral (
            select day at time zone %(tz)s as first, (day + interval '1 day') at time zone %(tz)s as next
            from generate_series(%(h)s::timestamp, %(last)s::timestamp, interval '1 day') as day
        ) d
        group by e.event_name
        """,
        {"w": workspace_id, "v": version, "events": sorted(set(events)), "until": until, "tz": tz,
         "h": history_start, "last": last_day},
    ).fetchall()
    found = {name: (done, total) for name, done, total in rows}
    return {name: found.get(name, (0, 0)) for name in events}
