"""What Airflow's metadata says about a workspace: its plan DAG's next run and its active runs."""

from __future__ import annotations

from datetime import datetime


def plan_dag_id(plan: str) -> str:
    return f"cometly_sync_{plan}"


def next_syncs() -> dict[str, dict]:
    """Per plan DAG id: {next_at (when the scheduler creates the next run, or None), paused}."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(DagModel.dag_id, DagModel.next_dagrun_create_after, DagModel.is_paused)
            .where(DagModel.dag_id.like("cometly_sync_%"))
        ).all()
    return {dag_id: {"next_at": next_at, "paused": paused} for dag_id, next_at, paused in rows}


def active_runs() -> dict[str, list[dict]]:
    """Queued or running Sync Now and result-backfill runs, newest first, by workspace id."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(DagRun.dag_id, DagRun.run_id, DagRun.state, DagRun.conf, DagRun.queued_at)
            .where(DagRun.dag_id.in_(("cometly_sync_now", "cometly_result_backfill")),
                   DagRun.state.in_(("queued", "running")))
            .order_by(DagRun.queued_at.desc())
        ).all()
    runs: dict[str, list[dict]] = {}
    for dag_id, run_id, state, conf, queued_at in rows:
        conf = conf or {}
        runs.setdefault(conf.get("workspace_id"), []).append(
            {"dag_id": dag_id, "run_id": run_id, "state": str(state), "queued_at": queued_at,
             "campaign_id": conf.get("campaign_id")})
    return runs


def relative(moment: datetime | None, now: datetime) -> str:
    """'3 min ago', 'in 2 h', ... for a person glancing at the page."""
    if moment is None:
        return "never"
    seconds = (moment - now).total_seconds()
    ahead, seconds = seconds > 0, abs(seconds)
    if seconds < 60:
        text = "less than a minute"
    elif seconds < 3600:
        text = f"{int(seconds // 60)} min"
    elif seconds < 48 * 3600:
        text = f"{int(seconds // 3600)} h"
    else:
        text = f"{int(seconds // 86400)} days"
    return f"in {text}" if ahead else f"{text} ago"
