"""`cometly-elt reconcile`: per local day and event, what Cometly counts against what was loaded
and what the marts show, with every difference explained by its cause in one line.

The warehouse's side is marts.dq_reconciliation_daily (received, loaded, rejected, in the
ad and campaign marts, unmatched, final or not). Cometly's side is counted here through its
API, for the workspace's current settings (a model or window being reprocessed included),
with the fewest calls the data allows: one walk of GET /events over the whole range for
every event at once, asking for nothing but `event_name` (`id` and `event_time_utc` always
come), 4,000 rows a page. Pages are what Cometly limits (7 a minute per Space), and a
local day's export costs a create (5 a minute) and at least one poll however small the
day: listing is the cheaper way below about 5,600 attributed events a day
(bench/RESULTS.md "Reconcile"). The calls spend the Space's shared rate budget, beside
any sync running at the same time.

A difference no cause explains is reported as unexplained, and the command then fails.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
import psycopg

from cometly_elt import control
from cometly_elt.cometly import catalog
from cometly_elt.cometly.windows import request_bounds
from cometly_elt.control.coverage import local_midnight_utc
from cometly_elt.errors import UserError

# Without --from: four weeks, the longest any sync re-reads (Meta's restated delivery).
DEFAULT_DAYS = 28

# Rejections for the row's time itself: such rows cannot be put on a local day.
UNDATED_REJECTIONS = "(reason like 'unreadable event%%' or reason like 'event_time_utc %%'" \
                     " or reason = 'event has no event_time_utc')"

# The causes a line can name, in the order they are printed.
CAUSES = ("settings_changed", "not_selected", "provisional", "rejected", "unknown_ad", "account_timezone",
          "not_result_metric", "unexplained")


class _CountedRow(msgspec.Struct):
    event_time_utc: datetime | None = None
    event_name: str | None = None


_decode_row = msgspec.json.Decoder(_CountedRow).decode


@dataclass
class Cause:
    cause: str  # one of CAUSES
    count: int
    line: str


@dataclass
class DayEvent:
    report_date: date
    event_name: str
    is_final: bool
    is_selected: bool
    cometly: int
    received: int
    loaded: int
    rejected: int
    in_ad_results: int
    unknown_to_meta: int
    no_ad_id: int
    in_campaign_results: int
    causes: list[Cause] = field(default_factory=list)

    @property
    def status(self) -> str:
        if any(c.cause == "unexplained" for c in self.causes):
            return "unexplained"
        # a conversion credited without an ad id is in no fact table: not equal
        in_marts = self.in_ad_results if self.is_selected else 0
        equal = self.cometly == self.received == self.loaded == in_marts
        return "equal" if equal and self.in_campaign_results <= self.in_ad_results else "explained"


@dataclass
class Settings:
    """The settings Cometly is asked with (the configured ones) and those the warehouse holds."""

    timezone: str
    version: int
    model: str
    window_days: int
    loaded_version: int | None
    loaded_model: str | None
    loaded_window_days: int | None
    rebuild_pending: bool
    selected: list[str]

    @property
    def changed(self) -> str | None:
        """Why the numbers were extracted with other settings than Cometly is asked with, if they were."""
        if self.loaded_version is not None and self.loaded_version != self.version:
            return (f"settings differ: Cometly counted with {_settings_text(self.model, self.window_days)}"
                    f" (version {self.version}, being reprocessed); the marts hold"
                    f" {_settings_text(self.loaded_model, self.loaded_window_days)} (version {self.loaded_version})")
        if self.rebuild_pending:
            return (f"settings differ: the timezone changed to {self.timezone} and the marts still use the old one"
                    " until the next sync rebuilds them")
        return None


def _settings_text(model: str | None, window_days: int | None) -> str:
    return f"{model}, window {control.window_label(window_days)}"


def _plural(count: int, one: str) -> str:
    return f"{count} {one if abs(count) == 1 else one + 's'}"


def workspace_settings(conn: psycopg.Connection, workspace_id: str) -> Settings:
    settings = control.workspace_settings(conn, workspace_id)
    problem = control.setup_problem(settings)
    active, building = settings["active_version"], settings["building_version"]
    if active is None or settings["cometly"] is None:
        raise UserError(f"workspace '{workspace_id}' {problem}")
    asked = building or active
    return Settings(
        timezone=settings["workspace"]["timezone"],
        version=asked["version"], model=asked["model"], window_days=asked["window_days"],
        loaded_version=active["version"], loaded_model=active["model"], loaded_window_days=active["window_days"],
        rebuild_pending=settings["workspace"]["marts_rebuild_requested_at"] is not None,
        selected=[e["event_name"] for e in settings["selected_events"]],
    )


def default_range(conn: psycopg.Connection, workspace_id: str, tz: str, date_from: date | None,
                  date_to: date | None) -> tuple[date, date]:
    """The local dates to reconcile: as asked, else the last DEFAULT_DAYS up to today, never before
    the workspace's history start (nothing earlier is ever synced)."""
    history_start = control.get_workspace(conn, workspace_id)["history_start"]
    date_to = date_to or datetime.now(ZoneInfo(tz)).date()
    date_from = max(date_from or date_to - timedelta(days=DEFAULT_DAYS - 1), history_start)
    if date_from > date_to:
        raise UserError(f"--from {date_from} is after --to {date_to}: give the first and the last local date")
    return date_from, date_to


def count_cometly(hook, settings: Settings, date_from: date, date_to: date,
                  event: str | None) -> tuple[Counter, int]:
    """Cometly's attributed conversions per (local date, event) under `settings`, and the API calls
    it took. One walk over the whole range; rows outside the exact UTC range (the margin a
    daylight-saving change forces on the wall-clock bounds) belong to neighbouring dates."""
    tz = ZoneInfo(settings.timezone)
    utc_start, utc_end = local_midnight_utc(date_from, settings.timezone), \
        local_midnight_utc(date_to + timedelta(days=1), settings.timezone)
    params = (
        [("sources[]", source) for source in catalog.META_SOURCES]
        + [("attribution_model", catalog.api_model(settings.model)),
           ("attribution_window", catalog.api_window(settings.window_days))]
        + [("fields[]", "event_name"), ("per_page", catalog.MAX_PER_PAGE)]
        + ([("event_names[]", event)] if event else [])
        + list(request_bounds(utc_start, utc_end, tz).params.items())
    )
    counts: Counter = Counter()
    before = hook.api_calls
    for page in hook.event_pages(params):
        for raw in page.data:
            try:
                row = _decode_row(raw)
            except msgspec.DecodeError:
                continue  # a row the sync could not read either: rejected there, counted on no day
            at = row.event_time_utc
            if at is not None and at.tzinfo is not None and utc_start <= at < utc_end and row.event_name:
                counts[(at.astimezone(tz).date(), row.event_name)] += 1
    return counts, hook.api_calls - before


def warehouse_counts(conn: psycopg.Connection, workspace_id: str, date_from: date, date_to: date,
                     event: str | None) -> dict[tuple[date, str], dict]:
    """marts.dq_reconciliation_daily's rows of the range, by (date, event)."""
    exists = conn.execute("select to_regclass('marts.dq_reconciliation_daily')").fetchone()[0]
    if exists is None:
        raise UserError(f"the marts are not built yet: run 'cometly-elt sync {workspace_id}' first")
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    rows = cur.execute(
        "select * from marts.dq_reconciliation_daily where workspace_id = %s"
        " and report_date between %s and %s and (%s::text is null or event_name = %s)",
        (workspace_id, date_from, date_to, event, event),
    ).fetchall()
    return {(row["report_date"], row["event_name"]): row for row in rows}


def undated_rejections(conn: psycopg.Connection, workspace_id: str, version: int, date_from: date, date_to: date,
                       tz: str) -> list[tuple[str, int]]:
    """Rows rejected for their time by batches over the range that no later batch replaced: (reason, rows)."""
    utc_start, utc_end = local_midnight_utc(date_from, tz), local_midnight_utc(date_to + timedelta(days=1), tz)
    return conn.execute(
        f"""
        select reason, count(*)::integer from raw_cometly.rejected_rows r
        join raw_cometly.load_batches b using (batch_id)
        where b.workspace_id = %(ws)s and b.settings_version = %(version)s
          and b.window_start_utc < %(end)s and b.window_end_utc > %(start)s and {UNDATED_REJECTIONS}
          and not exists (
              select 1 from raw_cometly.load_batches later
              where later.workspace_id = b.workspace_id and later.settings_version = b.settings_version
                and later.batch_id > b.batch_id
                and later.window_start_utc <= b.window_start_utc and later.window_end_utc >= b.window_end_utc)
        group by reason order by reason
        """,
        {"ws": workspace_id, "version": version, "start": utc_start, "end": utc_end},
    ).fetchall()


def other_timezone_results(conn: psycopg.Connection, workspace_id: str, tz: str, date_from: date,
                           date_to: date) -> dict[tuple[date, str], list[tuple[str, str, int]]]:
    """Campaign results whose ad account reports in another timezone than the workspace:
    (date, event) → [(ad account, its timezone, results)]."""
    found: dict[tuple[date, str], list[tuple[str, str, int]]] = {}
    for day, event, account, account_tz, results in conn.execute(
        """
        select c.report_date, c.result_event, c.ad_account_id, a.timezone_name, sum(c.results)::integer
        from marts.fct_campaign_results_daily c
        join control.meta_ad_accounts a on a.workspace_id = c.workspace_id and a.ad_account_id = c.ad_account_id
        where c.workspace_id = %s and c.report_date between %s and %s and c.results > 0
          and coalesce(a.timezone_name, 'UTC') <> %s
        group by 1, 2, 3, 4 order by 1, 2, 3
        """,
        (workspace_id, date_from, date_to, tz),
    ):
        found.setdefault((day, event), []).append((account, account_tz or "UTC", results))
    return found


def _explain(day: DayEvent, settings: Settings, reasons: str | None, undated: Counter,
             other_timezones: list[tuple[str, str, int]]) -> None:
    """Fill day.causes: one line per difference along Cometly → received → loaded → marts → campaigns."""
    def add(cause: str, count: int, line: str) -> None:
        day.causes.append(Cause(cause, count, line))

    changed = settings.changed
    provisional = not day.is_final

    # Cometly's count against what the loads received
    gap = day.cometly - day.received
    if gap:
        if changed:
            add("settings_changed", gap, f"{_plural(gap, 'conversion')} more in Cometly than received: {changed}")
        elif not day.is_selected:
            add("not_selected", gap, f"{_plural(gap, 'conversion')} in Cometly of an event not selected:"
                                     f" 'cometly-elt cometly select' it to sync it")
        elif provisional:
            add("provisional", gap, f"{_plural(gap, 'conversion')} more in Cometly than received: the day is"
                                    " provisional, the next sync re-pulls it")
        else:
            explained = min(gap, sum(undated.values())) if gap > 0 else 0
            for reason in list(undated):
                take = min(explained, undated[reason])
                if take:
                    add("rejected", take, f"{_plural(take, 'row')} rejected for their time (not on any day): {reason}")
                    undated[reason] -= take
                    explained -= take
                    gap -= take
            if gap:
                add("unexplained", gap, f"{_plural(gap, 'conversion')} in Cometly not received by any load"
                                        " on a final day")
    # received against loaded
    if day.rejected:
        add("rejected", day.rejected, f"{_plural(day.rejected, 'row')} rejected: {reasons}")
    # loaded against the marts
    if not day.is_selected:
        if day.loaded:
            add("not_selected", day.loaded, f"{_plural(day.loaded, 'loaded conversion')} of an event no longer"
                                            " selected: not in the marts")
    else:
        if day.no_ad_id:
            add("unknown_ad", day.no_ad_id, f"{_plural(day.no_ad_id, 'conversion')} credited to a Meta touch"
                                            " without an ad id: only in dq_unmatched_conversions")
        missing = day.loaded - day.in_ad_results - day.no_ad_id
        if missing:
            if changed:
                add("settings_changed", missing, f"{_plural(missing, 'loaded conversion')} not in the marts: {changed}")
            elif provisional:
                add("provisional", missing, f"{_plural(missing, 'loaded conversion')} not in the marts yet: the day"
                                            " is provisional, the next sync rebuilds it")
            else:
                add("unexplained", missing, f"{_plural(missing, 'loaded conversion')} not in fct_ad_results_daily"
                                            " on a final day (negative: shown but not loaded)")
    if day.unknown_to_meta:
        add("unknown_ad", day.unknown_to_meta, f"{_plural(day.unknown_to_meta, 'result')} on ads Meta does not know:"
                                               " kept with Cometly's ids, listed in dq_unmatched_conversions")
    # the ad results against the campaign results
    not_metric = day.in_ad_results - day.in_campaign_results
    if not_metric > 0:
        add("not_result_metric", not_metric, f"{_plural(not_metric, 'result')} on campaigns whose result metric is"
                                             f" not {day.event_name}: not in fct_campaign_results_daily")
    elif not_metric < 0:
        add("unexplained", -not_metric, f"{_plural(-not_metric, 'campaign result')} more than the ad results")
    for account, account_tz, results in other_timezones:
        add("account_timezone", results,
            f"{_plural(results, 'campaign result')} of ad account {account}, which reports in {account_tz}: results"
            f" on the workspace's date ({settings.timezone}), spend on the account's own date")
    if provisional and not any(c.cause == "provisional" for c in day.causes):
        add("provisional", 0, "provisional: a sync may still change this day")
    day.causes.sort(key=lambda c: CAUSES.index(c.cause))


def reconcile(conn: psycopg.Connection, hook, workspace_id: str, *, date_from: date | None = None,
              date_to: date | None = None, event: str | None = None) -> dict:
    """Every (local date, event) of the range with anything in Cometly or in the warehouse, explained."""
    control.get_workspace(conn, workspace_id)
    settings = workspace_settings(conn, workspace_id)
    if event is not None and not control.is_event_name(event):
        event = control.resolve_events(conn, workspace_id, [event])[0]
    date_from, date_to = default_range(conn, workspace_id, settings.timezone, date_from, date_to)
    warehouse = warehouse_counts(conn, workspace_id, date_from, date_to, event)
    undated = Counter(dict(undated_rejections(conn, workspace_id, settings.loaded_version, date_from, date_to,
                                              settings.timezone)))
    other_timezones = other_timezone_results(conn, workspace_id, settings.timezone, date_from, date_to)
    last_final = final_through(conn, workspace_id)
    cometly, api_calls = count_cometly(hook, settings, date_from, date_to, event)

    days = []
    for key in sorted(set(cometly) | set(warehouse)):
        row = warehouse.get(key, {})
        day = DayEvent(
            report_date=key[0], event_name=key[1],
            is_final=last_final is not None and key[0] <= last_final,
            is_selected=key[1] in settings.selected, cometly=cometly.get(key, 0),
            **{name: row.get(name, 0) for name in ("received", "loaded", "rejected", "in_ad_results",
                                                   "unknown_to_meta", "no_ad_id", "in_campaign_results")},
        )
        _explain(day, settings, row.get("rejected_reasons"), undated, other_timezones.get(key, []))
        days.append(day)
    unexplained = [(d, c) for d in days for c in d.causes if c.cause == "unexplained"]
    return {
        "workspace_id": workspace_id,
        "from": date_from,
        "to": date_to,
        "timezone": settings.timezone,
        "cometly_settings": {"version": settings.version, "model": settings.model,
                             "window": control.window_label(settings.window_days)},
        "api_calls": api_calls,
        "undated_rejections": [{"reason": r, "rows": n} for r, n in undated.items() if n],
        "days": [{**{k: v for k, v in asdict(d).items() if k != "causes"}, "status": d.status,
                  "causes": [asdict(c) for c in d.causes]} for d in days],
        "unexplained": sum(abs(c.count) for _, c in unexplained),
    }


def final_through(conn: psycopg.Connection, workspace_id: str) -> date | None:
    """The workspace's last final date (as the marts' is_final), None before its first sync."""
    found = conn.execute("select final_through from intermediate.int_workspace_final_dates where workspace_id = %s",
                         (workspace_id,)).fetchone()
    return found[0] if found else None
