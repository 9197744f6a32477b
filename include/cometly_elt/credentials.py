"""Secrets as Airflow connections: Fernet-encrypted in Airflow's metadata database.

The warehouse stores only connection ids. Inside a task, hooks read the
connection through the Task SDK (and Airflow's secrets masker then hides the
secret in task logs); commands outside Airflow read and write it here.
"""

from __future__ import annotations

import json
from typing import Any


def store(conn_id: str, *, conn_type: str, host: str, password: str, extra: dict[str, Any] | None = None,
          description: str | None = None) -> None:
    """Create or replace the connection `conn_id`."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(Connection).where(Connection.conn_id == conn_id))
        session.add(
            Connection(
                conn_id=conn_id,
                conn_type=conn_type,
                host=host,
                password=password,
                extra=json.dumps(extra) if extra else None,
                description=description,
            )
        )


def delete(conn_id: str) -> None:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import delete as sql_delete

    with create_session() as session:
        session.execute(sql_delete(Connection).where(Connection.conn_id == conn_id))


def get(conn_id: str):
    """The connection, inside a task (through the Task SDK) or outside one (from the metadata DB).

    Hooks override `get_connection` with this, so that the same hook serves
    tasks and the `cometly-elt` commands.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        # Outside a task the Task SDK knows only environment variables; the
        # metastore is where `store` put it.
        from airflow.models.connection import Connection

        return Connection.get_connection_from_secrets(conn_id)
