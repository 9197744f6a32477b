"""What a person does on the product's Cometly card, one function per action.

The `cometly-elt` commands and the Airflow UI's Workspaces page both call these,
so every rule (validation, confirmation, selection) exists once. A function
returns plain data and prints nothing; it raises `UserError` with the one line
to show. The `describe_*` helpers turn a result into the sentence both show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from cometly_elt.cometly.connect import DEFAULT_BASE_URL as DEFAULT_COMETLY_URL, Connected, connect_key
from cometly_elt.errors import UserError

if TYPE_CHECKING:
    from cometly_elt.control import AttributionChange, Removal
    from cometly_elt.meta.accounts import ConnectedAccount

# Importing this module stays light (the CLI's --help reads its defaults): the warehouse and
# Airflow are imported inside the functions that use them.
DEFAULT_HISTORY_DAYS = 365
# How far back listing the events looks for the events a Space actually has.
DISCOVERY_DAYS = 30
NO_EVENTS = "No events found in Cometly: the account may have no conversion events yet, or tracking is not running"


# ---------------------------------------------------------------- workspaces

def parse_history_start(text: str | None) -> date:
    from cometly_elt import inputs

    today = datetime.now(timezone.utc).date()
    if text is None:
        return today - timedelta(days=DEFAULT_HISTORY_DAYS)
    return inputs.history_start(text, today)


@dataclass(frozen=True)
class WorkspaceAdded:
    added: bool  # False: it existed already with these settings
    plan: str
    history_start: date


def add_workspace(workspace_id: str, *, name: str, plan: str, history_start: str | None) -> WorkspaceAdded:
    from cometly_elt import control, warehouse

    plan = control.parse_plan(plan)
    start = parse_history_start(history_start)
    with warehouse.connect() as conn:
        added = control.add_workspace(conn, workspace_id, name=name, plan=plan, history_start=start)
    return WorkspaceAdded(added, plan, start)


@dataclass(frozen=True)
class SubscriptionChange:
    changed: bool  # False: it had that status already
    status: str
    plan: str


def set_subscription(workspace_id: str, status: str) -> SubscriptionChange:
    """Pause ('paused') or resume ('active') a workspace's syncs."""
    from cometly_elt import control, warehouse

    with warehouse.connect() as conn:
        changed = control.set_subscription(conn, workspace_id, status)
        plan = control.get_workspace(conn, workspace_id)["plan"]
    return SubscriptionChange(changed, status, plan)


def describe_subscription(workspace_id: str, change: SubscriptionChange) -> str:
    from cometly_elt import control

    prefix = f"Workspace '{workspace_id}' " + ("" if change.changed else "was already ")
    if change.status == "paused":
        return prefix + f"paused: no syncs run until 'cometly-elt workspace resume {workspace_id}'."
    return prefix + f"active: syncs run every {control.PLAN_SYNC_HOURS[change.plan]} h ({change.plan} plan)."


def list_workspaces() -> list[dict]:
    from cometly_elt import control, warehouse

    with warehouse.connect() as conn:
        return control.list_workspaces(conn)


def remove_workspace(workspace_id: str, *, confirmed: bool) -> Removal:
    from cometly_elt import control, warehouse

    if not confirmed:
        raise UserError(
            f"removing workspace '{workspace_id}' deletes its settings, stored credentials and all its data:"
            " add --yes to confirm"
        )
    with warehouse.connect() as conn:
        return control.remove_workspace(conn, workspace_id)


def workspace_status(workspace_id: str) -> dict:
    from cometly_elt import control, warehouse

    with warehouse.connect() as conn:
        return control.workspace_status(conn, workspace_id)


# ---------------------------------------------------------------- Cometly key

def connect_cometly(workspace_id: str, *, api_key: str, base_url: str = DEFAULT_COMETLY_URL,
                    confirm_space_switch: bool = False) -> Connected:
    """Validate the key with Cometly, then store it encrypted; nothing is stored on any refusal (cometly/connect.py)."""
    return connect_key(workspace_id, api_key, url=base_url, confirm_space_switch=confirm_space_switch)


def describe_cometly_connection(done: Connected) -> str:
    lines = []
    if done.space_switched:
        lines.append(f"Workspace '{done.workspace_id}' now reads another Cometly Space: its next sync re-extracts the"
                     f" whole history from it (or run 'cometly-elt sync {done.workspace_id}' now).")
    lines.append(f"Workspace '{done.workspace_id}' connected to Cometly at {done.base_url}: the key is valid and stored"
                 f" encrypted as Airflow connection '{done.conn_id}'.\n"
                 f"Next: cometly-elt cometly configure {done.workspace_id} --model first_touch --window lifetime"
                 " --timezone IANA_NAME")
    return "\n".join(lines)


# ---------------------------------------------------------------- Meta ad accounts

def connect_meta_account(workspace_id: str, *, ad_account: str, access_token: str, base_url: str) -> ConnectedAccount:
    """Check that the token can read the ad account, then store both; nothing is stored on any refusal."""
    from cometly_elt.meta.accounts import connect_account

    return connect_account(workspace_id, ad_account=ad_account, access_token=access_token, base_url=base_url)


# ---------------------------------------------------------------- attribution

@dataclass(frozen=True)
class AttributionSet:
    model: str
    window_days: int
    timezone: str
    change: AttributionChange


def configure_attribution(workspace_id: str, *, model: str, window: str, timezone: str,
                          reprocess_confirmed: bool) -> AttributionSet:
    """Model, window and timezone; raises control.ReprocessNotConfirmed, changing nothing, when a model or
    window change would reprocess all history and that was not confirmed."""
    from cometly_elt import control, warehouse
    from cometly_elt.timezones import validate_timezone

    model = control.parse_model(model)
    window_days = control.parse_window(window)
    tz = validate_timezone(timezone)
    with warehouse.connect() as conn:
        change = control.configure_attribution(conn, workspace_id, model=model, window_days=window_days,
                                               timezone=tz, reprocess_confirmed=reprocess_confirmed)
    return AttributionSet(model, window_days, tz, change)


def describe_attribution(workspace_id: str, result: AttributionSet) -> str:
    from cometly_elt import control

    change, tz = result.change, result.timezone
    settings = f"{result.model}, window {control.window_label(result.window_days)}"
    if change.first:
        lines = [f"Attribution for '{workspace_id}': {settings}, timezone {tz}"
                 f" (settings version {change.active_version})."]
    elif change.reprocess:
        lines = [
            f"Settings version {change.building_version} ({settings}) is being built beside version"
            f" {change.active_version}: all history is reprocessed, and the marts switch to it when that is done."
        ]
        if change.retired_building is not None:
            lines.append(f"It replaces version {change.retired_building}, which was still being built.")
    elif change.retired_building is not None:
        lines = [
            f"Back to the active settings (version {change.active_version}):"
            f" the reprocess to version {change.retired_building} is cancelled."
        ]
    else:
        lines = []
    if change.timezone_changed:
        lines.append(
            f"Timezone is now {tz}: nothing is re-extracted (raw data is kept in UTC), but the marts are"
            " marked for rebuild with the new report dates."
        )
    if not change.changed:
        building = f", version {change.building_version} being built" if change.building_version else ""
        lines.append(f"Attribution settings of '{workspace_id}' unchanged (version {change.active_version}{building}).")
    return "\n".join(lines)


# ---------------------------------------------------------------- events

def list_events(workspace_id: str) -> dict:
    """Ask Cometly which events the Space has (remembering their labels), with those selected.

    {workspace_id, found_in_cometly, events: [{event_name, label, kind, seen, selected}], message (when none)}.
    """
    from cometly_elt import control, warehouse
    from cometly_elt.hooks.cometly import workspace_hook

    with warehouse.connect() as conn:
        workspace = control.get_workspace(conn, workspace_id)
        connection = control.require_cometly_connection(conn, workspace_id)
    with workspace_hook(workspace_id, connection["conn_id"]) as hook:
        found = hook.discover_events(workspace["timezone"], days=DISCOVERY_DAYS)
    with warehouse.connect() as conn:
        control.get_workspace(conn, workspace_id, for_update=True)
        control.upsert_event_catalog(conn, workspace_id, found)
        events = control.available_events(conn, workspace_id, seen=found)
    data = {"workspace_id": workspace_id, "found_in_cometly": len(found), "events": events}
    if not found:
        data["message"] = NO_EVENTS
    return data


@dataclass(frozen=True)
class EventChoice:
    selecting: bool
    changed: list[str]
    unchanged: list[str]
    synced: list[str]  # every event selected now
    catalog: dict[str, str]


def choose_events(workspace_id: str, events: list[str], *, select: bool) -> EventChoice:
    """Select or unselect events, given by name or custom label."""
    from cometly_elt import control, inputs, warehouse

    for event in events:
        inputs.event_reference(event)
    with warehouse.connect() as conn:
        names = control.resolve_events(conn, workspace_id, events)
        change = control.select_events if select else control.unselect_events
        changed = change(conn, workspace_id, names)
        catalog = control.event_catalog(conn, workspace_id)
        synced = [e["event_name"] for e in control.selected_events(conn, workspace_id)]
    return EventChoice(select, changed, [n for n in names if n not in changed], synced, catalog)


def _event_names(events: list[str], catalog: dict[str, str]) -> str:
    from cometly_elt import control, inputs

    shown = []
    for name in events:
        label = control.event_label(name, catalog)
        shown.append(name if label == name else f"{inputs.terminal_text(label)} ({name})")
    return ", ".join(shown)


def describe_event_choice(workspace_id: str, choice: EventChoice) -> str:
    done, not_done = ("Selected", "Already selected") if choice.selecting else ("Unselected", "Was not selected")
    lines = []
    if choice.changed:
        lines.append(f"{done} for '{workspace_id}': {_event_names(choice.changed, choice.catalog)}.")
    if choice.unchanged:
        lines.append(f"{not_done}: {_event_names(choice.unchanged, choice.catalog)}.")
    lines.append(f"Events synced: {_event_names(choice.synced, choice.catalog) if choice.synced else 'none'}.")
    return "\n".join(lines)


# ---------------------------------------------------------------- results and syncs

def set_result_metric(workspace_id: str, *, campaign: str, event: str, airflow_token: str | None = None) -> dict:
    """A selected Cometly event as the campaign's Results column, then its backfill (cometly_result_backfill).

    `airflow_token`: start the backfill through Airflow's REST API as that user (see trigger.run_dag).
    """
    from cometly_elt import control, inputs, trigger, warehouse

    inputs.event_reference(event)
    with warehouse.connect() as conn:
        (event,) = control.resolve_events(conn, workspace_id, [event])
        selected = {e["event_name"] for e in control.selected_events(conn, workspace_id)}
        if event not in selected:
            # Only selected events sync, so only they can be results (troubleshooting: "missing from result choices").
            raise UserError(
                f"event '{event}' is not selected, so it cannot be a result metric: run"
                f" 'cometly-elt cometly select {workspace_id} {event}' first"
            )
        inputs.campaign_id(campaign)
        control.set_result_metric(conn, workspace_id, campaign, event)
    outcome = trigger.run_dag("cometly_result_backfill", {"workspace_id": workspace_id, "campaign_id": campaign},
                              token=airflow_token)
    if outcome.state == "failed":
        raise UserError(f"the result metric is set but its backfill failed: see {outcome.where}")
    return {"workspace_id": workspace_id, "campaign_id": campaign, "event": event,
            "backfill_run_id": outcome.run_id, "backfill_state": outcome.state, "watch": outcome.where}


def describe_result_metric(result: dict) -> str:
    return (f"Campaign {result['campaign_id']} now counts '{result['event']}' as its result."
            f" Backfill {'started' if result['backfill_state'] == 'queued' else result['backfill_state']}:"
            f" {result['watch']}")


def sync_now(workspace_id: str, *, full_refresh: bool = False, airflow_token: str | None = None) -> dict:
    """Sync Now (DAG cometly_sync_now): {workspace_id, run_id, state, watch, last_synced_at}.

    `airflow_token`: start the run through Airflow's REST API as that user (see trigger.run_dag).
    """
    from cometly_elt import control, sync, trigger, warehouse

    # Refuse at once what the DAG would refuse, before starting Airflow machinery.
    with warehouse.connect() as conn:
        sync.sync_now_workspace(conn, workspace_id)
    outcome = trigger.run_dag("cometly_sync_now", {"workspace_id": workspace_id, "full_refresh": full_refresh},
                              token=airflow_token)
    with warehouse.connect() as conn:
        state = control.sync_state(conn, workspace_id) or {}
    if outcome.state == "failed":
        raise UserError(f"sync of '{workspace_id}' failed: {state.get('last_error') or 'see ' + outcome.where}")
    return {"workspace_id": workspace_id, "run_id": outcome.run_id, "state": outcome.state,
            "watch": outcome.where, "last_synced_at": state.get("last_synced_at")}


def describe_sync(result: dict) -> str:
    if result["state"] == "queued":
        return (f"Sync Now started for '{result['workspace_id']}' (run {result['run_id']}):"
                f" watch it at {result['watch']}")
    return (f"Synced '{result['workspace_id']}' here (no Airflow scheduler running)."
            f" Last Synced: {result['last_synced_at']}. Task states: {result['watch']}")
