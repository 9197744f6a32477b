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
    set_.add_argument("--campaign", required=True, help="Meta campaign id (digits)")
    set_.add_argument("--event", required=True, help="a selected event: name (purchase, custom_event_3) or label")
    set_.set_defaults(func=_set)


def _set(args: argparse.Namespace) -> int:
    from cometly_elt import control, inputs, trigger, warehouse
    from cometly_elt.errors import UserError

    inputs.event_reference(args.event)
    with warehouse.connect() as conn:
        (event,) = control.resolve_events(conn, args.workspace_id, [args.event])
        selected = {e["event_name"] for e in control.selected_events(conn, args.workspace_id)}
        if event not in selected:
            # Only selected events sync, so only they can be results (troubleshooting: "missing from result choices").
            raise UserError(
                f"event '{event}' is not selected, so it cannot be a result metric: run"
                f" 'cometly-elt cometly select {args.workspace_id} {event}' first"
            )
        inputs.campaign_id(args.campaign)
        conn.execute(
            "insert into control.result_metrics (workspace_id, campaign_id, event_name) values (%s, %s, %s)"
            " on conflict (workspace_id, campaign_id) do update set event_name = excluded.event_name, set_at = now()",
            (args.workspace_id, args.campaign, event),
        )
    outcome = trigger.run_dag("cometly_result_backfill", {"workspace_id": args.workspace_id,
                                                          "campaign_id": args.campaign})
    if outcome.state == "failed":
        raise UserError(f"the result metric is set but its backfill failed: see {outcome.where}")
    result = {"workspace_id": args.workspace_id, "campaign_id": args.campaign, "event": event,
              "backfill_run_id": outcome.run_id, "backfill_state": outcome.state, "watch": outcome.where}
    emit(args, result, lambda r: (
        f"Campaign {r['campaign_id']} now counts '{r['event']}' as its result."
        f" Backfill {'started' if r['backfill_state'] == 'queued' else r['backfill_state']}: {r['watch']}"
    ))
    return 0
