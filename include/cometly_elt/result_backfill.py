"""Backfilling a campaign's new result metric: its event's history, only where the ledger lacks it.

An event already covered (selected and synced) costs no Cometly call: the workspace's marts are
rebuilt and the backfill is done. An event selected since the last sync has its missing days
fetched (`coverage.fetch_plan`), each day recorded in the ledger as it lands, which is the
progress `cometly-elt status` shows ("N of M days").
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from cometly_elt import control, warehouse
from cometly_elt.control import coverage
from cometly_elt.errors import UserError
from cometly_elt.sync import cometly_settings, fill_version, history


def plan(workspace_id: str, campaign_id: str) -> dict:
    """The campaign's result event and the workspace's history start; the backfill is marked running."""
    with warehouse.connect() as conn:
        history_start = control.get_workspace(conn, workspace_id)["history_start"]
        event = control.result_metric(conn, workspace_id, campaign_id)
        if event is None:
            raise UserError(
                f"campaign {campaign_id} of workspace '{workspace_id}' has no result metric:"
                f" run 'cometly-elt results set {workspace_id} --campaign {campaign_id} --event EVENT'"
            )
        control.merge_sync_progress(conn, workspace_id, "result_backfill",
                                    {"campaign_id": campaign_id, "event": event, "state": "running"})
    return {"workspace_id": workspace_id, "event": event, "history_start": history_start.isoformat()}


def fill_history(workspace_id: str, event: str) -> dict:
    """The event's days missing from the ledger up to the last sync (up to now before the first one),
    fetched and loaded: later data, and provisional days, are the syncs' to read. {"jobs", "api_calls"},
    both 0 when the event was covered."""
    with warehouse.connect(autocommit=True) as conn:
        settings = cometly_settings(conn, workspace_id)
        until = (control.sync_state(conn, workspace_id) or {}).get("synced_through") or datetime.now(timezone.utc)
        jobs = coverage.fetch_plan(conn, workspace_id, settings["version"], [event],
                                   history(conn, workspace_id, until), provisional_is_missing=False)
        result = fill_version(conn, workspace_id, settings["conn_id"], version=settings["version"],
                              model=settings["model"], window_days=settings["window_days"],
                              timezone=settings["timezone"], jobs=jobs)
    return {"jobs": len(jobs), "api_calls": result.api_calls}


def rebuild(workspace_id: str, history_start: str) -> None:
    from cometly_elt import dbt

    dbt.build(workspace_id=workspace_id, date_from=date.fromisoformat(history_start),
              date_to=datetime.now(timezone.utc).date() + timedelta(days=1))
    with warehouse.connect() as conn:
        control.finish_result_backfill(conn, workspace_id)
