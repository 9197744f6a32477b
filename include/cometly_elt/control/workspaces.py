"""Workspaces: registering, reading, listing, pausing and removing them (with every row they own)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import psycopg
from psycopg import sql

from cometly_elt import inputs
from cometly_elt.control.queries import all_rows, one
from cometly_elt.errors import UserError
from cometly_elt.vocabulary import SUBSCRIPTIONS, parse_plan

# Schemas whose tables hold tenant rows (every such table has a workspace_id column).
_TENANT_SCHEMAS = ("control", "raw_cometly", "raw_meta", "staging", "intermediate", "marts")


def add_workspace(conn: psycopg.Connection, workspace_id: str, *, name: str, plan: str,
                  history_start: date) -> bool:
    """Register a workspace; False if it exists already with these settings (a rerun).

    An existing workspace with other settings is refused rather than changed:
    `add` never rewrites what a workspace already syncs.
    """
    inputs.workspace_id(workspace_id)
    inputs.display_name(name)
    inputs.history_start(history_start.isoformat(), datetime.now(UTC).date())
    parse_plan(plan)
    # Ids differing only in case would be two workspaces people cannot tell apart in a list or a
    # run's params; the lock makes two concurrent adds of such ids take turns.
    conn.execute("select pg_advisory_xact_lock(hashtext(lower(%s)))", (workspace_id,))
    twin = conn.execute(
        "select workspace_id from control.workspaces where lower(workspace_id) = lower(%s) and workspace_id <> %s",
        (workspace_id, workspace_id),
    ).fetchone()
    if twin:
        raise UserError(f"workspace ID '{workspace_id}' differs only in case from the existing '{twin[0]}':"
                        " IDs are compared without case, so use that one or choose another")
    inserted = conn.execute(
        "insert into control.workspaces (workspace_id, name, plan, history_start) values (%s, %s, %s, %s)"
        " on conflict (workspace_id) do nothing",
        (workspace_id, name, plan, history_start),
    ).rowcount
    if inserted:
        return True
    existing = get_workspace(conn, workspace_id)
    if (existing["name"], existing["plan"], existing["history_start"]) != (name, plan, history_start):
        raise UserError(
            f"workspace '{workspace_id}' already exists as '{existing['name']}' ({existing['plan']} plan,"
            f" history from {existing['history_start']}): choose another ID, or remove it first"
        )
    return False


def get_workspace(conn: psycopg.Connection, workspace_id: str, *, for_update: bool = False) -> dict:
    row = one(
        conn,
        "select * from control.workspaces where workspace_id = %s" + (" for update" if for_update else ""),
        (workspace_id,),
    )
    if row is None:
        raise UserError(f"no workspace '{workspace_id}': see 'cometly-elt workspace list'")
    return row


def list_workspaces(conn: psycopg.Connection, *, plan: str | None = None,
                    subscription: str | None = None) -> list[dict]:
    """Workspaces (optionally of one plan / subscription status) with their connection and sync summary."""
    return all_rows(
        conn,
        "select w.workspace_id, w.name, w.plan, w.subscription_status, w.history_start, w.timezone,"
        "       c.conn_id is not null as cometly_connected, s.last_synced_at"
        " from control.workspaces w"
        " left join control.cometly_connections c using (workspace_id)"
        " left join control.sync_state s using (workspace_id)"
        " where (%(plan)s::text is null or w.plan = %(plan)s)"
        "   and (%(subscription)s::text is null or w.subscription_status = %(subscription)s)"
        " order by w.workspace_id",
        {"plan": plan, "subscription": subscription},
    )


def set_subscription(conn: psycopg.Connection, workspace_id: str, status: str) -> bool:
    """Pause or resume; False if it already had that status."""
    if status not in SUBSCRIPTIONS:
        raise ValueError(status)
    previous = get_workspace(conn, workspace_id, for_update=True)["subscription_status"]
    conn.execute(
        "update control.workspaces set subscription_status = %s where workspace_id = %s",
        (status, workspace_id),
    )
    return previous != status


def _tenant_tables(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """Every base table with a workspace_id column in the tenant schemas, control.workspaces last."""
    rows = conn.execute(
        "select c.table_schema, c.table_name"
        " from information_schema.columns c"
        " join information_schema.tables t using (table_schema, table_name)"
        " where c.column_name = 'workspace_id' and t.table_type = 'BASE TABLE'"
        "   and c.table_schema = any(%s)"
        " order by (c.table_schema, c.table_name) = ('control', 'workspaces'), c.table_schema, c.table_name",
        (list(_TENANT_SCHEMAS),),
    ).fetchall()
    return [(schema, table) for schema, table in rows]


@dataclass(frozen=True)
class Removal:
    rows: dict[str, int]  # rows deleted per table ("schema.table"), tables with none left out
    conn_ids: list[str]   # Airflow connections deleted


def remove_workspace(conn: psycopg.Connection, workspace_id: str) -> Removal:
    """Delete every row of the workspace, raw and modelled, and its stored credentials.

    Credentials
    go inside the warehouse transaction: if deleting them fails nothing is
    removed, and a rerun finishes the job.
    """
    from cometly_elt import credentials

    get_workspace(conn, workspace_id, for_update=True)
    conn_ids = [cid for (cid,) in conn.execute(
        "select conn_id from control.cometly_connections where workspace_id = %(w)s"
        " union select conn_id from control.meta_ad_accounts where workspace_id = %(w)s",
        {"w": workspace_id},
    )]
    deleted = {}
    for schema, table in _tenant_tables(conn):
        count = conn.execute(
            sql.SQL("delete from {}.{} where workspace_id = %s").format(sql.Identifier(schema), sql.Identifier(table)),
            (workspace_id,),
        ).rowcount
        if count:
            deleted[f"{schema}.{table}"] = count
    for conn_id in conn_ids:
        credentials.delete(conn_id)
    return Removal(rows=deleted, conn_ids=sorted(conn_ids))
