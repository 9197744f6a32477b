"""A workspace's Cometly connection: which Airflow connection holds its key, and Cometly's base URL."""

from __future__ import annotations

import psycopg

from cometly_elt.control.queries import one
from cometly_elt.errors import UserError


def cometly_conn_id(workspace_id: str) -> str:
    return f"cometly_{workspace_id}"


def set_cometly_connection(conn: psycopg.Connection, workspace_id: str, *, conn_id: str, base_url: str) -> None:
    conn.execute(
        "insert into control.cometly_connections (workspace_id, conn_id, base_url) values (%s, %s, %s)"
        " on conflict (workspace_id) do update"
        " set conn_id = excluded.conn_id, base_url = excluded.base_url, connected_at = now()",
        (workspace_id, conn_id, base_url),
    )


def cometly_connection(conn: psycopg.Connection, workspace_id: str) -> dict | None:
    return one(conn, "select * from control.cometly_connections where workspace_id = %s", (workspace_id,))


def require_cometly_connection(conn: psycopg.Connection, workspace_id: str) -> dict:
    connection = cometly_connection(conn, workspace_id)
    if connection is None:
        raise UserError(
            f"workspace '{workspace_id}' is not connected to Cometly:"
            f" run 'cometly-elt cometly connect {workspace_id} --api-key KEY'"
        )
    return connection
