"""Backfilling a campaign's new result metric: its event's whole history, in chunks, with progress.

The event may have been selected after the history was synced, so its
history is extracted again, one month at a time (replacing only that event's
rows), then the workspace's marts are rebuilt over the history. Progress is
kept in control.sync_state.progress for `cometly-elt status`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from cometly_elt import control, warehouse
from cometly_elt.errors import UserError
from cometly_elt.sync import cometly_settings, local_midnight_utc


def plan_chunks(workspace_id: str, campaign_id: str, now: datetime | None = None) -> dict:
    """The months of history to extract for the campaign's result event; records the total."""
    now = now or datetime.now(timezone.utc)
    with warehouse.connect() as conn:
        row = conn.execute(
            """
            select m.event_name, w.history_start, w.timezone
            from control.result_metrics m join control.workspaces w using (workspace_id)
            where m.workspace_id = %s and m.campaign_id = %s
            """,
            (workspace_id, campaign_id),
        ).fetchone()
        if row is None:
            raise UserError(
                f"campaign {campaign_id} of workspace '{workspace_id}' has no result metric:"
                f" run 'cometly-elt results set {workspace_id} --campaign {campaign_id} --event EVENT'"
            )
        event, history_start, tz = row
        chunks = []
        month = history_start
        while local_midnight_utc(month, tz) < now:
            next_month = (month.replace(day=1) + timedelta(days=32)).replace(day=1)
            end = min(local_midnight_utc(next_month, tz), now)
            chunks.append({"start": local_midnight_utc(month, tz).isoformat(), "end": end.isoformat(),
                           "label": month.strftime("%Y-%m")})
            month = next_month
        control.merge_sync_progress(conn, workspace_id, "result_backfill", {
            "campaign_id": campaign_id, "event": event, "done": 0, "total": len(chunks), "state": "running"})
    return {"workspace_id": workspace_id, "event": event, "history_start": history_start.isoformat(),
            "chunks": chunks}


def extract_chunk(workspace_id: str, event: str, chunk: dict) -> None:
    from cometly_elt.cometly.extract import extract_window
    from cometly_elt.hooks.cometly import workspace_hook

    with warehouse.connect() as conn:
        settings = cometly_settings(conn, workspace_id)
        with workspace_hook(workspace_id, settings["conn_id"]) as hook:
            extract_window(
                conn, hook, workspace_id=workspace_id, settings_version=settings["version"],
                model=settings["model"], window_days=settings["window_days"], event_names=[event],
                timezone=settings["timezone"], utc_start=datetime.fromisoformat(chunk["start"]),
                utc_end=datetime.fromisoformat(chunk["end"]),
            )
        conn.execute(
            """
            update control.sync_state
               set progress = jsonb_set(progress, '{result_backfill,done}',
                                        to_jsonb((progress #>> '{result_backfill,done}')::int + 1))
             where workspace_id = %s
            """,
            (workspace_id,),
        )


def rebuild(workspace_id: str, history_start: str) -> None:
    from cometly_elt import dbt

    dbt.build(workspace_id=workspace_id, date_from=date.fromisoformat(history_start),
              date_to=datetime.now(timezone.utc).date() + timedelta(days=1))
    with warehouse.connect() as conn:
        conn.execute(
            "update control.sync_state set progress = jsonb_set(progress, '{result_backfill,state}', '\"done\"')"
            " where workspace_id = %s",
            (workspace_id,),
        )
