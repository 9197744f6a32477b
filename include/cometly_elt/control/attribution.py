"""Attribution settings versions: configuring model, window and timezone, and swapping a rebuilt version in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from cometly_elt.control.queries import one
from cometly_elt.control.workspaces import get_workspace
from cometly_elt.errors import UserError
from cometly_elt.timezones import validate_timezone
from cometly_elt.vocabulary import WINDOWS, parse_model


class ReprocessNotConfirmed(UserError):
    """A model or window change was asked for without confirming the reprocess it causes."""

    def __init__(self) -> None:
        super().__init__("changing the attribution model or window reprocesses all history: add --yes to confirm")


@dataclass(frozen=True)
class AttributionChange:
    """What `configure_attribution` did."""

    active_version: int
    # The version being built beside the active one, if any, after the change.
    building_version: int | None
    first: bool = False
    # A new version was added for a model or window change ('building').
    reprocess: bool = False
    # A 'building' version that was retired: replaced, or no longer needed.
    retired_building: int | None = None
    timezone_changed: bool = False

    @property
    def changed(self) -> bool:
        return self.first or self.reprocess or self.retired_building is not None or self.timezone_changed


def active_version(conn: psycopg.Connection, workspace_id: str) -> dict | None:
    """{version, model, window_days, state, created_at, activated_at} or None before the first configure."""
    return one(
        conn,
        "select * from control.attribution_versions where workspace_id = %s and state = 'active'",
        (workspace_id,),
    )


def building_version(conn: psycopg.Connection, workspace_id: str) -> dict | None:
    return one(
        conn,
        "select * from control.attribution_versions where workspace_id = %s and state = 'building'"
        " order by version desc limit 1",
        (workspace_id,),
    )


def _add_version(conn: psycopg.Connection, workspace_id: str, model: str, window_days: int, state: str) -> int:
    # Numbers are never reused: raw rows of a retired version may still exist.
    return conn.execute(
        "insert into control.attribution_versions (workspace_id, version, model, window_days, state, activated_at)"
        " select %(w)s, coalesce(max(version), 0) + 1, %(m)s, %(d)s, %(s)s,"
        "        case when %(s)s = 'active' then now() end"
        " from control.attribution_versions where workspace_id = %(w)s"
        " returning version",
        {"w": workspace_id, "m": model, "d": window_days, "s": state},
    ).fetchone()[0]


def _retire(conn: psycopg.Connection, workspace_id: str, version: int) -> None:
    conn.execute(
        "update control.attribution_versions set state = 'retired' where workspace_id = %s and version = %s",
        (workspace_id, version),
    )


def configure_attribution(conn: psycopg.Connection, workspace_id: str, *, model: str, window_days: int,
                          timezone: str, reprocess_confirmed: bool = False) -> AttributionChange:
    """Set model, window and timezone.

    A model or window change needs all history re-extracted: it adds a
    'building' version (replacing one still being built) that the
    orchestrator fills beside the active one and swaps in with
    `activate_version`; without `reprocess_confirmed` it raises
    ReprocessNotConfirmed and changes nothing. A timezone change only moves
    report dates (raw data is UTC): it marks the marts for rebuild.
    """
    parse_model(model)
    if window_days not in WINDOWS.values():
        raise ValueError(window_days)
    validate_timezone(timezone)
    workspace = get_workspace(conn, workspace_id, for_update=True)
    active, building = active_version(conn, workspace_id), building_version(conn, workspace_id)
    wanted = (model, window_days)

    first = reprocess = False
    retired = None
    if active is None:
        first = True
        active = {"version": _add_version(conn, workspace_id, model, window_days, "active")}
    elif wanted == (active["model"], active["window_days"]):
        if building is not None:
            retired, building = building["version"], None
            _retire(conn, workspace_id, retired)
    elif building is None or wanted != (building["model"], building["window_days"]):
        if not reprocess_confirmed:
            raise ReprocessNotConfirmed()
        if building is not None:
            retired = building["version"]
            _retire(conn, workspace_id, retired)
        reprocess = True
        building = {"version": _add_version(conn, workspace_id, model, window_days, "building")}

    timezone_changed = workspace["timezone"] is not None and workspace["timezone"] != timezone
    conn.execute(
        "update control.workspaces set timezone = %s,"
        " marts_rebuild_requested_at = case when %s then now() else marts_rebuild_requested_at end"
        " where workspace_id = %s",
        (timezone, timezone_changed, workspace_id),
    )
    return AttributionChange(
        active_version=active["version"],
        building_version=building["version"] if building else None,
        first=first,
        reprocess=reprocess,
        retired_building=retired,
        timezone_changed=timezone_changed,
    )


def activate_version(conn: psycopg.Connection, workspace_id: str, version: int) -> None:
    """Swap a fully built version in: it becomes active, the previous active one retired."""
    state = conn.execute(
        "select state from control.attribution_versions where workspace_id = %s and version = %s for update",
        (workspace_id, version),
    ).fetchone()
    if state is None or state[0] != "building":
        raise ValueError(f"version {version} of {workspace_id} is not being built")
    conn.execute(
        "update control.attribution_versions set state = 'retired' where workspace_id = %s and state = 'active'",
        (workspace_id,),
    )
    conn.execute(
        "update control.attribution_versions set state = 'active', activated_at = now()"
        " where workspace_id = %s and version = %s",
        (workspace_id, version),
    )


def request_marts_rebuild(conn: psycopg.Connection, workspace_id: str) -> None:
    """The workspace's marts need a rebuild over its whole history (new rows far back, a new version)."""
    conn.execute("update control.workspaces set marts_rebuild_requested_at = now() where workspace_id = %s",
                 (workspace_id,))


def clear_marts_rebuild(conn: psycopg.Connection, workspace_id: str, requested_at: datetime) -> None:
    """The marts were rebuilt for the request made at `requested_at`; a newer request stays."""
    conn.execute(
        "update control.workspaces set marts_rebuild_requested_at = null"
        " where workspace_id = %s and marts_rebuild_requested_at <= %s",
        (workspace_id, requested_at),
    )
