"""Insights rows: delivery summed per object at the asked level and per day (or bucket), in the account's
timezone, within what Meta keeps (docs/meta-api.md §4)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from cometly_elt.fake.meta.errors import GraphError, invalid_parameter
from cometly_elt.fake.meta.filtering import ad_status_filter, passes
from cometly_elt.fake.meta.requests import GraphRequest, json_param, list_param
from cometly_elt.fake.meta.vocabulary import DEFAULT_INSIGHT_FIELDS, INSIGHT_FIELDS, LEVELS
from cometly_elt.fake.meta.world import Account, AdObject


@dataclass(frozen=True)
class Insights:
    """What an insights request selects, and its rows."""

    account: Account
    since: date
    until: date
    rows: list[dict]


def read_insights(req: GraphRequest, target: Account | AdObject, now: datetime, future_check: str) -> Insights:
    account = target if isinstance(target, Account) else target.account
    level = req.params.get("level") or ("account" if isinstance(target, Account) else target.kind)
    if level not in LEVELS:
        raise invalid_parameter(f"Param level must be one of {{{', '.join(LEVELS)}}}")
    names = list_param(req.params.get("fields")) or list(DEFAULT_INSIGHT_FIELDS)
    for name in names:
        if name not in INSIGHT_FIELDS:
            raise invalid_parameter(f"{name} is not valid for fields param. please check"
                                    " https://developers.facebook.com/docs/marketing-api/reference/ads-insights/")
    since, until = insights_range(req, account, now, future_check)
    buckets = _buckets(req.params.get("time_increment"), since, until)
    rows = _rows(account, target, level, names, buckets,
                 json_param("filtering", req.params.get("filtering"), list) or [])
    return Insights(account, since, until, rows)


def insights_range(req: GraphRequest, account: Account, now: datetime, future_check: str) -> tuple[date, date]:
    """`time_range` or `date_preset` as local dates, refused beyond 37 months or after today
    (the account's today, or UTC's with `future_check="utc"`)."""
    today = account.today(now)
    time_range = json_param("time_range", req.params.get("time_range"), dict)
    if time_range is not None:
        try:
            since, until = date.fromisoformat(time_range["since"]), date.fromisoformat(time_range["until"])
        except (KeyError, TypeError, ValueError):
            raise invalid_parameter("Param time_range must have since and until as YYYY-MM-DD dates") from None
    else:
        since, until = _preset(req.params.get("date_preset") or "last_30d", today)
    if since > until:
        raise invalid_parameter("Param time_range: since must not be after until")
    if since < months_before(today, 37):
        raise GraphError(3018, "(#3018) The start date of the time range cannot be beyond 37 months from the"
                               " current date", user_title="Start date beyond 37 months")
    latest = now.astimezone(timezone.utc).date() if future_check == "utc" else today
    if until > latest:
        raise invalid_parameter("time_ranges.end cannot be in the future")
    return since, until


def _preset(name: str, today: date) -> tuple[date, date]:
    if name == "today":
        return today, today
    if name == "yesterday":
        return today - timedelta(days=1), today - timedelta(days=1)
    days = re.fullmatch(r"last_(\d+)d", name)
    if days and int(days.group(1)) in (3, 7, 14, 28, 30, 90):
        return today - timedelta(days=int(days.group(1))), today - timedelta(days=1)
    if name == "maximum":
        return months_before(today, 37), today
    raise invalid_parameter(f"date_preset {name} is not supported by this fake")


def _buckets(increment: str | None, since: date, until: date) -> list[tuple[date, date]]:
    if increment in (None, "all_days"):
        return [(since, until)]
    if increment == "monthly":
        edges, day = [], since
        while day <= until:
            next_month = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
            edges.append((day, min(until, next_month - timedelta(days=1))))
            day = next_month
        return edges
    if not increment.isdigit() or not 1 <= int(increment) <= 90:
        raise invalid_parameter("Param time_increment must be all_days, monthly or a number of days 1-90")
    step, edges, day = int(increment), [], since
    while day <= until:
        edges.append((day, min(until, day + timedelta(days=step - 1))))
        day += timedelta(days=step)
    return edges


def _rows(account: Account, target: Account | AdObject, level: str, names: list[str],
          buckets: list[tuple[date, date]], filters: list) -> list[dict]:
    ad_statuses = ad_status_filter(filters)
    totals: dict[tuple, list] = {}
    for d in account.delivery:
        if isinstance(target, AdObject) and d.ad.at(target.kind) is not target:
            continue
        if ad_statuses is not None:
            wanted = d.ad.effective_status in ad_statuses
        else:  # deleted ads drop out unless asked for, or read by their own id
            wanted = d.ad.effective_status != "DELETED" or target is d.ad
        bucket = next((b for b in buckets if b[0] <= d.day <= b[1]), None)
        if not wanted or bucket is None or not passes(d.ad, filters, "ad"):
            continue
        subject = None if level == "account" else d.ad.at(level)
        total = totals.setdefault((bucket, subject.id if subject else account.id), [subject, Decimal(0), 0, 0])
        total[1] += d.spend
        total[2] += d.impressions
        total[3] += d.clicks
    return [_row(account, subject, bucket, spend, impressions, clicks, names)
            for (bucket, _), (subject, spend, impressions, clicks) in sorted(totals.items(), key=lambda t: t[0])]


def _row(account: Account, subject: AdObject | None, bucket: tuple[date, date], spend: Decimal,
         impressions: int, clicks: int, names: list[str]) -> dict:
    values: dict[str, Any] = {"account_id": account.digits, "account_name": account.name,
                              "account_currency": account.currency, "spend": str(spend),
                              "impressions": str(impressions), "clicks": str(clicks)}
    for obj in subject.lineage() if subject else []:
        values[f"{obj.kind}_id"], values[f"{obj.kind}_name"] = obj.id, obj.name
        if obj.kind == "campaign" and obj.objective:
            values["objective"] = obj.objective
    if clicks:
        values["cpc"] = f"{spend / clicks:.6f}"
    if impressions:
        values["cpm"] = f"{spend * 1000 / impressions:.6f}"
        values["ctr"] = f"{Decimal(clicks) * 100 / impressions:.6f}"
    row = {n: values[n] for n in names if n in values}
    row.update(date_start=bucket[0].isoformat(), date_stop=bucket[1].isoformat())
    return row


def months_before(day: date, months: int) -> date:
    """The same day of the month `months` earlier (the last day when that month is shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    next_month = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(day.day, (next_month - timedelta(days=1)).day))
