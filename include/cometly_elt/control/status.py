"""What `cometly-elt status` shows, as plain data."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from cometly_elt.control.coverage import day_progress
from cometly_elt.control.meta_accounts import timezone_mismatches
from cometly_elt.control.settings import setup_problem, workspace_settings
from cometly_elt.control.sync_state import sync_state
from cometly_elt.vocabulary import PLAN_SYNC_HOURS, window_label


def _event_days(conn: psycopg.Connection, settings: dict, version: int, until: datetime) -> dict:
    """{event: (loaded, total)} local days of a version's history up to `until`, for each selected event."""
    workspace = settings["workspace"]
    return day_progress(conn, workspace["workspace_id"], version,
                        [e["event_name"] for e in settings["selected_events"]],
                        workspace["history_start"], workspace["timezone"], until)


def _coverage(conn: psycopg.Connection, settings: dict, state: dict) -> list[dict] | None:
    """Each selected event's history loaded (active version), in local days up to the last sync
    (or now, before the first); None before attribution and timezone are set."""
    workspace, active = settings["workspace"], settings["active_version"]
    if active is None or workspace["timezone"] is None or not settings["selected_events"]:
        return None
    days = _event_days(conn, settings, active["version"], state.get("synced_through") or datetime.now(UTC))
    return [{"event_name": e["event_name"], "label": e["label"], "loaded_days": days[e["event_name"]][0],
             "total_days": days[e["event_name"]][1]} for e in settings["selected_events"]]


def workspace_status(conn: psycopg.Connection, workspace_id: str) -> dict:
    """What `cometly-elt status` shows, as plain data (no secrets: connection ids and URLs only)."""
    settings = workspace_settings(conn, workspace_id)
    workspace, state = settings["workspace"], sync_state(conn, workspace_id) or {}

    def utc(moment: datetime | None) -> datetime | None:
        return moment and moment.astimezone(UTC)

    def version(row: dict | None) -> dict | None:
        return row and {"version": row["version"], "model": row["model"], "window": window_label(row["window_days"])}

    progress = dict(state.get("progress") or {})
    coverage = _coverage(conn, settings, state)
    building = settings["building_version"]
    if building is not None and coverage is not None:
        # the version being built, all selected events together
        days = _event_days(conn, settings, building["version"], datetime.now(UTC)).values()
        progress["reprocess"] = {"version": building["version"], "done_days": min(d for d, _ in days),
                                 "total_days": max(t for _, t in days)}
    backfill = progress.get("result_backfill")
    if backfill and coverage is not None:
        loaded = {c["event_name"]: c for c in coverage}.get(backfill["event"])
        if loaded:
            backfill.update(done_days=loaded["loaded_days"], total_days=loaded["total_days"])
    return {
        "workspace_id": workspace_id,
        "name": workspace["name"],
        "plan": workspace["plan"],
        "sync_every_hours": PLAN_SYNC_HOURS[workspace["plan"]],
        "subscription": workspace["subscription_status"],
        "history_start": workspace["history_start"],
        "cometly": settings["cometly"] and {
            "base_url": settings["cometly"]["base_url"],
            "conn_id": settings["cometly"]["conn_id"],
            "connected_at": utc(settings["cometly"]["connected_at"]),
        },
        "attribution": version(settings["active_version"]),
        "building": version(settings["building_version"]),
        "timezone": workspace["timezone"],
        "marts_rebuild_pending": workspace["marts_rebuild_requested_at"] is not None,
        "selected_events": settings["selected_events"],
        "meta_ad_accounts": [
            {k: a[k] for k in ("ad_account_id", "name", "currency", "timezone_name")}
            for a in settings["meta_ad_accounts"]
        ],
        "setup_problem": setup_problem(settings),
        "last_synced_at": utc(state.get("last_synced_at")),
        "synced_through": utc(state.get("synced_through")),
        "last_error": state.get("last_error"),
        "last_error_at": utc(state.get("last_error_at")),
        "coverage": coverage or [],
        "progress": progress,
        "warnings": [m.message for m in timezone_mismatches(conn, workspace_id)],
    }
