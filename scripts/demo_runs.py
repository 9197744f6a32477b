"""`make demo`'s part after the fake is up, in one process: the demo workspaces registered
with the product's commands, a run of each plan's sync DAG (what `airflow dags test
cometly_sync_PLAN` does), then a result metric for each workspace's biggest campaign with its
backfill (what `cometly-elt results set` does).

    python scripts/demo_runs.py FAKE_URL LOG_DIR      (scripts/demo.sh calls it)

One process pays Python's and Airflow's start-up, Airflow's in-process execution API and
dbt's import once, not once per command and DAG run (bench/RESULTS.md "make demo"). Each
run's own output goes to LOG_DIR/demo-sync-PLAN.log or demo-results-PLAN.log; the terminal
gets one line per step.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

PLANS = ("hobby", "pro", "ultra")
TIMEZONES = {"hobby": "America/New_York", "pro": "Europe/Berlin", "ultra": "Australia/Sydney"}


@contextmanager
def output_to(log: Path) -> Iterator[None]:
    """This process's stdout and stderr (Airflow's and dbt's logging included) into `log`."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("w") as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in zip((1, 2), saved):
                os.dup2(copy, fd)
                os.close(copy)


def fail(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(1)


def register(plan: str, number: int, fake_url: str) -> None:
    """The demo workspace of `plan`, as `cometly-elt` commands set it up (each one idempotent)."""
    from cometly_elt.cli import main as cometly_elt

    workspace, timezone, account = f"demo_{plan}", TIMEZONES[plan], f"act_100000000{number}"
    for command in (
        ["workspace", "add", workspace, "--name", f"Demo {plan.title()}", "--plan", plan,
         "--history-start", "2026-08-01"],
        ["cometly", "connect", workspace, "--api-key", f"ck_{workspace}", "--base-url", f"{fake_url}/public-api/v1"],
        ["cometly", "configure", workspace, "--model", "first_touch", "--window", "lifetime", "--timezone", timezone,
         "--yes"],
        ["cometly", "select", workspace, "purchase", "lead_generated"],
        ["meta", "connect", workspace, "--ad-account", account, "--access-token", f"EAAB_{workspace}",
         "--base-url", fake_url],
    ):
        with contextlib.redirect_stdout(io.StringIO()):
            if cometly_elt(command) != 0:
                fail(f"cometly-elt {' '.join(command[:3])} failed (its error is above)")
    print(f"{workspace}: {plan} plan, {timezone}, Cometly and {account} connected", flush=True)


def sync(plan: str, logs: Path) -> None:
    from cometly_elt import trigger

    log = logs / f"demo-sync-{plan}.log"
    started = time.monotonic()
    with output_to(log):
        try:
            state = trigger.run_here(f"cometly_sync_{plan}", {}).state
        except Exception as err:  # the log holds the traceback; the terminal the one line below
            print(f"{type(err).__name__}: {err}", file=sys.stderr)
            state = "failed"
    if state != "success":
        fail(f"cometly_sync_{plan} failed: see {log}")
    print(f"cometly_sync_{plan}: success in {time.monotonic() - started:.0f} s", flush=True)


def count_purchases(wh, plan: str, logs: Path) -> None:
    """Purchases as the result metric of the workspace's biggest campaign (by spend), once."""
    from cometly_elt.cli import main as cometly_elt

    workspace = f"demo_{plan}"
    (campaign,) = wh.execute("select campaign_id from marts.fct_campaign_results_daily where workspace_id = %s"
                             " group by campaign_id order by sum(spend) desc, campaign_id limit 1",
                             (workspace,)).fetchone()
    current = wh.execute("select event_name from control.result_metrics where workspace_id = %s"
                         " and campaign_id = %s", (workspace, campaign)).fetchone()
    if current != ("purchase",):
        log = logs / f"demo-results-{plan}.log"
        with output_to(log):
            code = cometly_elt(["results", "set", workspace, "--campaign", campaign, "--event", "purchase"])
        if code != 0:
            fail(f"results set failed: see {log}")
    print(f"{workspace}: campaign {campaign} counts purchases", flush=True)


def main() -> None:
    fake_url, logs = sys.argv[1], Path(sys.argv[2])
    print("\n== Workspaces: connect, configure, select events, connect Meta", flush=True)
    for number, plan in enumerate(PLANS, start=1):
        register(plan, number, fake_url)
    print("\n== Sync DAGs (each workspace's first sync covers its whole history)", flush=True)
    for plan in PLANS:
        sync(plan, logs)
    print("\n== Result metric: purchases for each workspace's biggest campaign (with its backfill)", flush=True)
    with psycopg.connect(os.environ["WAREHOUSE_URL"], autocommit=True) as wh:
        for plan in PLANS:
            count_purchases(wh, plan, logs)


if __name__ == "__main__":
    main()
