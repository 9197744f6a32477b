"""Benchmark: Cometly events from the fake API into raw_cometly.events. Not a test: it prints figures.

Part 1, limits lifted, events/s from the fake to the raw table, one run, side by side:
  ours     fill (list path, one window per local day, shared budget in PostgreSQL);
  ceiling  the same pages fetched, decoded (msgspec) and COPYed by the simplest possible code;
  naive    the plain Airflow way: a page loop with HttpHook + PostgresHook.insert_rows;
  fetch    the same pages fetched and not even decoded: the fake's own pace, a bound for all.
Part 2, limits on, fake clock sped up: Cometly API calls used against the minimum the
  limits allow, and 429s, for two processes sharing one Space's budget (list path) and
  for an export backfill.

    source .local/env.sh && python bench/bench_cometly_load.py [--days 30] [--events-per-day 10000] [--write]

It serves its own fakes (`cometly-elt fake serve --generate`) on free ports and uses its own
database (COMETLY_BENCH_DATABASE, default cometly_bench), created afresh. `--write` puts the
results in bench/RESULTS.md under "## Cometly extract and load".
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import msgspec
import psycopg
import requests

from bench_db import bench_database
from bench_fake import FakeProcess
from cometly_elt.cometly import catalog
from cometly_elt.cometly.extract import COLUMNS, fill, window_jobs
from cometly_elt.cometly.rate_budget import RateBudget
from cometly_elt.cometly.windows import request_bounds
from cometly_elt.hooks.cometly import CometlyHook
from results_file import write_section

SECTION = "## Cometly extract and load"
TZ = "America/New_York"
START = date(2026, 8, 1)
KEY = "ck_space_1"  # the generator's key for its first Space
MODEL, WINDOW_DAYS = "first_touch", 0


# ---------------------------------------------------------------- set-up

def start_fake(spec: str, *args: str) -> FakeProcess:
    """`cometly-elt fake serve --generate SPEC` (generating a big world takes a while)."""
    return FakeProcess(["cometly-elt", "fake", "serve", "--generate", spec, "--port", "{port}", *args],
                       start_timeout=600)


def world(days: int, events_per_day: int) -> str:
    return f"days={days},events_per_day={events_per_day},spaces=1,timezones={TZ},start={START}"


def local_days(first: date, count: int) -> list[tuple[datetime, datetime]]:
    """[start, end) in UTC of `count` local days from `first`."""
    tz = ZoneInfo(TZ)

    def midnight(day: date) -> datetime:
        return datetime.combine(day, datetime.min.time(), tz).astimezone(timezone.utc)

    return [(midnight(first + timedelta(days=i)), midnight(first + timedelta(days=i + 1))) for i in range(count)]


def our_extraction(conn, hook: CometlyHook, workspace: str, windows, events: list[str], method: str = "list"):
    results = [
        fill(conn, hook, workspace_id=workspace, settings_version=1, model=MODEL, window_days=WINDOW_DAYS,
             timezone=TZ, jobs=window_jobs(events, start, end), method=method)
        for start, end in windows
    ]
    return results


# ---------------------------------------------------------------- part 1: the three ways, limits lifted

def list_params(start: datetime, end: datetime, events: list[str]) -> list[tuple]:
    bounds = request_bounds(start, end, ZoneInfo(TZ)).params
    return ([("event_names[]", e) for e in events] + [("sources[]", s) for s in catalog.META_SOURCES]
            + [("attribution_model", catalog.api_model(MODEL)), ("attribution_window", WINDOW_DAYS)]
            + [("fields[]", f) for f in catalog.EVENT_FIELDS] + [("per_page", 4000)] + list(bounds.items()))


def pages(get, params: list[tuple]):
    """The rows of each page; `get(params)` returns (rows, next_cursor); every filter is re-sent."""
    cursor = None
    while True:
        data, cursor = get(params + ([("cursor", cursor)] if cursor else []))
        yield data
        if not cursor:
            return


def cometly_session() -> requests.Session:
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {KEY}", "Accept": "application/json"})
    return session


class _Skim(msgspec.Struct):
    data: list[msgspec.Raw]
    next_cursor: str | None = None


def fetch_only(fake: FakeProcess, windows, events: list[str]) -> int:
    """The same pages, rows left undecoded: how fast the fake serves, a bound for every way."""
    session = cometly_session()

    def get(params):
        page = msgspec.json.decode(session.get(f"{fake.cometly_url}/events", params=params).content, type=_Skim)
        return page.data, page.next_cursor

    return sum(len(data) for start, end in windows for data in pages(get, list_params(start, end, events)))


def as_row(workspace: str, e: dict) -> tuple:
    return (workspace, 1, str(e["id"]), e["event_name"], e["configured_name"], e["event_time_utc"], e["amount"],
            e["order_id"], e["account_id"], e["account_name"], e["campaign_id"], e["campaign_name"],
            e["adset_id"], e["adset_name"], e["ad_id"], e["ad_name"])


def ceiling(conn, fake: FakeProcess, windows, events: list[str]) -> int:
    session = cometly_session()

    def get(params):
        page = msgspec.json.decode(session.get(f"{fake.cometly_url}/events", params=params).content)
        return page["data"], page["next_cursor"]

    loaded = 0
    columns = ", ".join((*COLUMNS, "batch_id"))
    for start, end in windows:
        until = end.strftime("%Y-%m-%dT%H:%M:%SZ")  # the end bound is inclusive: its second is the next day's
        with conn.transaction(), conn.cursor().copy(f"copy raw_cometly.events ({columns}) from stdin") as copy:
            for data in pages(get, list_params(start, end, events)):
                for e in data:
                    if e["event_time_utc"] < until:
                        copy.write_row((*as_row("ceiling", e), 0))
                        loaded += 1
    return loaded


def naive(fake: FakeProcess, db_url: str, windows, events: list[str]) -> int:
    from airflow.providers.http.hooks.http import HttpHook
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    os.environ["AIRFLOW_CONN_BENCH_COMETLY"] = json.dumps({
        "conn_type": "http", "host": fake.cometly_url,
        "extra": {"Authorization": f"Bearer {KEY}", "Accept": "application/json"},
    })
    os.environ["AIRFLOW_CONN_BENCH_WAREHOUSE"] = db_url
    http = HttpHook(method="GET", http_conn_id="bench_cometly")
    pg = PostgresHook(postgres_conn_id="bench_warehouse")
    loaded = 0
    for start, end in windows:
        until = end.strftime("%Y-%m-%dT%H:%M:%SZ")
        def get(params):
            page = json.loads(http.run("events", data=params).text)
            return page["data"], page["next_cursor"]

        for data in pages(get, list_params(start, end, events)):
            rows = [(*as_row("naive", e), 0) for e in data if e["event_time_utc"] < until]
            pg.insert_rows("raw_cometly.events", rows, target_fields=[*COLUMNS, "batch_id"])
            loaded += len(rows)
    return loaded


@dataclass
class Timed:
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def timed(fn) -> Timed:
    started = time.perf_counter()
    events = fn()
    return Timed(events, time.perf_counter() - started)


def part_1(db_url: str, days: int, events_per_day: int, rounds: int) -> dict:
    """Each local day goes through the four ways in turn, so that all of them see the same load on a
    shared machine; each way's figure is its total over every day and round."""
    fake = start_fake(world(days, events_per_day), "--no-rate-limits")
    try:
        events = sorted(CometlyHook.for_key(fake.cometly_url, KEY).discover_events(TZ, days=3650))
        totals = {name: Timed(0, 0.0) for name in ("ours", "ceiling", "naive", "fetch")}
        with psycopg.connect(db_url, autocommit=True) as conn:
            hook = CometlyHook.for_key(fake.cometly_url, KEY, budget=RateBudget(db_url, "ours", minute=0.001))
            ways = {
                "ours": lambda day: sum(r.loaded for r in our_extraction(conn, hook, "ours", day, events)),
                "ceiling": lambda day: ceiling(conn, fake, day, events),
                "naive": lambda day: naive(fake, db_url, day, events),
                "fetch": lambda day: fetch_only(fake, day, events),
            }
            for round_ in range(rounds):
                conn.execute("delete from raw_cometly.events")
                for window in local_days(START, days):
                    for name, way in ways.items():
                        run = timed(lambda way=way, window=window: way([window]))
                        totals[name] = Timed(totals[name].events + run.events, totals[name].seconds + run.seconds)
                print(f"round {round_ + 1}: " + ", ".join(f"{n} {t.rate:,.0f} ev/s" for n, t in totals.items()),
                      flush=True)
            hook.budget.close()
            (rejected,) = conn.execute("select count(*) from raw_cometly.rejected_rows").fetchone()
        return {"events": events, "runs": totals, "rejected": rejected, "per_round": totals["ours"].events // rounds}
    finally:
        fake.stop()


# ---------------------------------------------------------------- part 2: limits on, clock sped up

SPEED = 60.0  # a fake minute lasts one real second


def _list_in_a_process(db_url, cometly_url, windows, events, start_together, results) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        hook = CometlyHook.for_key(cometly_url, KEY, budget=RateBudget(db_url, "limited", minute=60 / SPEED))
        start_together.wait()  # both processes are imported and connected: a second is a fake minute
        try:
            results.put([r.received for r in our_extraction(conn, hook, "limited", windows, events)])
        finally:
            hook.budget.close()


def part_2(db_url: str, days: int, events_per_day: int, export_days: int) -> dict:
    fake = start_fake(world(max(days, export_days), events_per_day), "--clock-speed", str(SPEED))
    try:
        events = sorted(CometlyHook.for_key(fake.cometly_url, KEY).discover_events(TZ, days=3650))
        windows = local_days(START, days)
        halves = [windows[: days // 2], windows[days // 2:]]
        fake.forget_calls()
        spawn = multiprocessing.get_context("spawn")
        start_together, results = spawn.Barrier(2), spawn.Queue()
        processes = [spawn.Process(target=_list_in_a_process,
                                   args=(db_url, fake.cometly_url, half, events, start_together, results))
                     for half in halves]
        for process in processes:
            process.start()
        received = [n for _ in processes for n in results.get(timeout=600)]
        for process in processes:
            process.join()
        log = [c for c in fake.calls() if c["endpoint"] == "list_events"]
        needed = sum(max(1, math.ceil(n / catalog.MAX_PER_PAGE)) for n in received)  # one group: <= 10 events
        span = (datetime.fromisoformat(log[-1]["at"].replace("Z", "+00:00"))
                - datetime.fromisoformat(log[0]["at"].replace("Z", "+00:00"))).total_seconds()
        list_result = {
            "calls": len(log), "needed": needed, "429": sum(c["status"] == 429 for c in log),
            "fake_minutes": span / 60, "min_fake_minutes": math.ceil(needed / 7) - 1,
        }

        fake.forget_calls()
        with psycopg.connect(db_url, autocommit=True) as conn:
            hook = CometlyHook.for_key(fake.cometly_url, KEY, budget=RateBudget(db_url, "limited", minute=60 / SPEED))
            window = (local_days(START, 1)[0][0], local_days(START, export_days)[-1][1])
            fill(conn, hook, workspace_id="exported", settings_version=1, model=MODEL, window_days=WINDOW_DAYS,
                 timezone=TZ, jobs=window_jobs(events, *window), method="export")
            hook.budget.close()
        log = fake.calls()
        count = {name: sum(c["endpoint"] == name for c in log) for name in ("create_export", "export_status")}
        export_result = {
            "days": export_days, **count, "429": sum(c["status"] == 429 for c in log),
            "needed": 2 * export_days,  # a create and one status poll that finds it done, per day
        }
        return {"list": list_result, "export": export_result, "days": days}
    finally:
        fake.stop()


# ---------------------------------------------------------------- report

def report(p1: dict, p2: dict, args) -> str:
    runs = p1["runs"]
    ours, top, slow, fetch = runs["ours"], runs["ceiling"], runs["naive"], runs["fetch"]
    lst, exp = p2["list"], p2["export"]

    def client_us(run: Timed) -> float:
        """Microseconds per event spent beyond fetching the pages."""
        return 1e6 * (1 / run.rate - 1 / fetch.rate)

    return "\n".join([
        SECTION,
        "",
        f"`python bench/bench_cometly_load.py --days {args.days} --events-per-day {args.events_per_day}`"
        f" ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores shared with other work).",
        f"World: generated, 1 Space ({TZ}), {args.days} days x {args.events_per_day:,} events; the"
        f" {len(p1['events'])} events it has selected, First Touch – Source Specific (Meta), lifetime:"
        f" {p1['per_round']:,} attributed events, fetched one local day per extraction, 4,000 a page."
        f" Each day goes through the four ways in turn ({args.rounds} rounds; totals below), so that"
        " they share the machine's ups and downs.",
        "",
        "**Limits lifted: events/s from the fake to raw_cometly.events**",
        "",
        "| way | events | seconds | events/s | ours ÷ it |",
        "|---|---:|---:|---:|---:|",
        f"| ours (`fill`, list path, shared budget, validation, replacing load) | {ours.events:,}"
        f" | {ours.seconds:.1f} | {ours.rate:,.0f} | 1.00 |",
        f"| ceiling: same pages, msgspec decode, plain COPY | {top.events:,} | {top.seconds:.1f} | {top.rate:,.0f}"
        f" | {ours.rate / top.rate:.2f} |",
        f"| naive Airflow: HttpHook page loop + PostgresHook.insert_rows | {slow.events:,}"
        f" | {slow.seconds:.1f} | {slow.rate:,.0f} | {ours.rate / slow.rate:.1f} |",
        f"| (bound) the same pages fetched, rows not even decoded | {fetch.events:,} | {fetch.seconds:.1f}"
        f" | {fetch.rate:,.0f} | {ours.rate / fetch.rate:.2f} |",
        "",
        f"Aim: ≥ 0.5 of the ceiling (got {ours.rate / top.rate:.2f}) and ≥ 10× the naive way"
        f" (got {ours.rate / slow.rate:.1f}×). Rejected rows: {p1['rejected']}.",
        "",
        f"The fake bounds every way: it serves {fetch.rate:,.0f} events/s, {fetch.rate / slow.rate:.1f}× the naive"
        " way, so no client reaches 10× the naive way against it. Beyond waiting for pages, an event costs"
        f" ours {client_us(ours):.0f} µs, the ceiling {client_us(top):.0f} µs and the naive way"
        f" {client_us(slow):.0f} µs ({client_us(slow) / client_us(ours):.1f}× ours: PostgresHook runs on psycopg 3,"
        " whose executemany pipelines the INSERTs, a commit every 1,000 rows).",
        "",
        f"**Limits on, fake clock ×{SPEED:g} (a Cometly minute = {60 / SPEED:g} s)**",
        "",
        "| run | Cometly calls used | minimum the limits allow | ratio | 429s | fake minutes (min) |",
        "|---|---:|---:|---:|---:|---:|",
        f"| list: {p2['days']} days, two processes at once sharing the Space's budget | {lst['calls']}"
        f" | {lst['needed']} | {lst['calls'] / lst['needed']:.2f} | {lst['429']} | {lst['fake_minutes']:.1f}"
        f" ({lst['min_fake_minutes']}) |",
        f"| export backfill: {exp['days']} local days, one create + status polls each | "
        f"{exp['create_export'] + exp['export_status']} ({exp['create_export']} creates, {exp['export_status']} polls)"
        f" | {exp['needed']} | {(exp['create_export'] + exp['export_status']) / exp['needed']:.2f} | {exp['429']} | |",
        "",
        "Minimum for the list run: one call per page (4,000 rows; at least one per day), and its fake"
        " minutes run from the first call to the last (at 7 a minute, at least the figure in brackets); for exports:"
        " a create and one status poll per day (a poll after the job is done). 429s are retried"
        " after Retry-After; none surfaced as a failure (every run above completed).",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--events-per-day", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--limited-days", type=int, default=8)
    parser.add_argument("--limited-events-per-day", type=int, default=12000)
    parser.add_argument("--export-days", type=int, default=10)
    parser.add_argument("--write", action="store_true", help="write the results into RESULTS.md")
    args = parser.parse_args()

    db_url = bench_database("cometly_bench")
    p1 = part_1(db_url, args.days, args.events_per_day, args.rounds)
    p2 = part_2(db_url, args.limited_days, args.limited_events_per_day, args.export_days)
    text = report(p1, p2, args)
    print(text)
    if args.write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
