"""Malformed and hostile Cometly rows through the real parsing and loading path (property-based).

Each example is one batch of raw rows, as the API's JSON would carry them, fed to
the extractor's batch (`Batch.add`, the seam where rows are parsed) and loaded
into the real warehouse with the extractor's own table layout. Whatever the
rows hold: nothing crashes, every row sent is counted (received = loaded +
rejected), and every label comes back verbatim, from raw_cometly.events or from
the rejected row's payload.
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timezone

import msgspec
from hypothesis import HealthCheck, example, given, settings, strategies as st

from cometly_elt.cometly.extract import REPLACE
from cometly_elt.cometly.rows import COLUMNS, KEY, Batch
from cometly_elt.cometly.windows import Piece
from cometly_elt.load import load_batch

PIECE = Piece(datetime(2026, 3, 1, tzinfo=timezone.utc), datetime(2026, 3, 2, tzinfo=timezone.utc))
ASKED = ["purchase", "lead_generated"]
LABEL_FIELDS = ("configured_name", "account_name", "campaign_name", "adset_name", "ad_name", "order_id")
_workspaces = itertools.count()

HOSTILE = [
    "x'; drop table raw_cometly.events; --",
    "Robert'); DROP TABLE control.workspaces;--",
    '"quoted" and \'single\'',
    "nul\x00inside",
    "\\N",
    "tab\tnewline\ncr\r",
    "é 漢字 🎯",
    "L" * 10_000,
    "",
]
labels = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40))
ids = st.one_of(st.integers(0, 50), st.sampled_from(["7", "", "id-'1'"]), st.none(), st.floats(allow_nan=False),
                st.lists(st.integers(), max_size=2), st.booleans())
times = st.one_of(
    st.datetimes(datetime(2026, 3, 1), datetime(2026, 3, 1, 23, 59, 59),
                 timezones=st.just(timezone.utc)).map(lambda t: t.isoformat().replace("+00:00", "Z")),
    st.sampled_from(["2026-02-30T10:00:00Z", "2026-03-01T10:00:00", "2026-13-01T00:00:00Z", "yesterday",
                     "2025-03-01T10:00:00Z", "2026-03-01T25:00:00Z"]),
    st.none(), st.integers(),
)
amounts = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
    st.sampled_from(["1e400", "9" * 300, "-0.00", "abc", "NaN", "Infinity", "12,50"]),
    st.integers(-10**30, 10**30), st.floats(allow_nan=False, allow_infinity=False), st.none(), st.booleans(),
)
events = st.fixed_dictionaries(
    {"id": ids, "event_time_utc": times, "event_name": st.sampled_from([*ASKED, "refund", None, 5])},
    optional={"amount": amounts, **dict.fromkeys(LABEL_FIELDS, labels)},
).map(lambda row: json.dumps(row, ensure_ascii=False).encode())
garbage = st.sampled_from([b'{"id": 1, "event_name": "purchase"', b"[]", b"null", b"\xff\xfe not utf-8", b"{}",
                           b'"just a string"'])
raw_rows = st.lists(st.one_of(events, events, events, garbage), max_size=25)


def strings_in(value) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*map(strings_in, value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*map(strings_in, value)) if value else set()
    return set()


def load(conn, workspace_id: str, raw: list[bytes]):
    """Parse `raw` into one batch and load it, as `_Extraction.load` does."""
    batch = Batch(PIECE, (workspace_id, 1))
    for row in raw:
        batch.add(row, ASKED, (PIECE.utc_start, PIECE.utc_end))
    return load_batch(
        conn, schema="raw_cometly", table="events", columns=COLUMNS, rows=batch.rows, rejected=batch.rejected,
        replace_where=REPLACE, replace_params=[workspace_id, 1, ASKED, PIECE.utc_start, PIECE.utc_end], key=KEY,
        batch={"workspace_id": workspace_id, "settings_version": 1, "method": "list",
               "window_start_utc": PIECE.utc_start, "window_end_utc": PIECE.utc_end, "event_names": ASKED,
               "api_calls": 1, "duration_ms": 0},
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=raw_rows)
@example(raw=[json.dumps({"id": n, "event_time_utc": "2026-03-01T10:00:00Z", "event_name": "purchase",
                          "campaign_name": label, "amount": "1e400"}).encode() for n, label in enumerate(HOSTILE)])
# Valid for Python's json, not for Cometly's client (nor JSON): rejected, and kept as the text it was.
@example(raw=[b'{"id": Infinity, "event_time_utc": null, "event_name": "lead_generated", "configured_name": "x"}'])
def test_every_hostile_row_is_loaded_or_rejected_and_comes_back_verbatim(wh, raw):
    workspace_id = f"hostile{next(_workspaces)}"
    result = load(wh, workspace_id, raw)

    assert (result.received, result.loaded + result.rejected) == (len(raw), len(raw))
    stored = wh.execute(
        "select received, loaded, rejected from raw_cometly.load_batches where batch_id = %s", (result.batch_id,)
    ).fetchone()
    assert stored == (result.received, result.loaded, result.rejected)
    loaded = wh.execute(
        "select configured_name, account_name, campaign_name, adset_name, ad_name, order_id"
        " from raw_cometly.events where batch_id = %s", (result.batch_id,)
    ).fetchall()
    assert len(loaded) == result.loaded
    payloads = [json.loads(p) for (p,) in wh.execute(
        "select payload from raw_cometly.rejected_rows where batch_id = %s", (result.batch_id,)
    )]
    assert len(payloads) == result.rejected

    came_back = set().union(*(set(r) for r in loaded), *map(strings_in, payloads))
    sent, unreadable = set(), []
    for row in raw:
        try:
            decoded = msgspec.json.decode(row)  # as strictly as the extractor reads (no NaN, no Infinity)
        except msgspec.DecodeError:
            unreadable.append(row.decode("utf-8", "replace"))
            continue
        if isinstance(decoded, dict):
            sent |= {v for k, v in decoded.items() if k in LABEL_FIELDS and isinstance(v, str)}
    assert sent - came_back == set()
    # A row that is not even JSON comes back as the text it was.
    assert [text for text in unreadable if text not in payloads] == []
