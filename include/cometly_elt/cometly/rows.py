"""Cometly event rows as they arrive: decoded, checked, and kept, rejected with a reason, or left
to the neighbouring piece whose time they belong to.

Every row the API sends for a piece is counted: loaded, or rejected with a reason and the row as
received, as JSON (no id, a bad timestamp, a non-numeric amount, an event not asked for, a time
outside what was asked). Rows from the margin a request had to take beyond the piece (a
DST-widened bound, the part of an exported local day outside the piece) belong to a neighbouring
piece and are not this batch's: received = loaded + rejected, always.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from cometly_elt.cometly.windows import Piece
from cometly_elt.load import Rejected

COLUMNS = (
    "workspace_id", "settings_version", "event_id", "event_name", "configured_name", "event_time_utc",
    "amount", "order_id", "account_id", "account_name", "campaign_id", "campaign_name",
    "adset_id", "adset_name", "ad_id", "ad_name",
)
KEY = ("workspace_id", "settings_version", "event_id")

Id = int | str | None


class EventRow(msgspec.Struct):
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


_decode_row = msgspec.json.Decoder(EventRow).decode


def _text(value: Id) -> str | None:
    return None if value is None else str(value)


def _verbatim(raw: bytes | msgspec.Raw) -> Any:
    """A rejected row's payload: the row as received (its text when it is not even JSON)."""
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return bytes(raw).decode("utf-8", "replace")


@dataclass
class Batch:
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
            return  # the margin: a neighbouring piece's row
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
    def _problem(row: EventRow, asked_names: list[str]) -> str | None:
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
