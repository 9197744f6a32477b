"""Backfill planning: a year of a busy Space through exports, against what Cometly's limits allow. Not a test.

    source .local/env.sh && python bench/bench_backfill.py [--clock-speed 120] [--days 365] [--write]

A Space with 100,000 events a day, extracted for a year by the product's three paths
that fetch history in bulk, under Cometly's documented limits (5 export creates and 30
status polls a minute per Space) on the fake's sped-up clock:
  first sync    `sync.extract_cometly` of the whole history: one `extract_window`;
  reprocess     `sync.reprocess` (after a model change): one `extract_window` per 28 local days;
  result backfill  `result_backfill.extract_chunk` of `plan_chunks`' months, 4 at a time
                in 4 processes sharing the Space's budget, as the DAG's mapped tasks
                (`max_active_tis_per_dagrun=4`) run them.
Each under two export timings: the fake's (done 60 s after creation) and the documented
one (done about 3.5 minutes after creation, docs/cometly-api.md §7.4, however often it is polled),
and with two export runners in turn: `before` (the runner as it was, kept here as the
baseline) and `after` (`cometly_elt.cometly.extract._ExportRunner` as it is).

Minimum by the limits, for N = days x request groups exports: Cometly's create window is
fixed and opens at the first create, so the k-th create (from 0) can start no earlier than
minute floor(k/5) and the last at minute ceil(N/5) - 1; it is done P minutes later (P, the
export's processing time, is not the client's to shorten), and one status poll then
finds it done and hands over the file. So: time >= ceil(N/5) - 1 + P minutes from the
first create to the last download, and calls >= N creates + N polls (the download is from
S3, not a Cometly API call: the fake logs it as `export_download` and it is not counted).

Volume and clock: what the limits allow does not depend on volume, but the client loads
each day between its calls. At the real clock a create slot is 12 s; the benchmark first
measures the load of one 100,000-event day (download, decode, COPY) alone. At clock speed S
a slot lasts 12/S real seconds, so the planning runs serve 100,000/S events a day: a day's
load then takes at least the same share of a slot as at the real clock (a batch has a fixed
cost too), and the fake holds 36.5M/S events, not 36.5M.

It serves its own fake (`cometly_elt.fake.server`, in a process of its own) and uses its own
database (COMETLY_BENCH_DATABASE, default cometly_bench_backfill), created afresh. `--write`
puts the results in bench/RESULTS.md under "## Backfill planning".
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import requests

from cometly_elt.cometly import extract
from bench_db import bench_database
from results_file import write_section

CURRENT_RUNNER = extract._ExportRunner

SECTION = "## Backfill planning"
TZ = "America/New_York"
FIRST_DAY = date(2025, 1, 1)
SPACE, KEY = "space_busy", "ck_busy"
EVENTS = ["purchase", "lead_generated"]  # selected: one request group
CAMPAIGN = "2000000001"
REAL_DAY_EVENTS = 100_000
CREATES_PER_MINUTE, POLLS_PER_MINUTE = 5, 30
PARALLEL_CHUNKS = 4  # the result-backfill DAG's max_active_tis_per_dagrun
TIMINGS = {"fake": None, "documented": 3.5}  # export processing, fake minutes (None: the fake's own)
FAKE_DONE_MINUTES = 1.0  # cometly_elt.fake.cometly.exports.EXPORT_DONE_AFTER


# ---------------------------------------------------------------- set-up

def midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), ZoneInfo(TZ)).astimezone(timezone.utc)


def busy_space(days: int, per_day: int) -> dict:
    """One person per local day, touched by a Meta ad before the year, converting `per_day` times
    that day at even intervals: every event is a `purchase` attributed to Meta, so an export
    of a day holds exactly `per_day` rows."""
    touch = {"time_utc": "2024-12-01T00:00:00Z", "source": "facebook_ads", "account_id": "1000000001",
             "campaign_id": CAMPAIGN, "adset_id": "3000000001", "ad_id": "4000000001"}
    contacts, next_id = [], 1
    for n in range(days):
        start, end = midnight(FIRST_DAY + timedelta(days=n)), midnight(FIRST_DAY + timedelta(days=n + 1))
        step = (end - start) / per_day
        events = [{"id": next_id + i, "event_name": "purchase", "amount": 50,
                   "time_utc": (start + step * i).strftime("%Y-%m-%dT%H:%M:%SZ")} for i in range(per_day)]
        contacts.append({"id": n + 1, "touchpoints": [touch], "events": events})
        next_id += per_day
    return {"cometly": {"spaces": [{"id": SPACE, "timezone": TZ, "api_keys": [{"key": KEY, "status": "active"}],
                                    "contacts": contacts}]}}


# The fake in a process of its own, its export timing set as asked before its app is built.
_SERVE = """
import sys
from datetime import timedelta
from cometly_elt.fake import server
from cometly_elt.fake.cometly import exports
path, port, speed, limits, done_minutes = sys.argv[1:]
if done_minutes != "-":
    exports.EXPORT_DONE_AFTER = timedelta(minutes=float(done_minutes))
    exports.EXPORTS_DONE_BY_POLLS = False
server.serve(path, int(port), limits == "on", float(speed))
"""


class Fake:
    def __init__(self, scenario: Path, speed: float, *, limits: bool = True, done_minutes: float | None = None):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.cometly_url = f"{self.url}/public-api/v1"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVE, str(scenario), str(self.port), str(speed), "on" if limits else "off",
             "-" if done_minutes is None else str(done_minutes)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"the fake exited with {self.proc.returncode}")
            try:
                requests.get(f"{self.url}/_fake/health", timeout=1).raise_for_status()
                return
            except requests.RequestException:
                time.sleep(0.3)
        sys.exit("the fake did not start within 5 minutes")

    def calls(self) -> list[dict]:
        return requests.get(f"{self.url}/_fake/calls", timeout=60).json()["calls"]

    def forget_calls(self) -> None:
        requests.delete(f"{self.url}/_fake/calls", timeout=10).raise_for_status()

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def register(db_url: str, fake: Fake, workspace: str) -> None:
    """The workspace as `workspace add`, `cometly connect|configure|select` and `results set` leave it;
    its key as an Airflow connection in the environment (no write to Airflow's metadata database)."""
    from cometly_elt import control

    conn_id = control.cometly_conn_id(workspace)
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
        {"conn_type": "cometly", "host": fake.cometly_url, "password": KEY})
    with psycopg.connect(db_url, autocommit=True) as conn:
        control.add_workspace(conn, workspace, name=workspace.title(), plan="ultra", history_start=FIRST_DAY)
        control.set_cometly_connection(conn, workspace, conn_id=conn_id, base_url=fake.cometly_url)
        control.configure_attribution(conn, workspace, model="first_touch", window_days=0, timezone=TZ)
        control.select_events(conn, workspace, EVENTS)
        conn.execute("insert into control.result_metrics (workspace_id, campaign_id, event_name) values (%s, %s, %s)",
                     (workspace, CAMPAIGN, "purchase"))


# ---------------------------------------------------------------- part 1: one 100k-event day, limits lifted

@dataclass
class DayLoad:
    events: int
    download: float  # the fake writing the file and sending it (S3 in real life)
    read: float  # gunzip, decode and check every row
    load: float  # replace the day's rows: COPY and the batch's bookkeeping

    @property
    def client(self) -> float:
        return self.read + self.load


def one_day_load(db_url: str, work: Path, rounds: int) -> list[DayLoad]:
    """The export path of `extract_window` on one 100,000-event day, each phase timed by wrapping it."""
    from cometly_elt.cometly import extract
    from cometly_elt.hooks.cometly import CometlyHook
    from cometly_elt.ratelimit import RateBudget

    scenario = work / "one-day.json"
    scenario.write_text(json.dumps(busy_space(1, REAL_DAY_EVENTS)))
    fake = Fake(scenario, 600, limits=False)
    spent: Counter = Counter()

    def timing(name, fn):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - started
        return timed

    original = (extract._ExportRunner._read, extract._Extraction.load)
    extract._ExportRunner._read = timing("read", extract._ExportRunner._read)
    extract._Extraction.load = timing("load", extract._Extraction.load)
    loads = []
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            for _ in range(rounds):
                hook = CometlyHook.for_key(fake.cometly_url, KEY, budget=RateBudget(db_url, "one_day", minute=0.1))
                hook.download = timing("download", hook.download)
                spent.clear()
                result = extract.extract_window(
                    conn, hook, workspace_id="one_day", settings_version=1, model="first_touch", window_days=0,
                    event_names=["purchase"], timezone=TZ, utc_start=midnight(FIRST_DAY),
                    utc_end=midnight(FIRST_DAY + timedelta(days=1)), method="export")
                hook.budget.close()
                loads.append(DayLoad(result.loaded, spent["download"], spent["read"], spent["load"]))
            conn.execute("delete from raw_cometly.events where workspace_id = 'one_day'")
    finally:
        extract._ExportRunner._read, extract._Extraction.load = original
        fake.stop()
    return loads


# ---------------------------------------------------------------- the runner before, for the side by side

class RunnerBefore:
    """`extract._ExportRunner` as it was before this benchmark (commit eddac8f): at most 10 jobs
    created and not downloaded, polls after 1, 1.5, 2.25, 3.4, then every 2 API minutes, each
    day downloaded, read and loaded between two calls of the same thread."""

    IN_FLIGHT, FIRST_POLL, NEXT_POLL, BACKOFF, MAX_POLL = 10, 1.0, 0.5, 1.5, 2.0

    def __init__(self, extraction):
        self.x = extraction
        self.hook = extraction.hook

    def run(self, pieces) -> None:
        waiting = deque()
        groups_left = {piece: len(self.x.query.groups) for piece in pieces}
        for piece in pieces:
            batch = self.x.new_batch(piece)
            waiting.extend(extract._ExportJob(batch, group) for group in self.x.query.groups)
        in_flight = []
        while waiting or in_flight:
            due = min(in_flight, key=lambda j: j.poll_at, default=None)
            may_create = waiting and len(in_flight) < self.IN_FLIGHT
            if due is None or (may_create and due.poll_at > time.monotonic()):
                job = waiting.popleft()
                self._create(job)
                in_flight.append(job)
                continue
            time.sleep(max(0.0, due.poll_at - time.monotonic()))
            if self._poll(due):
                in_flight.remove(due)
                groups_left[due.batch.piece] -= 1
                if groups_left[due.batch.piece] == 0:
                    self.x.load(due.batch, "export")

    def _create(self, job) -> None:
        body = self.x.query.export_body(job.batch.piece.day, job.group)
        job.export_id = self.x.counted(job.batch, lambda: self.hook.create_export(body))
        job.polls = 0
        job.poll_at = time.monotonic() + self.FIRST_POLL * self.x.minute

    def _poll(self, job) -> bool:
        status = self.x.counted(job.batch, lambda: self.hook.export_status(job.export_id))
        job.polls += 1
        if status.status == "completed" and status.download_url:
            CURRENT_RUNNER._read(self, job, self.hook.download(status.download_url))
            return True
        if status.status == "failed":
            raise RuntimeError("no export fails in this benchmark")
        wait = min(self.NEXT_POLL * self.BACKOFF ** (job.polls - 1), self.MAX_POLL)
        job.poll_at = time.monotonic() + wait * self.x.minute
        return False


def use_runner(name: str) -> None:
    """Extractions in this process use the runner `before` this benchmark's change or the one `after`."""
    extract._ExportRunner = RunnerBefore if name == "before" else CURRENT_RUNNER


# ---------------------------------------------------------------- part 2: a year, limits on

def _warm_up(barrier, runner: str) -> None:
    """A pool worker imports what a task would have imported before its first call."""
    from cometly_elt import result_backfill  # noqa: F401
    from cometly_elt.hooks import cometly  # noqa: F401

    use_runner(runner)
    barrier.wait()


def _extract_chunk(args: tuple) -> str:
    from cometly_elt import result_backfill

    workspace, event, chunk = args
    result_backfill.extract_chunk(workspace, event, chunk)
    return chunk["label"]


def first_sync(workspace: str, end: datetime, fake: Fake, runner: str) -> None:
    from cometly_elt import sync, warehouse

    with warehouse.connect() as conn:
        plan = sync.plan_sync(conn, workspace, end - timedelta(hours=1), end, full_refresh=True)
    sync.extract_cometly(plan)


def reprocess(workspace: str, end: datetime, fake: Fake, runner: str) -> None:
    from cometly_elt import control, sync, warehouse

    with warehouse.connect() as conn:
        control.configure_attribution(conn, workspace, model="last_touch", window_days=0, timezone=TZ,
                                      reprocess_confirmed=True)
        conn.commit()
        plan = sync.plan_sync(conn, workspace, end - timedelta(hours=1), end, full_refresh=True)
    sync.reprocess(plan)


def result_backfill(workspace: str, end: datetime, fake: Fake, runner: str) -> None:
    from cometly_elt import result_backfill as backfill

    plan = backfill.plan_chunks(workspace, CAMPAIGN, now=end)
    spawn = multiprocessing.get_context("spawn")
    ready = spawn.Barrier(PARALLEL_CHUNKS + 1)
    with spawn.Pool(PARALLEL_CHUNKS, initializer=_warm_up, initargs=(ready, runner)) as pool:
        ready.wait()
        # chunksize 1: a worker takes the next month when it is done, as a freed task slot does
        for _ in pool.imap_unordered(_extract_chunk, [(workspace, plan["event"], c) for c in plan["chunks"]],
                                      chunksize=1):
            pass


PATHS = {"first sync": first_sync, "reprocess": reprocess, "result backfill": result_backfill}


def at(call: dict) -> datetime:
    return datetime.fromisoformat(call["at"].replace("Z", "+00:00"))


@dataclass
class Run:
    path: str
    timing: str
    runner: str
    days: int
    done_minutes: float
    wall: float
    calls: list[dict]

    def count(self, endpoint: str, status: int | None = None) -> int:
        return sum(c["endpoint"] == endpoint and (status is None or c["status"] == status) for c in self.calls)

    @property
    def creates(self) -> int:
        return self.count("create_export", 202)

    @property
    def polls(self) -> int:
        return self.count("export_status", 200)

    @property
    def refused(self) -> int:
        return sum(c["status"] == 429 for c in self.calls)

    @property
    def api_calls(self) -> int:
        return sum(c["endpoint"] != "export_download" for c in self.calls)

    @property
    def minutes(self) -> float:
        """Fake minutes from the first create to the last download (the log has whole seconds)."""
        creates = [at(c) for c in self.calls if c["endpoint"] == "create_export"]
        downloads = [at(c) for c in self.calls if c["endpoint"] == "export_download"]
        return (max(downloads) - min(creates)).total_seconds() / 60

    @property
    def needed_exports(self) -> int:
        return self.days  # one request group

    @property
    def min_minutes(self) -> float:
        return math.ceil(self.needed_exports / CREATES_PER_MINUTE) - 1 + self.done_minutes

    @property
    def min_calls(self) -> int:
        return 2 * self.needed_exports

    def _create_windows(self) -> list[tuple[datetime, int]]:
        """Cometly's create minutes as the log shows them: (start, creates); one opens at the first
        create 60 s or more after the previous one opened (Laravel's fixed window)."""
        windows: list[list] = []
        for t in sorted(at(c) for c in self.calls if c["endpoint"] == "create_export" and c["status"] == 202):
            if not windows or (t - windows[-1][0]).total_seconds() >= 60:
                windows.append([t, 0])
            windows[-1][1] += 1
        return [(start, n) for start, n in windows]

    def _back_to_back_gaps(self) -> list[float]:
        """Seconds from a full create minute's start to the next one's, where the next followed at once
        (within 90 s): 60 at best; our shared budget ends each minute a minute after the answer that
        opened it, so each is longer by a call's latency × the clock speed."""
        windows = self._create_windows()
        gaps = [(b[0] - a[0]).total_seconds() for a, b in zip(windows, windows[1:]) if a[1] == CREATES_PER_MINUTE]
        return [g for g in gaps if g < 90]

    def create_window_seconds(self) -> float:
        gaps = self._back_to_back_gaps()
        return statistics.mean(gaps) if gaps else 60.0

    @property
    def unstretched_minutes(self) -> float:
        """`minutes` less the stretch of back-to-back create minutes beyond 60 s: the time where a
        call's latency is negligible beside a minute, as at the real clock."""
        return self.minutes - sum(g - 60 for g in self._back_to_back_gaps()) / 60

    def idle_create_minutes(self) -> int:
        """Cometly minutes used for creates, but the last, that had fewer than 5: idle create slots."""
        return sum(n < CREATES_PER_MINUTE for _, n in self._create_windows()[:-1])


def planning_run(path: str, timing: str, runner: str, fake: Fake, end: datetime, args) -> Run:
    use_runner(runner)
    fake.forget_calls()
    started = time.monotonic()
    PATHS[path](f"busy_{timing}_{runner}", end, fake, runner)
    wall = time.monotonic() - started
    run = Run(path, timing, runner, args.days, TIMINGS[timing] or FAKE_DONE_MINUTES, wall, fake.calls())
    (args.work / f"calls-{path.replace(' ', '-')}-{timing}-{runner}.json").write_text(json.dumps(run.calls))
    print(f"  {path:<16} {timing:<10} {runner:<6} {show(run)}", flush=True)
    time.sleep(2 * 60 / args.clock_speed)  # Cometly's windows of this run end before the next starts
    return run


def show(run: Run) -> str:
    return (f"{run.minutes:6.1f} fake min (min {run.min_minutes:.1f}) = {run.minutes / run.min_minutes:.2f}x"
            f" ({run.unstretched_minutes / run.min_minutes:.2f}x unstretched);"
            f" {run.api_calls} calls ({run.creates} creates, {run.polls} polls; min {run.min_calls})"
            f" = {run.api_calls / run.min_calls:.2f}x; 429s {run.refused};"
            f" create minutes with < 5: {run.idle_create_minutes()}; create minute {run.create_window_seconds():.1f} s;"
            f" wall {run.wall:.0f} s")


# ---------------------------------------------------------------- report

def report(args, loads: list[DayLoad], runs: list[Run], fake_mb: float, per_day: int) -> str:
    slot = 60 / CREATES_PER_MINUTE
    lines = [
        SECTION,
        "",
        f"`python bench/bench_backfill.py --clock-speed {args.clock_speed:g} --days {args.days}`"
        f" ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores shared with other work;"
        f" {sum(r.wall for r in runs) / 60:.0f} min of runs).",
        "",
        "Minimum by the limits, for N exports (one per local day and request group; here one group):"
        " Cometly's create window is fixed and opens at the first create, so the k-th create (from 0)"
        " starts no earlier than minute floor(k/5), the last at minute ceil(N/5) − 1; it is done P"
        " minutes later (Cometly's processing, not the client's to shorten) and one poll then finds it"
        " done. Time ≥ ceil(N/5) − 1 + P minutes from the first create to the last download; API calls ≥ N"
        " creates + N polls (the download is S3's, not a Cometly API call: the fake logs it as"
        " `export_download`, not counted). Measured from the fake's call log (its clock, whole seconds).",
        "",
    ]
    if loads:
        median = lambda key: statistics.median(getattr(d, key) for d in loads)  # noqa: E731
        lines += [
            f"**One {REAL_DAY_EVENTS:,}-event day through the export path, limits lifted** (median of {len(loads)}):"
            f" download {median('download'):.2f} s (the fake writing and sending the file; S3 in real life),"
            f" read {median('read'):.2f} s (gunzip, decode, check every row), load {median('load'):.2f} s"
            f" (replace + COPY): the client's own part is {median('client'):.2f} s, {median('client') / slot:.0%}"
            f" of a {slot:g} s create slot at the real clock. The loader is not what bounds a backfill; the"
            " limits are, as long as loading does not hold back the creates.",
            "",
        ]
    lines += [
        f"**A year ({args.days} local days from {FIRST_DAY}, {TZ}) under the limits, fake clock"
        f" ×{args.clock_speed:g}** (a Cometly minute = {60 / args.clock_speed:g} s, a create slot"
        f" {slot / args.clock_speed * 1000:.0f} ms): {per_day:,} events a day = {REAL_DAY_EVENTS:,} ÷"
        f" {args.clock_speed:g}, so that a day's load takes at least the share of a create slot it takes at the"
        f" real clock (a batch's fixed cost and the fake's file writing come on top); {per_day * args.days:,}"
        f" events in the fake ({fake_mb:.0f} MB resident), not 36.5M. Paths: first sync = `sync.extract_cometly`"
        " of the whole history (one `extract_window`); reprocess = `sync.reprocess` (one `extract_window` per"
        " 28 local days); result backfill = `result_backfill.plan_chunks` + `extract_chunk` per month in"
        f" {PARALLEL_CHUNKS} processes sharing the Space's budget, a process taking the next month when done"
        " (the DAG's `max_active_tis_per_dagrun=4`, without Airflow's task start-up). Export timing: the fake's"
        " (done 1 minute after creation) or the documented one (§7.4: about 3.5 minutes, however often"
        " polled). Runner: `before` = `_ExportRunner` as it was (kept in this file), `after` = as it is;"
        " run in turn.",
        "",
        "| path | export timing | runner | fake minutes (minimum) | ratio | ratio unstretched"
        " | API calls: creates + polls (minimum) | ratio | 429s | create minutes with < 5 | create minute | wall |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r.path} | {r.timing} (done after {r.done_minutes:g} min) | {r.runner}"
            f" | {r.minutes:.1f} ({r.min_minutes:.1f}) | {r.minutes / r.min_minutes:.2f}"
            f" | {r.unstretched_minutes / r.min_minutes:.2f}"
            f" | {r.creates} + {r.polls} ({r.min_calls}) | {r.api_calls / r.min_calls:.2f}"
            f" | {r.refused} | {r.idle_create_minutes()} | {r.create_window_seconds():.1f} s | {r.wall:.0f} s |")
    aims = [f"{r.path}, {r.timing} timing: {r.minutes / r.min_minutes:.2f} and {r.api_calls / r.min_calls:.2f}"
            f" ({'met' if max(r.minutes / r.min_minutes, r.api_calls / r.min_calls) <= 1.1 else 'not met'})"
            for r in runs if r.runner == "after"]
    if aims:
        lines += ["", "Aim, time and calls each within 1.1× of the minimum, for `after`: " + "; ".join(aims) + "."]
    return "\n".join(lines + ["", *READING, ""])


READING = [
    "How to read it. \"Create minutes with < 5\" counts Cometly's minutes used for creates (but the"
    " last) in which creates fell short of the limit: idle create slots. \"Create minute\" is the mean"
    " time from a full create minute's first create to the next one's, when it followed at once:"
    " 60 s at best; our shared budget ends each one a minute after the answer that opened it, so each"
    " is stretched by one call's latency × the clock speed (a few fake seconds here, well under a"
    " second at the real clock; in one process the loader thread's share of the GIL adds to it)."
    " \"Ratio unstretched\" takes that stretch out (the time less the excess over 60 s of every such"
    " minute): the ratio where a call's latency is negligible beside a minute, as at the real clock.",
    "",
    "What `after` changes in `extract._ExportRunner`: (1) a day's download, read and load run in a"
    " thread of their own, so the main thread is back at the budget for the next create at once"
    " (`before`, five loads a minute sat between the creates, and a create slot went idle whenever they"
    " took longer than the rest of the minute); (2) up to 50 jobs created and not yet loaded instead of"
    " 10: with exports taking 3.5 minutes, 10 in flight allow fewer than 3 creates a minute; (3) polls"
    " timed by what the run has seen: the first poll one minute after the create, raised a quarter past"
    " the age at which a first poll found its job unfinished, so a run's jobs cost one poll each plus"
    " a few while it learns (`before`: polls at 1, 1.5, 2.25, 3.4 and 5.1 minutes, 5 for a 3.5-minute"
    " export).",
    "",
    "Reprocess is further from the minimum than the other paths: `sync.reprocess` calls `extract_window`"
    " once per 28 local days (to report progress), and each call waits for its last export, and"
    " relearns how long exports take, before the next chunk's first create: 13 tails of one export's"
    " processing in a year. One runner for the whole history, reporting progress per loaded day,"
    " would bring it to the first sync's figures.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clock-speed", type=float, default=120.0)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--load-rounds", type=int, default=3)
    parser.add_argument("--paths", default=",".join(PATHS), help="comma-separated: " + ", ".join(PATHS))
    parser.add_argument("--timings", default=",".join(TIMINGS), help="comma-separated: " + ", ".join(TIMINGS))
    parser.add_argument("--runners", default="before,after", help="comma-separated: before, after (interleaved)")
    parser.add_argument("--write", action="store_true", help="write the results into RESULTS.md")
    args = parser.parse_args()

    db_url = bench_database("cometly_bench_backfill")
    os.environ["WAREHOUSE_URL"] = db_url
    os.environ["COMETLY_API_MINUTE_SECONDS"] = str(60 / args.clock_speed)
    work = args.work = Path(tempfile.mkdtemp(prefix="cometly-bench-backfill-"))
    print(f"call logs in {work}", flush=True)
    loads = one_day_load(db_url, work, args.load_rounds) if args.load_rounds else []
    for d in loads:
        print(f"one {d.events:,}-event day: download {d.download:.2f} s, read {d.read:.2f} s, load {d.load:.2f} s",
              flush=True)

    per_day = round(REAL_DAY_EVENTS / args.clock_speed)
    scenario = work / "year.json"
    scenario.write_text(json.dumps(busy_space(args.days, per_day)))
    end = midnight(FIRST_DAY + timedelta(days=args.days))
    runs, fake_mb = [], 0.0
    for timing in args.timings.split(","):
        fake = Fake(scenario, args.clock_speed, done_minutes=TIMINGS[timing])
        try:
            for runner in args.runners.split(","):
                register(db_url, fake, f"busy_{timing}_{runner}")
            for path in args.paths.split(","):
                for runner in args.runners.split(","):
                    runs.append(planning_run(path, timing, runner, fake, end, args))
            fake_mb = max(fake_mb, fake.rss_mb())
        finally:
            fake.stop()
    text = report(args, loads, runs, fake_mb, per_day)
    print(text)
    if args.write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
