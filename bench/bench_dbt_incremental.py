"""Benchmark (not a test): an hourly sync's dbt build versus a full refresh, at 1M and 10M events.

    source .local/env.sh && python bench/bench_dbt_incremental.py [--sizes 1M,10M]

For each size it generates the raw tables by SQL in a separate database
(`cometly_bench_dbt` on WAREHOUSE_URL's server), builds everything once, then times:

- incremental: `dbt.build(workspace_id, date_from, date_to)` over the last 3 local days of
  one workspace, what an hourly sync asks for (median of 3 workspaces);
- workspace refresh: `dbt.build(workspace_id, full_refresh_workspace=True)`;
- full refresh: `dbt.build()` with no vars, every workspace and date.

Growth is both ways a warehouse grows: 1M = 20 workspaces x 400 days, 10M = 100
workspaces x 800 days, at the same 125 conversions per workspace-day, so a 3-day sync
reads the same number of conversions at both sizes. Times are wall clock of the whole
dbt invocation (parse, views, tests) and, separately, of the incremental model alone.
Aim: incremental at 10M within 1.2x of 1M, and at least 10x cheaper than a full refresh.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import date, timedelta

import psycopg

from cometly_elt import dbt, warehouse
from cometly_elt.errors import UserError

BENCH_DATABASE = "cometly_bench_dbt"
LAST_DAY = date(2026, 6, 30)
EVENTS_PER_WORKSPACE_DAY = 125
ADS_PER_WORKSPACE = 10
SIZES = {"1M": (20, 400), "10M": (100, 800)}  # workspaces, days of history
TIMEZONES = ["America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham", "Europe/Paris"]
INCREMENTAL_MODEL = "int_ad_conversions_daily"

GENERATE = """
truncate control.workspaces, raw_cometly.events, raw_meta.ad_accounts, raw_meta.campaigns,
         raw_meta.adsets, raw_meta.ads, raw_meta.ad_insights_daily cascade;

create temporary table bench_workspaces as
select n as no, 'ws' || n as workspace_id, (1000000 + n)::text as account,
       (%(timezones)s::text[])[1 + n %% cardinality(%(timezones)s::text[])] as timezone
from generate_series(1, %(workspaces)s) n;

create temporary table bench_ads as
select w.*, a as ad_no, (w.account || 'a' || a) as ad_id, (w.account || 's' || a / 2) as adset_id,
       (w.account || 'c' || a / 2) as campaign_id
from bench_workspaces w, generate_series(0, %(ads)s - 1) a;

insert into control.workspaces (workspace_id, name, plan, history_start, timezone)
select workspace_id, workspace_id, 'ultra', %(first_day)s, timezone from bench_workspaces;
insert into control.attribution_versions (workspace_id, version, model, window_days, state)
select workspace_id, 1, 'first_touch', 0, 'active' from bench_workspaces;
insert into control.selected_events (workspace_id, event_name)
select workspace_id, e from bench_workspaces, unnest(array['purchase', 'lead_generated', 'custom_event_3']) e;
insert into control.event_catalog (workspace_id, event_name, label)
select workspace_id, 'custom_event_3', 'Demo Booked' from bench_workspaces;
insert into control.result_metrics (workspace_id, campaign_id, event_name)
select distinct workspace_id, campaign_id, 'purchase' from bench_ads;
insert into control.meta_ad_accounts (workspace_id, ad_account_id, conn_id, base_url, timezone_name)
select workspace_id, account, 'meta_' || workspace_id, 'http://fake', timezone from bench_workspaces;

insert into raw_meta.ad_accounts (workspace_id, ad_account_id, name, currency, timezone_name, batch_id)
select workspace_id, account, 'Ads', 'USD', timezone, 1 from bench_workspaces;
insert into raw_meta.campaigns (workspace_id, ad_account_id, campaign_id, name, status, objective, batch_id)
select distinct workspace_id, account, campaign_id, 'Campaign ' || campaign_id, 'ACTIVE', 'OUTCOME_SALES', 1 from bench_ads;
insert into raw_meta.adsets (workspace_id, ad_account_id, campaign_id, adset_id, name, status, batch_id)
select distinct workspace_id, account, campaign_id, adset_id, 'Ad set', 'ACTIVE', 1 from bench_ads;
insert into raw_meta.ads (workspace_id, ad_account_id, campaign_id, adset_id, ad_id, name, status, batch_id)
select workspace_id, account, campaign_id, adset_id, ad_id, 'Ad', 'ACTIVE', 1 from bench_ads;
insert into raw_meta.ad_insights_daily (workspace_id, ad_account_id, campaign_id, adset_id, ad_id, date_start,
                                        spend, impressions, clicks, account_timezone, batch_id)
select workspace_id, account, campaign_id, adset_id, ad_id, d::date,
       round((random() * 100)::numeric, 2), 1000, 20, timezone, 1
from bench_ads, generate_series(%(first_day)s::date, %(last_day)s::date, interval '1 day') d;

-- conversions spread uniformly over the history; one ad in eleven is not in Meta's tree
insert into raw_cometly.events (workspace_id, settings_version, event_id, event_name, event_time_utc, amount,
                                account_id, campaign_id, adset_id, ad_id, campaign_name, batch_id)
select w.workspace_id, 1, n::text,
       (array['purchase', 'lead_generated', 'custom_event_3', 'add_to_cart'])[1 + n %% 4],
       %(history_end)s::timestamptz - random() * %(days)s * interval '1 day',
       case when n %% 4 = 0 then round((random() * 200)::numeric, 2) else 0 end,
       w.account,
       w.account || 'c' || (n %% 11) / 2, w.account || 's' || (n %% 11) / 2, w.account || 'a' || n %% 11,
       'Campaign', 1
from bench_workspaces w, generate_series(1, %(per_workspace)s) n;

analyze;
"""


def with_database(url: str, database: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["dbname"] = database
    return psycopg.conninfo.make_conninfo(**params)


def fresh_database(base_url: str) -> str:
    with psycopg.connect(with_database(base_url, "postgres"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {BENCH_DATABASE} with (force)")
        conn.execute(f"create database {BENCH_DATABASE}")
    url = with_database(base_url, BENCH_DATABASE)
    warehouse.migrate(url)
    return url


def generate(url: str, workspaces: int, days: int) -> float:
    first_day = LAST_DAY - timedelta(days=days - 1)
    started = time.perf_counter()
    # client-side binding: GENERATE is several statements
    with psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        conn.execute(GENERATE, {
            "timezones": TIMEZONES, "workspaces": workspaces, "ads": ADS_PER_WORKSPACE,
            "first_day": first_day, "last_day": LAST_DAY, "days": days,
            # the day after LAST_DAY starts at its UTC midnight: a little of the last local
            # day in zones east of UTC stays empty, which is the same at both sizes
            "history_end": f"{LAST_DAY + timedelta(days=1)} 00:00:00+00",
            "per_workspace": days * EVENTS_PER_WORKSPACE_DAY,
        })
    return time.perf_counter() - started


def timed_build(**scope) -> tuple[float, float]:
    """(wall seconds of the whole dbt build, seconds of the incremental model alone)."""
    started = time.perf_counter()
    results = dbt.run(dbt.build_args(**scope))
    wall = time.perf_counter() - started
    model = next(r for r in results if r.node.name == INCREMENTAL_MODEL)
    return wall, model.execution_time


def measure(url: str, size: str) -> dict:
    workspaces, days = SIZES[size]
    generated = generate(url, workspaces, days)
    with psycopg.connect(url) as conn:
        (events,) = conn.execute("select count(*) from raw_cometly.events").fetchone()
    dbt.build()  # creates the views and the incremental table
    sync_dates = {"date_from": LAST_DAY - timedelta(days=2), "date_to": LAST_DAY}
    incremental = [timed_build(workspace_id=f"ws{n}", **sync_dates) for n in (2, 3, 4)]
    workspace_refresh = timed_build(workspace_id="ws2", full_refresh_workspace=True)
    full_refresh = timed_build()
    return {
        "size": size, "events": events, "generated": generated,
        "incremental": (statistics.median(w for w, _ in incremental), statistics.median(m for _, m in incremental)),
        "workspace_refresh": workspace_refresh,
        "full_refresh": full_refresh,
    }


def report(rows: list[dict]) -> str:
    lines = [
        "| size | raw events | incremental, 3 days of 1 workspace: build / model | "
        "workspace refresh: build / model | full refresh: build / model | full ÷ incremental: build / model |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        (iw, im), (ww, wm), (fw, fm) = r["incremental"], r["workspace_refresh"], r["full_refresh"]
        lines.append(f"| {r['size']} | {r['events']:,} | {iw:.2f} s / {im:.2f} s | {ww:.2f} s / {wm:.2f} s "
                     f"| {fw:.2f} s / {fm:.2f} s | {fw / iw:.1f}x / {fm / im:.0f}x |")
    if len(rows) == 2:
        (small, large) = rows
        lines.append("")
        lines.append(f"Incremental at {large['size']} ÷ at {small['size']}: "
                     f"build {large['incremental'][0] / small['incremental'][0]:.2f}x, "
                     f"model {large['incremental'][1] / small['incremental'][1]:.2f}x (aim ≤ 1.2x).")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M,10M", help="comma-separated, of: " + ", ".join(SIZES))
    sizes = parser.parse_args().sizes.split(",")
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        raise SystemExit(f"unknown size {unknown[0]}: use {', '.join(SIZES)}")
    try:
        url = fresh_database(warehouse.warehouse_url())
    except UserError as err:
        raise SystemExit(str(err))
    os.environ["WAREHOUSE_URL"] = url
    rows = []
    for size in sizes:
        row = measure(url, size)
        print(f"{size}: {row['events']:,} events generated in {row['generated']:.0f} s", flush=True)
        rows.append(row)
    print(report(rows))


if __name__ == "__main__":
    main()
