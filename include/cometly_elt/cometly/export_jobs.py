"""Cometly export jobs in flight: one local day each, created at the pace the Space's budget allows,
polled when they should be done, downloaded, read and loaded in a thread of their own.

The Space's creates (5 a minute) set the pace of exporting, so the runner keeps them going:
loading a day never holds back the next create, and jobs are polled once they are as old as
this run's exports turned out to take, mostly once each. Which day to export next is not the
runner's choice: it asks its caller (`next_piece`), which may stop it when listing will reach
the remaining days sooner (extract.py).
"""

from __future__ import annotations

import gzip
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cometly_elt.cometly.rows import Batch
from cometly_elt.cometly.windows import Piece, local_day_span
from cometly_elt.errors import UserError
from cometly_elt.hooks.cometly import DownloadExpired

if TYPE_CHECKING:
    from cometly_elt.cometly.extract import Extraction

log = logging.getLogger(__name__)

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


@dataclass
class ExportJob:
    """One local day's export of the extraction's events."""

    batch: Batch
    export_id: int | None = None
    attempts: int = 0
    polls: int = 0  # since the export was created
    created_at: float = 0.0
    poll_at: float = 0.0


def _next_poll_age(age: float) -> float:
    return age + min(age * (POLL_GROWTH - 1), MAX_POLL_STEP_MINUTES)


class ExportRunner:
    """`next_piece(export_minutes)` gives the next day to export, or None when exporting is over;
    `export_minutes` is how long this run's exports are expected to take, in API minutes."""

    def __init__(self, extraction: Extraction, next_piece: Callable[[float], Piece | None]):
        self.x = extraction
        self.hook = extraction.hook
        self.next_piece = next_piece
        self.first_poll = FIRST_POLL_MINUTES  # API minutes

    def run(self) -> None:
        loader = ThreadPoolExecutor(1, thread_name_prefix="cometly-export-load")
        try:
            self._drive(loader)
        finally:
            loader.shutdown(cancel_futures=True)

    def _next_job(self, retries: deque[ExportJob]) -> ExportJob | None:
        if retries:
            return retries.popleft()
        piece = self.next_piece(self.first_poll)
        return None if piece is None else ExportJob(self.x.new_batch(piece))

    def _drive(self, loader: ThreadPoolExecutor) -> None:
        retries: deque[ExportJob] = deque()  # failed exports, to create again
        polling: list[ExportJob] = []  # created, not yet completed
        loading: dict[Future, ExportJob] = {}  # completed, being downloaded, read and loaded
        creating = True
        while True:
            for future in [f for f in loading if f.done()]:
                job = loading.pop(future)
                if not future.result():  # the download URL expired: a fresh one comes with a poll
                    job.poll_at = time.monotonic()
                    polling.append(job)
            if not (creating or retries or polling or loading):
                return
            due = min(polling, key=lambda j: j.poll_at, default=None)
            now = time.monotonic()
            if ((creating or retries) and len(polling) + len(loading) < EXPORTS_IN_FLIGHT
                    and (due is None or due.poll_at > now)):
                job = self._next_job(retries)
                if job is None:
                    creating = False
                    continue
                self._create(job)
                polling.append(job)
                continue
            if due is None:
                if loading:
                    wait(loading, return_when=FIRST_COMPLETED)
                continue
            if due.poll_at > now:
                if loading:
                    wait(loading, timeout=due.poll_at - now, return_when=FIRST_COMPLETED)
                else:
                    time.sleep(due.poll_at - now)
                continue
            polling.remove(due)
            url = self._poll(due)
            if url:
                loading[loader.submit(self._fetch, due, url)] = due
            elif due.export_id is None:  # failed: create it again
                retries.appendleft(due)
            else:
                polling.append(due)

    def _age(self, job: ExportJob) -> float:
        return (time.monotonic() - job.created_at) / self.x.minute

    def _create(self, job: ExportJob) -> None:
        body = self.x.query.export_body(job.batch.piece.day)
        job.export_id = self.x.counted(job.batch, lambda: self.hook.create_export(body))
        job.attempts += 1
        job.polls = 0
        job.created_at = time.monotonic()
        job.poll_at = job.created_at + self.first_poll * self.x.minute

    def _poll(self, job: ExportJob) -> str | None:
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

    def _fetch(self, job: ExportJob, url: str) -> bool:
        """In the loader thread: download, read and load the day; False if the URL expired."""
        try:
            body = self.hook.download(url)
        except DownloadExpired:
            return False
        self._read(job, body)
        self.x.load(job.batch, "export")
        return True

    def _read(self, job: ExportJob, body: bytes) -> None:
        """gzip NDJSON of one local day (23, 24 or 25 hours)."""
        try:
            lines = gzip.decompress(body).splitlines()
        except (OSError, EOFError) as err:
            raise UserError(f"Cometly's export of {job.batch.piece.day} is not a readable gzip file ({err})") from None
        asked = local_day_span(job.batch.piece.day, self.x.tz)
        for line in lines:
            if line.strip():
                job.batch.add(line, self.x.query.events, asked)
