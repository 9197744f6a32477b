"""`cometly-elt sync ID`: Sync Now for one workspace."""

from __future__ import annotations

import argparse

from cometly_elt.cli.output import emit, json_parent


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "sync",
        parents=[json_parent()],
        help="Sync Now: sync one workspace now",
        description="Sync one workspace now (DAG cometly_sync_now). With Airflow's scheduler running the run"
        " is handed to it; otherwise it runs here.",
    )
    parser.add_argument("workspace_id")
    parser.add_argument("--full-refresh", action="store_true", help="re-extract the whole history")
    parser.set_defaults(func=_sync)


def _sync(args: argparse.Namespace) -> int:
    from cometly_elt import actions

    emit(args, actions.sync_now(args.workspace_id, full_refresh=args.full_refresh), actions.describe_sync)
    return 0
