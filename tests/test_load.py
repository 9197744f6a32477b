"""The shared loader: replace a slice, keep rejected rows verbatim, account for every row."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from cometly_elt.load import Rejected, load_batch

COLUMNS = ["workspace_id", "settings_version", "event_id", "event_name", "event_time_utc", "amount"]
KEY = ["workspace_id", "settings_version", "event_id"]
WINDOW = (datetime(2026, 3, 1, tzinfo=timezone.utc), datetime(2026, 3, 2, tzinfo=timezone.utc))


def t(hour: int) -> datetime:
    return datetime(2026, 3, 1, hour, tzinfo=timezone.utc)


def load(wh, rows, rejected=(), workspace="ws1"):
    return load_batch(
        wh,
        schema="raw_cometly",
        table="events",
        columns=COLUMNS,
        rows=rows,
        rejected=rejected,
        replace_where="workspace_id = %s and settings_version = %s and event_time_utc >= %s and event_time_utc < %s",
        replace_params=[workspace, 1, *WINDOW],
        key=KEY,
        batch={
            "workspace_id": workspace,
            "settings_version": 1,
            "method": "list",
            "window_start_utc": WINDOW[0],
            "window_end_utc": WINDOW[1],
            "event_names": ["purchase"],
            "api_calls": 1,
        },
    )


def events(wh):
    return wh.execute(
        "select workspace_id, event_id, amount from raw_cometly.events order by workspace_id, event_id"
    ).fetchall()


def test_rerun_replaces_the_window_and_drops_rows_that_vanished(wh):
    load(wh, [("ws1", 1, "1", "purchase", t(1), 10), ("ws1", 1, "2", "purchase", t(2), 20)])
    load(wh, [("ws2", 1, "1", "purchase", t(1), 99)], workspace="ws2")
    result = load(wh, [("ws1", 1, "1", "purchase", t(1), 11)])

    assert (result.received, result.loaded, result.rejected) == (1, 1, 0)
    # event 2 vanished from ws1's window; ws2's event with the same id is untouched
    assert [(w, e, float(a)) for w, e, a in events(wh)] == [("ws1", "1", 11.0), ("ws2", "1", 99.0)]


def test_rejected_rows_are_kept_verbatim_and_counted(wh):
    hostile = {"id": None, "label": "x'; drop table raw_cometly.events; --\u0000"}
    result = load(
        wh,
        [("ws1", 1, "1", "purchase", t(1), 10), ("ws1", 1, "1", "purchase", t(1), 12)],
        rejected=[Rejected("event has no id", hostile)],
    )

    assert (result.received, result.loaded, result.rejected) == (3, 1, 2)
    reasons = wh.execute("select reason, payload from raw_cometly.rejected_rows order by reason").fetchall()
    assert reasons[0][0] == "duplicate key within the batch"
    assert json.loads(reasons[0][1])["amount"] == 12
    # NUL, quotes and SQL come back exactly as received
    assert reasons[1][0] == "event has no id"
    assert json.loads(reasons[1][1]) == hostile
    batch = wh.execute("select received, loaded, rejected from raw_cometly.load_batches").fetchone()
    assert batch == (3, 1, 2)
