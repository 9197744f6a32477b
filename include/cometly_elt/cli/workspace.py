"""Sub-commands: workspace add / pause / resume / list / remove."""

from __future__ import annotations

import argparse
from datetime import date, datetime, timedelta, timezone

from cometly_elt import inputs
from cometly_elt.cli.output import emit, json_parent, say, table
from cometly_elt.errors import UserError

DEFAULT_HISTORY_DAYS = 365


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("workspace", help="register, pause, resume, list and remove workspaces")
    sub = parser.add_subparsers(dest="workspace_command", required=True, metavar="ACTION")

    add = sub.add_parser("add", help="register a workspace")
    add.add_argument("workspace_id", metavar="ID",
                     help="up to 63 letters, digits, '-' or '_'; refused if it differs only in case from an existing"
                          " ID (two such workspaces could not be told apart in lists and run params)")
    add.add_argument("--name", required=True,
                     help=f"shown in lists: 1 to {inputs.MAX_NAME_LENGTH} characters, no control characters")
    add.add_argument("--plan", required=True, metavar="hobby|pro|ultra", help="hobby: every 6 h, pro: 3 h, ultra: 1 h")
    add.add_argument("--history-start", metavar="YYYY-MM-DD",
                     help=f"history before this date is never synced (default: {DEFAULT_HISTORY_DAYS} days ago);"
                          f" from {inputs.EARLIEST_HISTORY_START} (Cometly did not exist before) to today")
    add.set_defaults(func=_add)

    pause = sub.add_parser("pause", help="subscription paused: no syncs")
    pause.add_argument("workspace_id", metavar="ID")
    pause.set_defaults(func=_set_subscription, status="paused")

    resume = sub.add_parser("resume", help="subscription active: syncs run on the plan's schedule")
    resume.add_argument("workspace_id", metavar="ID")
    resume.set_defaults(func=_set_subscription, status="active")

    listing = sub.add_parser("list", help="list workspaces", parents=[json_parent()])
    listing.set_defaults(func=_list)

    remove = sub.add_parser("remove", help="delete a workspace: settings, credentials and all its rows")
    remove.add_argument("workspace_id", metavar="ID")
    remove.add_argument("--yes", action="store_true", help="confirm the deletion")
    remove.set_defaults(func=_remove)


def _history_start(text: str | None) -> date:
    today = datetime.now(timezone.utc).date()
    if text is None:
        return today - timedelta(days=DEFAULT_HISTORY_DAYS)
    return inputs.history_start(text, today)


def _add(args: argparse.Namespace) -> int:
    from cometly_elt import control, warehouse

    inputs.display_name(args.name)
    plan = control.parse_plan(args.plan)
    history_start = _history_start(args.history_start)
    with warehouse.connect() as conn:
        added = control.add_workspace(conn, args.workspace_id, name=args.name, plan=plan, history_start=history_start)
    if not added:
        say(f"Workspace '{args.workspace_id}' already exists with these settings: nothing changed.")
        return 0
    say(
        f"Workspace '{args.workspace_id}' added: {plan} plan (syncs every {control.PLAN_SYNC_HOURS[plan]} h),"
        f" history from {history_start}.\n"
        f"Next: cometly-elt cometly connect {args.workspace_id} --api-key KEY"
    )
    return 0


def _set_subscription(args: argparse.Namespace) -> int:
    from cometly_elt import control, warehouse

    with warehouse.connect() as conn:
        changed = control.set_subscription(conn, args.workspace_id, args.status)
        plan = control.get_workspace(conn, args.workspace_id)["plan"]
    prefix = f"Workspace '{args.workspace_id}' " + ("" if changed else "was already ")
    if args.status == "paused":
        say(prefix + f"paused: no syncs run until 'cometly-elt workspace resume {args.workspace_id}'.")
    else:
        say(prefix + f"active: syncs run every {control.PLAN_SYNC_HOURS[plan]} h ({plan} plan).")
    return 0


def _list(args: argparse.Namespace) -> int:
    from cometly_elt import control, warehouse

    with warehouse.connect() as conn:
        workspaces = control.list_workspaces(conn)
    emit(args, workspaces, _workspace_table)
    return 0


def _workspace_table(workspaces: list[dict]) -> str:
    if not workspaces:
        return "No workspaces yet: add one with 'cometly-elt workspace add ID --name NAME --plan pro'."
    return table(
        ["ID", "NAME", "PLAN", "SUBSCRIPTION", "HISTORY FROM", "COMETLY", "LAST SYNCED"],
        [
            [
                w["workspace_id"], w["name"], w["plan"], w["subscription_status"], w["history_start"],
                "connected" if w["cometly_connected"] else "not connected",
                w["last_synced_at"].isoformat(timespec="seconds") if w["last_synced_at"] else "never",
            ]
            for w in workspaces
        ],
    )


def _remove(args: argparse.Namespace) -> int:
    from cometly_elt import control, warehouse

    if not args.yes:
        raise UserError(
            f"removing workspace '{args.workspace_id}' deletes its settings, stored credentials and all its data:"
            " add --yes to confirm"
        )
    with warehouse.connect() as conn:
        removal = control.remove_workspace(conn, args.workspace_id)
    say(
        f"Workspace '{args.workspace_id}' removed: {sum(removal.rows.values())} rows and"
        f" {len(removal.conn_ids)} stored credentials deleted."
    )
    return 0
