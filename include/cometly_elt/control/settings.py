"""A workspace's whole configuration in one read, and the first thing it lacks before it can sync."""

from __future__ import annotations

import psycopg

from cometly_elt.control.attribution import active_version, building_version
from cometly_elt.control.cometly_connection import cometly_connection
from cometly_elt.control.events import selected_events
from cometly_elt.control.meta_accounts import meta_ad_accounts
from cometly_elt.control.workspaces import get_workspace


def workspace_settings(conn: psycopg.Connection, workspace_id: str) -> dict:
    """One workspace's full configuration.

    {workspace (the control.workspaces row: plan, subscription_status,
    history_start, timezone, marts_rebuild_requested_at, ...), cometly (conn_id,
    base_url) or None, active_version and building_version ({version, model,
    window_days, ...} or None), selected_events [{event_name, label}],
    meta_ad_accounts [{ad_account_id, conn_id, base_url, name, ...}]}.
    """
    return {
        "workspace": get_workspace(conn, workspace_id),
        "cometly": cometly_connection(conn, workspace_id),
        "active_version": active_version(conn, workspace_id),
        "building_version": building_version(conn, workspace_id),
        "selected_events": selected_events(conn, workspace_id),
        "meta_ad_accounts": meta_ad_accounts(conn, workspace_id),
    }


def setup_problem(settings: dict) -> str | None:
    """The first thing missing before the workspace can sync, as one line saying what to do; None if ready."""
    workspace_id = settings["workspace"]["workspace_id"]
    if settings["cometly"] is None:
        return f"not connected to Cometly: run 'cometly-elt cometly connect {workspace_id} --api-key KEY'"
    if settings["active_version"] is None:
        return (
            f"attribution not configured: run 'cometly-elt cometly configure {workspace_id}"
            " --model first_touch --window lifetime --timezone IANA_NAME'"
        )
    if not settings["selected_events"]:
        return f"no events selected: run 'cometly-elt cometly events {workspace_id}', then 'cometly-elt cometly select'"
    if not settings["meta_ad_accounts"]:
        return (
            f"no Meta ad account connected: run 'cometly-elt meta connect {workspace_id}"
            " --ad-account act_N --access-token TOKEN'"
        )
    return None
