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
    from cometly_elt import control, sync, trigger, warehouse
    from cometly_elt.errors import UserError

    # Refuse at once what the DAG would refuse, before starting Airflow machinery.
    with warehouse.connect() as conn:
        sync.sync_now_workspace(conn, args.workspace_id)
    outcome = trigger.run_dag("cometly_sync_now", {"workspace_id": args.workspace_id,
                                                   "full_refresh": args.full_refresh})
    with warehouse.connect() as conn:
        state = control.sync_state(conn, args.workspace_id) or {}
    if outcome.state == "failed":
        raise UserError(f"sync of '{args.workspace_id}' failed: {state.get('last_error') or 'see ' + outcome.where}")
    result = {"workspace_id": args.workspace_id, "run_id": outcome.run_id, "state": outcome.state,
              "watch": outcome.where, "last_synced_at": state.get("last_synced_at")}

    def human(r: dict) -> str:
        if r["state"] == "queued":
            return f"Sync Now started for '{r['workspace_id']}' (run {r['run_id']}): watch it at {r['watch']}"
        return (f"Synced '{r['workspace_id']}' here (no Airflow scheduler running). Last Synced: {r['last_synced_at']}."
                f" Task states: {r['watch']}")

    emit(args, result, human)
    return 0
