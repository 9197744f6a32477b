"""One workspace's sync, step by step: the logic behind every sync DAG.

A sync covers a window of UTC time. A workspace's first sync, and any full
refresh, starts at its history start; later ones cover the run's data interval
plus a re-pull lookback, because Cometly re-attributes recent conversions and
Meta restates recent delivery. Each step is rerunnable: extraction replaces
what it loads, dbt rebuilds the local dates it is given, and Last Synced moves
only after the marts were built.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator
from zoneinfo import ZoneInfo

from cometly_elt import warehouse
from cometly_elt.errors import UserError

log = logging.getLogger(__name__)

# Cometly can re-attribute recent conversions: every incremental sync re-pulls these days.
COMETLY_LOOKBACK = timedelta(days=3)
# Meta restates delivery for 28 days ("freezes insight data 28 days after it was generated").
META_LOOKBACK_DAYS = 28

PLAN_SCHEDULES = {"hobby": "0 */6 * * *", "pro": "0 */3 * * *", "ultra": "0 * * * *"}
PLAN_FREQUENCY = {"hobby": "every 6 hours", "pro": "every 3 hours", "ultra": "every hour"}


@dataclass(frozen=True)
class SyncPlan:
    """What one workspace's sync covers (JSON-safe: it travels between tasks as XCom)."""

    workspace_id: str
    name: str
    utc_start: str
    utc_end: str
    full_history: bool

    @property
    def window(self) -> tuple[datetime, datetime]:
        return datetime.fromisoformat(self.utc_start), datetime.fromisoformat(self.utc_end)


def _local_midnight_utc(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(tz)).astimezone(timezone.utc)


def _not_syncing_reason(workspace_id: str, subscription: str, connected: bool, configured: bool) -> str | None:
    if subscription != "active":
        return f"workspace '{workspace_id}' is paused: no syncs run until 'cometly-elt workspace resume {workspace_id}'"
    if not connected:
        return f"workspace '{workspace_id}' has no Cometly key: run 'cometly-elt cometly connect {workspace_id} --api-key KEY'"
    if not configured:
        return (f"workspace '{workspace_id}' has no attribution settings: run"
                f" 'cometly-elt cometly configure {workspace_id} --model ... --window ... --timezone ...'")
    return None


def _workspaces(conn, plan: str | None = None, workspace_id: str | None = None) -> list[tuple[dict, str | None]]:
    rows = conn.execute(
        """
        select w.workspace_id, w.name, w.subscription_status,
               c.conn_id is not null as connected, v.version is not null as configured
        from control.workspaces w
        left join control.cometly_connections c using (workspace_id)
        left join control.attribution_versions v on v.workspace_id = w.workspace_id and v.state = 'active'
        where (%(plan)s::text is null or w.plan = %(plan)s)
          and (%(ws)s::text is null or w.workspace_id = %(ws)s)
        order by w.workspace_id
        """,
        {"plan": plan, "ws": workspace_id},
    ).fetchall()
    return [({"workspace_id": ws, "name": name}, _not_syncing_reason(ws, *flags)) for ws, name, *flags in rows]


def active_workspaces(conn, plan: str) -> list[dict]:
    """The plan's workspaces that sync; paused or not-yet-set-up ones are logged and skipped."""
    ready = []
    for workspace, reason in _workspaces(conn, plan=plan):
        if reason:
            log.info("skipping: %s", reason)
        else:
            ready.append(workspace)
    return ready


def sync_now_workspace(conn, workspace_id: str) -> dict:
    """The workspace Sync Now asked for, or a UserError saying why it cannot sync."""
    found = _workspaces(conn, workspace_id=workspace_id)
    if not found:
        raise UserError(f"no workspace '{workspace_id}': see 'cometly-elt workspace list'")
    workspace, reason = found[0]
    if reason:
        raise UserError(reason)
    return workspace


def plan_sync(conn, workspace_id: str, interval_start: datetime, interval_end: datetime,
              full_refresh: bool = False) -> SyncPlan:
    ws = conn.execute(
        """
        select w.name, w.history_start, w.timezone, s.synced_through
        from control.workspaces w left join control.sync_state s using (workspace_id)
        where w.workspace_id = %s
        """,
        (workspace_id,),
    ).fetchone()
    if ws is None:
        raise UserError(f"no workspace '{workspace_id}': see 'cometly-elt workspace list'")
    name, history_start, tz, synced_through = ws
    full_history = full_refresh or synced_through is None
    if full_history:
        start = _local_midnight_utc(history_start, tz)
    else:
        start = min(interval_start, synced_through) - COMETLY_LOOKBACK
    return SyncPlan(workspace_id, name, start.isoformat(), interval_end.isoformat(), full_history)


def _settings(conn, workspace_id: str) -> dict:
    row = conn.execute(
        """
        select w.timezone, v.version, v.model, v.window_days, c.conn_id,
               array(select event_name from control.selected_events e
                     where e.workspace_id = w.workspace_id order by event_name)
        from control.workspaces w
        join control.attribution_versions v on v.workspace_id = w.workspace_id and v.state = 'active'
        join control.cometly_connections c on c.workspace_id = w.workspace_id
        where w.workspace_id = %s
        """,
        (workspace_id,),
    ).fetchone()
    if row is None:
        raise UserError(f"workspace '{workspace_id}' is not connected to Cometly or not configured")
    keys = ("timezone", "version", "model", "window_days", "conn_id", "event_names")
    return dict(zip(keys, row))


def extract_cometly(plan: SyncPlan) -> dict:
    """Cometly events of the selected events for the plan's window, active settings version."""
    from cometly_elt.cometly.extract import extract_window
    from cometly_elt.hooks.cometly import CometlyHook

    with warehouse.connect() as conn:
        settings = _settings(conn, plan.workspace_id)
        if not settings["event_names"]:
            log.warning("workspace %s has no selected events: nothing to extract from Cometly", plan.workspace_id)
            return {"received": 0}
        utc_start, utc_end = plan.window
        result = extract_window(
            conn,
            CometlyHook(settings["conn_id"]),
            workspace_id=plan.workspace_id,
            settings_version=settings["version"],
            model=settings["model"],
            window_days=settings["window_days"],
            event_names=settings["event_names"],
            timezone=settings["timezone"],
            utc_start=utc_start,
            utc_end=utc_end,
        )
    return _summary(result)


def extract_meta(plan: SyncPlan) -> dict:
    """Every connected ad account's tree and its daily delivery for the plan's window (account-local dates)."""
    from cometly_elt.hooks.meta import MetaAdsHook
    from cometly_elt.meta.extract import extract_account

    utc_start, utc_end = plan.window
    summaries = {}
    with warehouse.connect() as conn:
        accounts = conn.execute(
            "select ad_account_id, conn_id, coalesce(timezone_name, 'UTC') from control.meta_ad_accounts"
            " where workspace_id = %s order by ad_account_id",
            (plan.workspace_id,),
        ).fetchall()
        for account_id, conn_id, account_tz in accounts:
            since = utc_start.astimezone(ZoneInfo(account_tz)).date()
            if not plan.full_history:
                since -= timedelta(days=META_LOOKBACK_DAYS)
            until = (utc_end - timedelta(seconds=1)).astimezone(ZoneInfo(account_tz)).date()
            result = extract_account(
                conn, MetaAdsHook(conn_id), workspace_id=plan.workspace_id,
                ad_account_id=account_id, since=since, until=until,
            )
            summaries[account_id] = _summary(result)
    return summaries


def report_dates(conn, plan: SyncPlan) -> tuple[date, date]:
    """The local report dates the plan's extraction touched: the window in the workspace's
    timezone, widened by the Meta re-pull (spend dates are the accounts' local dates)."""
    (tz,) = conn.execute("select timezone from control.workspaces where workspace_id = %s",
                         (plan.workspace_id,)).fetchone()
    utc_start, utc_end = plan.window
    first = utc_start.astimezone(ZoneInfo(tz)).date() - timedelta(days=1)
    if not plan.full_history:
        first -= timedelta(days=META_LOOKBACK_DAYS)
    last = (utc_end - timedelta(seconds=1)).astimezone(ZoneInfo(tz)).date() + timedelta(days=1)
    return first, last


def build_marts(plan: SyncPlan) -> dict:
    from cometly_elt import dbt

    with warehouse.connect() as conn:
        date_from, date_to = report_dates(conn, plan)
    dbt.build(workspace_id=plan.workspace_id, date_from=date_from, date_to=date_to,
              full_refresh_workspace=plan.full_history)
    return {"date_from": date_from.isoformat(), "date_to": date_to.isoformat()}


def mark_synced(plan: SyncPlan) -> None:
    """Last Synced moves here, and only here: extraction and dbt both finished."""
    with warehouse.connect() as conn:
        conn.execute(
            """
            insert into control.sync_state (workspace_id, last_synced_at, synced_through)
            values (%(ws)s, now(), %(end)s)
            on conflict (workspace_id) do update
               set last_synced_at = now(),
                   synced_through = greatest(control.sync_state.synced_through, excluded.synced_through),
                   last_error = null, last_error_at = null
            """,
            {"ws": plan.workspace_id, "end": plan.window[1]},
        )


@contextmanager
def recording_errors(workspace_id: str) -> Iterator[None]:
    """Record a failing step's error for `cometly-elt status`, in the user's terms, then re-raise."""
    try:
        yield
    except Exception as err:
        message = str(err) if isinstance(err, UserError) else f"{type(err).__name__}: {err}"
        with warehouse.connect() as conn:
            conn.execute(
                """
                insert into control.sync_state (workspace_id, last_error, last_error_at)
                values (%s, %s, now())
                on conflict (workspace_id) do update
                   set last_error = excluded.last_error, last_error_at = excluded.last_error_at
                """,
                (workspace_id, message[:2000]),
            )
        raise


def failed_since(conn, workspace_ids: list[str], since: datetime) -> list[tuple[str, str]]:
    """Workspaces among `workspace_ids` whose sync recorded an error after `since`."""
    return conn.execute(
        "select workspace_id, last_error from control.sync_state"
        " where workspace_id = any(%s) and last_error_at >= %s order by workspace_id",
        (workspace_ids, since),
    ).fetchall()


def _summary(result) -> dict:
    return asdict(result) if hasattr(result, "__dataclass_fields__") else dict(result)
