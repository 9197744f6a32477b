"""Sub-commands: cometly connect / configure / events / select / unselect.

The Settings → Integrations → Cometly card: key, attribution settings, events to sync.
"""

from __future__ import annotations

import argparse
import sys

from cometly_elt import actions
from cometly_elt.actions import DISCOVERY_DAYS, NO_EVENTS
from cometly_elt.cli.output import emit, json_parent, say, table
from cometly_elt.cli.secret_input import add_secret_option, read_secret
from cometly_elt.cometly.connect import DEFAULT_BASE_URL, EMPTY_KEY_HINT
from cometly_elt.errors import UserError


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
    api_key = read_secret(args.api_key, option="--api-key", what="API key", empty_hint=EMPTY_KEY_HINT)
    done = actions.connect_cometly(args.workspace_id, api_key=api_key, base_url=args.base_url,
                                   confirm_space_switch=args.yes)
    say(actions.describe_cometly_connection(done))
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
    from cometly_elt.control import ReprocessNotConfirmed

    def apply(confirmed: bool) -> actions.AttributionSet:
        return actions.configure_attribution(args.workspace_id, model=args.model, window=args.window,
                                             timezone=args.timezone, reprocess_confirmed=confirmed)

    try:
        result = apply(args.yes)
    except ReprocessNotConfirmed:
        # No transaction is open while waiting for the answer.
        _confirm_reprocess()
        result = apply(True)
    say(actions.describe_attribution(args.workspace_id, result))
    return 0


# ---------------------------------------------------------------- events

def _events(args: argparse.Namespace) -> int:
    emit(args, actions.list_events(args.workspace_id), _events_table)
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


def _choose(args: argparse.Namespace) -> int:
    """select / unselect: both report what changed and what is synced now."""
    choice = actions.choose_events(args.workspace_id, args.events, select=args.cometly_command == "select")
    say(actions.describe_event_choice(args.workspace_id, choice))
    unseen = [n for n in choice.changed
              if choice.selecting and n.startswith("custom_event_") and n not in choice.catalog]
    if unseen:
        print(f"note: Cometly has not shown {', '.join(unseen)} in this Space yet"
              f" ('cometly-elt cometly events {args.workspace_id}' lists what it has): it syncs once Cometly records"
              " conversions for it", file=sys.stderr)
    return 0
