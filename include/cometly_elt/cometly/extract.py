"""Cometly events → `raw_cometly.events`, by the cheapest way the Space's limits allow.

What to fetch comes from the coverage ledger (`coverage.fetch_plan`): jobs of one request
group's events over a UTC range. Each job is cut into pieces (`windows.py`), each fetched
and loaded as one batch: its rows replace the piece's slice of the table (workspace,
settings version, the job's events, `event_time_utc` in the piece) and the ledger claims
the piece, in one transaction. A rerun never duplicates, a conversion that lost its
attribution disappears, and a crash leaves the ledger true.

List pages or exports (`method="auto"`). A list page holds up to 4,000 rows at 7 calls a
minute; an export holds one local day whatever its size, at 5 creates a minute, and is
ready a few minutes after its creation. The two budgets are separate, so a big job uses
both at once:

1. one list request over the whole job: a Space whose job fits in one page costs one call;
2. unless the pages show that using exports too would end sooner (the best split of the days
   by the density seen), keep paging that request;
3. otherwise list forward from the oldest day, in windows of about ten pages sized by the
   density seen so far, while exports take days backward from the newest. An export is
   created only while listing is not expected to reach its day before the export would be
   ready; when the two meet, the job is done.

`method="list"` or `"export"` forces one way: for tests, and for an operator through the
connection's extra (`{"fetch": "export"}`), when one endpoint misbehaves.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.conninfo import make_conninfo

from cometly_elt.cometly import catalog
from cometly_elt.cometly.export_jobs import FIRST_POLL_MINUTES, ExportRunner
from cometly_elt.cometly.rate_budget import DOCUMENTED_LIMITS, RateBudget
from cometly_elt.cometly.rows import COLUMNS, KEY, Batch
from cometly_elt.cometly.windows import SECOND, Piece, day_pieces, request_bounds
from cometly_elt.control import coverage
from cometly_elt.control.coverage import FetchJob
from cometly_elt.errors import UserError
from cometly_elt.hooks.cometly import CometlyHook, EventPage
from cometly_elt.load import BatchResult, load_batch

log = logging.getLogger(__name__)

METHODS = ("auto", "list", "export")
# The slice of raw_cometly.events one batch replaces.
REPLACE = (
    "workspace_id = %s and settings_version = %s and event_name = any(%s)"
    " and event_time_utc >= %s and event_time_utc < %s"
)
# A list window after the first request is sized to hold this many pages by the density seen:
# its last page is seldom full, so fewer, longer windows waste fewer calls (here under 1 in 10),
# while a window still ends within a couple of API minutes, where listing may meet the exports.
LIST_WINDOW_PAGES = 9.5
LIST_CALLS_A_MINUTE = DOCUMENTED_LIMITS["list_events"]
EXPORT_CREATES_A_MINUTE = DOCUMENTED_LIMITS["create_export"]


@dataclass
class ExtractResult:
    method: str
    batches: int = 0
    received: int = 0
    loaded: int = 0
    rejected: int = 0
    api_calls: int = 0

    def add(self, batch: BatchResult, api_calls: int) -> None:
        self.batches += 1
        self.received += batch.received
        self.loaded += batch.loaded
        self.rejected += batch.rejected
        self.api_calls += api_calls


@dataclass(frozen=True)
class Query:
    """What every request of one job asks for, but the time range."""

    events: list[str]  # one request group
    model: str
    window: int
    per_page: int

    def list_params(self) -> list[tuple[str, Any]]:
        # Laravel reads arrays as name[]=a&name[]=b.
        return (
            [("event_names[]", name) for name in self.events]
            + [("sources[]", source) for source in catalog.META_SOURCES]
            + [("attribution_model", self.model), ("attribution_window", self.window)]
            + [("fields[]", name) for name in catalog.EVENT_FIELDS]
            + [("per_page", self.per_page)]
        )

    def export_body(self, day) -> dict[str, Any]:
        return {
            "date": day.isoformat(), "event_names": self.events, "sources": list(catalog.META_SOURCES),
            "attribution_model": self.model, "attribution_window": self.window,
            "fields": list(catalog.EVENT_FIELDS),
        }


def window_jobs(event_names: list[str], utc_start: datetime, utc_end: datetime) -> list[FetchJob]:
    """`fill`'s jobs for the events of [utc_start, utc_end), whatever the ledger says (a forced re-read)."""
    if utc_start.tzinfo is None or utc_end.tzinfo is None:
        raise ValueError("utc_start and utc_end must be timezone-aware")
    try:
        groups = catalog.request_groups(event_names)
    except ValueError as err:
        raise UserError(f"cannot extract from Cometly: {err}") from None
    return [FetchJob(tuple(group), utc_start, utc_end) for group in groups] if utc_start < utc_end else []


def fill(
    conn: psycopg.Connection,
    hook: CometlyHook,
    *,
    workspace_id: str,
    settings_version: int,
    model: str,
    window_days: int,
    timezone: str,
    jobs: list[FetchJob],
    method: str = "auto",
    per_page: int = catalog.MAX_PER_PAGE,
) -> ExtractResult:
    """Fetch and load every job (`coverage.fetch_plan`), each batch committed with its coverage.

    `conn` loads the batches, each in a transaction of its own when it is in autocommit mode.
    `hook` spends the Space's shared rate budget; without one it gets a budget in `conn`'s
    database for this call. `per_page` exists for tests and benchmarks.
    """
    if method not in METHODS:
        raise ValueError(f"method must be auto, list or export, not {method!r}")
    result = ExtractResult(method)
    if not jobs:
        return result
    try:
        api_model, api_window = catalog.api_model(model), catalog.api_window(window_days)
    except ValueError as err:
        raise UserError(f"cannot extract from Cometly: {err}") from None
    own_budget = hook.budget is None
    if own_budget:
        hook.budget = RateBudget.beside(conn, workspace_id)
    try:
        for job in jobs:
            query = Query(list(job.events), api_model, api_window, per_page)
            Extraction(conn, hook, query, ZoneInfo(timezone), workspace_id, settings_version, result).run(
                Piece(job.utc_start, job.utc_end), method)
            log.info("Cometly %s → raw_cometly.events %s (%s, %s): %s", workspace_id, list(job.events),
                     job.utc_start, job.utc_end, result)
    finally:
        if own_budget:
            hook.budget.close()
            hook.budget = None
    return result


class Extraction:
    """One job: its events over one UTC range, listed, exported or both."""

    def __init__(self, conn, hook: CometlyHook, query: Query, tz: ZoneInfo, workspace_id: str,
                 settings_version: int, result: ExtractResult):
        self.conn, self.hook, self.query, self.tz = conn, hook, query, tz
        self.workspace_id, self.settings_version = workspace_id, settings_version
        self.result = result
        self.minute = hook.budget.minute
        self._counts = threading.Lock()

    def run(self, whole: Piece, method: str) -> None:
        if method == "list":
            self.load(self.list_piece(whole, self.hook), "list")
        elif method == "export":
            pieces = day_pieces(whole.utc_start, whole.utc_end, self.tz)
            for piece in pieces:
                if piece.day is None:  # a repeated hour at midnight no day's export reaches
                    self.load(self.list_piece(piece, self.hook), "list")
            days = iter([p for p in pieces if p.day is not None])
            ExportRunner(self, lambda _minutes: next(days, None)).run()
        else:
            self._auto(whole)

    # ------------------------------------------------------------ batches

    def new_batch(self, piece: Piece) -> Batch:
        return Batch(piece, (self.workspace_id, self.settings_version))

    def counted(self, batch: Batch, call: Callable[[], Any], hook: CometlyHook | None = None) -> Any:
        """Run one hook call, charging the API calls it made (retries included) to `batch`."""
        hook = hook or self.hook
        before = hook.api_calls
        try:
            return call()
        finally:
            batch.api_calls += hook.api_calls - before

    def load(self, batch: Batch, method: str, conn=None) -> None:
        """The batch's rows replace its piece's slice, and the ledger claims the piece, in one transaction."""
        conn = conn or self.conn
        piece = batch.piece
        with conn.transaction():
            loaded = load_batch(
                conn,
                schema="raw_cometly",
                table="events",
                columns=COLUMNS,
                rows=batch.rows,
                rejected=batch.rejected,
                replace_where=REPLACE,
                replace_params=[self.workspace_id, self.settings_version, self.query.events,
                                piece.utc_start, piece.utc_end],
                key=KEY,
                batch={
                    "workspace_id": self.workspace_id,
                    "settings_version": self.settings_version,
                    "method": method,
                    "window_start_utc": piece.utc_start,
                    "window_end_utc": piece.utc_end,
                    "event_names": sorted(self.query.events),
                    "api_calls": batch.api_calls,
                    "duration_ms": int((time.monotonic() - batch.started) * 1000),
                },
            )
            coverage.record(conn, self.workspace_id, self.settings_version, self.query.events,
                            piece.utc_start, piece.utc_end)
        with self._counts:
            self.result.add(loaded, batch.api_calls)

    # ------------------------------------------------------------ listing

    def _pages(self, piece: Piece, hook: CometlyHook):
        """(batch, pages): the piece's batch and its GET /events pages, which fill it as they are read."""
        batch = self.new_batch(piece)
        bounds = request_bounds(piece.utc_start, piece.utc_end, self.tz)
        first, last = bounds.reads(self.tz)
        asked = (first, last + SECOND)  # inclusive to the second
        pages = hook.event_pages(self.query.list_params() + list(bounds.params.items()))

        def read() -> EventPage | None:
            page = self.counted(batch, lambda: next(pages, None), hook)
            if page is not None:
                for raw in page.data:
                    batch.add(raw, self.query.events, asked)
            return page

        return batch, read

    def list_piece(self, piece: Piece, hook: CometlyHook) -> Batch:
        batch, read = self._pages(piece, hook)
        while read() is not None:
            pass
        return batch

    # ------------------------------------------------------------ both ways at once

    def _auto(self, whole: Piece) -> None:
        batch, read = self._pages(whole, self.hook)
        page = read()
        if page is None or not page.next_cursor:
            self.load(batch, "list")
            return
        per_page = page.per_page or self.query.per_page
        density = _density(batch, len(page.data))
        pieces = day_pieces(whole.utc_start, whole.utc_end, self.tz)
        if not _sooner_both_ways(pieces, density, per_page):
            while read() is not None:
                pass
            self.load(batch, "list")
            return
        with self._counts:  # the first page's rows are fetched again by the side that takes them
            self.result.api_calls += batch.api_calls
        log.info("Cometly %s: about %.0f pages to list from %s to %s; listing from the oldest day while"
                 " exporting from the newest", self.workspace_id, _rows(pieces, density) / per_page,
                 whole.utc_start, whole.utc_end)
        _Meeting(self, pieces, density, per_page).run()


def _rows(pieces: list[Piece], density: float) -> float:
    return density * sum((p.utc_end - p.utc_start).total_seconds() for p in pieces)


def _minutes(calls: int, a_minute: int) -> int:
    """Cometly minutes until the last of `calls` calls can start (the first opens the first minute)."""
    return math.ceil(calls / a_minute) - 1 if calls else 0


def _sooner_both_ways(pieces: list[Piece], density: float, per_page: int) -> bool:
    """Whether listing the oldest days while exporting the newest should end sooner than paging on
    through the first request, by the density seen: the best split of the days, by Cometly's limits
    (the formula bench/bench_coverage.py takes as the minimum)."""
    paging_on = _minutes(math.ceil(_rows(pieces, density) / per_page), LIST_CALLS_A_MINUTE)
    best, listed = float(paging_on), 0.0
    for k, piece in enumerate(pieces):  # the k oldest pieces listed, the others exported
        exported = pieces[k:]
        if any(p.day is None for p in exported):
            listed += _rows([piece], density)
            continue
        export = _minutes(len(exported), EXPORT_CREATES_A_MINUTE) + FIRST_POLL_MINUTES
        best = min(best, max(_minutes(math.ceil(listed / per_page) + 1, LIST_CALLS_A_MINUTE), export))
        listed += _rows([piece], density)
    return best < paging_on


def _density(batch: Batch, rows: int) -> float:
    """Rows per second over the span of time a page's rows covered (one page: a lower bound on its span)."""
    times = [row[5] for row in batch.rows]
    span = (max(times) - min(times)).total_seconds() if len(times) > 1 else 0
    return rows / max(span, 1.0)


class _Meeting:
    """Listing forward from the oldest piece while exports take pieces backward from the newest.

    The pieces are local days (and, where a repeated hour at midnight falls between two days'
    exports, a list-only piece). Each side claims pieces under one lock, so every piece is
    fetched once, by one side; the job is done when the two meet. Near the meeting point a side
    steps back when the other would fetch what is left sooner: the exports when listing should
    reach their next day before its export is ready, the list when the exports would take every
    day left before its next window is listed.
    """

    def __init__(self, x: Extraction, pieces: list[Piece], density: float, per_page: int):
        self.x, self.pieces, self.per_page = x, pieces, per_page
        self.lo, self.hi = 0, len(pieces)  # the list takes pieces[lo], the exports pieces[hi - 1]
        self.listed_rows, self.listed_seconds = 0, 0.0
        self.density = density  # rows per second, until the list has measured its own
        self.export_minutes = FIRST_POLL_MINUTES  # as the export runner learns it
        # Once one side stops, the other takes every piece left.
        self.listing_over = self.exporting_over = False
        self.stopped = False
        self.lock = threading.Lock()

    def run(self) -> None:
        lister = ThreadPoolExecutor(1, thread_name_prefix="cometly-list")
        listed = lister.submit(self._list)
        try:
            ExportRunner(self.x, self._next_export).run()
        except BaseException:
            self.stopped = True
            raise
        finally:
            lister.shutdown(wait=True)
        listed.result()

    def _rows(self, first: int, end: int) -> float:
        return _rows(self.pieces[first:end], self.density)

    def _next_export(self, export_minutes: float) -> Piece | None:
        """The newest piece left, unless listing should reach it before its export would be ready."""
        with self.lock:
            self.export_minutes = export_minutes
            if self.stopped or self.lo >= self.hi or self.pieces[self.hi - 1].day is None:
                self.exporting_over = True
                return None
            list_minutes = self._rows(self.lo, self.hi - 1) / self.per_page / LIST_CALLS_A_MINUTE
            if list_minutes <= export_minutes and not self.listing_over:
                self.exporting_over = True
                return None
            self.hi -= 1
            return self.pieces[self.hi]

    def _claim_window(self) -> Piece | None:
        """The oldest pieces left, as many as about LIST_WINDOW_PAGES pages hold (one at least), unless
        the exports would take every piece left before listing this window would end."""
        with self.lock:
            if self.stopped or self.lo >= self.hi:
                return None
            end = self.lo + 1
            while end < self.hi and self._rows(self.lo, end + 1) <= LIST_WINDOW_PAGES * self.per_page:
                end += 1
            list_minutes = self._rows(self.lo, end) / self.per_page / LIST_CALLS_A_MINUTE
            exports_minutes = (self.hi - self.lo) / EXPORT_CREATES_A_MINUTE + self.export_minutes
            exportable = all(p.day is not None for p in self.pieces[self.lo:self.hi])
            if not self.exporting_over and exportable and list_minutes >= exports_minutes:
                self.listing_over = True
                return None
            window = Piece(self.pieces[self.lo].utc_start, self.pieces[end - 1].utc_end)
            self.lo = end
            return window

    def _list(self) -> None:
        hook = self.x.hook.sibling()
        conn = psycopg.connect(make_conninfo(self.x.conn.info.dsn, password=self.x.conn.info.password),
                               autocommit=True)
        try:
            while (window := self._claim_window()) is not None:
                batch = self.x.list_piece(window, hook)
                self.x.load(batch, "list", conn)
                with self.lock:
                    self.listed_rows += len(batch.rows) + len(batch.rejected)
                    self.listed_seconds += (window.utc_end - window.utc_start).total_seconds()
                    self.density = max(self.listed_rows, 1) / self.listed_seconds
        except BaseException:
            self.stopped = True
            raise
        finally:
            conn.close()
            if hook.budget:
                hook.budget.close()

