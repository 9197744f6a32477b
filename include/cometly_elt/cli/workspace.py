"""Sub-commands: workspace add / pause / resume / list / remove."""

from __future__ import annotations

import argparse

from cometly_elt import actions, inputs
from cometly_elt.actions import DEFAULT_HISTORY_DAYS
from cometly_elt.cli.output import emit, json_parent, say, table


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


def _add(args: argparse.Namespace) -> int:
    from cometly_elt.control import PLAN_SYNC_HOURS

    result = actions.add_workspace(args.workspace_id, name=args.name, plan=args.plan, history_start=args.history_start)
    if not result.added:
        say(f"Workspace '{args.workspace_id}' already exists with these settings: nothing changed.")
        return 0
    say(
        f"Workspace '{args.workspace_id}' added: {result.plan} plan (syncs every {PLAN_SYNC_HOURS[result.plan]} h),"
        f" history from {result.history_start}.\n"
        f"Next: cometly-elt cometly connect {args.workspace_id} --api-key KEY"
    )
    return 0


def _set_subscription(args: argparse.Namespace) -> int:
    change = actions.set_subscription(args.workspace_id, args.status)
    say(actions.describe_subscription(args.workspace_id, change))
    return 0


def _list(args: argparse.Namespace) -> int:
    emit(args, actions.list_workspaces(), _workspace_table)
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
    removal = actions.remove_workspace(args.workspace_id, confirmed=args.yes)
    say(
        f"Workspace '{args.workspace_id}' removed: {sum(removal.rows.values())} rows and"
        f" {len(removal.conn_ids)} stored credentials deleted."
    )
    return 0
