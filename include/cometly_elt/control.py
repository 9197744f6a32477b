"""The control plane: what each workspace configured, and its sync state.

Small functions over a psycopg connection; the caller owns the transaction
(`warehouse.connect()` commits on success). Every value goes through query
parameters: names and labels may hold quotes, semicolons or any Unicode and
are stored and returned verbatim.

Readers for the orchestrator: `list_workspaces(conn, plan=..., subscription="active")`,
`workspace_settings`, `setup_problem`; writers: `activate_version`,
`record_sync_success`, `record_sync_error`, `set_sync_progress`,
`clear_marts_rebuild`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Iterable

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from cometly_elt import inputs
from cometly_elt.errors import UserError
from cometly_elt.meta.accounts import timezone_mismatches
from cometly_elt.timezones import validate_timezone

# Hours between scheduled syncs, as the cometly_sync_<plan> DAGs run.
PLAN_SYNC_HOURS = {"hobby": 6, "pro": 3, "ultra": 1}
SUBSCRIPTIONS = ("active", "paused")
# The product's "First/Last Touch – Source Specific"; the extraction maps them
# to Cometly's first_platform_touch / last_platform_touch over the Meta sources.
MODELS = ("first_touch", "last_touch")
# Attribution window as people type it → window_days (0 = lifetime, as Cometly's API has it).
WINDOWS = {"lifetime": 0, "1": 1, "7": 7, "14": 14, "30": 30, "60": 60, "90": 90}
STANDARD_EVENTS = (
    "add_payment_info", "add_to_cart", "complete_registration", "contact", "initiate_checkout",
    "lead_generated", "purchase", "schedule", "sign_up", "start_trial", "submit_application",
    "subscribe", "upsell_purchase", "view_content", "webinar_registration",
)
_CUSTOM_EVENT = re.compile(r"custom_event_([1-9]|[1-4][0-9]|50)")
# Schemas whose tables hold tenant rows (every such table has a workspace_id column).
_TENANT_SCHEMAS = ("control", "raw_cometly", "raw_meta", "staging", "intermediate", "marts")


class ReprocessNotConfirmed(UserError):
    """A model or window change was asked for without confirming the reprocess it causes."""

    def __init__(self) -> None:
        super().__init__("changing the attribution model or window reprocesses all history: add --yes to confirm")


# ---------------------------------------------------------------- helpers

def _one(conn: psycopg.Connection, query: str, params: Iterable[Any] = ()) -> dict | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchone()


def _all(conn: psycopg.Connection, query: str, params: Iterable[Any] = ()) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def window_label(window_days: int) -> str:
    return "lifetime" if window_days == 0 else f"{window_days} day" + ("" if window_days == 1 else "s")


def parse_model(model: str) -> str:
    if model not in MODELS:
        raise UserError(f"attribution model '{model}' is not supported: use first_touch or last_touch")
    return model


def parse_window(window: str) -> int:
    """'lifetime' or a number of days → window_days."""
    if window not in WINDOWS:
        raise UserError(f"attribution window '{window}' is not supported: use lifetime, 1, 7, 14, 30, 60 or 90 (days)")
    return WINDOWS[window]


def parse_plan(plan: str) -> str:
    if plan not in PLAN_SYNC_HOURS:
        raise UserError(f"plan '{plan}' does not exist: use hobby, pro or ultra")
    return plan


def is_event_name(name: str) -> bool:
    """A name Cometly's API accepts: one of the 15 standard events or custom_event_1..50."""
    return name in STANDARD_EVENTS or _CUSTOM_EVENT.fullmatch(name) is not None


def event_sort_key(name: str) -> tuple:
    """Standard events alphabetically, then custom events by slot number."""
    custom = _CUSTOM_EVENT.fullmatch(name)
    return (1, int(custom.group(1)), "") if custom else (0, 0, name)


# ---------------------------------------------------------------- workspaces

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
    row = _one(
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
    return _all(
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


# ---------------------------------------------------------------- Cometly connection

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
    return _one(conn, "select * from control.cometly_connections where workspace_id = %s", (workspace_id,))


def require_cometly_connection(conn: psycopg.Connection, workspace_id: str) -> dict:
    connection = cometly_connection(conn, workspace_id)
    if connection is None:
        raise UserError(
            f"workspace '{workspace_id}' is not connected to Cometly:"
            f" run 'cometly-elt cometly connect {workspace_id} --api-key KEY'"
        )
    return connection


# ---------------------------------------------------------------- attribution settings

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
    return _one(
        conn,
        "select * from control.attribution_versions where workspace_id = %s and state = 'active'",
        (workspace_id,),
    )


def building_version(conn: psycopg.Connection, workspace_id: str) -> dict | None:
    return _one(
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


def clear_marts_rebuild(conn: psycopg.Connection, workspace_id: str, requested_at: datetime) -> None:
    """The marts were rebuilt for the request made at `requested_at`; a newer request stays."""
    conn.execute(
        "update control.workspaces set marts_rebuild_requested_at = null"
        " where workspace_id = %s and marts_rebuild_requested_at <= %s",
        (workspace_id, requested_at),
    )


# ---------------------------------------------------------------- events

def upsert_event_catalog(conn: psycopg.Connection, workspace_id: str, events: dict[str, str]) -> None:
    """Remember the events (name → label) Cometly showed for the Space."""
    with conn.cursor() as cur:
        cur.executemany(
            "insert into control.event_catalog (workspace_id, event_name, label) values (%s, %s, %s)"
            " on conflict (workspace_id, event_name) do update set label = excluded.label, last_seen_at = now()",
            [(workspace_id, name, label) for name, label in events.items()],
        )


def event_catalog(conn: psycopg.Connection, workspace_id: str) -> dict[str, str]:
    rows = conn.execute(
        "select event_name, label from control.event_catalog where workspace_id = %s", (workspace_id,)
    ).fetchall()
    return dict(rows)


def resolve_events(conn: psycopg.Connection, workspace_id: str, names_or_labels: Iterable[str]) -> list[str]:
    """Event names for what a person typed: a name, else a catalog label (exact case first)."""
    get_workspace(conn, workspace_id)
    catalog = event_catalog(conn, workspace_id)
    resolved = []
    for given in names_or_labels:
        if is_event_name(given):
            resolved.append(given)
            continue
        matches = [n for n, label in catalog.items() if label == given] or [
            n for n, label in catalog.items() if label.casefold() == given.casefold()
        ]
        if not matches:
            raise UserError(
                f"no event '{given}' in workspace '{workspace_id}':"
                f" list the events with 'cometly-elt cometly events {workspace_id}'"
            )
        if len(matches) > 1:
            raise UserError(
                f"the label '{given}' matches {' and '.join(sorted(matches, key=event_sort_key))}: select by name"
            )
        resolved.append(matches[0])
    return list(dict.fromkeys(resolved))


def select_events(conn: psycopg.Connection, workspace_id: str, event_names: Iterable[str]) -> list[str]:
    """Select events for syncing; returns those not selected before."""
    get_workspace(conn, workspace_id)
    added = []
    for name in event_names:
        if conn.execute(
            "insert into control.selected_events (workspace_id, event_name) values (%s, %s)"
            " on conflict do nothing",
            (workspace_id, name),
        ).rowcount:
            added.append(name)
    return added


def unselect_events(conn: psycopg.Connection, workspace_id: str, event_names: Iterable[str]) -> list[str]:
    """Stop syncing events; returns those that were selected."""
    get_workspace(conn, workspace_id)
    event_names = list(event_names)
    removed = {name for (name,) in conn.execute(
        "delete from control.selected_events where workspace_id = %s and event_name = any(%s) returning event_name",
        (workspace_id, event_names),
    )}
    return [name for name in event_names if name in removed]


def event_label(name: str, catalog: dict[str, str]) -> str:
    return catalog.get(name) or name


def selected_events(conn: psycopg.Connection, workspace_id: str) -> list[dict]:
    """[{event_name, label}] in display order."""
    catalog = event_catalog(conn, workspace_id)
    names = [n for (n,) in conn.execute(
        "select event_name from control.selected_events where workspace_id = %s", (workspace_id,)
    )]
    return [{"event_name": n, "label": event_label(n, catalog)} for n in sorted(names, key=event_sort_key)]


def available_events(conn: psycopg.Connection, workspace_id: str, seen: Iterable[str]) -> list[dict]:
    """The standard events, the custom events the Space has, and any selected ones.

    [{event_name, label, kind, seen (in the recent data just read), selected}].
    """
    catalog = event_catalog(conn, workspace_id)
    seen = set(seen)
    selected = {e["event_name"] for e in selected_events(conn, workspace_id)}
    names = set(STANDARD_EVENTS) | set(catalog) | selected
    return [
        {
            "event_name": name,
            "label": event_label(name, catalog),
            "kind": "standard" if name in STANDARD_EVENTS else "custom",
            "seen": name in seen,
            "selected": name in selected,
        }
        for name in sorted(names, key=event_sort_key)
    ]


# ---------------------------------------------------------------- everything a sync needs

def meta_ad_accounts(conn: psycopg.Connection, workspace_id: str) -> list[dict]:
    return _all(
        conn,
        "select ad_account_id, conn_id, base_url, name, currency, timezone_name, connected_at"
        " from control.meta_ad_accounts where workspace_id = %s order by ad_account_id",
        (workspace_id,),
    )


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


# ---------------------------------------------------------------- sync state

def sync_state(conn: psycopg.Connection, workspace_id: str) -> dict | None:
    return _one(conn, "select * from control.sync_state where workspace_id = %s", (workspace_id,))


def record_sync_success(conn: psycopg.Connection, workspace_id: str, synced_through: datetime) -> None:
    """Extraction and dbt both finished for data up to `synced_through` (UTC)."""
    conn.execute(
        "insert into control.sync_state (workspace_id, last_synced_at, synced_through) values (%s, now(), %s)"
        " on conflict (workspace_id) do update set last_synced_at = now(),"
        " synced_through = greatest(control.sync_state.synced_through, excluded.synced_through),"
        " last_error = null, last_error_at = null",
        (workspace_id, synced_through),
    )


def record_sync_error(conn: psycopg.Connection, workspace_id: str, message: str) -> None:
    """`message` is shown to people as is: one line, no secret (a UserError's text)."""
    conn.execute(
        "insert into control.sync_state (workspace_id, last_error, last_error_at) values (%s, %s, now())"
        " on conflict (workspace_id) do update set last_error = excluded.last_error, last_error_at = now()",
        (workspace_id, message),
    )


def set_sync_progress(conn: psycopg.Connection, workspace_id: str, progress: dict | None) -> None:
    conn.execute(
        "insert into control.sync_state (workspace_id, progress) values (%s, %s)"
        " on conflict (workspace_id) do update set progress = excluded.progress",
        (workspace_id, Jsonb(progress) if progress is not None else None),
    )


def merge_sync_progress(conn: psycopg.Connection, workspace_id: str, kind: str, progress: dict | None) -> None:
    """Set (or, with None, clear) one kind of progress ('reprocess', 'result_backfill'), keeping the others."""
    conn.execute(
        "insert into control.sync_state (workspace_id, progress) values (%(ws)s, jsonb_strip_nulls(%(p)s))"
        " on conflict (workspace_id) do update set progress ="
        " jsonb_strip_nulls(coalesce(control.sync_state.progress, '{}'::jsonb) || %(p)s)",
        {"ws": workspace_id, "p": Jsonb({kind: progress})},
    )


# ---------------------------------------------------------------- status

def workspace_status(conn: psycopg.Connection, workspace_id: str) -> dict:
    """What `cometly-elt status` shows, as plain data (no secrets: connection ids and URLs only)."""
    settings = workspace_settings(conn, workspace_id)
    workspace, state = settings["workspace"], sync_state(conn, workspace_id) or {}

    def utc(moment: datetime | None) -> datetime | None:
        return moment and moment.astimezone(UTC)

    def version(row: dict | None) -> dict | None:
        return row and {"version": row["version"], "model": row["model"], "window": window_label(row["window_days"])}

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
        "progress": state.get("progress") or {},
        "warnings": [m.message for m in timezone_mismatches(conn, workspace_id)],
    }
