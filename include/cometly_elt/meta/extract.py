"""One Meta ad account into raw_meta: its node, its campaign tree and its ad-level daily delivery.

- The account node gives the reporting timezone: insights dates are local
  dates in it, so it is stored with every insights row.
- The tree (campaigns, ad sets, ads) is read whole, paused, archived and
  deleted objects included (edges leave ARCHIVED and DELETED out unless asked
  for), with names and statuses as of now, and replaces the account's tree.
  Objects the insights refer to that the edges did not list (Meta may not list
  deleted ones) are read by id.
- Insights (spend, impressions, clicks per ad and local day) replace the
  date range asked for. Meta keeps 37 months: older dates are never asked
  for. Ranges up to SYNC_MAX_DAYS are read directly; longer ones through async
  report runs of at most REPORT_RUN_DAYS, all in flight together. "Reduce the
  amount of data" and a report run that fails twice split the range in halves.

Rows that cannot be loaded as they came go to raw_meta.rejected_rows with why;
every load is a raw_meta.load_batches row (received = loaded + rejected).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg

from cometly_elt import control
from cometly_elt.errors import UserError
from cometly_elt.hooks.meta import MetaAdsHook, MetaApiError, MetaReduceData, MetaReportFailed, ReportRun
from cometly_elt.load import Rejected, load_batch
from cometly_elt.meta.accounts import ACCOUNT_FIELDS

log = logging.getLogger(__name__)

# Meta restates delivery for 28 days: the orchestrator re-pulls this many days on every incremental sync.
INSIGHTS_LOOKBACK_DAYS = 28
RETENTION_MONTHS = 37
SYNC_MAX_DAYS = 31
REPORT_RUN_DAYS = 90

# Every effective_status an ad can have: without them Meta leaves archived and deleted ones out.
AD_STATUSES = ["ACTIVE", "PAUSED", "DELETED", "ARCHIVED", "IN_PROCESS", "WITH_ISSUES", "CAMPAIGN_PAUSED",
               "ADSET_PAUSED", "DISAPPROVED", "PENDING_REVIEW", "PREAPPROVED", "PENDING_BILLING_INFO"]
LEVEL_STATUSES = {"campaigns": AD_STATUSES[:6], "adsets": AD_STATUSES[:7], "ads": AD_STATUSES}
TREE_FIELDS = {
    "campaigns": ["id", "name", "status", "effective_status", "objective", "created_time"],
    "adsets": ["id", "name", "campaign_id", "status", "effective_status"],
    "ads": ["id", "name", "campaign_id", "adset_id", "status", "effective_status"],
}
# Edges in the order they are read (children first: see read_unlisted) and what one item is.
TREE_EDGES = {"ads": "ad", "adsets": "ad set", "campaigns": "campaign"}
INSIGHT_FIELDS = ["campaign_id", "adset_id", "ad_id", "spend", "impressions", "clicks"]

# Loaded columns per raw_meta table (workspace_id and ad_account_id first), and each table's key.
COLUMNS = {
    "ad_accounts": ("workspace_id", "ad_account_id", "name", "currency", "timezone_name", "account_status"),
    "campaigns": ("workspace_id", "ad_account_id", "campaign_id", "name", "status", "effective_status", "objective",
                  "created_time"),
    "adsets": ("workspace_id", "ad_account_id", "campaign_id", "adset_id", "name", "status", "effective_status"),
    "ads": ("workspace_id", "ad_account_id", "campaign_id", "adset_id", "ad_id", "name", "status",
            "effective_status"),
    "ad_insights_daily": ("workspace_id", "ad_account_id", "campaign_id", "adset_id", "ad_id", "date_start",
                          "spend", "impressions", "clicks", "account_timezone"),
}
KEYS = {
    "ad_accounts": ("workspace_id", "ad_account_id"),
    "campaigns": ("workspace_id", "campaign_id"),
    "adsets": ("workspace_id", "adset_id"),
    "ads": ("workspace_id", "ad_id"),
    "ad_insights_daily": ("workspace_id", "ad_account_id", "ad_id", "date_start"),
}
_ACCOUNT_SLICE = "workspace_id = %s and ad_account_id = %s"
_META_ID = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class ExtractResult:
    """What one account's extraction did (JSON-safe: it travels as XCom)."""

    ad_account_id: str
    name: str | None
    currency: str | None
    timezone_name: str
    insights_since: str | None  # the local dates asked for, after clamping; None when nothing was left
    insights_until: str | None
    campaigns: int
    adsets: int
    ads: int
    insight_rows: int
    rejected: int
    api_calls: int


class Malformed(ValueError):
    """An API row that cannot be loaded; `str()` is the reason."""


# ---------------------------------------------------------------- dates

def _months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    following = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return date(year, month + 1, min(day.day, (following - timedelta(days=1)).day))


def insights_range(since: date, until: date, timezone_name: str, now: datetime) -> tuple[date, date] | None:
    """The part of since..until Meta can answer: not beyond 37 months (one day of margin), not after
    today in the account's timezone nor in UTC (Meta has been seen checking "the future" in UTC)."""
    local_today = now.astimezone(ZoneInfo(timezone_name)).date()
    earliest = _months_before(local_today, RETENTION_MONTHS) + timedelta(days=1)
    latest = min(local_today, now.astimezone(timezone.utc).date())
    since, until = max(since, earliest), min(until, latest)
    return (since, until) if since <= until else None


def date_slices(since: date, until: date) -> list[tuple[date, date, str]]:
    """(since, until, "sync" | "async") pieces covering since..until."""
    if (until - since).days < SYNC_MAX_DAYS:
        return [(since, until, "sync")]
    slices, start = [], since
    while start <= until:
        end = min(until, start + timedelta(days=REPORT_RUN_DAYS - 1))
        slices.append((start, end, "async"))
        start = end + timedelta(days=1)
    return slices


def insights_params(since: date, until: date) -> dict:
    return {
        "level": "ad", "fields": INSIGHT_FIELDS, "time_increment": 1,
        "time_range": {"since": since.isoformat(), "until": until.isoformat()},
        "filtering": [{"field": "ad.effective_status", "operator": "IN", "value": AD_STATUSES}],
    }


# ---------------------------------------------------------------- parsing API rows

def _meta_id(item: dict, key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not _META_ID.fullmatch(value):
        raise Malformed(f"{key} {value!r} is not a Meta id")
    return value


def _optional_id(item: dict, key: str) -> str | None:
    return _meta_id(item, key) if item.get(key) is not None else None


def _count(item: dict, key: str) -> int:
    value = item.get(key, "0")
    if not isinstance(value, (str, int)) or not str(value).isdigit():
        raise Malformed(f"{key} {value!r} is not a whole number")
    return int(value)


def _spend(item: dict) -> Decimal:
    try:
        spend = Decimal(str(item.get("spend", "0")))
    except InvalidOperation:
        raise Malformed(f"spend {item.get('spend')!r} is not a number") from None
    if not spend.is_finite() or spend < 0:
        raise Malformed(f"spend {item.get('spend')!r} is not an amount")
    return spend


def _day(item: dict, key: str) -> date:
    try:
        return date.fromisoformat(item[key])
    except (KeyError, TypeError, ValueError):
        raise Malformed(f"{key} {item.get(key)!r} is not a YYYY-MM-DD date") from None


def _timestamp(value: Any) -> datetime | None:
    """Meta's `2023-03-21T22:41:46-0700`; variants seen in the wild (lowercase t, ` 0000`) too."""
    if value is None:
        return None
    text = str(value).replace("t", "T").replace(" 0000", "+0000")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        raise Malformed(f"created_time {value!r} is not a Meta timestamp") from None


def _parse(items: Iterable[dict], row: Callable[[dict], tuple], what: str) -> tuple[list[tuple], list[Rejected]]:
    rows, rejected = [], []
    for item in items:
        try:
            if not isinstance(item, dict):
                raise Malformed("not a JSON object")
            rows.append(row(item))
        except Malformed as err:
            rejected.append(Rejected(f"{what}: {err}", item))
    return rows, rejected


# ---------------------------------------------------------------- extraction

class AccountExtraction:
    """One call of `extract_account`: the account's loads, each one batch."""

    def __init__(self, conn: psycopg.Connection, hook: MetaAdsHook, workspace_id: str, ad_account_id: str):
        self.conn, self.hook, self.workspace_id = conn, hook, workspace_id
        self.digits = ad_account_id.removeprefix("act_")
        if not _META_ID.fullmatch(self.digits):
            raise UserError(f"'{ad_account_id}' is not an ad account id")
        self.act = f"act_{self.digits}"
        self.rejected = 0

    def load(self, table: str, rows: list[tuple], rejected: list[Rejected], *, started: float, api_calls: int,
             slice_where: str = _ACCOUNT_SLICE, slice_params: tuple = (), since: date | None = None,
             until: date | None = None, method: str = "sync") -> int:
        result = load_batch(
            self.conn, schema="raw_meta", table=table, columns=COLUMNS[table], rows=rows, rejected=rejected,
            replace_where=slice_where, replace_params=(self.workspace_id, self.digits, *slice_params),
            key=KEYS[table],
            batch={"workspace_id": self.workspace_id, "ad_account_id": self.digits, "entity": table,
                   "since_date": since, "until_date": until, "method": method,
                   "api_calls": api_calls,
                   "duration_ms": int((time.monotonic() - started) * 1000)},
        )
        self.rejected += result.rejected
        return result.loaded

    def account(self) -> dict:
        started, calls = time.monotonic(), self.hook.api_calls
        node = self.hook.get(f"{self.act}/", {"fields": ACCOUNT_FIELDS})

        def row(item: dict) -> tuple:
            try:
                ZoneInfo(str(item.get("timezone_name")))
            except (ZoneInfoNotFoundError, ValueError):
                raise Malformed(f"timezone_name {item.get('timezone_name')!r} is not an IANA timezone") from None
            status = item.get("account_status")
            return (self.workspace_id, self.digits, item.get("name"), item.get("currency"), item["timezone_name"],
                    int(status) if isinstance(status, int) else None)

        rows, rejected = _parse([node], row, "ad account")
        self.load("ad_accounts", rows, rejected, started=started, api_calls=self.hook.api_calls - calls)
        if not rows:
            raise UserError(f"Meta gave ad account {self.act} no usable timezone ({rejected[0].reason}):"
                            " its delivery cannot be dated")
        with self.conn.transaction():
            control.refresh_meta_ad_account(self.conn, self.workspace_id, self.digits, name=node.get("name"),
                                            currency=node.get("currency"), timezone_name=node["timezone_name"])
        return node

    def insights(self, since: date, until: date, timezone_name: str) -> int:
        loaded = 0
        slices = date_slices(since, until)
        runs_started = time.monotonic()
        runs = iter(self.hook.run_reports(
            self.act, [insights_params(start, end) for start, end, method in slices if method == "async"]))
        for start, end, method in slices:
            run = next(runs) if method == "async" else None
            started = runs_started if run else time.monotonic()
            calls = self.hook.api_calls - (run.api_calls if run else 0)
            items = self.fetch_insights(start, end, method, run)

            def row(item: dict, start: date = start, end: date = end) -> tuple:
                day = _day(item, "date_start")
                if _day(item, "date_stop") != day:
                    raise Malformed(f"date_start {item['date_start']} and date_stop {item['date_stop']} differ")
                if not start <= day <= end:
                    raise Malformed(f"date {day} is outside the requested {start}..{end}")
                return (self.workspace_id, self.digits, _optional_id(item, "campaign_id"),
                        _optional_id(item, "adset_id"), _meta_id(item, "ad_id"), day, _spend(item),
                        _count(item, "impressions"), _count(item, "clicks"), timezone_name)

            rows, rejected = _parse(items, row, "insights row")
            loaded += self.load("ad_insights_daily", rows, rejected, started=started,
                                api_calls=self.hook.api_calls - calls,
                                slice_where=_ACCOUNT_SLICE + " and date_start between %s and %s",
                                slice_params=(start, end), since=start, until=end, method=method)
        return loaded

    def fetch_insights(self, since: date, until: date, method: str, run: ReportRun | None = None) -> list[dict]:
        """since..until's rows: from `run` when its report run was started already."""
        try:
            if run is not None:
                return self.hook.report_rows(self.act, run)
            if method == "async":
                return self.hook.run_report(self.act, insights_params(since, until))
            return list(self.hook.paginate(f"{self.act}/insights", insights_params(since, until)))
        except (MetaReduceData, MetaReportFailed) as err:
            if since == until:
                raise
            middle = since + (until - since) // 2
            log.info("%s: %s; splitting %s..%s at %s", self.act, err, since, until, middle)
            return (self.fetch_insights(since, middle, method)
                    + self.fetch_insights(middle + timedelta(days=1), until, method))

    def tree(self) -> dict[str, int]:
        started = time.monotonic()
        items, calls = {}, {}
        for edge in TREE_EDGES:
            before = self.hook.api_calls
            items[edge] = list(self.hook.paginate(
                f"{self.act}/{edge}", {"fields": TREE_FIELDS[edge], "effective_status": LEVEL_STATUSES[edge]}))
            calls[edge] = self.hook.api_calls - before
        self.read_unlisted(items, calls)
        ws, acct = self.workspace_id, self.digits
        parsers = {
            "campaigns": lambda i: (ws, acct, _meta_id(i, "id"), i.get("name"), i.get("status"),
                                    i.get("effective_status"), i.get("objective"), _timestamp(i.get("created_time"))),
            "adsets": lambda i: (ws, acct, _meta_id(i, "campaign_id"), _meta_id(i, "id"), i.get("name"),
                                 i.get("status"), i.get("effective_status")),
            "ads": lambda i: (ws, acct, _meta_id(i, "campaign_id"), _meta_id(i, "adset_id"), _meta_id(i, "id"),
                              i.get("name"), i.get("status"), i.get("effective_status")),
        }
        counts = {}
        for edge in TREE_EDGES:
            rows, rejected = _parse(items[edge], parsers[edge], TREE_EDGES[edge])
            counts[edge] = self.load(edge, rows, rejected, started=started, api_calls=calls[edge])
            started = time.monotonic()
        return counts

    def read_unlisted(self, items: dict[str, list[dict]], calls: dict[str, int]) -> None:
        """Read by id the objects that delivery or children refer to but the edges did not list
        (children before parents, so that an unlisted ad's ad set is looked for too)."""
        referenced = {"ads": set(), "adsets": set(), "campaigns": set()}
        for ad_id, adset_id, campaign_id in self.conn.execute(
            "select distinct ad_id, adset_id, campaign_id from raw_meta.ad_insights_daily where " + _ACCOUNT_SLICE,
            (self.workspace_id, self.digits),
        ):
            referenced["ads"].add(ad_id)
            referenced["adsets"].add(adset_id)
            referenced["campaigns"].add(campaign_id)
        for edge, parents in (("ads", ("adsets", "campaigns")), ("adsets", ("campaigns",)), ("campaigns", ())):
            listed = {i.get("id") for i in items[edge] if isinstance(i, dict)}
            for object_id in sorted(referenced[edge] - listed - {None}):
                calls[edge] += 1
                try:
                    items[edge].append(self.hook.get(f"{object_id}/", {"fields": TREE_FIELDS[edge]}))
                except MetaApiError as err:
                    if err.code != 100:
                        raise
                    log.warning("%s: %s %s is gone from Meta (%s)", self.act, TREE_EDGES[edge], object_id, err)
            for item in items[edge]:
                for parent in parents:
                    if isinstance(item, dict):
                        referenced[parent].add(item.get(parent.removesuffix("s") + "_id"))


def extract_account(conn: psycopg.Connection, hook: MetaAdsHook, *, workspace_id: str, ad_account_id: str,
                    since: date, until: date) -> ExtractResult:
    """Extract and load one ad account: node, tree, and delivery for the local dates since..until.

    `ad_account_id` with or without `act_`. The caller decides the range
    (INSIGHTS_LOOKBACK_DAYS for incremental syncs); dates Meta no longer keeps
    or that lie in the future are left out. Rerunning gives identical tables.
    """
    extraction, calls_before = AccountExtraction(conn, hook, workspace_id, ad_account_id), hook.api_calls
    node = extraction.account()
    timezone_name = node["timezone_name"]
    dates = insights_range(since, until, timezone_name, datetime.now(timezone.utc))
    insight_rows = extraction.insights(*dates, timezone_name) if dates else 0
    # After the insights: objects they mention that the edges leave out are read by id.
    tree = extraction.tree()
    return ExtractResult(
        ad_account_id=extraction.digits, name=node.get("name"), currency=node.get("currency"),
        timezone_name=timezone_name, insights_since=dates and dates[0].isoformat(),
        insights_until=dates and dates[1].isoformat(), campaigns=tree["campaigns"], adsets=tree["adsets"],
        ads=tree["ads"], insight_rows=insight_rows, rejected=extraction.rejected,
        api_calls=hook.api_calls - calls_before,
    )
