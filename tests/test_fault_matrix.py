"""Issue #10's fault matrix: whole Sync Now runs (`cometly-elt sync`, the `cometly_sync_now` DAG run
in-process by `dag.test`) against the fakes' fault schedule, real PostgreSQL, real processes.

Every case ends, after the hooks' retries or one rerun, with marts identical row for row to a clean
run of the same scenario, every load batch accounted for (received = loaded + rejected, no raw row
from a batch that was not recorded), and the fake's call log showing that the fault really fired.
The matrix (fault -> outcome, calls seen, rerun needed) is printed in the terminal summary.

The world is generated (`cometly-elt fake generate`): one Space and its ad account, with about
10,000 events and the delivery of the three local days before today, so that every run, whenever
it starts, reads the same data. Two workspaces on it differ only in their history start:
- `list` starts on the first generated day: its first sync reads Cometly through GET /events
  (two 4,000-row pages or more: fewer than exports would cost): the list-page faults act there;
- `export` starts six days earlier, and its Cometly connection's extra says `{"fetch": "export"}`
  (the operator's way to avoid the list endpoint): its first sync reads one export per local day:
  the export faults act there.
Both clean runs must give the same marts; the expected marts of every case are its workspace's
clean run (the world is too big to work by hand: test_sync_e2e holds the hand-worked ones).

A Cometly request timeout is not in the matrix: the Cometly hook's read timeout (300 s) is longer
than the fake can hang, and the connection cannot shorten it. The Meta hook reads `timeout` from
its connection's extra, so the Meta case covers timeouts.

Cases that need the sync held in the middle of a load (SIGKILL, PostgreSQL restart) run
`cometly-elt sync` as a process and hold it with a lock: the test takes an ACCESS EXCLUSIVE lock on
raw_cometly.events from its own connection, so the loader blocks inside its transaction (its
`create temporary table ... (like raw_cometly.events)`), where the test then strikes. The PostgreSQL
restart happens on a private cluster started for that case (the shared server is never restarted).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from cometly_elt import control, warehouse
from conftest import FakeApi, _with_database, cli, empty_warehouse, free_port, tune_connection
from helpers.expected_marts import mart_tables
from helpers.fake_admin import FakeAdmin

pytestmark = pytest.mark.airflow

SPACE = "acme"
TZ = "America/New_York"
AD_ACCOUNT = "act_1000000001"
# The generated Space's credentials (fake/generate.py), and a second active key: the one a user
# connects after the first was revoked.
API_KEY, NEW_KEY, META_TOKEN = "ck_acme", "ck_acme_new", "EAAB_acme"
# Every standard event the generator makes and its one custom event (one request group).
EVENTS = ("purchase", "add_to_cart", "lead_generated", "initiate_checkout", "sign_up", "custom_event_1")
RECENT_DAYS = 3
# Meta tuning for tests, in the connection's extra (hooks/meta.py): no minute-long waits, and a
# request timeout short enough that a hanging answer times out.
META_TEST_EXTRA = {"max_wait_seconds": 0.5, "timeout": 2}
MARTS = {
    "fct_ad_results_daily": "report_date, ad_account_id, campaign_id, adset_id, ad_id, event_name, event_label,"
                            " results, result_value",
    "fct_campaign_results_daily": "report_date, ad_account_id, campaign_id, campaign_name, result_event, results,"
                                  " result_value, spend, impressions, clicks, cost_per_result, roas",
    "dim_campaigns": "ad_account_id, campaign_id, campaign_name, status, objective",
}


# ---------------------------------------------------------------- the world and its two workspaces


class Fake(FakeAdmin):
    """The fake APIs (`api`) and their admin endpoints."""

    def __init__(self, api: FakeApi):
        super().__init__(api)
        self.api = api

    def reset(self) -> None:
        """No fault, no call logged, the first key active again."""
        self.clear_faults()
        self.clear_calls()
        self.call("POST", "cometly/keys", {"key": API_KEY, "status": "active"})


@dataclass
class Workspace:
    """A workspace on the generated Space; `fetch` (its Cometly connection's extra) how it reads Cometly."""

    id: str
    history_start: date
    fetch: str = "auto"
    baseline: dict = field(default_factory=dict)  # mart -> rows of the clean run
    clean_calls: dict = field(default_factory=dict)  # endpoint -> calls of the clean run


def generate_world(path: Path) -> date:
    """The generated Space and ad account, with events and delivery on the RECENT_DAYS local days before
    today (so that every run, whenever it starts, sees the same data); the first of those days."""
    first_day = datetime.now(ZoneInfo(TZ)).date() - timedelta(days=RECENT_DAYS)
    cli("fake", "generate", "--space-ids", SPACE, "--timezones", TZ, "--start", first_day.isoformat(),
        "--days", str(RECENT_DAYS), "--events-per-day", "3500", "--campaigns", "2", "--adsets", "2", "--ads", "2",
        "--custom-events", "1", "--out", str(path))
    scenario = json.loads(path.read_text())
    scenario["cometly"]["spaces"][0]["api_keys"].append({"key": NEW_KEY, "status": "active"})
    path.write_text(json.dumps(scenario))
    return first_day


@pytest.fixture(scope="module")
def world(warehouse_url, tmp_path_factory):
    """The fakes as a process (clock 600x, no rate limits: the faults are the only trouble) and the two
    workspaces: `list` (history from the first generated day, read through GET /events) and `export`
    (history from six days earlier, read through exports as its connection asks)."""
    tmp = tmp_path_factory.mktemp("fault_matrix")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COMETLY_API_MINUTE_SECONDS", "0.1")
        first_day = generate_world(tmp / "world.json")
        api = FakeApi(tmp / "world.json", ["--clock-speed", "600", "--no-rate-limits"], tmp / "fake.log")
        try:
            fake = Fake(api)
            workspaces = {"list": Workspace("acme_list", first_day),
                          "export": Workspace("acme_export", first_day - timedelta(days=6), fetch="export")}
            with psycopg.connect(warehouse_url, autocommit=True) as conn:
                empty_warehouse(conn)
            for ws in workspaces.values():
                set_up(fake, ws)
            yield fake, workspaces
        finally:
            api.stop()


def set_up(fake: Fake, ws: Workspace) -> None:
    """The workspace on the generated Space and ad account, through the product's commands."""
    cli("workspace", "add", ws.id, "--name", ws.id.title(), "--plan", "pro", "--history-start",
        ws.history_start.isoformat())
    cli("cometly", "connect", ws.id, "--api-key", API_KEY, "--base-url", fake.api.cometly_url)
    cli("cometly", "configure", ws.id, "--model", "first_touch", "--window", "lifetime", "--timezone", TZ, "--yes")
    cli("cometly", "select", ws.id, *EVENTS)
    cli("meta", "connect", ws.id, "--ad-account", AD_ACCOUNT, "--access-token", META_TOKEN,
        "--base-url", fake.api.meta_url)
    with warehouse.connect() as conn:
        (meta_conn_id,) = conn.execute("select conn_id from control.meta_ad_accounts where workspace_id = %s",
                                       (ws.id,)).fetchone()
    tune_connection(meta_conn_id, META_TEST_EXTRA)
    if ws.fetch != "auto":
        tune_connection(control.cometly_conn_id(ws.id), {"fetch": ws.fetch})



def forget_syncs(conn) -> None:
    """Every workspace as before its first sync, its settings kept: no raw row, no sync state, no marts."""
    tables = conn.execute(
        "select format('%I.%I', schemaname, tablename) from pg_tables where schemaname in ('raw_cometly', 'raw_meta')"
        " or (schemaname, tablename) in (('control', 'sync_state'), ('control', 'rate_budget'))").fetchall()
    conn.execute("truncate " + ", ".join(t for (t,) in tables))
    conn.execute("update control.workspaces set marts_rebuild_requested_at = null")
    for schema in ("staging", "intermediate", "marts"):
        conn.execute(f"drop schema if exists {schema} cascade")


def marts(conn, ws: Workspace) -> dict[str, list[tuple]]:
    return mart_tables(conn, MARTS, workspace_id=ws.id)


def batches_accounted_for(conn) -> int:
    """Every load batch has received = loaded + rejected, and every raw row belongs to a recorded batch
    (a half-loaded batch would leave rows without one). The number of batches checked."""
    checked = 0
    for schema, tables in (("raw_cometly", ("events",)),
                           ("raw_meta", ("ad_accounts", "campaigns", "adsets", "ads", "ad_insights_daily"))):
        total, unbalanced = conn.execute(
            f"select count(*), count(*) filter (where received <> loaded + rejected) from {schema}.load_batches"
        ).fetchone()
        assert unbalanced == 0, f"{schema}.load_batches: {unbalanced} batches with received <> loaded + rejected"
        checked += total
        for table in tables:
            (orphans,) = conn.execute(
                f"select count(*) from {schema}.{table} r where not exists"
                f" (select 1 from {schema}.load_batches b where b.batch_id = r.batch_id)").fetchone()
            assert orphans == 0, f"{schema}.{table}: {orphans} rows of a batch that was never recorded"
    assert checked > 0
    return checked


def last_synced(conn, ws: Workspace):
    row = conn.execute("select last_synced_at from control.sync_state where workspace_id = %s", (ws.id,)).fetchone()
    return row and row[0]


def statuses(calls: list[dict], endpoint: str) -> list[int]:
    return [c["status"] for c in calls if c["endpoint"] == endpoint]


def count_by_endpoint(calls: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call in calls:
        counts[call["endpoint"]] = counts.get(call["endpoint"], 0) + 1
    return counts


# ---------------------------------------------------------------- syncs as processes, held in a load


def start_sync(ws: Workspace) -> subprocess.Popen:
    return subprocess.Popen(["cometly-elt", "sync", ws.id], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def hold_events_table(url: str) -> psycopg.Connection:
    """A connection holding raw_cometly.events exclusively: the next Cometly load blocks inside its transaction."""
    holder = psycopg.connect(url)
    holder.execute("lock table raw_cometly.events in access exclusive mode")
    return holder


def wait_for_blocked_load(url: str, proc: subprocess.Popen, timeout: float = 300) -> int:
    """The pid of the loader's backend once it waits for the lock on raw_cometly.events."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "select pid from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()"
                " and query ilike 'create temporary table%%raw_cometly%%events%%'").fetchone()
            if row:
                return row[0]
            assert proc.poll() is None, f"the sync ended before its load: {proc.communicate()}"
            time.sleep(0.2)
    raise AssertionError("the Cometly load never started")


# ---------------------------------------------------------------- a private PostgreSQL cluster


def _pg_bindir() -> Path:
    found = shutil.which("pg_config")
    if found:
        bindir = Path(subprocess.run([found, "--bindir"], capture_output=True, text=True).stdout.strip())
        if (bindir / "initdb").exists():
            return bindir
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not candidates:
        pytest.skip("no PostgreSQL server binaries (initdb) for a private cluster")
    return candidates[-1].parent


class PrivateCluster:
    """A throwaway PostgreSQL server on its own port, which this test may restart.

    As root the server runs as `postgres` (as scripts/pg.sh does), from a directory under /var/tmp
    it can enter."""

    def __init__(self):
        self.bindir = _pg_bindir()
        self.as_server = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.base = Path(tempfile.mkdtemp(prefix="h_faults_pg_", dir="/var/tmp"))
        self.data, self.log = self.base / "data", self.base / "server.log"
        self.port = free_port()
        if self.as_server:
            os.chmod(self.base, 0o755)
            shutil.chown(self.base, "postgres")
        self._server("initdb", "-D", str(self.data), "-U", "cometly", "--auth=trust", "-E", "UTF8", "--no-sync")
        self._ctl("start")
        self.url = f"postgresql://cometly@127.0.0.1:{self.port}/warehouse"
        with psycopg.connect(_with_database(self.url, "postgres"), autocommit=True) as conn:
            conn.execute("create database warehouse")

    def _server(self, program: str, *args: str) -> None:
        result = subprocess.run([*self.as_server, str(self.bindir / program), *args], capture_output=True, text=True,
                                cwd="/", timeout=120)
        assert result.returncode == 0, f"{program} {' '.join(args)}: {result.stderr}{result.stdout}"

    def _ctl(self, action: str, *args: str) -> None:
        self._server("pg_ctl", action, "-D", str(self.data), "-w", "-l", str(self.log), *args,
                     "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base}")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        subprocess.run([*self.as_server, str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data), "-m",
                        "immediate"], capture_output=True, cwd="/", timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)


# ---------------------------------------------------------------- the cases


@dataclass
class Outcome:
    """One row of the printed matrix."""

    seen: str  # what the call log or the database showed of the fault
    outcome: str
    rerun: bool = False


Run = Callable[[Fake, Workspace, psycopg.Connection, str], Outcome]


@dataclass(frozen=True)
class Case:
    fault: str
    workspace: str  # list or export: the way its first sync reads Cometly
    run: Run
    private_warehouse: bool = False  # the case checks its own warehouse


def sync_ok(ws: Workspace) -> None:
    result = cli("sync", ws.id, check=False)
    assert result.returncode == 0, f"the sync did not recover: {result.stderr.strip().splitlines()[-1:]}"


def compact(values: list) -> str:
    """[429, 429, 429, 200, 200] -> '429x3 200x2'."""
    runs: list[list] = []
    for value in values:
        if runs and runs[-1][0] == value:
            runs[-1][1] += 1
        else:
            runs.append([value, 1])
    return " ".join(f"{v}x{n}" if n > 1 else f"{v}" for v, n in runs)


def fault_then_sync(*rules: dict, endpoint: str, expect: Callable[[list[int], int], bool], what: str) -> Run:
    """These fault rules, then one sync that must succeed through its retries; the statuses of
    `endpoint` in the call log, and how many calls it had in the clean run, must show the fault
    (`expect(statuses, clean_calls)`). A reset or a cut body keeps the API's status (the log shows
    200): the extra call, the retry, shows it."""

    def run(fake: Fake, ws: Workspace, wh, url) -> Outcome:
        fake.faults(*rules)
        sync_ok(ws)
        fired = fake.fired()
        assert fired == sum(rule.get("times") or len(rule["calls"]) for rule in rules), f"{fired} faults fired"
        seen, clean = statuses(fake.calls(), endpoint), ws.clean_calls.get(endpoint, 0)
        assert expect(seen, clean), f"{endpoint} statuses {seen} ({clean} calls clean): {what} did not show"
        return Outcome(f"{fired} fired; {endpoint} {compact(seen)} (clean x{clean})", "synced through retries")

    return run


def export_fails(fake: Fake, ws: Workspace, wh, url) -> Outcome:
    fake.call("POST", "cometly/exports/fail", {"next": 2})
    sync_ok(ws)
    creates = count_by_endpoint(fake.calls()).get("create_export", 0)
    clean = ws.clean_calls["create_export"]
    assert creates == clean + 2, f"{creates} exports created, {clean} in the clean run: the failures did not show"
    return Outcome(f"2 exports failed; create_export x{creates} (clean run x{clean})",
                   "failed exports created again; synced")


def key_revoked_mid_sync(fake: Fake, ws: Workspace, wh, url) -> Outcome:
    """The key is revoked while the second (incremental) sync waits for its first page: the sync fails
    in one line saying to connect a new key, Last Synced and the marts stay; connecting a valid key and
    syncing again gives the clean marts."""
    sync_ok(ws)
    synced_before, marts_before = last_synced(wh, ws), marts(wh, ws)
    assert synced_before is not None
    fake.clear_calls()
    # The next sync's first page hangs 3 s, then is answered as the API then would: the key goes meanwhile.
    fake.faults({"api": "cometly", "path": "/events$", "calls": [1], "fault": "timeout", "seconds": 3})
    proc = start_sync(ws)
    deadline = time.monotonic() + 300
    while not fake.fired():
        assert time.monotonic() < deadline and proc.poll() is None, "the sync never asked for a page"
        time.sleep(0.1)
    fake.call("POST", "cometly/keys", {"key": API_KEY, "status": "revoked"})
    code, _, err = finish(proc)
    assert code != 0
    message = err.strip().splitlines()[-1]
    assert message.startswith("cometly-elt: sync of"), err[-2000:]
    assert "revoked" in message and "connect again" in message, message
    assert API_KEY not in err
    assert 401 in statuses(fake.calls(), "list_events")
    assert last_synced(wh, ws) == synced_before
    assert marts(wh, ws) == marts_before
    cli("cometly", "connect", ws.id, "--api-key", NEW_KEY, "--base-url", fake.api.cometly_url)
    sync_ok(ws)
    return Outcome("401 on the page asked for before the revocation",
                   "failed in one line; Last Synced and marts kept; new key connected, rerun ok", rerun=True)


def killed_mid_load(fake: Fake, ws: Workspace, wh, url) -> Outcome:
    """SIGKILL of the whole `cometly-elt sync` process group while its Cometly load waits inside its
    transaction; then one rerun."""
    holder = hold_events_table(url)
    proc = start_sync(ws)
    try:
        wait_for_blocked_load(url, proc)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        holder.close()
    assert proc.returncode == -signal.SIGKILL
    (batches,) = wh.execute("select count(*) from raw_cometly.load_batches").fetchone()
    assert batches == 0, "the killed load left a batch behind"
    sync_ok(ws)
    return Outcome("killed while its load waited in its transaction: no batch left", "rerun ok", rerun=True)


def postgres_restarted_mid_load(fake: Fake, ws: Workspace, wh, url) -> Outcome:
    """The warehouse server restarts (fast shutdown: every session ends) while the Cometly load waits
    inside its transaction. Airflow's metadata stays on the shared server; the sync recovers by the
    task's own retry, or the one rerun does."""

    cluster = PrivateCluster()
    try:
        warehouse.migrate(cluster.url)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("WAREHOUSE_URL", cluster.url)
            set_up(fake, ws)
            holder = hold_events_table(cluster.url)
            proc = start_sync(ws)
            try:
                wait_for_blocked_load(cluster.url, proc)
                cluster.restart()
            finally:
                holder.close()
            code, _, _ = finish(proc)
            rerun = code != 0
            if rerun:
                sync_ok(ws)
            with psycopg.connect(cluster.url, autocommit=True) as private:
                assert marts(private, ws) == ws.baseline
                batches = batches_accounted_for(private)
        return Outcome(f"private server restarted mid-load; {batches} batches balanced",
                       "failed, rerun ok" if rerun else "recovered by the task's retry", rerun=rerun)
    finally:
        cluster.stop()


THROTTLE_USAGE = {"1000000001": [{"type": "ads_insights", "call_count": 100, "total_cputime": 40, "total_time": 40,
                                  "estimated_time_to_regain_access": 1}]}
THROTTLE_ERROR = {"error": {"message": "(#80000) There have been too many calls from this ad-account. Wait a bit"
                            " and try again.", "type": "OAuthException", "code": 80000, "error_subcode": 2446079,
                            "fbtrace_id": "Afake"}}

CASES = [
    Case("429 storm with Retry-After on GET /events", "list", fault_then_sync(
        {"api": "cometly", "path": "/events$", "times": 5, "fault": "status", "status": 429,
         "headers": {"Retry-After": "1"}, "body": {"message": "Too Many Attempts."}},
        endpoint="list_events", expect=lambda s, clean: s.count(429) == 5 and len(s) == clean + 5, what="5 x 429")),
    Case("500 then 503 on GET /events", "list", fault_then_sync(
        {"api": "cometly", "path": "/events$", "calls": [1], "fault": "status", "status": 500},
        {"api": "cometly", "path": "/events$", "calls": [2], "fault": "status", "status": 503},
        endpoint="list_events", expect=lambda s, clean: s[:2] == [500, 503] and len(s) == clean + 2, what="500, 503")),
    Case("connection reset in the middle of page 2", "list", fault_then_sync(
        {"api": "cometly", "path": "/events$", "calls": [2], "fault": "reset"},
        endpoint="list_events", expect=lambda s, clean: clean >= 2 and len(s) == clean + 1,
        what="reset of the 2nd page")),
    Case("malformed JSON page", "list", fault_then_sync(
        {"api": "cometly", "path": "/events$", "calls": [1], "fault": "malformed_json"},
        endpoint="list_events", expect=lambda s, clean: len(s) == clean + 1, what="1st page cut in half")),
    Case("500/503 on export create and status", "export", fault_then_sync(
        {"api": "cometly", "path": "/events/exports$", "calls": [2], "fault": "status", "status": 500},
        {"api": "cometly", "path": "/events/exports/[0-9]+$", "calls": [1, 3], "fault": "status", "status": 503},
        endpoint="export_status", expect=lambda s, clean: s.count(503) == 2, what="503 on status")),
    Case("connection reset during an export download", "export", fault_then_sync(
        {"api": "cometly", "path": "^/_s3/", "calls": [1], "fault": "reset"},
        endpoint="export_download", expect=lambda s, clean: len(s) == clean + 1, what="reset of a download")),
    Case("export job fails (twice)", "export", export_fails),
    Case("Meta request hangs past the client's timeout", "list", fault_then_sync(
        {"api": "meta", "path": "/insights$", "times": 1, "fault": "timeout", "seconds": 10},
        endpoint="act/insights", expect=lambda s, clean: len(s) == clean + 1, what="hang on insights")),
    Case("Meta throttle, usage at 100 %", "list", fault_then_sync(
        {"api": "meta", "path": "/insights$", "times": 2, "fault": "status", "status": 400,
         "headers": {"x-business-use-case-usage": json.dumps(THROTTLE_USAGE)}, "body": THROTTLE_ERROR},
        endpoint="act/insights", expect=lambda s, clean: s[:2] == [400, 400] and len(s) == clean + 2,
        what="2 x 80000")),
    Case("API key revoked in the middle of a sync", "list", key_revoked_mid_sync),
    Case("worker SIGKILLed in the middle of a load, then rerun", "list", killed_mid_load),
    Case("PostgreSQL restarted during a load", "list", postgres_restarted_mid_load, private_warehouse=True),
]


# ---------------------------------------------------------------- the matrix and the tests


class MatrixReport:
    """Prints the fault matrix in the terminal summary (shown with or without -s)."""

    def __init__(self):
        self.rows: list[tuple[str, str, Outcome | str]] = []

    def pytest_terminal_summary(self, terminalreporter):
        if not self.rows:
            return
        write = terminalreporter.write_line
        terminalreporter.section("fault matrix")
        write("each case: marts identical to a clean run, every batch received = loaded + rejected")
        write(f"{'fault':54} {'sync':7} {'rerun':6} outcome | seen")
        for fault, workspace, outcome in self.rows:
            if isinstance(outcome, Outcome):
                write(f"{fault:54} {workspace:7} {'yes' if outcome.rerun else 'no':6} {outcome.outcome}"
                      f" | {outcome.seen}")
            else:
                write(f"{fault:54} {workspace:7} {'-':6} {outcome}")


@pytest.fixture(scope="module")
def matrix(request):
    report = MatrixReport()
    request.config.pluginmanager.register(report, "fault_matrix_report")
    return report


@pytest.fixture(scope="module")
def clean_runs(world, warehouse_url):
    """Each workspace's clean first sync: its marts and its calls per endpoint, every case's reference."""
    fake, workspaces = world
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        forget_syncs(conn)
        for ws in workspaces.values():
            fake.reset()
            sync_ok(ws)
            ws.baseline = marts(conn, ws)
            ws.clean_calls = count_by_endpoint(fake.calls())
        batches_accounted_for(conn)
    # Each workspace's first sync takes the path its faults are meant for, with marts to compare.
    assert workspaces["list"].clean_calls.get("list_events", 0) >= 2, workspaces["list"].clean_calls
    assert "create_export" not in workspaces["list"].clean_calls
    assert workspaces["export"].clean_calls.get("create_export", 0) >= RECENT_DAYS, workspaces["export"].clean_calls
    for ws in workspaces.values():
        assert all(ws.baseline.values()), f"{ws.id}: a mart of the clean run is empty"
    # Same data, whichever way it was read.
    assert workspaces["list"].baseline == workspaces["export"].baseline
    return fake, workspaces


@pytest.mark.parametrize("case", CASES, ids=[c.fault for c in CASES])
def test_fault_ends_with_the_clean_marts(case: Case, clean_runs, matrix, warehouse_url):
    fake, workspaces = clean_runs
    ws = workspaces[case.workspace]
    with psycopg.connect(warehouse_url, autocommit=True) as wh:
        forget_syncs(wh)
        fake.reset()
        try:
            outcome = case.run(fake, ws, wh, warehouse_url)
            if not case.private_warehouse:
                assert marts(wh, ws) == ws.baseline, "the marts differ from the clean run's"
                batches_accounted_for(wh)
        except BaseException as err:
            matrix.rows.append((case.fault, case.workspace,
                                f"FAILED: {str(err).splitlines()[0][:90] if str(err) else repr(err)}"))
            raise
        finally:
            fake.clear_faults()
    matrix.rows.append((case.fault, case.workspace, outcome))
