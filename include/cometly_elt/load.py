"""Loading extracted rows into raw tables: COPY, replace a slice, account for every row.

One call loads one batch in one transaction:

1. COPY the rows into a temporary table shaped like the target;
2. delete the slice of the target the batch replaces (e.g. one workspace's
   events of one settings version and window), so a rerun never duplicates and
   a row the API no longer returns disappears;
3. insert the new rows, updating any with the same key that lived outside the
   slice (an event whose time moved);
4. record the rows that could not be loaded, with why, verbatim;
5. record the batch: received = loaded + rejected, always.

Rows arrive already typed (the extractor parses API rows); the loader's own
rejection is a key repeated within the batch, which it keeps once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql


@dataclass(frozen=True)
class Rejected:
    """An API row that could not be loaded as it was."""

    reason: str
    payload: Any  # the row as received; stored as JSON text, verbatim


@dataclass(frozen=True)
class BatchResult:
    batch_id: int
    received: int
    loaded: int
    rejected: int


def payload_text(payload: Any) -> str:
    """JSON text for a rejected payload; PostgreSQL text cannot hold NUL, JSON escapes it."""
    if isinstance(payload, (bytes, bytearray)):
        payload = payload.decode("utf-8", errors="backslashreplace")
    return json.dumps(payload, ensure_ascii=False, default=str)


def load_batch(
    conn: psycopg.Connection,
    *,
    schema: str,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    rejected: Iterable[Rejected] = (),
    replace_where: str,
    replace_params: Sequence[Any],
    key: Sequence[str],
    batch: Mapping[str, Any],
) -> BatchResult:
    """Load `rows` (tuples in `columns` order) into `schema.table` as one batch.

    `replace_where` is a SQL condition with `%s` placeholders (filled from
    `replace_params`) naming the slice this batch replaces. `key` is the
    table's primary key. `batch` holds the `schema.load_batches` columns other
    than batch_id and the three counts (workspace_id, method, window, api_calls,
    duration_ms, ...); `duration_ms` defaults to the time spent here.
    """
    started = time.monotonic()
    target = sql.Identifier(schema, table)
    staged = sql.Identifier(f"_load_{table}")
    all_columns = [*columns, "batch_id"]
    column_list = sql.SQL(", ").join(map(sql.Identifier, all_columns))
    rejected = list(rejected)
    received = len(rejected)
    key_index = [list(columns).index(k) for k in key if k in columns]

    with conn.transaction():
        batch_id = conn.execute(
            sql.SQL("select nextval(pg_get_serial_sequence({}, 'batch_id'))").format(
                sql.Literal(f"{schema}.load_batches")
            )
        ).fetchone()[0]

        conn.execute(
            sql.SQL("create temporary table {} (like {} including defaults)").format(staged, target)
        )
        seen: set[tuple] = set()
        with conn.cursor().copy(sql.SQL("copy {} ({}) from stdin").format(staged, column_list)) as copy:
            for row in rows:
                received += 1
                row_key = tuple(row[i] for i in key_index)
                if row_key in seen:
                    rejected.append(Rejected("duplicate key within the batch", dict(zip(columns, row))))
                    continue
                seen.add(row_key)
                copy.write_row((*row, batch_id))

        conn.execute(sql.SQL("delete from {} where ").format(target) + sql.SQL(replace_where), replace_params)
        updates = sql.SQL(", ").join(
            sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in all_columns if c not in key
        )
        loaded = conn.execute(
            sql.SQL("insert into {t} ({cols}) select {cols} from {s}"
                    " on conflict ({key}) do update set {updates}").format(
                t=target,
                cols=column_list,
                s=staged,
                key=sql.SQL(", ").join(map(sql.Identifier, key)),
                updates=updates,
            )
        ).rowcount

        if rejected:
            with conn.cursor().copy(
                sql.SQL("copy {} (batch_id, workspace_id, reason, payload) from stdin").format(
                    sql.Identifier(schema, "rejected_rows")
                )
            ) as copy:
                for r in rejected:
                    copy.write_row((batch_id, batch["workspace_id"], r.reason, payload_text(r.payload)))

        # Dropped here, not on commit: an extraction may load many batches in one transaction.
        conn.execute(sql.SQL("drop table {}").format(staged))

        record = {"duration_ms": int((time.monotonic() - started) * 1000), **batch}
        record.update(batch_id=batch_id, received=received, loaded=loaded, rejected=len(rejected))
        conn.execute(
            sql.SQL("insert into {} ({}) values ({})").format(
                sql.Identifier(schema, "load_batches"),
                sql.SQL(", ").join(map(sql.Identifier, record)),
                sql.SQL(", ").join(sql.Placeholder() * len(record)),
            ),
            list(record.values()),
        )
    return BatchResult(batch_id, received, loaded, len(rejected))
