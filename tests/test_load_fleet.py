"""Load: a fleet of workspaces syncing at once under LocalExecutor, each Space within its rate budget.

Fifty workspaces, spread over the three plans, each on its own Cometly Space and
Meta ad account: example.json copied fifty times, its Meta ids suffixed with the
workspace's number (`2000000001` -> `200000000107` for ws07) and its dates moved
to the last few weeks, so that a first sync (whole history: one export job per
local day, as each workspace's Cometly connection asks with `{"fetch": "export"}`; a
list page would hold it all) is short. Real api-server, scheduler and dag-processor; the
scheduler starts each plan DAG's latest run by itself (catchup is off), so all
fifty sync in the same three runs. The fake keeps its rate limits on: a call
beyond a Space's budget would come back 429.

Expected marts: test_sync_e2e's hand-worked rows, renamed the same way. The
example's conversions fall on the same local dates whether New York is on UTC-5
or UTC-4 (03:30Z, 19:00Z, 15:00Z), so moving them by whole days moves their
report dates by as many days, in any season.

The test prints, per Space, the most calls any fake minute saw per endpoint, and
per task of the sync DAGs, how long its instances ran and waited: the figures
for sizing LocalExecutor and the dbt pool. Should a plan's next run start
meanwhile (an hour boundary for Ultra), the test waits for it too.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import time
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_stack import airflow_components, metadata_connection, wait_for_each_dags_runs
from cometly_elt import control
from conftest import tune_connection
from helpers.expected_marts import (
    CAMPAIGN_SPEND,
    EXPECTED_AD_RESULTS,
    EXPECTED_CAMPAIGN_SPEND,
    ad_results,
    campaign_results,
)
from helpers.fake_admin import FakeAdmin

# Fifty workspaces on a loaded 2-core machine take longer than the suite's default of 900 s allows.
pytestmark = [pytest.mark.airflow, pytest.mark.timeout(1800)]

# COMETLY_LOAD_FLEET=5 tries the test on a small fleet first.
FLEET = int(os.environ.get("COMETLY_LOAD_FLEET", "50"))
PLANS = ("hobby", "pro", "ultra")
# Per Space per minute, from docs/cometly-api.md §3.2 (written here, not read from the client).
DOCUMENTED_LIMITS = {"list_events": 7, "get_event": 30, "create_export": 5, "export_status": 30}
META_SOURCES = ("facebook_ads", "instagram_ads")
# LocalExecutor's task slots. Each task is a process that spends its first seconds starting
# (CPU): beyond a few per core they only queue for the CPU, but some wait on Cometly's limits.
PARALLELISM = "8"
# A fake Cometly minute lasts one real second: a Space's ~20 export creates need four of them,
# so a client that ignored its budget would send more than 5 in one and get 429s. (At the
# suite's usual 600x, calls are slower than the limit allows and the budget never binds.)
CLOCK_SPEED, API_MINUTE_SECONDS = "60", "1"

def workspace_id(n: int) -> str:
    return f"ws{n:02d}"


def meta_id(example_id: str, n: int) -> str:
    """Workspace n's copy of one of example.json's Meta ids (`act_` kept)."""
    return f"{example_id}{n:02d}"


def later(stamp: str, days: int) -> str:
    """`YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ`, `days` later."""
    if "T" in stamp:
        moved = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ") + timedelta(days=days)
        return moved.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (date.fromisoformat(stamp) + timedelta(days=days)).isoformat()


def fleet_scenario(example: dict, size: int, shift: int) -> dict:
    """Workspace n (1..size): Space `space_NN`, key `ck_wsNN`, account `act_1000000001NN`, token `EAAB_wsNN`."""
    [space] = example["cometly"]["spaces"]
    [account] = example["meta"]["ad_accounts"]
    spaces, accounts, tokens = [], [], []
    for n in range(1, size + 1):
        s = copy.deepcopy(space)
        s["id"], s["api_keys"] = f"space_{n:02d}", [{"key": f"ck_{workspace_id(n)}", "status": "active"}]
        for contact in s["contacts"]:
            for touch in contact["touchpoints"]:
                touch["time_utc"] = later(touch["time_utc"], shift)
                if touch["source"] in META_SOURCES:
                    for key in ("account_id", "campaign_id", "adset_id", "ad_id"):
                        touch[key] = meta_id(touch[key], n)
            for event in contact["events"]:
                event["time_utc"] = later(event["time_utc"], shift)
        spaces.append(s)
        a = copy.deepcopy(account)
        a["id"] = meta_id(a["id"], n)
        for campaign in a["campaigns"]:
            campaign["id"] = meta_id(campaign["id"], n)
            for adset in campaign["adsets"]:
                adset["id"] = meta_id(adset["id"], n)
                for ad in adset["ads"]:
                    ad["id"] = meta_id(ad["id"], n)
        for row in a["insights"]:
            row["ad_id"], row["date"] = meta_id(row["ad_id"], n), later(row["date"], shift)
        accounts.append(a)
        tokens.append({"token": f"EAAB_{workspace_id(n)}", "status": "valid", "ad_accounts": [a["id"]]})
    return {"cometly": {"spaces": spaces}, "meta": {"access_tokens": tokens, "ad_accounts": accounts}}


def command(*args: str) -> str:
    """`cometly-elt ARGS` in this process (one import of Airflow for the whole fleet, not one per command)."""
    from cometly_elt.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(args))
    assert code == 0, f"cometly-elt {' '.join(args)} exited {code}"
    return out.getvalue()


def set_up(api, n: int, history_start: date) -> None:
    ws = workspace_id(n)
    command("workspace", "add", ws, "--name", f"Load {n:02d}", "--plan", PLANS[n % len(PLANS)],
            "--history-start", history_start.isoformat())
    command("cometly", "connect", ws, "--api-key", f"ck_{ws}", "--base-url", api.cometly_url)
    # One list page would hold a Space's whole history: exports, as its connection asks, make the budget pace.
    tune_connection(control.cometly_conn_id(ws), {"fetch": "export"})
    command("cometly", "configure", ws, "--model", "first_touch", "--window", "lifetime",
            "--timezone", "America/New_York", "--yes")
    command("cometly", "select", ws, "purchase", "lead_generated", "custom_event_3")
    command("meta", "connect", ws, "--ad-account", meta_id("act_1000000001", n), "--access-token", f"EAAB_{ws}",
            "--base-url", api.meta_url)


@pytest.fixture
def fleet(wh, fake_api, example_scenario, monkeypatch):
    """(fake, shift in days, seconds the set-up took): FLEET workspaces set up before the scheduler starts.

    The example's last conversion (2026-03-04) lands three days before today, so
    every plan's latest data interval holds all of it; history starts at the
    example's 2026-02-15, moved likewise (about 20 local days to export).
    """
    shift = (datetime.now(timezone.utc).date() - timedelta(days=3) - date(2026, 3, 4)).days
    monkeypatch.setenv("COMETLY_API_MINUTE_SECONDS", API_MINUTE_SECONDS)
    api = fake_api(fleet_scenario(example_scenario, FLEET, shift), "--clock-speed", CLOCK_SPEED)
    started = time.monotonic()
    for n in range(1, FLEET + 1):
        set_up(api, n, date(2026, 2, 15) + timedelta(days=shift))
    return api, shift, time.monotonic() - started


@pytest.fixture
def airflow_stack(fleet, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__PARALLELISM", PARALLELISM)
    with airflow_components(tmp_path, monkeypatch) as base:
        yield base


def airflow_cpu_seconds() -> float:
    """User + system CPU of this test's Airflow components and all their descendants (LocalExecutor's
    workers and task processes, counted in their parents' totals once reaped), from /proc."""
    stats = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                # After the name: state, ppid, ...; utime, stime, cutime, cstime are the 12th-15th.
                stats[int(proc.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]),
                                         any(part.endswith(b"/airflow") for part in cmdline[:2]))
    components = {pid for pid, (ppid, _, is_airflow) in stats.items() if ppid == os.getpid() and is_airflow}

    def under_components(pid: int) -> bool:
        while pid in stats and pid not in components:
            pid = stats[pid][0]
        return pid in components

    return sum(ticks for pid, (_, ticks, _) in stats.items() if under_components(pid)) / os.sysconf("SC_CLK_TCK")


def task_phases() -> list[tuple]:
    """Per task of the sync DAGs: instances, tries beyond the first, mean/max run and queue wait (s),
    the seconds all instances ran in sum, and the span from the first start to the last end."""
    with metadata_connection() as conn:
        return conn.execute(
            """
            select ti.task_id, count(*), count(*) filter (where ti.try_number > 1),
                   round(avg(extract(epoch from ti.end_date - ti.start_date))::numeric, 1),
                   round(max(extract(epoch from ti.end_date - ti.start_date))::numeric, 1),
                   round(avg(extract(epoch from ti.start_date - ti.queued_dttm))::numeric, 1),
                   round(sum(extract(epoch from ti.end_date - ti.start_date))::numeric, 0),
                   round(extract(epoch from max(ti.end_date) - min(ti.start_date))::numeric, 0)
            from task_instance ti where ti.dag_id like 'cometly_sync_%'
            group by ti.task_id order by min(ti.start_date)
            """
        ).fetchall()


def marts(wh) -> dict[str, tuple[list, list]]:
    """{workspace: (its ad results, its campaigns' spend)} for every workspace in the marts."""
    workspaces = wh.execute("select workspace_id from marts.fct_ad_results_daily"
                            " union select workspace_id from marts.fct_campaign_results_daily").fetchall()
    return {ws: (ad_results(wh, ws), campaign_results(wh, ws, CAMPAIGN_SPEND)) for (ws,) in workspaces}


def expected_marts(n: int, shift: int) -> tuple[list, list]:
    ads = [(later(day, shift), meta_id(account, n), meta_id(campaign, n), meta_id(adset, n), meta_id(ad, n), *rest)
           for day, account, campaign, adset, ad, *rest in EXPECTED_AD_RESULTS]
    spend = [(later(day, shift), meta_id(campaign, n), *rest) for day, campaign, *rest in EXPECTED_CAMPAIGN_SPEND]
    return ads, spend


def rate_report(per_minute: list[dict]) -> tuple[dict, dict, dict]:
    """({(space, endpoint): calls}, {(space, endpoint): most calls in one fake minute},
    {(api, endpoint): {status: calls} for 429s and other errors})."""
    total: dict[tuple, int] = defaultdict(int)
    busiest: dict[tuple, int] = defaultdict(int)
    errors: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
    for m in per_minute:
        total[(m["space"], m["endpoint"])] += m["count"]
        busiest[(m["space"], m["endpoint"])] = max(busiest[(m["space"], m["endpoint"])], m["count"])
        for status, count in m["statuses"].items():
            if not status.startswith("2"):
                errors[(m["api"], m["endpoint"])][status] += count
    return total, busiest, errors


def test_fleet_syncs_at_once_each_space_within_its_budget(wh, fleet, airflow_stack, tmp_path, capsys):
    api, shift, set_up_seconds = fleet
    runs = wait_for_each_dags_runs(airflow_stack, tuple(f"cometly_sync_{plan}" for plan in PLANS))
    cpu = airflow_cpu_seconds()
    phases = task_phases()
    call_log = FakeAdmin(api, timeout=60).call("GET", "calls")
    # Every call with its fake time and status, for a look after a failure.
    (tmp_path / "fake-calls.json").write_text(json.dumps(call_log))
    log = call_log["per_minute"]
    total, busiest, errors = rate_report(log)
    with capsys.disabled():
        print(f"\n{FLEET} workspaces (set up in {set_up_seconds:.0f} s), LocalExecutor parallelism {PARALLELISM},"
              " dbt pool 1 slot")
        for rs in runs.values():
            for r in rs:
                took = datetime.fromisoformat(r["end_date"]) - datetime.fromisoformat(r["start_date"])
                print(f"{r['dag_id']} {r['dag_run_id']}: {r['state']} in {took.total_seconds():.0f} s")
        print(f"Airflow's CPU (components, workers, task processes, from their start): {cpu:.0f} s,"
              f" {cpu / FLEET:.2f} s per workspace sync")
        print(f"{'task':34} {'n':>3} {'retried':>7} {'mean s':>7} {'max s':>6} {'queued s':>8} {'sum s':>6}"
              f" {'span s':>6}")
        for task_id, *figures in phases:
            print(f"{task_id:34} " + " ".join(f"{str(f):>{w}}" for f, w in zip(figures, (3, 7, 7, 6, 8, 6, 6))))
        endpoints = sorted({e for (_, e) in busiest if e in DOCUMENTED_LIMITS})
        print("per Space and endpoint: most calls in one fake minute / calls in all; " + ", ".join(
            f"{e} (limit {DOCUMENTED_LIMITS[e]})" for e in endpoints))
        for space in sorted({s for (s, e) in busiest if e in DOCUMENTED_LIMITS}):
            print(f"  {space}: " + "  ".join(
                f"{e} {busiest.get((space, e), 0)}/{total.get((space, e), 0)}" for e in endpoints))
        print(f"error statuses per endpoint: { {f'{a} {e}': dict(s) for (a, e), s in errors.items()} or 'none'}")

    assert {dag_id: [r["state"] for r in rs] for dag_id, rs in runs.items()} == {
        dag_id: ["success"] * len(rs) for dag_id, rs in runs.items()}
    assert all(retried == 0 for _, _, retried, *_ in phases), "a task needed a retry: see the table above"

    for n in range(1, FLEET + 1):
        status = json.loads(command("status", workspace_id(n), "--json"))
        assert status["last_synced_at"] is not None and status["last_error"] is None, (workspace_id(n), status)
    assert marts(wh) == {workspace_id(n): expected_marts(n, shift) for n in range(1, FLEET + 1)}

    # Every Space was called, by its own key, with more export creates than one minute allows:
    # the budget had to pace them.
    creates = {space: calls for (space, endpoint), calls in total.items() if endpoint == "create_export"}
    assert creates.keys() == {f"space_{n:02d}" for n in range(1, FLEET + 1)}
    assert min(creates.values()) > DOCUMENTED_LIMITS["create_export"]
    meta_accounts = {m["space"] for m in log if m["api"] == "meta" and m["endpoint"] == "act/insights"}
    assert meta_accounts == {meta_id("act_1000000001", n) for n in range(1, FLEET + 1)}
    # The fake answers 429 to a call beyond docs/cometly-api.md §3.2's limit in Cometly's window (Laravel's: one minute
    # from the window's first call), and the client would retry it: none at all means every Space
    # kept within its budget. A clock minute can hold more calls than the limit without a breach
    # (the end of one window and the start of the next): the table above shows them.
    rate_limited = {endpoint: statuses["429"] for endpoint, statuses in errors.items() if "429" in statuses}
    assert rate_limited == {}
