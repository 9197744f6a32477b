"""Sub-commands: cometly connect / configure / events / select / unselect.

The Settings → Integrations → Cometly card: key, attribution settings, events to sync.
"""

from __future__ import annotations

import argparse
import sys
from urllib.parse import urlsplit

from cometly_elt.cli.output import emit, json_parent, table
from cometly_elt.errors import UserError

DEFAULT_BASE_URL = "https://app.cometly.com/public-api/v1"
# How far back `events` looks for the events a Space actually has.
DISCOVERY_DAYS = 30
NO_EVENTS = "No events found in Cometly: the account may have no conversion events yet, or tracking is not running"


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("cometly", help="the Cometly connection, attribution settings and events")
    sub = parser.add_subparsers(dest="cometly_command", required=True, metavar="ACTION")

    connect = sub.add_parser("connect", help="validate an API key with Cometly, then store it encrypted")
    connect.add_argument("workspace_id", metavar="ID")
    connect.add_argument("--api-key", required=True, metavar="KEY")
    connect.add_argument("--base-url", default=DEFAULT_BASE_URL, metavar="URL", help=f"default: {DEFAULT_BASE_URL}")
    connect.set_defaults(func=_connect)

    configure = sub.add_parser("configure", help="attribution model, window and the Space's timezone")
    configure.add_argument("workspace_id", metavar="ID")
    configure.add_argument("--model", required=True, metavar="first_touch|last_touch",
                           help="first or last Meta ad touch (Cometly's source-specific models)")
    configure.add_argument("--window", required=True, metavar="lifetime|1|7|14|30|60|90",
                           help="attribution window in days, or lifetime")
    configure.add_argument("--timezone", required=True, metavar="IANA_NAME",
                           help="the Cometly Space's timezone, e.g. America/New_York")
    configure.add_argument("--yes", action="store_true", help="confirm reprocessing all history")
    configure.set_defaults(func=_configure)

    events = sub.add_parser("events", help="events the Space has, and which are selected", parents=[json_parent()])
    events.add_argument("workspace_id", metavar="ID")
    events.set_defaults(func=_events)

    for action, verb in (("select", "sync"), ("unselect", "stop syncing")):
        choose = sub.add_parser(action, help=f"{verb} events, by name or custom label")
        choose.add_argument("workspace_id", metavar="ID")
        choose.add_argument("events", nargs="+", metavar="EVENT")
        choose.set_defaults(func=_choose)


# ---------------------------------------------------------------- connect

def _base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(f"base URL '{url}' is not an http(s) URL: leave --base-url out to use {DEFAULT_BASE_URL}")
    return url.rstrip("/")


def _connect(args: argparse.Namespace) -> int:
    from cometly_elt import control, credentials, warehouse

    base_url = _base_url(args.base_url)
    if not args.api_key.strip():
        raise UserError("the API key is empty: copy it from Cometly (Integrations → API)")
    with warehouse.connect() as conn:
        control.get_workspace(conn, args.workspace_id)
    # Nothing is stored until Cometly has accepted the key.
    from cometly_elt.hooks.cometly import CometlyHook

    CometlyHook.for_key(base_url, args.api_key).validate_key()
    conn_id = control.cometly_conn_id(args.workspace_id)
    with warehouse.connect() as conn:
        control.get_workspace(conn, args.workspace_id, for_update=True)
        control.set_cometly_connection(conn, args.workspace_id, conn_id=conn_id, base_url=base_url)
        credentials.store(conn_id, conn_type="cometly", host=base_url, password=args.api_key,
                          description=f"Cometly API key of workspace {args.workspace_id}")
    print(
        f"Workspace '{args.workspace_id}' connected to Cometly at {base_url}: the key is valid and stored"
        f" encrypted as Airflow connection '{conn_id}'.\n"
        f"Next: cometly-elt cometly configure {args.workspace_id} --model first_touch --window lifetime"
        " --timezone IANA_NAME"
    )
    return 0


# ---------------------------------------------------------------- configure

def _confirm_reprocess() -> None:
    """Ask on the terminal; without one (scripts, Airflow) or without an answer, refuse rather than assume."""
    from cometly_elt.control import ReprocessNotConfirmed

    if not sys.stdin.isatty():
        raise ReprocessNotConfirmed()
    print("This reprocesses all history; continue? [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    if not answer:
        print(file=sys.stderr)
        raise ReprocessNotConfirmed()
    if answer.strip().lower() not in ("y", "yes"):
        raise UserError("cancelled: attribution settings unchanged")


def _configure(args: argparse.Namespace) -> int:
    from cometly_elt import control, warehouse
    from cometly_elt.timezones import validate_timezone

    model = control.parse_model(args.model)
    window_days = control.parse_window(args.window)
    tz = validate_timezone(args.timezone)

    def apply(confirmed: bool) -> control.AttributionChange:
        with warehouse.connect() as conn:
            return control.configure_attribution(
                conn, args.workspace_id, model=model, window_days=window_days, timezone=tz,
                reprocess_confirmed=confirmed,
            )

    try:
        change = apply(args.yes)
    except control.ReprocessNotConfirmed:
        # The transaction is closed while waiting for the answer.
        _confirm_reprocess()
        change = apply(True)
    print(_describe_change(args.workspace_id, model, window_days, tz, change))
    return 0


def _describe_change(workspace_id: str, model: str, window_days: int, tz: str, change) -> str:
    from cometly_elt.control import window_label

    settings = f"{model}, window {window_label(window_days)}"
    if change.first:
        lines = [f"Attribution for '{workspace_id}': {settings}, timezone {tz} (settings version {change.active_version})."]
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

def _events(args: argparse.Namespace) -> int:
    from cometly_elt import control, warehouse

    with warehouse.connect() as conn:
        workspace = control.get_workspace(conn, args.workspace_id)
        connection = control.require_cometly_connection(conn, args.workspace_id)
    from cometly_elt.hooks.cometly import workspace_hook

    with workspace_hook(args.workspace_id, connection["conn_id"]) as hook:
        found = hook.discover_events(workspace["timezone"], days=DISCOVERY_DAYS)
    with warehouse.connect() as conn:
        control.get_workspace(conn, args.workspace_id, for_update=True)
        control.upsert_event_catalog(conn, args.workspace_id, found)
        events = control.available_events(conn, args.workspace_id, seen=found)
    data = {"workspace_id": args.workspace_id, "found_in_cometly": len(found), "events": events}
    if not found:
        data["message"] = NO_EVENTS
    emit(args, data, _events_table)
    return 0


def _events_table(data: dict) -> str:
    if not data["found_in_cometly"]:
        return NO_EVENTS
    rows = [
        [e["event_name"], e["label"], e["kind"], "yes" if e["seen"] else "", "yes" if e["selected"] else ""]
        for e in data["events"]
    ]
    return (
        table(["EVENT", "LABEL", "TYPE", f"IN LAST {DISCOVERY_DAYS} DAYS", "SELECTED"], rows)
        + f"\n\nSelect by name or label: cometly-elt cometly select {data['workspace_id']} EVENT..."
    )


def _event_names(events: list[str], catalog: dict[str, str]) -> str:
    from cometly_elt.control import event_label

    shown = []
    for name in events:
        label = event_label(name, catalog)
        shown.append(name if label == name else f"{label} ({name})")
    return ", ".join(shown)


def _choose(args: argparse.Namespace) -> int:
    """select / unselect: both report what changed and what is synced now."""
    from cometly_elt import control, warehouse

    selecting = args.cometly_command == "select"
    with warehouse.connect() as conn:
        names = control.resolve_events(conn, args.workspace_id, args.events)
        change = control.select_events if selecting else control.unselect_events
        changed = change(conn, args.workspace_id, names)
        catalog = control.event_catalog(conn, args.workspace_id)
        synced = [e["event_name"] for e in control.selected_events(conn, args.workspace_id)]
    unchanged = [n for n in names if n not in changed]
    done, not_done = ("Selected", "Already selected") if selecting else ("Unselected", "Was not selected")
    lines = []
    if changed:
        lines.append(f"{done} for '{args.workspace_id}': {_event_names(changed, catalog)}.")
    if unchanged:
        lines.append(f"{not_done}: {_event_names(unchanged, catalog)}.")
    lines.append(f"Events synced: {_event_names(synced, catalog) if synced else 'none'}.")
    print("\n".join(lines))
    return 0
