"""`cometly-elt results set ID --campaign C --event E`: a Cometly event as a campaign's Results column."""

from __future__ import annotations

import argparse

from cometly_elt.cli.output import emit, json_parent


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("results", help="campaign result metrics")
    sub = parser.add_subparsers(dest="results_command", required=True, metavar="ACTION")
    set_ = sub.add_parser(
        "set",
        parents=[json_parent()],
        help="use a Cometly event as a campaign's result metric, then backfill it",
    )
    set_.add_argument("workspace_id")
    set_.add_argument("--campaign", required=True, help="Meta campaign id")
    set_.add_argument("--event", required=True, help="a selected event: name (purchase, custom_event_3) or label")
    set_.set_defaults(func=_set)


def _set(args: argparse.Namespace) -> int:
    from cometly_elt import actions

    result = actions.set_result_metric(args.workspace_id, campaign=args.campaign, event=args.event)
    emit(args, result, actions.describe_result_metric)
    return 0
