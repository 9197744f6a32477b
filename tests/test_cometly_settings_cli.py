"""`cometly-elt cometly connect / configure / events / select / unselect`, through the real CLI.

Against the real PostgreSQL (warehouse and Airflow's metadata database) and the
fake Cometly API served as a real process.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
from datetime import datetime, timedelta, timezone
from functools import partial

import psycopg
import pytest

from conftest import cli as checked_cli, cli_ok as ok, free_port

LABEL = 'Demo "Booked"; ✓ 予約'
STANDARD = [
    "add_payment_info", "add_to_cart", "complete_registration", "contact", "initiate_checkout", "lead_generated",
    "purchase", "schedule", "sign_up", "start_trial", "submit_application", "subscribe", "upsell_purchase",
    "view_content", "webinar_registration",
]
NO_EVENTS = "No events found in Cometly: the account may have no conversion events yet, or tracking is not running"
REVOKED = (
    "Cometly rejected this API key: it may have expired or been revoked."
    " Generate a new one in Cometly (Integrations → API) and connect again."
)


# These tests read the exit code and messages themselves.
cli = partial(checked_cli, check=False)


def cli_answering(answer: str, *args: str) -> subprocess.CompletedProcess:
    """Run with a terminal on stdin and type `answer` into it."""
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(["cometly-elt", *args], stdin=terminal, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        os.write(controller, answer.encode())
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(terminal)
        os.close(controller)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def airflow_connection(conn_id: str) -> tuple | None:
    url = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("postgresql+psycopg2://", "postgresql://")
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select conn_type, host, password, is_encrypted from connection where conn_id = %s", (conn_id,)
        ).fetchone()


def control_text(wh) -> str:
    """Every row of every control table, as text."""
    tables = [t for (t,) in wh.execute("select tablename from pg_tables where schemaname = 'control'")]
    return "\n".join(
        wh.execute(f'select coalesce(string_agg(t::text, chr(10)), \'\') from control."{t}" t').fetchone()[0]
        for t in tables
    )


def versions(wh) -> list[tuple]:
    return wh.execute(
        "select version, model, window_days, state from control.attribution_versions order by version"
    ).fetchall()


@pytest.fixture
def workspace(wh):
    """Workspace h3-acme, without Airflow connections left over from an earlier test."""
    from cometly_elt import credentials

    credentials.delete("cometly_h3-acme")
    ok("workspace", "add", "h3-acme", "--name", "Acme", "--plan", "pro", "--history-start", "2026-01-01")
    yield "h3-acme"
    credentials.delete("cometly_h3-acme")


def days_ago(days: int) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- connect

def test_connect_validates_the_key_and_stores_it_only_encrypted(workspace, wh, fake_api, example_scenario):
    from cometly_elt import credentials

    api = fake_api(example_scenario, "--no-rate-limits")

    result = cli("cometly", "connect", workspace, "--api-key", "ck_acme_live", "--base-url", api.cometly_url)

    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"Workspace 'h3-acme' connected to Cometly at {api.cometly_url}: the key is valid and stored encrypted"
        " as Airflow connection 'cometly_h3-acme'.\n"
        "Next: cometly-elt cometly configure h3-acme --model first_touch --window lifetime --timezone IANA_NAME\n"
    )
    assert "ck_acme_live" not in result.stdout + result.stderr
    assert wh.execute("select workspace_id, conn_id, base_url from control.cometly_connections").fetchall() == [
        ("h3-acme", "cometly_h3-acme", api.cometly_url)
    ]
    assert "ck_acme_live" not in control_text(wh)
    conn_type, host, password, is_encrypted = airflow_connection("cometly_h3-acme")
    assert (conn_type, host, is_encrypted) == ("cometly", api.cometly_url, True)
    assert "ck_acme_live" not in password
    assert credentials.get("cometly_h3-acme").password == "ck_acme_live"  # Fernet decrypts it back

    status = cli("status", workspace, "--json")
    assert json.loads(status.stdout)["cometly"]["conn_id"] == "cometly_h3-acme"
    assert "ck_acme_live" not in status.stdout + status.stderr


def test_a_revoked_key_is_refused_and_the_working_one_stays(workspace, wh, fake_api, example_scenario):
    from cometly_elt import credentials

    api = fake_api(example_scenario, "--no-rate-limits")

    refused = cli("cometly", "connect", workspace, "--api-key", "ck_acme_old", "--base-url", api.cometly_url)

    assert (refused.returncode, refused.stdout, refused.stderr) == (1, "", f"cometly-elt: {REVOKED}\n")
    assert wh.execute("select count(*) from control.cometly_connections").fetchone() == (0,)
    assert airflow_connection("cometly_h3-acme") is None

    ok("cometly", "connect", workspace, "--api-key", "ck_acme_live", "--base-url", api.cometly_url)
    again = cli("cometly", "connect", workspace, "--api-key", "ck_acme_old", "--base-url", api.cometly_url)
    assert again.returncode == 1
    assert "ck_acme_old" not in again.stderr
    assert credentials.get("cometly_h3-acme").password == "ck_acme_live"


def test_an_inactive_subscription_is_refused_and_nothing_stored(workspace, wh, fake_api, example_scenario):
    example_scenario["cometly"]["spaces"][0]["subscription_active"] = False
    api = fake_api(example_scenario, "--no-rate-limits")

    refused = cli("cometly", "connect", workspace, "--api-key", "ck_acme_live", "--base-url", api.cometly_url)

    assert refused.returncode == 1
    assert len(refused.stderr.splitlines()) == 1
    assert "subscription is inactive" in refused.stderr
    assert "permission" in refused.stderr
    assert "ck_acme_live" not in refused.stderr
    assert wh.execute("select count(*) from control.cometly_connections").fetchone() == (0,)
    assert airflow_connection("cometly_h3-acme") is None


def test_an_unreachable_url_is_named_and_nothing_stored(workspace, wh):
    url = f"http://127.0.0.1:{free_port()}/public-api/v1"

    refused = cli("cometly", "connect", workspace, "--api-key", "ck_acme_live", "--base-url", url)

    assert (refused.returncode, refused.stdout) == (1, "")
    # The retries' log records come first on stderr (logs go there); the error is the one line after them.
    *logged, error = refused.stderr.splitlines()
    assert error == (f"cometly-elt: Cometly could not be reached at {url}: check the base URL and the network,"
                     " then try again.")
    assert all("[warning" in line and "retrying" in line for line in logged), logged
    assert "ck_acme_live" not in refused.stderr
    assert wh.execute("select count(*) from control.cometly_connections").fetchone() == (0,)
    assert airflow_connection("cometly_h3-acme") is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["h3-acme", "--api-key", "k", "--base-url", "ftp://cometly.example"],
         "base URL 'ftp://cometly.example' is not an http(s) URL:"
         " leave --base-url out to use https://app.cometly.com/public-api/v1"),
        (["h3-acme", "--api-key", " "], "the API key is empty: copy it from Cometly (Integrations → API)"),
        (["h3-nope", "--api-key", "k"], "no workspace 'h3-nope': see 'cometly-elt workspace list'"),
    ],
)
def test_connect_refuses_bad_input_before_calling_cometly(workspace, wh, args, message):
    result = cli("cometly", "connect", *args)

    assert (result.returncode, result.stderr) == (1, f"cometly-elt: {message}\n")
    assert wh.execute("select count(*) from control.cometly_connections").fetchone() == (0,)


# ---------------------------------------------------------------- configure

def test_first_configure_creates_the_active_version(workspace, wh):
    out = ok("cometly", "configure", workspace, "--model", "first_touch", "--window", "lifetime",
             "--timezone", "America/New_York")

    assert out == (
        "Attribution for 'h3-acme': first_touch, window lifetime, timezone America/New_York (settings version 1).\n"
    )
    assert versions(wh) == [(1, "first_touch", 0, "active")]
    assert wh.execute("select timezone, marts_rebuild_requested_at from control.workspaces").fetchone() == (
        "America/New_York", None
    )
    again = ok("cometly", "configure", workspace, "--model", "first_touch", "--window", "lifetime",
               "--timezone", "America/New_York")
    assert again == "Attribution settings of 'h3-acme' unchanged (version 1).\n"
    assert versions(wh) == [(1, "first_touch", 0, "active")]


@pytest.mark.parametrize(
    "model, window, tz, message",
    [
        ("first_touch", "45", "UTC", "attribution window '45' is not supported:"
                                     " use lifetime, 1, 7, 14, 30, 60 or 90 (days)"),
        ("first_touch", "0", "UTC", "attribution window '0' is not supported:"
                                    " use lifetime, 1, 7, 14, 30, 60 or 90 (days)"),
        ("linear", "7", "UTC", "attribution model 'linear' is not supported: use first_touch or last_touch"),
        ("first_touch", "7", "America/New_Yrok", "'America/New_Yrok' is not an IANA timezone name:"
                                                 " did you mean America/New_York?"),
        ("first_touch", "7", "berlin", "'berlin' is not an IANA timezone name: did you mean Europe/Berlin?"),
        ("first_touch", "7", "Mars/Olympus", "'Mars/Olympus' is not an IANA timezone name: use the Space's timezone as"
                                             " Cometly shows it, such as America/New_York or Europe/Berlin"),
    ],
)
def test_configure_refuses_bad_settings_with_one_line(workspace, wh, model, window, tz, message):
    result = cli("cometly", "configure", workspace, "--model", model, "--window", window, "--timezone", tz)

    assert (result.returncode, result.stdout, result.stderr) == (1, "", f"cometly-elt: {message}\n")
    assert versions(wh) == []
    assert wh.execute("select timezone from control.workspaces").fetchone() == (None,)


def test_changing_the_model_needs_confirmation(workspace, wh):
    ok("cometly", "configure", workspace, "--model", "first_touch", "--window", "lifetime", "--timezone", "UTC")
    change = ["cometly", "configure", workspace, "--model", "last_touch", "--window", "7", "--timezone", "UTC"]

    scripted = cli(*change)  # no terminal to ask on
    assert (scripted.returncode, scripted.stderr) == (
        1, "cometly-elt: changing the attribution model or window reprocesses all history: add --yes to confirm\n"
    )
    declined = cli_answering("n\n", *change)
    assert declined.returncode == 1
    assert declined.stderr == (
        "This reprocesses all history; continue? [y/N] cometly-elt: cancelled: attribution settings unchanged\n"
    )
    assert versions(wh) == [(1, "first_touch", 0, "active")]

    accepted = cli_answering("y\n", *change)
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stderr == "This reprocesses all history; continue? [y/N] "
    assert accepted.stdout == (
        "Settings version 2 (last_touch, window 7 days) is being built beside version 1: all history is reprocessed,"
        " and the marts switch to it when that is done.\n"
    )
    assert versions(wh) == [(1, "first_touch", 0, "active"), (2, "last_touch", 7, "building")]


def test_a_new_change_replaces_the_version_being_built_and_going_back_cancels_it(workspace, wh):
    ok("cometly", "configure", workspace, "--model", "first_touch", "--window", "lifetime", "--timezone", "UTC")
    ok("cometly", "configure", workspace, "--model", "last_touch", "--window", "7", "--timezone", "UTC", "--yes")

    replaced = ok("cometly", "configure", workspace, "--model", "first_touch", "--window", "30", "--timezone", "UTC",
                  "--yes")
    assert replaced == (
        "Settings version 3 (first_touch, window 30 days) is being built beside version 1: all history is reprocessed,"
        " and the marts switch to it when that is done.\n"
        "It replaces version 2, which was still being built.\n"
    )
    assert versions(wh) == [(1, "first_touch", 0, "active"), (2, "last_touch", 7, "retired"),
                            (3, "first_touch", 30, "building")]

    same = ok("cometly", "configure", workspace, "--model", "first_touch", "--window", "30", "--timezone", "UTC")
    assert same == "Attribution settings of 'h3-acme' unchanged (version 1, version 3 being built).\n"

    back = ok("cometly", "configure", workspace, "--model", "first_touch", "--window", "lifetime", "--timezone", "UTC")
    assert back == "Back to the active settings (version 1): the reprocess to version 3 is cancelled.\n"
    assert versions(wh) == [(1, "first_touch", 0, "active"), (2, "last_touch", 7, "retired"),
                            (3, "first_touch", 30, "retired")]


def test_changing_only_the_timezone_marks_the_marts_for_rebuild(workspace, wh):
    ok("cometly", "configure", workspace, "--model", "last_touch", "--window", "1", "--timezone", "America/New_York")

    out = ok("cometly", "configure", workspace, "--model", "last_touch", "--window", "1", "--timezone", "Europe/Berlin")

    assert out == (
        "Timezone is now Europe/Berlin: nothing is re-extracted (raw data is kept in UTC), but the marts are marked"
        " for rebuild with the new report dates.\n"
    )
    assert versions(wh) == [(1, "last_touch", 1, "active")]
    timezone_name, requested = wh.execute(
        "select timezone, marts_rebuild_requested_at from control.workspaces"
    ).fetchone()
    assert timezone_name == "Europe/Berlin"
    assert requested is not None


def test_configure_an_unknown_workspace(wh):
    result = cli("cometly", "configure", "h3-nope", "--model", "first_touch", "--window", "7", "--timezone", "UTC")

    assert (result.returncode, result.stderr) == (
        1, "cometly-elt: no workspace 'h3-nope': see 'cometly-elt workspace list'\n")


# ---------------------------------------------------------------- select / unselect

CATALOG = [
    ("custom_event_3", LABEL),
    ("custom_event_7", "demo booked"),
    ("custom_event_8", "Lead; Qualified"),
    ("custom_event_9", "Lead; qualified"),
]


@pytest.fixture
def catalog(workspace, wh):
    """What `cometly events` leaves in the catalog for a Space with four custom events."""
    for name, label in CATALOG:
        wh.execute("insert into control.event_catalog (workspace_id, event_name, label) values (%s, %s, %s)",
                   (workspace, name, label))
    return workspace


def selected(wh) -> list[str]:
    return [n for (n,) in wh.execute("select event_name from control.selected_events order by event_name")]


def test_select_by_name_and_by_exact_label(catalog, wh):
    out = ok("cometly", "select", catalog, "purchase", LABEL, "Lead; Qualified", "custom_event_12")

    assert out == (
        f"Selected for 'h3-acme': purchase, {LABEL} (custom_event_3), Lead; Qualified (custom_event_8),"
        " custom_event_12.\n"
        f"Events synced: purchase, {LABEL} (custom_event_3), Lead; Qualified (custom_event_8), custom_event_12.\n"
    )
    assert selected(wh) == ["custom_event_12", "custom_event_3", "custom_event_8", "purchase"]

    again = ok("cometly", "select", catalog, "purchase", "DEMO BOOKED")  # case-insensitive label
    assert again == (
        "Selected for 'h3-acme': demo booked (custom_event_7).\n"
        "Already selected: purchase.\n"
        f"Events synced: purchase, {LABEL} (custom_event_3), demo booked (custom_event_7),"
        " Lead; Qualified (custom_event_8), custom_event_12.\n"
    )


@pytest.mark.parametrize(
    "event, message",
    [
        ("Demo Bookd", "no event 'Demo Bookd' in workspace 'h3-acme':"
                       " list the events with 'cometly-elt cometly events h3-acme'"),
        ("custom_event_51", "no event 'custom_event_51' in workspace 'h3-acme':"
                            " list the events with 'cometly-elt cometly events h3-acme'"),
        ("Purchase", "no event 'Purchase' in workspace 'h3-acme':"
                     " list the events with 'cometly-elt cometly events h3-acme'"),
        ("lead; QUALIFIED", "the label 'lead; QUALIFIED' matches custom_event_8 and custom_event_9: select by name"),
    ],
)
def test_select_refuses_what_it_cannot_name_and_selects_nothing(catalog, wh, event, message):
    result = cli("cometly", "select", catalog, "purchase", event)

    assert (result.returncode, result.stdout, result.stderr) == (1, "", f"cometly-elt: {message}\n")
    assert selected(wh) == []


def test_unselect_by_label(catalog, wh):
    ok("cometly", "select", catalog, "purchase", "custom_event_3")

    out = ok("cometly", "unselect", catalog, LABEL, "lead_generated")

    assert out == (
        f"Unselected for 'h3-acme': {LABEL} (custom_event_3).\n"
        "Was not selected: lead_generated.\n"
        "Events synced: purchase.\n"
    )
    assert selected(wh) == ["purchase"]
    assert ok("cometly", "unselect", catalog, "purchase") == (
        "Unselected for 'h3-acme': purchase.\nEvents synced: none.\n"
    )


def test_select_for_an_unknown_workspace(wh):
    result = cli("cometly", "select", "h3-nope", "purchase")

    assert (result.returncode, result.stderr) == (
        1, "cometly-elt: no workspace 'h3-nope': see 'cometly-elt workspace list'\n")


# ---------------------------------------------------------------- events

def _space(contacts: list[dict]) -> dict:
    return {"cometly": {"spaces": [{
        "id": "space_h3",
        "timezone": "UTC",
        "api_keys": [{"key": "ck_h3_live", "status": "active"}],
        "custom_events": {"custom_event_3": LABEL, "custom_event_7": "Call; Scheduled", "custom_event_9": "Old One"},
        "contacts": contacts,
    }]}}


def test_events_lists_standard_and_the_spaces_custom_events_with_labels(workspace, wh, fake_api):
    api = fake_api(_space([{"id": 1, "touchpoints": [], "events": [
        {"id": 1, "event_name": "purchase", "time_utc": days_ago(2), "amount": 10},
        {"id": 2, "event_name": "custom_event_3", "time_utc": days_ago(3)},
        {"id": 3, "event_name": "custom_event_7", "time_utc": days_ago(10)},
        {"id": 4, "event_name": "purchase", "time_utc": days_ago(11)},
        # older than the 30 days looked at
        {"id": 5, "event_name": "custom_event_9", "time_utc": days_ago(60)},
    ]}]), "--no-rate-limits")
    ok("cometly", "connect", workspace, "--api-key", "ck_h3_live", "--base-url", api.cometly_url)
    ok("cometly", "configure", workspace, "--model", "first_touch", "--window", "lifetime", "--timezone", "UTC")
    ok("cometly", "select", workspace, "lead_generated")

    listed = json.loads(ok("cometly", "events", workspace, "--json"))

    def standard(name, seen=False, chosen=False):
        return {"event_name": name, "label": name, "kind": "standard", "seen": seen, "selected": chosen}

    assert listed == {
        "workspace_id": "h3-acme",
        "found_in_cometly": 3,
        "events": [
            standard(name, seen=name == "purchase", chosen=name == "lead_generated") for name in STANDARD
        ] + [
            {"event_name": "custom_event_3", "label": LABEL, "kind": "custom", "seen": True, "selected": False},
            {"event_name": "custom_event_7", "label": "Call; Scheduled", "kind": "custom", "seen": True,
             "selected": False},
        ],
    }
    assert wh.execute("select event_name, label from control.event_catalog order by event_name").fetchall() == [
        ("custom_event_3", LABEL), ("custom_event_7", "Call; Scheduled"), ("purchase", "purchase"),
    ]

    text = ok("cometly", "events", workspace)
    assert text.splitlines()[0].split() == ["EVENT", "LABEL", "TYPE", "IN", "LAST", "30", "DAYS", "SELECTED"]
    assert any(line.startswith("custom_event_3") and LABEL in line for line in text.splitlines())
    assert text.endswith("\n\nSelect by name or label: cometly-elt cometly select h3-acme EVENT...\n")

    # the labels now select
    assert ok("cometly", "select", workspace, "call; scheduled").startswith(
        "Selected for 'h3-acme': Call; Scheduled (custom_event_7).\n"
    )


def test_events_says_so_plainly_when_cometly_has_none(workspace, wh, fake_api):
    api = fake_api(_space([]), "--no-rate-limits")
    ok("cometly", "connect", workspace, "--api-key", "ck_h3_live", "--base-url", api.cometly_url)

    assert ok("cometly", "events", workspace) == NO_EVENTS + "\n"
    listed = json.loads(ok("cometly", "events", workspace, "--json"))
    assert (listed["found_in_cometly"], listed["message"]) == (0, NO_EVENTS)
    assert wh.execute("select count(*) from control.event_catalog").fetchone() == (0,)


def test_events_needs_a_cometly_connection(workspace, wh):
    result = cli("cometly", "events", workspace)

    assert (result.returncode, result.stderr) == (
        1, "cometly-elt: workspace 'h3-acme' is not connected to Cometly:"
           " run 'cometly-elt cometly connect h3-acme --api-key KEY'\n"
    )
