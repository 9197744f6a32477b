"""Export jobs, their status polls and the files they hand out (docs/cometly-api.md §7.3–§7.5).

A job is done `EXPORT_DONE_AFTER` (fake time) after its creation or on its 3rd status
poll, whichever comes first, so that tests need not wait. A process serving the fake may
set `EXPORT_DONE_AFTER` and `EXPORTS_DONE_BY_POLLS = False` before creating the app to time
exports as the real service does, by its clock alone (bench/bench_backfill.py does).

The files are served by the fake itself at `/_s3/<token>.ndjson.gz`, standing in for the
presigned S3 URLs of the real service.
"""

from __future__ import annotations

import gzip
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from starlette.responses import Response

from cometly_elt.fake.cometly.errors import ApiError
from cometly_elt.fake.cometly.events import EventQuery, all_rows
from cometly_elt.fake.cometly.world import Space, iso_utc

EXPORT_URL_LIFETIME = timedelta(minutes=15)
# An export is queued, then processing, then done after this much fake time, or on
# the 3rd status poll, whichever comes first (so that tests need not wait).
EXPORT_PROCESSING_AFTER = timedelta(seconds=10)
EXPORT_DONE_AFTER = timedelta(seconds=60)
# A real export is done when Cometly has processed it (docs/cometly-api.md §7.4: about 3.5 minutes
# in the docs' example), however often it is polled: False keeps the fake to its clock alone.
EXPORTS_DONE_BY_POLLS = True
EXPORT_STAGES = ("queued", "processing", "done")
EXPORT_MESSAGES = {
    "queued": "Export is queued. Please check back in a few minutes.",
    "processing": "Export is being processed. Please check back in a few minutes.",
    "failed": "Export failed. Please create a new export.",
}
FIRST_EXPORT_ID = 90001


@dataclass
class Export:
    id: int
    space: Space
    query: EventQuery
    created_at: datetime
    doomed: bool  # forced to end as `failed`
    polls: int = 0
    completed_at: datetime | None = None

    def poll(self, now: datetime) -> str:
        self.polls += 1
        elapsed = now - self.created_at
        by_time = 2 if elapsed >= EXPORT_DONE_AFTER else 1 if elapsed >= EXPORT_PROCESSING_AFTER else 0
        by_polls = min(self.polls - 1, 2) if EXPORTS_DONE_BY_POLLS else 0
        stage = EXPORT_STAGES[max(by_time, by_polls)]
        if stage != "done":
            return stage
        if self.doomed:
            return "failed"
        self.completed_at = self.completed_at or now
        return "completed"


@dataclass
class _Download:
    export: Export
    expires_at: datetime


_EXPIRED_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>{message}</Message>'
    "<X-Amz-Expires>900</X-Amz-Expires><Expires>{expires}</Expires><ServerTime>{now}</ServerTime>"
    "<RequestId>{request_id}</RequestId><HostId>{host_id}</HostId></Error>"
)


@dataclass
class Exports:
    """The export jobs of one fake Cometly, and the download links handed out for them."""

    jobs: dict[int, Export] = field(default_factory=dict)
    downloads: dict[str, _Download] = field(default_factory=dict)
    to_fail: int = 0  # how many of the next jobs created end as `failed`
    next_id: int = FIRST_EXPORT_ID

    def create(self, space: Space, query: EventQuery, now: datetime) -> Export:
        export = Export(self.next_id, space, query, now, doomed=self.to_fail > 0)
        self.to_fail = max(0, self.to_fail - 1)
        self.jobs[export.id] = export
        self.next_id += 1
        return export

    def status(self, export_id: str, space: Space, now: datetime, base_url: str) -> dict[str, Any]:
        """A status poll; once completed, a fresh download link valid for EXPORT_URL_LIFETIME."""
        export = self.jobs.get(int(export_id)) if export_id.isdigit() else None
        if export is None or export.space is not space:
            raise ApiError(404, "Export not found.")
        status = export.poll(now)
        body: dict[str, Any] = {"export_id": export.id, "status": status, "created_at": iso_utc(export.created_at)}
        if status == "completed":
            token = secrets.token_urlsafe(24)
            download = self.downloads[token] = _Download(export, now + EXPORT_URL_LIFETIME)
            body.update(
                completed_at=iso_utc(export.completed_at),
                download_url=f"{base_url}_s3/{token}.ndjson.gz",
                expires_at=iso_utc(download.expires_at),
            )
        else:
            body["message"] = EXPORT_MESSAGES[status]
        return body

    def file(self, token: str, now: datetime) -> Response:
        """The presigned-URL stand-in: gzip NDJSON, no Cometly auth, S3's 403 once expired."""
        download = self.downloads.get(token)
        if download is None or now > download.expires_at:
            message = "Request has expired" if download else "Access Denied"
            xml = _EXPIRED_XML.format(
                message=message, expires=iso_utc(download.expires_at) if download else "", now=iso_utc(now),
                request_id=secrets.token_hex(8).upper(), host_id=secrets.token_urlsafe(32),
            )
            return Response(xml, status_code=403, media_type="application/xml")
        export = download.export
        lines = "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in all_rows(export.space, export.query))
        return Response(gzip.compress(lines.encode(), mtime=0), media_type="application/gzip")

    def space_for_download(self, token: str) -> str | None:
        download = self.downloads.get(token)
        return download.export.space.id if download else None

    def fail(self, export_id: int) -> None:
        self.jobs[export_id].doomed = True
