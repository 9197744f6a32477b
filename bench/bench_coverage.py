"""Coverage-driven extraction: a year of history at four volumes, against what Cometly's limits allow. Not a test.

    source .local/env.sh && python bench/bench_coverage.py [--clock-speed 25] [--scale 100] [--days 365] [--baseline] [--write]

For each volume, one Space (America/New_York) whose history started `--days` local days ago,
served by the fake on a sped-up clock with Cometly's documented limits (7 list calls, 5
export creates and 30 status polls a minute per Space). Three paths, through the product's
own functions:
  first sync       `sync.extract_cometly` of a new workspace (purchase selected);
  reprocess        `sync.reprocess` after a model change (purchase);
  result backfill  `result_backfill.fill_history` of `lead_generated`, selected after the first sync
                   (a tenth of purchase's volume).
`--baseline` adds, at the two smallest volumes, the cost before the ledger: exports for every day
(the connection's extra `{"fetch": "export"}`, which forces that way).

Volume and clock, and the minimum the limits allow: see SCALE and MINIMUM below, printed with the results.

It serves its own fake (in a process of its own) and uses its own database
(COMETLY_BENCH_DATABASE, default cometly_bench_coverage), created afresh. `--write` puts the
results in bench/RESULTS.md under "## Coverage-driven extraction".
"""  # noqa: E501 -- the usage line is one shell command, kept whole to copy

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from bench_db import bench_database
from bench_fake import FakeProcess
from results_file import write_section

SCALE = """\
Volume and clock. The fake's clock runs S times faster (`--clock-speed`), so a Cometly minute lasts
60/S real seconds; the worlds hold 1/V of each volume (`--scale`) and the fake's list pages hold
4000/V rows (it reports the size it used in `per_page`, as Cometly does): every day needs as many
pages as at the real volume, so every choice between pages and exports is the one the real volume
poses, while serving, decoding and loading rows costs the client less real time than a fake minute
(at V >= S, no more of a minute than at the real volume). S stays low (25) because our rate budget
ends each of its minutes a minute after the answer that opened it: a call's latency, multiplied by S,
stretches every minute (at S = 100 on this shared machine, 10-20 %; at the real clock, well under 1 %).
"""
MINIMUM = """\
Minimum by the limits, for a job of D local days with c_d rows each (the world's own counts),
list pages of p rows, L = 7 list calls and E = 5 creates a minute, exports ready P minutes after
their creation (the fake: 1): listing the k oldest days takes n(k) = ceil(sum c_1..c_k / p) calls
and ceil(n/L) - 1 minutes (the first call opens Cometly's first minute), exporting the other
D - k days takes ceil((D-k)/E) - 1 + P minutes and 2(D-k) calls (a create and a poll each), both
at once:
    T(k) = max(list minutes, export minutes),   C(k) = n(k) + 2(D-k)
    time minimum = min over k of T(k);  calls minimum = min C(k) among the k reaching it.
(The fewest calls whatever the time, min over k of C(k), is printed too.) Measured: fake minutes
from the first Cometly call to the last call or download, and Cometly API calls (downloads are
S3's, not counted), from the fake's call log.
"""

SECTION = "## Coverage-driven extraction"
TZ = "America/New_York"
SPACE, KEY = "space_bench", "ck_bench"
REAL_PAGE = 4000
LIST_A_MINUTE, CREATES_A_MINUTE, EXPORT_MINUTES = 7, 5, 1.0
# name → real events a day of purchase (None: about 500 in the whole history)
VOLUMES = {"~500 in all": None, "50 a day": 50, "2000 a day": 2_000, "100000 a day": 100_000}
PATHS = ("first sync", "reprocess", "result backfill")

# The fake in a process of its own, its list pages scaled with the worlds.
_SERVE = """
import sys
from cometly_elt.fake import server
from cometly_elt.fake.cometly import service
path, port, speed, page = sys.argv[1:]
cursor_page = service.cursor_page
service.cursor_page = lambda space, query, per_page, cursor, url: cursor_page(space, query, min(per_page, int(page)),
                                                                              cursor, url)
server.serve(path, int(port), True, float(speed))
"""


def midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), ZoneInfo(TZ)).astimezone(timezone.utc)


def world(first_day: date, days: int, purchases: int) -> tuple[dict, list[int], list[int]]:
    """`purchases` spread evenly over the days (a lead for every tenth), every one attributed to Meta;
    the scenario and the per-day counts of purchase and lead_generated."""
    touch = {"time_utc": (midnight(first_day) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "source": "facebook_ads", "account_id": "1000000001", "campaign_id": "2000000001",
             "adset_id": "3000000001", "ad_id": "4000000001"}
    start, end = midnight(first_day), midnight(first_day + timedelta(days=days))
    step = (end - start) / purchases
    events, per_day, leads = [], [0] * days, [0] * days
    for i in range(purchases):
        at = start + step * (i + 0.5)
        day = (at.astimezone(ZoneInfo(TZ)).date() - first_day).days
        name = "lead_generated" if i % 10 == 9 else "purchase"
        (leads if name == "lead_generated" else per_day)[day] += 1
        events.append({"id": i + 1, "event_name": name, "amount": 10, "time_utc": at.strftime("%Y-%m-%dT%H:%M:%SZ")})
    scenario = {"cometly": {"spaces": [{"id": SPACE, "timezone": TZ, "api_keys": [{"key": KEY, "status": "active"}],
                                        "contacts": [{"id": 1, "touchpoints": [touch], "events": events}]}]}}
    return scenario, per_day, leads


def start_fake(scenario: Path, speed: float, page: int) -> FakeProcess:
    return FakeProcess([sys.executable, "-c", _SERVE, str(scenario), "{port}", str(speed), str(page)])


def register(db_url: str, fake: FakeProcess, workspace: str, first_day: date, fetch: str) -> None:
    """The workspace as `workspace add`, `cometly connect|configure|select purchase` leave it; its key as an
    Airflow connection in the environment (no write to Airflow's metadata database)."""
    from cometly_elt import control

    conn_id = control.cometly_conn_id(workspace)
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
        {"conn_type": "cometly", "host": fake.cometly_url, "password": KEY, "extra": {"fetch": fetch}})
    with psycopg.connect(db_url, autocommit=True) as conn:
        control.add_workspace(conn, workspace, name=workspace, plan="ultra", history_start=first_day)
        control.set_cometly_connection(conn, workspace, conn_id=conn_id, base_url=fake.cometly_url)
        control.configure_attribution(conn, workspace, model="first_touch", window_days=0, timezone=TZ)
        control.select_events(conn, workspace, ["purchase"])


def first_sync(workspace: str, end: datetime) -> None:
    from cometly_elt import control, sync, warehouse

    with warehouse.connect() as conn:
        plan = sync.plan_sync(conn, workspace, end - timedelta(hours=1), end)
    sync.extract_cometly(plan)
    with warehouse.connect() as conn:
        control.record_sync_success(conn, workspace, end)


def reprocess(workspace: str, end: datetime) -> None:
    from cometly_elt import control, sync, warehouse

    with warehouse.connect() as conn:
        control.configure_attribution(conn, workspace, model="last_touch", window_days=0, timezone=TZ,
                                      reprocess_confirmed=True)
    with warehouse.connect() as conn:
        plan = sync.plan_sync(conn, workspace, end - timedelta(hours=1), end)
    sync.reprocess(plan)


def result_backfill(workspace: str, end: datetime) -> None:
    from cometly_elt import control, result_backfill, warehouse

    with warehouse.connect() as conn:
        control.select_events(conn, workspace, ["lead_generated"])
        conn.execute("insert into control.result_metrics (workspace_id, campaign_id, event_name)"
                     " values (%s, '2000000001', 'lead_generated')", (workspace,))
    result_backfill.fill_history(workspace, result_backfill.plan(workspace, "2000000001")["event"])


def minimum(per_day: list[int], page: int) -> tuple[float, int, int]:
    """(time minimum in minutes, calls of the plans reaching it, fewest calls at any time)."""
    days = len(per_day)
    plans = []
    listed = 0
    for k in range(days + 1):
        if k:
            listed += per_day[k - 1]
        pages = max(1, math.ceil(listed / page)) if k else 0
        exports = days - k
        list_minutes = math.ceil(pages / LIST_A_MINUTE) - 1 if pages else 0
        export_minutes = math.ceil(exports / CREATES_A_MINUTE) - 1 + EXPORT_MINUTES if exports else 0
        plans.append((max(list_minutes, export_minutes), pages + 2 * exports))
    best = min(t for t, _ in plans)
    return best, min(c for t, c in plans if t == best), min(c for _, c in plans)


@dataclass
class Run:
    volume: str
    path: str
    way: str
    calls: list[dict]
    minimum: tuple[float, int, int]
    wall: float

    @property
    def api_calls(self) -> int:
        return sum(c["endpoint"] != "export_download" for c in self.calls)

    @property
    def minutes(self) -> float:
        times = [datetime.fromisoformat(c["at"].replace("Z", "+00:00")) for c in self.calls]
        return (max(times) - min(times)).total_seconds() / 60 if times else 0.0

    def count(self, endpoint: str) -> int:
        return sum(c["endpoint"] == endpoint for c in self.calls)

    @property
    def refused(self) -> int:
        return sum(c["status"] == 429 for c in self.calls)

    def row(self) -> str:
        t_min, c_min, fewest = self.minimum
        t_ratio = f"{self.minutes / t_min:.2f}" if t_min else ("1.00" if self.minutes < 0.05 else "-")
        return (f"| {self.volume} | {self.path} | {self.way} | {self.minutes:.1f} ({t_min:.1f}) | {t_ratio} |"
                f" {self.api_calls}: {self.count('list_events')} list, {self.count('create_export')} creates,"
                f" {self.count('export_status')} polls ({c_min}; fewest {fewest}) | {self.api_calls / c_min:.2f} |"
                f" {self.refused} | {self.wall:.0f} s |")


def run_volume(name: str, real_per_day: int | None, args, db_url: str, work: Path) -> list[Run]:
    page = round(REAL_PAGE / args.scale)
    first_day = datetime.now(ZoneInfo(TZ)).date() - timedelta(days=args.days)
    total = (500 if real_per_day is None else real_per_day * args.days) / args.scale
    purchases = max(1, round(total * 10 / 9))  # nine purchases for each lead
    scenario, per_day, leads = world(first_day, args.days, purchases)
    slug = list(VOLUMES).index(name)
    path = work / f"world-{slug}.json"
    path.write_text(json.dumps(scenario))
    fake = start_fake(path, args.clock_speed, page)
    os.environ["COMETLY_API_MINUTE_SECONDS"] = str(60 / args.clock_speed)
    runs = []
    try:
        ways = ["ledger"] + (["exports every day"] if args.baseline and real_per_day in (None, 50) else [])
        steps = {"ledger": PATHS, "exports every day": PATHS[:1]}  # the baseline costs the same on every path
        for way in ways:
            workspace = f"ws_{slug}_{'ledger' if way == 'ledger' else 'exports'}"
            register(db_url, fake, workspace, first_day, "auto" if way == "ledger" else "export")
            # The history runs to now: today's local day is partly in it.
            counts = {"first sync": per_day, "reprocess": per_day, "result backfill": leads}
            for path_name, step in zip(steps[way], (first_sync, reprocess, result_backfill)):
                fake.forget_calls()
                started = time.monotonic()
                step(workspace, datetime.now(timezone.utc))
                run = Run(name, path_name, way, fake.calls("cometly"), minimum(counts[path_name] + [0], page),
                          time.monotonic() - started)
                print(run.row(), flush=True)
                runs.append(run)
                time.sleep(2 * 60 / args.clock_speed)  # this run's Cometly minutes end before the next starts
    finally:
        fake.stop()
    return runs


def report(args, runs: list[Run]) -> str:
    head = ("| volume | path | way | fake minutes (minimum) | time ratio | Cometly calls (minimum; fewest at any time)"
            " | calls ratio | 429s | wall |\n|---|---|---|---:|---:|---|---:|---:|---:|\n")
    return (f"{SECTION}\n\n`python bench/bench_coverage.py --clock-speed {args.clock_speed:g} --scale {args.scale:g}"
            f" --days {args.days}"
            f"{' --baseline' if args.baseline else ''}` ({date.today()}, 2 cores shared with other work).\n\n"
            + SCALE + "\n" + MINIMUM + "\n" + head + "\n".join(r.row() for r in runs) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clock-speed", type=float, default=25.0)
    parser.add_argument("--scale", type=float, default=100.0, help="the worlds hold 1/SCALE of each volume")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--volumes", default=",".join(VOLUMES), help="comma-separated: " + ", ".join(VOLUMES))
    parser.add_argument("--baseline", action="store_true", help="also the cost of exports for every day")
    parser.add_argument("--write", action="store_true", help="write the results into RESULTS.md")
    args = parser.parse_args()
    os.environ["WAREHOUSE_URL"] = db_url = bench_database("cometly_bench_coverage")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in [v.strip() for v in args.volumes.split(",")]:
            runs += run_volume(name, VOLUMES[name], args, db_url, Path(tmp))
    text = report(args, runs)
    print(text)
    if args.write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
