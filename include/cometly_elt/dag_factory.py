"""The sync DAGs: one factory for the per-plan DAGs and Sync Now, so both run the same steps.

Nothing here touches the database or imports heavy libraries at parse time;
tasks import what they need when they run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, Param, get_current_context, task

from cometly_elt.control import PLAN_SYNC_HOURS

log = logging.getLogger(__name__)

MART_ASSETS = [
    Asset(name=f"marts.{table}", uri=f"postgres://warehouse:5432/warehouse/marts/{table}")
    for table in ("fct_ad_results_daily", "fct_campaign_results_daily", "dim_campaigns")
]

PLAN_SCHEDULES = {plan: f"0 */{hours} * * *" if hours > 1 else "0 * * * *" for plan, hours in PLAN_SYNC_HOURS.items()}

DEFAULT_ARGS = {
    "owner": "cometly-elt",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
}

# dbt rebuilds views shared by all workspaces: one dbt build at a time.
DBT_POOL = "cometly_dbt"


@contextmanager
def _user_errors_fail_fast() -> Iterator[None]:
    """A problem the user must fix (bad key, unknown id) fails the task at once: retrying cannot help."""
    from airflow.sdk.exceptions import AirflowFailException

    from cometly_elt.errors import UserError

    try:
        yield
    except UserError as err:
        raise AirflowFailException(str(err)) from None


def _label(workspace: dict) -> None:
    """Show the workspace's name as the mapped task's label in the UI."""
    get_current_context()["workspace_label"] = f"{workspace['name']} ({workspace['workspace_id']})"


@task(map_index_template="{{ workspace_label }}")
def sync_workspace(workspace: dict) -> dict:
    """One workspace's extraction, in one task process: plan, Cometly extract+load, Meta
    extract+load, then a pending reprocess; dbt comes after, once per run.

    One task, not one per step: a task process's start costs more CPU than an incremental
    sync's work (bench/RESULTS.md "Sync Now latency"). The grid keeps one instance per
    workspace, labelled with its name, retried as a whole (every step replaces what it
    loads); the log and the XCom give each step's result and seconds."""
    from cometly_elt import sync, warehouse

    _label(workspace)
    ctx = get_current_context()
    # Manual runs (Sync Now) have no data interval: they sync up to now.
    end = ctx.get("data_interval_end") or datetime.now(timezone.utc)
    start = ctx.get("data_interval_start") or end
    full_refresh = bool(ctx["params"].get("full_refresh", False))
    seconds = {}
    with _user_errors_fail_fast(), sync.recording_errors(workspace["workspace_id"]):
        began = time.monotonic()
        with warehouse.connect() as conn:
            plan = sync.plan_sync(conn, workspace["workspace_id"], start, end, full_refresh)
        seconds["plan"] = round(time.monotonic() - began, 3)
        extracted = asdict(plan)
        for step in (sync.extract_cometly, sync.extract_meta, sync.reprocess):
            began = time.monotonic()
            result = step(plan)
            seconds[step.__name__] = round(time.monotonic() - began, 3)
            log.info("%s: %.2f s, %s", step.__name__, seconds[step.__name__], result)
            if result is not None:
                extracted[step.__name__] = result
    return {**extracted, "seconds": seconds}


@task(pool=DBT_POOL, outlets=MART_ASSETS, trigger_rule="all_done")
def build_marts(workspaces: list[dict] | None) -> list[str]:
    """One dbt build for the dates every extracted workspace touched (dbt's start-up and the
    shared views cost the same for one workspace or two hundred), then Last Synced of every
    workspace whose marts were built; the ids it marked. A workspace whose extraction failed
    is left out and keeps its Last Synced."""
    from cometly_elt import sync

    ti = get_current_context()["ti"]
    pulled = [ti.xcom_pull(task_ids="sync_workspace", map_indexes=index) for index in range(len(workspaces or []))]
    with _user_errors_fail_fast():
        built = [sync.SyncPlan.from_xcom(plan) for plan in sync.build_marts(
            [sync.SyncPlan.from_xcom(plan) for plan in pulled if plan])]
    # Last Synced moves in the same task as the build it waits for: a task less before it.
    sync.mark_synced(built)
    return [plan.workspace_id for plan in built]


# The verdict on the run: retrying it would only delay a failed run's end.
@task(trigger_rule="all_done", retries=0)
def report(workspaces: list[dict] | None, marked: list[str] | None) -> None:
    """End the run failed, naming the workspaces whose sync failed; the others are synced.

    Failed means not marked synced by this run, with the error recorded for `status`
    when there is one (a step that could not even record it still counts)."""
    from cometly_elt import control, warehouse

    if workspaces is None:
        # Finding them failed; the run's state follows this last task, so it must fail too.
        raise RuntimeError("the workspaces to sync could not be found: see the first task's log")
    ids = [w["workspace_id"] for w in workspaces]
    with warehouse.connect() as conn:
        recorded = dict(control.failed_since(conn, ids, get_current_context()["dag_run"].start_date))
    failed = [(ws, recorded.get(ws, "no error recorded: see its tasks' logs in this run"))
              for ws in ids if ws not in set(marked or [])]
    if failed:
        names = "; ".join(f"{ws}: {error}" for ws, error in failed)
        raise RuntimeError(f"{len(failed)} of {len(ids)} workspaces failed to sync: {names}")
    print(f"{len(ids)} workspaces synced")


def _sync_steps(workspaces) -> None:
    """Per workspace (mapped) extraction, then the run's one dbt build, Last Synced, and the report."""
    extracted = sync_workspace.expand(workspace=workspaces)
    marked = build_marts(workspaces)
    extracted >> marked
    report(workspaces, marked)


def _dag(dag_id: str, *, tags: list[str], **kwargs) -> DAG:
    """The settings every DAG of this project shares."""
    return DAG(dag_id=dag_id, start_date=datetime(2026, 1, 1), catchup=False, default_args=DEFAULT_ARGS,
               tags=["cometly", *tags], **kwargs)


def plan_dag(plan_name: str) -> DAG:
    with _dag(
        f"cometly_sync_{plan_name}",
        schedule=CronDataIntervalTimetable(PLAN_SCHEDULES[plan_name], timezone="UTC"),
        max_active_runs=1,
        tags=["sync", plan_name],
        doc_md=f"""
### Sync {plan_name.title()} workspaces (every {PLAN_SYNC_HOURS[plan_name]} h)

Each run syncs every **active** {plan_name.title()} workspace for the run's data interval
(UTC) plus a re-pull lookback (Cometly 3 days, Meta 28 days); a workspace's first sync
covers its whole history. Per workspace: Cometly extract+load → Meta extract+load; then
one dbt build of the local dates every workspace touched → Last Synced. Paused
workspaces are skipped.
One workspace failing does not stop the others; the run then ends failed and names them
(`cometly-elt status ID` shows the error).

Reproduce past runs with `airflow backfill create --dag-id cometly_sync_{plan_name}
--from-date D1 --to-date D2` (Airflow 3's successor of `airflow dags backfill`).
""",
    ) as dag:

        @task
        def find_workspaces() -> list[dict]:
            from cometly_elt import sync, warehouse

            with warehouse.connect() as conn:
                return sync.active_workspaces(conn, plan=plan_name)

        _sync_steps(find_workspaces())
    return dag


def sync_now_dag() -> DAG:
    with _dag(
        "cometly_sync_now",
        schedule=None,
        tags=["sync"],
        params={
            "workspace_id": Param("", type="string", minLength=1, title="Workspace id",
                                  description="The workspace to sync now (see `cometly-elt workspace list`)."),
            "full_refresh": Param(False, type="boolean", title="Full refresh",
                                  description="Re-extract the whole history since the workspace's history start."),
        },
        doc_md="""
### Sync Now

Syncs one workspace now: the same steps as the per-plan DAGs, from the workspace's last
synced point (minus the re-pull lookback) up to now, or its whole history with
`full_refresh`. Paused workspaces are refused. Also started by `cometly-elt sync ID`.
""",
    ) as dag:

        @task
        def find_workspace() -> list[dict]:
            from cometly_elt import sync, warehouse

            workspace_id = get_current_context()["params"]["workspace_id"]
            with _user_errors_fail_fast(), warehouse.connect() as conn:
                return [sync.sync_now_workspace(conn, workspace_id)]

        _sync_steps(find_workspace())
    return dag


def result_backfill_dag() -> DAG:
    with _dag(
        "cometly_result_backfill",
        schedule=None,
        tags=["backfill"],
        params={
            "workspace_id": Param("", type="string", minLength=1, title="Workspace id"),
            "campaign_id": Param("", type="string", minLength=1, title="Meta campaign id",
                                 description="The campaign whose result metric was just set."),
        },
        doc_md="""
### Backfill a campaign's result metric

After `cometly-elt results set ID --campaign C --event E`: fetches the days of the event's
history that the coverage ledger does not hold (none, and no Cometly call, when the event was
already synced), then rebuilds the workspace's marts. `cometly-elt status ID` shows
"Result backfill: ... N of M days".
""",
    ) as dag:

        @task
        def plan() -> dict:
            from cometly_elt import result_backfill

            params = get_current_context()["params"]
            with _user_errors_fail_fast():
                return result_backfill.plan(params["workspace_id"], params["campaign_id"])

        @task
        def fill_history(plan: dict) -> dict:
            from cometly_elt import result_backfill

            with _user_errors_fail_fast():
                return result_backfill.fill_history(plan["workspace_id"], plan["event"])

        @task(pool=DBT_POOL, outlets=MART_ASSETS)
        def rebuild(plan: dict) -> None:
            from cometly_elt import result_backfill

            result_backfill.rebuild(plan["workspace_id"], plan["history_start"])

        planned = plan()
        fill_history(planned) >> rebuild(planned)
    return dag
