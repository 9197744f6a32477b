"""Connecting a Cometly API key to a workspace (`cometly-elt cometly connect`, and the Workspaces page).

The key is checked before anything is stored: its shape, then one call that
Cometly (and only Cometly) answers with its JSON. A workspace that already
holds Cometly rows must not silently start mixing another Space's
conversions into them: Cometly's API names no Space, but GET /events/{id}
answers 404 for an event of another Space, so the newest events the workspace
already loaded are looked up with the new key. When none is found the key is
of another Space; connecting it then needs confirming, and the workspace's
next sync re-extracts its whole history from the new Space.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from cometly_elt import inputs
from cometly_elt.errors import UserError

DEFAULT_BASE_URL = "https://app.cometly.com/public-api/v1"
# Newest loaded events looked up: one may have been deleted in Cometly since, three hardly all.
SPACE_PROBE_EVENTS = 3
EMPTY_KEY_HINT = "copy it from Cometly (Integrations → API)"


class AnotherSpace(UserError):
    """The key belongs to another Space than the rows the workspace already holds."""


@dataclass(frozen=True)
class Connected:
    workspace_id: str
    conn_id: str
    base_url: str
    # The key is of another Space than the loaded rows: the next sync re-extracts all history.
    space_switched: bool


def base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(f"base URL {inputs.quoted(url)} is not an http(s) URL:"
                        f" leave --base-url out to use {DEFAULT_BASE_URL}")
    return url.rstrip("/")


def _loaded_event_ids(conn, workspace_id: str) -> list[str]:
    return [event_id for (event_id,) in conn.execute(
        "select event_id from raw_cometly.events where workspace_id = %s order by event_time_utc desc limit %s",
        (workspace_id, SPACE_PROBE_EVENTS),
    )]


def connect_key(workspace_id: str, api_key: str, *, url: str = DEFAULT_BASE_URL,
                confirm_space_switch: bool = False) -> Connected:
    """Validate `api_key` with Cometly, then store it; nothing is stored on any refusal."""
    from cometly_elt import control, credentials, warehouse
    from cometly_elt.hooks.cometly import CometlyHook

    url = base_url(url)
    api_key = inputs.secret(api_key, what="API key", empty_hint=EMPTY_KEY_HINT)
    with warehouse.connect() as conn:
        control.get_workspace(conn, workspace_id)
        loaded = _loaded_event_ids(conn, workspace_id)
    hook = CometlyHook.for_key(url, api_key)
    hook.validate_key()
    switched = bool(loaded) and not any(hook.has_event(event_id) for event_id in loaded)
    if switched and not confirm_space_switch:
        raise AnotherSpace(
            f"this key is of another Cometly Space: none of the {len(loaded)} newest events workspace"
            f" '{workspace_id}' already loaded is in it. Connecting it replaces the workspace's Cometly history"
            " with the other Space's at the next sync: add --yes to confirm"
        )
    conn_id = control.cometly_conn_id(workspace_id)
    with warehouse.connect() as conn:
        control.get_workspace(conn, workspace_id, for_update=True)
        control.set_cometly_connection(conn, workspace_id, conn_id=conn_id, base_url=url)
        if switched:
            # Nothing loaded counts any more: the next sync (scheduled or Sync Now) covers the whole
            # history, replacing every loaded slice with the new Space's rows.
            control.forget_loaded_history(conn, workspace_id)
        credentials.store(conn_id, conn_type="cometly", host=url, password=api_key,
                          description=f"Cometly API key of workspace {workspace_id}")
    return Connected(workspace_id, conn_id, url, switched)
