"""Sub-commands: cometly connect / configure / events / select / unselect.

The Settings → Integrations → Cometly card: key, attribution settings, events to sync.
"""

from __future__ import annotations

import argparse
import sys

from cometly_elt import inputs
from cometly_elt.cli.output import emit, json_parent, say, table
from cometly_elt.cli.secret_input import add_secret_option, read_secret
from cometly_elt.cometly.connect import DEFAULT_BASE_URL, EMPTY_KEY_HINT
from cometly_elt.errors import UserError

# How far back `events` looks for the events a Space actually has.
DISCOVERY_DAYS = 30
NO_EVENTS = "No events found in Cometly: the account may have no conversion events yet, or tracking is not running"


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("cometly", help="the Cometly connection, attribution settings and events")
    sub = parser.add_subparsers(dest="cometly_command", required=True, metavar="ACTION")

    connect = sub.add_parser(
        "connect", help="validate an API key with Cometly, then store it encrypted",
        description="Validate an API key with Cometly, then store it encrypted. A key is valid only when Cometly"
                    " answers with its own JSON: any other answer (an HTML page, another service) is refused and"
                    " the existing connection kept. A key of another Space than the rows the workspace already"
                    " loaded needs --yes, and the next sync then re-extracts the whole history from the new Space.")
    connect.add_argument("workspace_id", metavar="ID")
    add_secret_option(connect, "--api-key", "KEY", "Cometly API key")
    connect.add_argument("--base-url", default=DEFAULT_BASE_URL, metavar="URL", help=f"default: {DEFAULT_BASE_URL}")
    connect.add_argument("--yes", action="store_true",
                         help="confirm connecting a key of another Space than the workspace's loaded data")
    connect.set_defaults(func=_connect)

    configure = sub.add_parser("configure", help="attribution model, window and the Space's timezone")
    configure.add_argument("workspace_id", metavar="ID")
    configure.add_argument("--model", required=True, metavar="first_touch|last_touch",
                           help="first or last Meta ad touch (Cometly's source-specific models)")
    configure.add_argument("--window", required=True, metavar="lifetime|1|7|14|30|60|90",
                           help="attribution window in days, or lifetime")
    configure.add_argument("--timezone", required=True, metavar="IANA_NAME",
                           help="the Cometly Space's timezone: a region name such as America/New_York, or UTC."
                                " Fixed offsets and legacy aliases (EST, Etc/GMT-3, US/Eastern) are refused: they"
                                " lack daylight saving time or invert the sign, which shifts conversions to other"
                                " days")
    configure.add_argument("--yes", action="store_true", help="confirm reprocessing all history")
    configure.set_defaults(func=_configure)

    events = sub.add_parser("events", help="events the Space has, and which are selected", parents=[json_parent()])
    events.add_argument("workspace_id", metavar="ID")
    events.set_defaults(func=_events)

    for action, verb in (("select", "sync"), ("unselect", "stop syncing")):
        choose = sub.add_parser(
            action, help=f"{verb} events, by name or custom label",
            description=f"{verb.capitalize()} events, by name (the 15 standard events, custom_event_1 to 50) or by"
                        " a custom event's label. A custom event Cometly has not shown yet can be selected (a slot"
                        " just set up has no conversions yet): a note on stderr says so.")
        choose.add_argument("workspace_id", metavar="ID")
        choose.add_argument("events", nargs="+", metavar="EVENT")
        choose.set_defaults(func=_choose)


# ---------------------------------------------------------------- connect

def _connect(args: argparse.Namespace) -> int:
    from cometly_elt.cometly.connect import connect_key

    api_key = read_secret(args.api_key, option="--api-key", what="API key", empty_hint=EMPTY_KEY_HINT)
    done = connect_key(args.workspace_id, api_key, url=args.base_url, confirm_space_switch=args.yes)
    if done.space_switched:
        say(f"Workspace '{done.workspace_id}' now reads another Cometly Space: its next sync re-extracts the whole"
            f" history from it (or run 'cometly-elt sync {done.workspace_id}' now).")
    say(
        f"Workspace '{done.workspace_id}' connected to Cometly at {done.base_url}: the key is valid and stored"
        f" encrypted as Airflow connection '{done.conn_id}'.\n"
        f"Next: cometly-elt cometly configure {done.workspace_id} --model first_touch --window lifetime"
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
    say(_describe_change(args.workspace_id, model, window_days, tz, change))
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
        shown.append(name if label == name else f"{inputs.terminal_text(label)} ({name})")
    return ", ".join(shown)


def _choose(args: argparse.Namespace) -> int:
    """select / unselect: both report what changed and what is synced now."""
    from cometly_elt import control, warehouse

    selecting = args.cometly_command == "select"
    for event in args.events:
        inputs.event_reference(event)
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
    say("\n".join(lines))
    unseen = [n for n in changed if selecting and n.startswith("custom_event_") and n not in catalog]
    if unseen:
        print(f"note: Cometly has not shown {', '.join(unseen)} in this Space yet"
              f" ('cometly-elt cometly events {args.workspace_id}' lists what it has): it syncs once Cometly records"
              " conversions for it", file=sys.stderr)
    return 0
