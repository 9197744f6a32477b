"""One workspace's sync, step by step: the logic behind every sync DAG.

A sync covers a window of UTC time: a workspace's first sync, and any full refresh, from its
history start; later ones the run's data interval plus a re-pull lookback, because Cometly
re-attributes recent conversions and Meta restates recent delivery. What Cometly is asked for
is that window plus whatever the coverage ledger says is missing or still provisional over the
whole history, for every selected event (`coverage.fetch_plan`): so an event selected later
gets its history on the next sync, and a rerun after a crash fetches only what is missing.
Each step is rerunnable: extraction replaces what it loads, dbt rebuilds the local dates it is
given, and Last Synced moves only after the marts were built.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from cometly_elt import control, warehouse
from cometly_elt.control import coverage
from cometly_elt.control.coverage import LOOKBACK as COMETLY_LOOKBACK, local_midnight_utc
from cometly_elt.errors import UserError
from cometly_elt.meta.extract import INSIGHTS_LOOKBACK_DAYS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncPlan:
    """What one workspace's sync covers (JSON-safe: it travels between tasks as XCom)."""

    workspace_id: str
    name: str
    utc_start: str
    utc_end: str
    full_history: bool

    @classmethod
    def from_xcom(cls, value: dict) -> SyncPlan:
        """The plan out of a step's XCom, which also carries the earlier steps' results."""
        return cls(**{name: value[name] for name in cls.__dataclass_fields__})

    @property
    def window(self) -> tuple[datetime, datetime]:
        return datetime.fromisoformat(self.utc_start), datetime.fromisoformat(self.utc_end)


def _not_syncing_reason(conn, workspace: dict) -> str | None:
    workspace_id = workspace["workspace_id"]
    if workspace["subscription_status"] != "active":
        return f"workspace '{workspace_id}' is paused: no syncs run until 'cometly-elt workspace resume {workspace_id}'"
    problem = control.setup_problem(control.workspace_settings(conn, workspace_id))
    return f"workspace '{workspace_id}' {problem}" if problem else None


def active_workspaces(conn, plan: str) -> list[dict]:
    """The plan's workspaces that sync; paused or not-yet-set-up ones are logged and skipped."""
    ready = []
    for workspace in control.list_workspaces(conn, plan=plan):
        reason = _not_syncing_reason(conn, workspace)
        if reason:
            log.info("skipping: %s", reason)
        else:
            ready.append({"workspace_id": workspace["workspace_id"], "name": workspace["name"]})
    return ready


def sync_now_workspace(conn, workspace_id: str) -> dict:
    """The workspace Sync Now asked for, or a UserError saying why it cannot sync."""
    workspace = control.get_workspace(conn, workspace_id)
    reason = _not_syncing_reason(conn, workspace)
    if reason:
        raise UserError(reason)
    return {"workspace_id": workspace_id, "name": workspace["name"]}


def plan_sync(conn, workspace_id: str, interval_start: datetime, interval_end: datetime,
              full_refresh: bool = False) -> SyncPlan:
    workspace = control.get_workspace(conn, workspace_id)
    synced_through = (control.sync_state(conn, workspace_id) or {}).get("synced_through")
    full_history = full_refresh or synced_through is None
    if full_history:
        start = local_midnight_utc(workspace["history_start"], workspace["timezone"])
    else:
        start = min(interval_start, synced_through) - COMETLY_LOOKBACK
    return SyncPlan(workspace_id, workspace["name"], start.isoformat(), interval_end.isoformat(), full_history)


def cometly_settings(conn, workspace_id: str) -> dict:
    """What extracting Cometly needs: the active version's model and window, timezone, events, key."""
    settings = control.workspace_settings(conn, workspace_id)
    version = settings["active_version"]
    return {
        "timezone": settings["workspace"]["timezone"],
        "version": version["version"],
        "model": version["model"],
        "window_days": version["window_days"],
        "conn_id": settings["cometly"]["conn_id"],
        "event_names": [e["event_name"] for e in settings["selected_events"]],
    }


def history(conn, workspace_id: str, until: datetime) -> tuple[datetime, datetime]:
    """[the workspace's history start (local midnight), until): what the ledger must cover."""
    workspace = control.get_workspace(conn, workspace_id)
    return local_midnight_utc(workspace["history_start"], workspace["timezone"]), until


def fill_version(conn, workspace_id: str, conn_id: str, *, version: int, model: str, window_days: int,
                 timezone: str, jobs: list[coverage.FetchJob]):
    """Fetch and load `jobs` for one settings version, each batch committed with its coverage."""
    from cometly_elt.cometly.extract import fill
    from cometly_elt.hooks.cometly import workspace_hook

    with workspace_hook(workspace_id, conn_id) as hook:
        return fill(conn, hook, workspace_id=workspace_id, settings_version=version, model=model,
                    window_days=window_days, timezone=timezone, jobs=jobs, method=hook.fetch_method())


def extract_cometly(plan: SyncPlan) -> dict:
    """The selected events of the active settings version: the plan's window, and whatever of their
    history the ledger does not hold as settled (an event selected since the last sync, a gap)."""
    with warehouse.connect(autocommit=True) as conn:
        settings = cometly_settings(conn, plan.workspace_id)
        jobs = coverage.fetch_plan(conn, plan.workspace_id, settings["version"], settings["event_names"],
                                   history(conn, plan.workspace_id, plan.window[1]), reread=plan.window)
        result = fill_version(conn, plan.workspace_id, settings["conn_id"], version=settings["version"],
                              model=settings["model"], window_days=settings["window_days"],
                              timezone=settings["timezone"], jobs=jobs)
        if any(job.utc_start < plan.window[0] for job in jobs):
            # History before the plan's window was filled: its report dates need building too.
            control.request_marts_rebuild(conn, plan.workspace_id)
        # Labels people gave custom events travel in each row's configured_name: keep them current.
        labels = conn.execute(
            "select distinct on (event_name) event_name, configured_name from raw_cometly.events"
            " where workspace_id = %s and settings_version = %s and event_time_utc >= %s"
            "   and configured_name is not null order by event_name, event_time_utc desc",
            (plan.workspace_id, settings["version"], min([plan.window[0], *(j.utc_start for j in jobs)])),
        ).fetchall()
        control.upsert_event_catalog(conn, plan.workspace_id, dict(labels))
    return asdict(result)


def extract_meta(plan: SyncPlan) -> dict:
    """Every connected ad account's tree and its daily delivery for the plan's window (account-local
    dates), each account committed on its own so one failing account keeps the others' loads."""
    from cometly_elt.hooks.meta import MetaAdsHook
    from cometly_elt.meta.extract import extract_account

    summaries = {}
    with warehouse.connect() as conn:
        accounts = control.meta_ad_accounts(conn, plan.workspace_id)
    for account in accounts:
        since, until = delivery_dates(plan, ZoneInfo(account["timezone_name"] or "UTC"))
        with warehouse.connect() as conn:
            result = extract_account(conn, MetaAdsHook(account["conn_id"]), workspace_id=plan.workspace_id,
                                     ad_account_id=account["ad_account_id"], since=since, until=until)
        summaries[account["ad_account_id"]] = asdict(result)
    return summaries


def delivery_dates(plan: SyncPlan, tz: ZoneInfo) -> tuple[date, date]:
    """The local dates (in `tz`) of Meta delivery a sync re-reads: its window's, and on an
    incremental sync at least the last INSIGHTS_LOOKBACK_DAYS, which Meta may restate.
    The lookback counts from the window's end, not on top of Cometly's re-pull: 28 days stay
    one direct insights call, where a few days more would need an async report run."""
    utc_start, utc_end = plan.window
    since, until = utc_start.astimezone(tz).date(), (utc_end - timedelta(seconds=1)).astimezone(tz).date()
    if not plan.full_history:
        since = min(since, until - timedelta(days=INSIGHTS_LOOKBACK_DAYS - 1))
    return since, until


def report_dates(conn, plan: SyncPlan) -> tuple[date, date]:
    """The local report dates the plan's extraction touched: its Cometly window and Meta's
    re-read delivery, in the workspace's timezone, a day wider on each side for ad accounts
    reporting in another timezone."""
    since, until = delivery_dates(plan, ZoneInfo(control.get_workspace(conn, plan.workspace_id)["timezone"]))
    return since - timedelta(days=1), until + timedelta(days=1)


def reprocess(plan: SyncPlan) -> dict | None:
    """Build a new attribution version beside the active one, then swap it in.

    After a model or window change the whole history is extracted again for the new version
    (raw rows are per version, so the marts keep showing the active one meanwhile); the ledger
    records each day as it lands, which is the progress `status` shows, and a rerun after a
    crash fetches only the days still missing. Then, in one transaction, the new version becomes
    active, the old one's raw rows and coverage go, and the workspace's marts are marked for a
    full rebuild.
    """
    with warehouse.connect(autocommit=True) as conn:
        settings = control.workspace_settings(conn, plan.workspace_id)
        building = settings["building_version"]
        if building is None:
            return None
        events = [e["event_name"] for e in settings["selected_events"]]
        wanted = history(conn, plan.workspace_id, plan.window[1])
        jobs = coverage.fetch_plan(conn, plan.workspace_id, building["version"], events, wanted, reread=plan.window)
        fill_version(conn, plan.workspace_id, settings["cometly"]["conn_id"], version=building["version"],
                     model=building["model"], window_days=building["window_days"],
                     timezone=settings["workspace"]["timezone"], jobs=jobs)
        with conn.transaction():
            control.activate_version(conn, plan.workspace_id, building["version"])
            conn.execute("delete from raw_cometly.events where workspace_id = %s and settings_version <> %s",
                         (plan.workspace_id, building["version"]))
            coverage.forget_other_versions(conn, plan.workspace_id, building["version"])
            control.request_marts_rebuild(conn, plan.workspace_id)
    return {"version": building["version"], "days": (wanted[1] - wanted[0]).days}


def _build_scope(conn, plan: SyncPlan, rebuild_requested: bool):
    """The dbt scope of one workspace's sync: the local dates it touched, or its whole history
    when its first sync, a full refresh, a timezone change or a reprocess asks for it."""
    from cometly_elt.dbt import WorkspaceScope

    date_from, date_to = report_dates(conn, plan)
    return WorkspaceScope(plan.workspace_id, date_from, date_to, full_refresh=plan.full_history or rebuild_requested)


def build_marts(plans: list[SyncPlan]) -> list[dict]:
    """One dbt build for every workspace of a run whose extraction finished; the plans of
    those whose marts were built (to be marked synced).

    Should that build fail, each workspace is built on its own, so that one workspace's
    data cannot hold back the others: the failing ones get their error recorded for
    `status`. Raises only if none could be built.
    """
    from cometly_elt import dbt

    if not plans:
        return []
    with warehouse.connect() as conn:
        requested = {p.workspace_id: control.get_workspace(conn, p.workspace_id)["marts_rebuild_requested_at"]
                     for p in plans}
        scopes = [_build_scope(conn, plan, requested[plan.workspace_id] is not None) for plan in plans]
    try:
        dbt.build_workspaces(scopes)
        built = plans
    except dbt.DbtBuildError as err:
        if len(plans) == 1:
            with recording_errors(plans[0].workspace_id):
                raise
        log.warning("the build of %d workspaces failed (%s); building each on its own", len(plans), err)
        built = []
        for plan, scope in zip(plans, scopes):
            try:
                with recording_errors(plan.workspace_id):
                    dbt.build_workspaces([scope])
                built.append(plan)
            except dbt.DbtBuildError as one:
                log.error("workspace %s: %s", plan.workspace_id, one)
        if not built:
            raise
    with warehouse.connect() as conn:
        for plan in built:
            if requested[plan.workspace_id] is not None:
                control.clear_marts_rebuild(conn, plan.workspace_id, requested[plan.workspace_id])
    return [asdict(plan) for plan in built]


def mark_synced(plans: list[SyncPlan]) -> None:
    """Last Synced moves here, and only here: extraction and dbt both finished."""
    with warehouse.connect() as conn:
        for plan in plans:
            control.record_sync_success(conn, plan.workspace_id, plan.window[1])


@contextmanager
def recording_errors(workspace_id: str) -> Iterator[None]:
    """Record a failing step's error for `cometly-elt status`, in the user's terms, then re-raise it.

    The step's own error is what propagates even when it cannot be recorded: when the warehouse
    itself went away (a restart), "cannot reach the warehouse" must not replace it, for that is
    a UserError, which fails the task at once instead of letting Airflow retry it."""
    try:
        yield
    except Exception as err:
        message = str(err) if isinstance(err, UserError) else f"{type(err).__name__}: {err}"
        try:
            with warehouse.connect() as conn:
                control.record_sync_error(conn, workspace_id, message.splitlines()[0][:500] if message else "failed")
        except Exception as recording:
            log.warning("could not record the sync error of %s (%s)", workspace_id, recording)
        raise

