"""Cometly events of one window → `raw_cometly.events`, replacing what the window held.

A window [utc_start, utc_end) is cut into pieces (`windows.py`), each fetched
and loaded as one batch: its rows replace the piece's slice of the table (this
workspace, settings version and events, `event_time_utc` in the piece) in one
transaction, so a rerun never duplicates and a conversion that lost its
attribution disappears.

List or export, the rule (`method="auto"`): a window longer than
`EXPORT_AFTER` (7 days: first syncs, reprocessing after a settings change,
backfills) is fetched with export jobs, one per local day and group of events;
shorter ones (incremental syncs: the data interval plus the re-pull lookback)
with GET /events. A list page holds 4,000 events at 7 calls a minute, so small
windows cost one or two calls; an export costs a create (5 a minute) and status
polls whatever its size, and Cometly recommends exports beyond ~10,000 events,
which long windows reach.

Every row the API sends for a piece is counted: loaded, or rejected with a
reason and the row as received, as JSON (no id, a bad timestamp, a non-numeric
amount, an event not asked for, a time outside what was asked). Rows from the margin a
request had to take beyond the piece (a DST-widened bound, the part of an
exported local day outside the window) belong to a neighbouring window and are
not this batch's: received = loaded + rejected, always.
"""

from __future__ import annotations

import gzip
import logging
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Callable
from zoneinfo import ZoneInfo

import msgspec
import psycopg

from cometly_elt.cometly import catalog
from cometly_elt.cometly.windows import SECOND, Piece, day_pieces, local_day_span, request_bounds
from cometly_elt.errors import UserError
from cometly_elt.hooks.cometly import CometlyHook, DownloadExpired
from cometly_elt.load import BatchResult, Rejected, load_batch
from cometly_elt.ratelimit import RateBudget

log = logging.getLogger(__name__)

EXPORT_AFTER = timedelta(days=7)
# Export jobs created and not yet loaded. At 5 creates a minute this is ten minutes of
# creates: Cometly's processing (about 3.5 minutes in its docs), a poll's wait behind a create
# and files waiting to be loaded (well within the 15 minutes a download URL lasts); beyond
# it, creating more would only pile up files.
EXPORTS_IN_FLIGHT = 50
# An export that ends `failed` is created again, this many times in all.
EXPORT_ATTEMPTS = 3
# A job is first polled at the age exports of its run are expected to take: one API minute
# at first, raised a quarter (at most two minutes) past the age of any first poll that found
# its job unfinished. A job polled again waits a quarter of its age more (at most two minutes).
FIRST_POLL_MINUTES, POLL_GROWTH, MAX_POLL_STEP_MINUTES = 1.0, 1.25, 2.0

COLUMNS = (
    "workspace_id", "settings_version", "event_id", "event_name", "configured_name", "event_time_utc",
    "amount", "order_id", "account_id", "account_name", "campaign_id", "campaign_name",
    "adset_id", "adset_name", "ad_id", "ad_name",
)
KEY = ("workspace_id", "settings_version", "event_id")
_REPLACE = (
    "workspace_id = %s and settings_version = %s and event_name = any(%s)"
    " and event_time_utc >= %s and event_time_utc < %s"
)

Id = int | str | None


class _Row(msgspec.Struct):
    """An event row as Cometly sends it (ids may come as numbers)."""

    id: Id = None
    event_time_utc: datetime | None = None
    event_name: str | None = None
    configured_name: str | None = None
    amount: Decimal | None = None
    order_id: Id = None
    account_id: Id = None
    account_name: str | None = None
    campaign_id: Id = None
    campaign_name: str | None = None
    adset_id: Id = None
    adset_name: str | None = None
    ad_id: Id = None
    ad_name: str | None = None


_decode_row = msgspec.json.Decoder(_Row).decode


def _text(value: Id) -> str | None:
    return None if value is None else str(value)


def _verbatim(raw: bytes | msgspec.Raw) -> Any:
    """A rejected row's payload: the row as received (its text when it is not even JSON)."""
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return bytes(raw).decode("utf-8", "replace")


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


@dataclass
class _Batch:
    """One piece's rows as they arrive: kept, rejected with a reason, or left to a neighbouring piece."""

    piece: Piece
    prefix: tuple[str, int]  # workspace_id, settings_version
    rows: list[tuple] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    api_calls: int = 0
    started: float = field(default_factory=time.monotonic)

    def add(self, raw: bytes | msgspec.Raw, asked_names: list[str], asked: tuple[datetime, datetime]) -> None:
        """`asked` is [first, end) of what the request asked for, in UTC."""
        try:
            row = _decode_row(raw)
        except msgspec.DecodeError as err:
            self.rejected.append(Rejected(f"unreadable event ({err})", _verbatim(raw)))
            return
        at = row.event_time_utc
        if at is not None and at.tzinfo is not None and self.piece.utc_start <= at < self.piece.utc_end:
            reason = self._problem(row, asked_names)
        elif at is not None and at.tzinfo is not None and asked[0] <= at < asked[1]:
            return  # the margin: a neighbouring window's row
        elif at is None:
            reason = "event has no event_time_utc"
        elif at.tzinfo is None:
            reason = f"event_time_utc {at.isoformat()} has no timezone"
        else:
            reason = f"event_time_utc {at.isoformat()} is outside the time range asked for"
        if reason:
            self.rejected.append(Rejected(reason, _verbatim(raw)))
            return
        self.rows.append((
            *self.prefix, str(row.id), row.event_name, row.configured_name, at,
            0 if row.amount is None else row.amount, _text(row.order_id),
            _text(row.account_id), row.account_name, _text(row.campaign_id), row.campaign_name,
            _text(row.adset_id), row.adset_name, _text(row.ad_id), row.ad_name,
        ))

    @staticmethod
    def _problem(row: _Row, asked_names: list[str]) -> str | None:
        if row.id is None or row.id == "":
            return "event has no id"
        if row.event_name is None:
            return "event has no event_name"
        if row.event_name not in asked_names:
            return f"event {row.event_name!r} was not asked for"
        if row.amount is not None and not row.amount.is_finite():
            return f"amount {row.amount} is not a number"
        if any(isinstance(value, str) and "\x00" in value for value in msgspec.structs.astuple(row)):
            return "a text field holds a NUL character, which PostgreSQL text cannot store"
        return None


@dataclass(frozen=True)
class _Query:
    """What every request of one extraction asks for, but the time range."""

    groups: list[list[str]]
    model: str
    window: int
    per_page: int

    def list_params(self, group: list[str]) -> list[tuple[str, Any]]:
        # Laravel reads arrays as name[]=a&name[]=b.
        return (
            [("event_names[]", name) for name in group]
            + [("sources[]", source) for source in catalog.META_SOURCES]
            + [("attribution_model", self.model), ("attribution_window", self.window)]
            + [("fields[]", name) for name in catalog.EVENT_FIELDS]
            + [("per_page", self.per_page)]
        )

    def export_body(self, day, group: list[str]) -> dict[str, Any]:
        return {
            "date": day.isoformat(), "event_names": group, "sources": list(catalog.META_SOURCES),
            "attribution_model": self.model, "attribution_window": self.window,
            "fields": list(catalog.EVENT_FIELDS),
        }


def extract_window(
    conn: psycopg.Connection,
    hook: CometlyHook,
    *,
    workspace_id: str,
    settings_version: int,
    model: str,
    window_days: int,
    event_names: list[str],
    timezone: str,
    utc_start: datetime,
    utc_end: datetime,
    method: str = "auto",
    per_page: int = catalog.MAX_PER_PAGE,
) -> ExtractResult:
    """Extract and load the selected events of [utc_start, utc_end) for one workspace and settings version.

    `hook` spends the Space's shared rate budget; without one it gets a budget
    in `conn`'s database for this call. `per_page` exists for tests.
    """
    if utc_start.tzinfo is None or utc_end.tzinfo is None:
        raise ValueError("utc_start and utc_end must be timezone-aware")
    if method == "auto":
        method = "export" if utc_end - utc_start > EXPORT_AFTER else "list"
    if method not in ("list", "export"):
        raise ValueError(f"method must be auto, list or export, not {method!r}")
    result = ExtractResult(method)
    if not event_names or utc_start >= utc_end:
        return result
    try:
        query = _Query(catalog.request_groups(event_names), catalog.api_model(model),
                       catalog.api_window(window_days), per_page)
    except ValueError as err:
        raise UserError(f"cannot extract from Cometly: {err}") from None
    tz = ZoneInfo(timezone)
    pieces = day_pieces(utc_start, utc_end, tz) if method == "export" else [Piece(utc_start, utc_end)]
    own_budget = hook.budget is None
    if own_budget:
        hook.budget = RateBudget.beside(conn, workspace_id)
    try:
        extraction = _Extraction(conn, hook, query, tz, workspace_id, settings_version, event_names, result)
        extraction.run(pieces)
    finally:
        if own_budget:
            hook.budget.close()
            hook.budget = None
    log.info("Cometly %s → raw_cometly.events (%s, %s): %s", workspace_id, utc_start, utc_end, result)
    return result


class _Extraction:
    def __init__(self, conn, hook: CometlyHook, query: _Query, tz: ZoneInfo, workspace_id: str,
                 settings_version: int, event_names: list[str], result: ExtractResult):
        self.conn, self.hook, self.query, self.tz = conn, hook, query, tz
        self.workspace_id, self.settings_version = workspace_id, settings_version
        self.event_names = sorted(set(event_names))
        self.result = result
        self.minute = hook.budget.minute

    def run(self, pieces: list[Piece]) -> None:
        exports = []
        for piece in pieces:
            if piece.day is None:
                self.load(self._fetch_list(piece), "list")
            else:
                exports.append(piece)
        if exports:
            _ExportRunner(self).run(exports)

    def new_batch(self, piece: Piece) -> _Batch:
        return _Batch(piece, (self.workspace_id, self.settings_version))

    def counted(self, batch: _Batch, call: Callable[[], Any]) -> Any:
        """Run one hook call, charging the API calls it made (retries included) to `batch`."""
        before = self.hook.api_calls
        try:
            return call()
        finally:
            batch.api_calls += self.hook.api_calls - before

    def _fetch_list(self, piece: Piece) -> _Batch:
        batch = self.new_batch(piece)
        bounds = request_bounds(piece.utc_start, piece.utc_end, self.tz)
        first, last = bounds.reads(self.tz)
        asked = (first, last + SECOND)  # inclusive to the second
        for group in self.query.groups:
            pages = self.hook.event_pages(self.query.list_params(group) + list(bounds.params.items()))
            while (page := self.counted(batch, lambda: next(pages, None))) is not None:
                for raw in page.data:
                    batch.add(raw, group, asked)
        return batch

    def load(self, batch: _Batch, method: str) -> None:
        piece = batch.piece
        loaded = load_batch(
            self.conn,
            schema="raw_cometly",
            table="events",
            columns=COLUMNS,
            rows=batch.rows,
            rejected=batch.rejected,
            replace_where=_REPLACE,
            replace_params=[self.workspace_id, self.settings_version, self.event_names, piece.utc_start, piece.utc_end],
            key=KEY,
            batch={
                "workspace_id": self.workspace_id,
                "settings_version": self.settings_version,
                "method": method,
                "window_start_utc": piece.utc_start,
                "window_end_utc": piece.utc_end,
                "event_names": self.event_names,
                "api_calls": batch.api_calls,
                "duration_ms": int((time.monotonic() - batch.started) * 1000),
            },
        )
        self.result.add(loaded, batch.api_calls)


@dataclass
class _ExportJob:
    """One local day's export of one group of events."""

    batch: _Batch
    group: list[str]
    export_id: int | None = None
    attempts: int = 0
    polls: int = 0  # since the export was created
    created_at: float = 0.0
    poll_at: float = 0.0


def _next_poll_age(age: float) -> float:
    return age + min(age * (POLL_GROWTH - 1), MAX_POLL_STEP_MINUTES)


class _ExportRunner:
    """Export jobs in flight: create at the pace the budget allows, poll each when it should be
    done, and download, read and load finished days in a thread of their own.

    The Space's creates (5 a minute) set the pace of a backfill, so the runner keeps them
    going: loading a day never holds back the next create, and jobs are polled once they
    are as old as this run's exports turned out to take, mostly once each.
    """

    def __init__(self, extraction: _Extraction):
        self.x = extraction
        self.hook = extraction.hook
        self.first_poll = FIRST_POLL_MINUTES  # API minutes
        self.groups_left: dict[Piece, int] = {}

    def run(self, pieces: list[Piece]) -> None:
        groups = self.x.query.groups
        self.groups_left = {piece: len(groups) for piece in pieces}
        waiting = deque(_ExportJob(self.x.new_batch(piece), group) for piece in pieces for group in groups)
        loader = ThreadPoolExecutor(1, thread_name_prefix="cometly-export-load")
        try:
            self._drive(waiting, loader)
        finally:
            loader.shutdown(cancel_futures=True)

    def _drive(self, waiting: deque[_ExportJob], loader: ThreadPoolExecutor) -> None:
        polling: list[_ExportJob] = []  # created, not yet completed
        loading: dict[Future, _ExportJob] = {}  # completed, being downloaded, read and loaded
        while True:
            for future in [f for f in loading if f.done()]:
                job = loading.pop(future)
                if not future.result():  # the download URL expired: a fresh one comes with a poll
                    job.poll_at = time.monotonic()
                    polling.append(job)
            if not (waiting or polling or loading):
                return
            due = min(polling, key=lambda j: j.poll_at, default=None)
            now = time.monotonic()
            if waiting and len(polling) + len(loading) < EXPORTS_IN_FLIGHT and (due is None or due.poll_at > now):
                job = waiting.popleft()
                self._create(job)
                polling.append(job)
                continue
            if due is None or due.poll_at > now:
                until = due.poll_at - now if due else None
                if loading:
                    wait(loading, timeout=until, return_when=FIRST_COMPLETED)
                else:
                    time.sleep(until)
                continue
            polling.remove(due)
            url = self._poll(due)
            if url:
                loading[loader.submit(self._fetch, due, url)] = due
            elif due.export_id is None:  # failed: create it again
                waiting.appendleft(due)
            else:
                polling.append(due)

    def _age(self, job: _ExportJob) -> float:
        return (time.monotonic() - job.created_at) / self.x.minute

    def _create(self, job: _ExportJob) -> None:
        body = self.x.query.export_body(job.batch.piece.day, job.group)
        job.export_id = self.x.counted(job.batch, lambda: self.hook.create_export(body))
        job.attempts += 1
        job.polls = 0
        job.created_at = time.monotonic()
        job.poll_at = job.created_at + self.first_poll * self.x.minute

    def _poll(self, job: _ExportJob) -> str | None:
        """Poll once, unless other jobs showed it too early; the download URL once completed."""
        if job.polls == 0 and self._age(job) < self.first_poll:
            job.poll_at = job.created_at + self.first_poll * self.x.minute
            return None
        status = self.x.counted(job.batch, lambda: self.hook.export_status(job.export_id))
        job.polls += 1
        if status.status == "completed" and status.download_url:
            return status.download_url
        if status.status == "failed":
            if job.attempts >= EXPORT_ATTEMPTS:
                raise UserError(
                    f"Cometly's export of {job.batch.piece.day} failed {job.attempts} times"
                    f" ({status.message or 'no reason given'}): run the sync again later"
                )
            log.warning("Cometly export %s of %s failed (%s); creating it again",
                        job.export_id, job.batch.piece.day, status.message)
            job.export_id = None
            return None
        age = self._age(job)
        if job.polls == 1:
            self.first_poll = max(self.first_poll, _next_poll_age(age))
        job.poll_at = job.created_at + max(self.first_poll, _next_poll_age(age)) * self.x.minute
        return None

    def _fetch(self, job: _ExportJob, url: str) -> bool:
        """In the loader thread: download and read the file, load the day once all its groups are
        read; False if the URL expired."""
        try:
            body = self.hook.download(url)
        except DownloadExpired:
            return False
        self._read(job, body)
        piece = job.batch.piece
        self.groups_left[piece] -= 1
        if self.groups_left[piece] == 0:
            self.x.load(job.batch, "export")
        return True

    def _read(self, job: _ExportJob, body: bytes) -> None:
        """gzip NDJSON of one local day (23, 24 or 25 hours)."""
        try:
            lines = gzip.decompress(body).splitlines()
        except (OSError, EOFError) as err:
            raise UserError(f"Cometly's export of {job.batch.piece.day} is not a readable gzip file ({err})") from None
        asked = local_day_span(job.batch.piece.day, self.x.tz)
        for line in lines:
            if line.strip():
                job.batch.add(line, job.group, asked)
