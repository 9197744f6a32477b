"""No secret in plain text anywhere after a full sync.

A Space with a sentinel Cometly key and an ad account read with a sentinel Meta
token (example.json otherwise) is connected, synced and inspected through the
commands a user runs; then the sentinels are searched for in everything the
product wrote: the commands' output and error texts (a refused key included; the
in-process sync's task logs are its output), Airflow's log files, a dump of
Airflow's metadata database (XCom, rendered task fields, connections, logs) and a
dump of the warehouse.
"""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path

import pytest

from conftest import cli

# Tier (tests/conftest.py): `cometly-elt sync` runs the Sync Now DAG in-process.
pytestmark = pytest.mark.airflow

WS = "h6s"
KEY = "ck_SENTINEL_9f3a7c1e5b2d"
REVOKED_KEY = "ck_SENTINEL_REVOKED_61c0aa"
TOKEN = "EAAB_SENTINEL_4d8e2b6a0f1c"
SENTINELS = ("SENTINEL_9f3a7c1e5b2d", "SENTINEL_REVOKED_61c0aa", "SENTINEL_4d8e2b6a0f1c")


def sentinel_scenario(example: dict) -> dict:
    scenario = copy.deepcopy(example)
    scenario["cometly"]["spaces"][0]["api_keys"] = [
        {"key": KEY, "status": "active"}, {"key": REVOKED_KEY, "status": "revoked"},
    ]
    scenario["meta"]["access_tokens"] = [{"token": TOKEN, "status": "valid", "ad_accounts": ["act_1000000001"]}]
    return scenario


def leaks(text: str) -> list[str]:
    return [s for s in SENTINELS if s in text]


def pg_dump(url: str) -> str:
    return subprocess.run(["pg_dump", "--data-only", url], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def synced(wh, fast_fake, example_scenario):
    """Every command's output, from connecting to `status --json` after a full sync."""
    api = fast_fake(sentinel_scenario(example_scenario), "--no-rate-limits")
    outputs = []

    def run(*args, check=True):
        result = cli(*args, check=check)
        outputs.append((" ".join(args), result.stdout + result.stderr))
        return result

    run("workspace", "add", WS, "--name", "Sentinel", "--plan", "pro", "--history-start", "2026-02-15")
    refused = run("cometly", "connect", WS, "--api-key", REVOKED_KEY, "--base-url", api.cometly_url, check=False)
    assert refused.returncode != 0  # a key Cometly refuses: the error must not quote it
    run("cometly", "connect", WS, "--api-key", KEY, "--base-url", api.cometly_url)
    run("cometly", "configure", WS, "--model", "first_touch", "--window", "lifetime",
        "--timezone", "America/New_York", "--yes")
    run("cometly", "select", WS, "purchase", "lead_generated", "custom_event_3")
    run("meta", "connect", WS, "--ad-account", "act_1000000001", "--access-token", TOKEN, "--base-url", api.meta_url)
    sync = run("sync", WS)
    assert "Synced 'h6s'" in sync.stdout
    run("status", WS)
    run("status", WS, "--json")
    run("cometly", "events", WS, check=False)
    yield outputs
    cli("workspace", "remove", WS, "--yes", check=False)


def test_sentinel_secrets_appear_nowhere_in_plain_text(synced, wh, warehouse_url):
    # The sync really used the sentinel credentials: otherwise the searches would prove nothing.
    assert wh.execute("select count(*) from raw_cometly.events where workspace_id = %s", (WS,)).fetchone()[0] == 3
    assert wh.execute("select count(*) from marts.fct_campaign_results_daily where workspace_id = %s",
                      (WS,)).fetchone()[0] == 3

    found = {f"cometly-elt {command}": leaks(output) for command, output in synced}
    # Run in-process (no scheduler), the sync's task logs are the command's own output, searched above:
    # the extraction's log line shows they are there. Log files (a scheduler's, other tests') are searched too.
    assert "raw_cometly.events" in dict(synced)[f"sync {WS}"], "the sync's task logs are not in its output"
    logs = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    found |= {str(f): leaks(f.read_text(errors="replace")) for f in logs.rglob("*") if f.is_file()}
    airflow_dump = pg_dump(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("+psycopg2", ""))
    assert f"cometly_{WS}" in airflow_dump  # the connection is there, encrypted
    found["pg_dump airflow"] = leaks(airflow_dump)
    warehouse_dump = pg_dump(warehouse_url)
    assert f"cometly_{WS}" in warehouse_dump  # the connection's id, never its key
    found["pg_dump warehouse"] = leaks(warehouse_dump)

    assert {where: what for where, what in found.items() if what} == {}
