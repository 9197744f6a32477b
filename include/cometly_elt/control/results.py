"""Campaign result metrics: which Cometly event a campaign's Results column counts."""

from __future__ import annotations

import psycopg


def set_result_metric(conn: psycopg.Connection, workspace_id: str, campaign_id: str, event_name: str) -> None:
    conn.execute(
        "insert into control.result_metrics (workspace_id, campaign_id, event_name) values (%s, %s, %s)"
        " on conflict (workspace_id, campaign_id) do update set event_name = excluded.event_name, set_at = now()",
        (workspace_id, campaign_id, event_name),
    )


def result_metric(conn: psycopg.Connection, workspace_id: str, campaign_id: str) -> str | None:
    """The event the campaign counts as its result, or None."""
    row = conn.execute("select event_name from control.result_metrics where workspace_id = %s and campaign_id = %s",
                       (workspace_id, campaign_id)).fetchone()
    return row and row[0]
