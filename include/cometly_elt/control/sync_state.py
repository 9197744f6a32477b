"""Sync state: Last Synced, the last error, and progress of what runs long."""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from cometly_elt.control.queries import one


def sync_state(conn: psycopg.Connection, workspace_id: str) -> dict | None:
    return one(conn, "select * from control.sync_state where workspace_id = %s", (workspace_id,))


def record_sync_success(conn: psycopg.Connection, workspace_id: str, synced_through: datetime) -> None:
    """Extraction and dbt both finished for data up to `synced_through` (UTC)."""
    conn.execute(
        "insert into control.sync_state (workspace_id, last_synced_at, synced_through) values (%s, now(), %s)"
        " on conflict (workspace_id) do update set last_synced_at = now(),"
        " synced_through = greatest(control.sync_state.synced_through, excluded.synced_through),"
        " last_error = null, last_error_at = null",
        (workspace_id, synced_through),
    )


def record_sync_error(conn: psycopg.Connection, workspace_id: str, message: str) -> None:
    """`message` is shown to people as is: one line, no secret (a UserError's text)."""
    conn.execute(
        "insert into control.sync_state (workspace_id, last_error, last_error_at) values (%s, %s, now())"
        " on conflict (workspace_id) do update set last_error = excluded.last_error, last_error_at = now()",
        (workspace_id, message),
    )


def set_sync_progress(conn: psycopg.Connection, workspace_id: str, progress: dict | None) -> None:
    conn.execute(
        "insert into control.sync_state (workspace_id, progress) values (%s, %s)"
        " on conflict (workspace_id) do update set progress = excluded.progress",
        (workspace_id, Jsonb(progress) if progress is not None else None),
    )


def merge_sync_progress(conn: psycopg.Connection, workspace_id: str, kind: str, progress: dict | None) -> None:
    """Set (or, with None, clear) one kind of progress ('reprocess', 'result_backfill'), keeping the others."""
    conn.execute(
        "insert into control.sync_state (workspace_id, progress) values (%(ws)s, jsonb_strip_nulls(%(p)s))"
        " on conflict (workspace_id) do update set progress ="
        " jsonb_strip_nulls(coalesce(control.sync_state.progress, '{}'::jsonb) || %(p)s)",
        {"ws": workspace_id, "p": Jsonb({kind: progress})},
    )


def finish_result_backfill(conn: psycopg.Connection, workspace_id: str) -> None:
    conn.execute(
        "update control.sync_state set progress = jsonb_set(progress, '{result_backfill,state}', '\"done\"')"
        " where workspace_id = %s",
        (workspace_id,),
    )


def failed_since(conn: psycopg.Connection, workspace_ids: list[str], since: datetime) -> list[tuple[str, str]]:
    """Workspaces among `workspace_ids` whose sync recorded an error after `since`: (id, error)."""
    return conn.execute(
        "select workspace_id, last_error from control.sync_state"
        " where workspace_id = any(%s) and last_error_at >= %s order by workspace_id",
        (workspace_ids, since),
    ).fetchall()


def forget_loaded_history(conn: psycopg.Connection, workspace_id: str) -> None:
    """The loaded rows no longer count (the key now reads another Space): no coverage, no sync position,
    so the next sync fetches the whole history again."""
    conn.execute("delete from control.event_coverage where workspace_id = %s", (workspace_id,))
    conn.execute("update control.sync_state set synced_through = null where workspace_id = %s", (workspace_id,))
