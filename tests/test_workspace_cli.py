"""`cometly-elt workspace add / pause / resume / list / remove`, through the real CLI and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from functools import partial

import pytest

from airflow_stack import metadata_connection as airflow_db
from conftest import cli as checked_cli

# Labels people type: quotes, a semicolon, SQL, non-Latin scripts; stored and shown verbatim.
NASTY_NAME = "O'Brien \"Shop\"; drop table control.workspaces; -- Ünïcødé 店舗 🚀"


# These tests read the exit code and messages themselves.
cli = partial(checked_cli, check=False)




def test_add_stores_the_workspace_and_list_shows_its_name_verbatim(wh):
    added = cli("workspace", "add", "h3-acme", "--name", NASTY_NAME, "--plan", "pro", "--history-start", "2025-01-15")

    assert added.returncode == 0, added.stderr
    assert added.stdout == (
        "Workspace 'h3-acme' added: pro plan (syncs every 3 h), history from 2025-01-15.\n"
        "Next: cometly-elt cometly connect h3-acme --api-key KEY\n"
    )
    assert wh.execute(
        "select workspace_id, name, plan, subscription_status, history_start, timezone from control.workspaces"
    ).fetchall() == [("h3-acme", NASTY_NAME, "pro", "active", date(2025, 1, 15), None)]

    listed = cli("workspace", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == [
        {
            "workspace_id": "h3-acme",
            "name": NASTY_NAME,
            "plan": "pro",
            "subscription_status": "active",
            "history_start": "2025-01-15",
            "timezone": None,
            "cometly_connected": False,
            "last_synced_at": None,
        }
    ]
    text = cli("workspace", "list").stdout.splitlines()
    assert text[0].split() == ["ID", "NAME", "PLAN", "SUBSCRIPTION", "HISTORY", "FROM", "COMETLY", "LAST", "SYNCED"]
    assert text[2].startswith(f"h3-acme  {NASTY_NAME}  pro ")
    assert text[2].endswith("active        2025-01-15    not connected  never")


def test_history_start_defaults_to_365_days_ago(wh):
    assert cli("workspace", "add", "h3-acme", "--name", "Acme", "--plan", "hobby").returncode == 0

    expected = datetime.now(timezone.utc).date() - timedelta(days=365)
    assert wh.execute("select history_start from control.workspaces").fetchone() == (expected,)


def test_rerunning_add_changes_nothing_and_other_settings_are_refused(wh):
    args = ["workspace", "add", "h3-acme", "--name", "Acme", "--plan", "ultra", "--history-start", "2026-01-01"]
    assert cli(*args).returncode == 0

    again = cli(*args)
    assert (again.returncode, again.stdout) == (
        0, "Workspace 'h3-acme' already exists with these settings: nothing changed.\n")

    other = cli("workspace", "add", "h3-acme", "--name", "Acme", "--plan", "hobby", "--history-start", "2026-01-01")
    assert other.returncode == 1
    assert other.stderr == (
        "cometly-elt: workspace 'h3-acme' already exists as 'Acme' (ultra plan, history from 2026-01-01):"
        " choose another ID, or remove it first\n"
    )
    assert wh.execute("select name, plan, history_start from control.workspaces").fetchall() == [
        ("Acme", "ultra", date(2026, 1, 1))
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["h3-acme", "--name", "Acme", "--plan", "enterprise"],
         "plan 'enterprise' does not exist: use hobby, pro or ultra"),
        (["h3-acme", "--name", "Acme", "--plan", "pro", "--history-start", "2025-02-30"],
         "history start '2025-02-30' is not a date: use YYYY-MM-DD"),
        (["h3-acme", "--name", "Acme", "--plan", "pro", "--history-start", "15/01/2025"],
         "history start '15/01/2025' is not a date: use YYYY-MM-DD"),
        (["h3-acme", "--name", "Acme", "--plan", "pro", "--history-start", "2999-01-01"],
         "history start 2999-01-01 is in the future: give a past date"),
        (["acme corp", "--name", "Acme", "--plan", "pro"],
         "workspace ID 'acme corp' is not allowed: use up to 63 letters, digits, '-' or '_',"
         " starting with a letter or digit"),
        (["h3-acme", "--name", "  ", "--plan", "pro"], "workspace name is empty: give one with --name"),
    ],
)
def test_add_refuses_bad_input_with_one_line_and_stores_nothing(wh, args, message):
    result = cli("workspace", "add", *args)

    assert (result.returncode, result.stdout, result.stderr) == (1, "", f"cometly-elt: {message}\n")
    assert wh.execute("select count(*) from control.workspaces").fetchone() == (0,)


def test_pause_and_resume_switch_the_subscription(wh):
    cli("workspace", "add", "h3-acme", "--name", "Acme", "--plan", "hobby")

    paused = cli("workspace", "pause", "h3-acme")
    assert (paused.returncode, paused.stdout) == (
        0, "Workspace 'h3-acme' paused: no syncs run until 'cometly-elt workspace resume h3-acme'.\n"
    )
    assert wh.execute("select subscription_status from control.workspaces").fetchone() == ("paused",)
    assert cli("workspace", "pause", "h3-acme").stdout == (
        "Workspace 'h3-acme' was already paused: no syncs run until 'cometly-elt workspace resume h3-acme'.\n"
    )

    resumed = cli("workspace", "resume", "h3-acme")
    assert (resumed.returncode, resumed.stdout) == (
        0, "Workspace 'h3-acme' active: syncs run every 6 h (hobby plan).\n")
    assert wh.execute("select subscription_status from control.workspaces").fetchone() == ("active",)


@pytest.mark.parametrize("action", [["pause"], ["resume"], ["remove", "--yes"]])
def test_unknown_workspace_is_named(wh, action):
    result = cli("workspace", action[0], "h3-nope", *action[1:])

    assert (result.returncode, result.stderr) == (
        1, "cometly-elt: no workspace 'h3-nope': see 'cometly-elt workspace list'\n")


def test_list_without_workspaces_says_how_to_add_one(wh):
    assert cli("workspace", "list").stdout == (
        "No workspaces yet: add one with 'cometly-elt workspace add ID --name NAME --plan pro'.\n"
    )
    assert json.loads(cli("workspace", "list", "--json").stdout) == []


def test_remove_without_yes_refuses_and_keeps_everything(wh):
    cli("workspace", "add", "h3-acme", "--name", "Acme", "--plan", "pro")

    result = cli("workspace", "remove", "h3-acme")

    assert (result.returncode, result.stderr) == (
        1,
        "cometly-elt: removing workspace 'h3-acme' deletes its settings, stored credentials and all its data:"
        " add --yes to confirm\n",
    )
    assert wh.execute("select workspace_id from control.workspaces").fetchall() == [("h3-acme",)]


FILLED_TABLES = {
    "control.workspaces", "control.cometly_connections", "control.attribution_versions", "control.event_catalog",
    "control.selected_events", "control.meta_ad_accounts", "control.result_metrics", "control.sync_state",
    "raw_cometly.events", "raw_cometly.load_batches", "raw_cometly.rejected_rows",
    "raw_meta.ad_accounts", "raw_meta.campaigns", "raw_meta.adsets", "raw_meta.ads", "raw_meta.ad_insights_daily",
    "raw_meta.load_batches", "raw_meta.rejected_rows",
    "staging.stg_events", "intermediate.int_results", "marts.fct_ad_results_daily",
}


def _fill_workspace(wh, workspace_id: str) -> None:
    """A row of the workspace in every table that holds tenant rows, and its credentials."""
    from cometly_elt import credentials

    assert cli("workspace", "add", workspace_id, "--name", workspace_id, "--plan", "pro").returncode == 0
    w = workspace_id
    statements = [
        ("insert into control.cometly_connections values (%s, %s, 'http://x')", (w, f"cometly_{w}")),
        ("insert into control.attribution_versions (workspace_id, version, model, window_days, state)"
         " values (%s, 1, 'first_touch', 0, 'active')", (w,)),
        ("insert into control.event_catalog (workspace_id, event_name, label)"
         " values (%s, 'custom_event_3', 'Demo')", (w,)),
        ("insert into control.selected_events (workspace_id, event_name) values (%s, 'purchase')", (w,)),
        ("insert into control.meta_ad_accounts (workspace_id, ad_account_id, conn_id, base_url)"
         " values (%s, '111', %s, 'http://x'), (%s, '222', %s, 'http://x')", (w, f"meta_{w}_111", w, f"meta_{w}_222")),
        ("insert into control.result_metrics (workspace_id, campaign_id, event_name)"
         " values (%s, 'c1', 'purchase')", (w,)),
        ("insert into control.sync_state (workspace_id, last_error) values (%s, 'boom')", (w,)),
        ("insert into raw_cometly.events (workspace_id, settings_version, event_id, event_name, event_time_utc,"
         " batch_id) values (%s, 1, '101', 'purchase', '2026-03-03T03:30:00Z', 1)", (w,)),
        ("insert into raw_cometly.load_batches (workspace_id, settings_version, method, window_start_utc,"
         " window_end_utc, event_names, received, loaded, rejected, api_calls, duration_ms)"
         " values (%s, 1, 'list', '2026-03-01Z', '2026-03-02Z', '{purchase}', 2, 1, 1, 1, 5)", (w,)),
        ("insert into raw_cometly.rejected_rows (batch_id, workspace_id, reason, payload)"
         " values (1, %s, 'no id', '{}')", (w,)),
        ("insert into raw_meta.ad_accounts (workspace_id, ad_account_id, timezone_name, batch_id)"
         " values (%s, '111', 'UTC', 1)", (w,)),
        ("insert into raw_meta.campaigns (workspace_id, ad_account_id, campaign_id, batch_id)"
         " values (%s, '111', 'c1', 1)", (w,)),
        ("insert into raw_meta.adsets (workspace_id, ad_account_id, campaign_id, adset_id, batch_id)"
         " values (%s, '111', 'c1', 's1', 1)", (w,)),
        ("insert into raw_meta.ads (workspace_id, ad_account_id, campaign_id, adset_id, ad_id, batch_id)"
         " values (%s, '111', 'c1', 's1', 'a1', 1)", (w,)),
        ("insert into raw_meta.ad_insights_daily (workspace_id, ad_account_id, ad_id, date_start, account_timezone,"
         " batch_id) values (%s, '111', 'a1', '2026-03-01', 'UTC', 1)", (w,)),
        ("insert into raw_meta.load_batches (workspace_id, ad_account_id, entity, method, received, loaded, rejected,"
         " api_calls, duration_ms) values (%s, '111', 'ads', 'sync', 1, 1, 0, 1, 5)", (w,)),
        ("insert into raw_meta.rejected_rows (batch_id, workspace_id, reason, payload)"
         " values (1, %s, 'bad', '{}')", (w,)),
        ("insert into staging.stg_events (workspace_id) values (%s)", (w,)),
        ("insert into intermediate.int_results (workspace_id) values (%s)", (w,)),
        ("insert into marts.fct_ad_results_daily (workspace_id, results) values (%s, 3)", (w,)),
    ]
    for statement, params in statements:
        wh.execute(statement, params)
    credentials.store(f"cometly_{w}", conn_type="cometly", host="http://x", password=f"ck_{w}_secret")
    for account in ("111", "222"):
        credentials.store(f"meta_{w}_{account}", conn_type="meta_ads", host="http://x", password=f"EAAB_{w}")


def _rows_per_table(wh, workspace_id: str) -> dict[str, int]:
    tables = wh.execute(
        "select c.table_schema, c.table_name from information_schema.columns c"
        " join information_schema.tables t using (table_schema, table_name)"
        " where c.column_name = 'workspace_id' and t.table_type = 'BASE TABLE'"
        " and c.table_schema in ('control', 'raw_cometly', 'raw_meta', 'staging', 'intermediate', 'marts')"
    ).fetchall()
    return {
        f"{s}.{t}": wh.execute(f'select count(*) from "{s}"."{t}" where workspace_id = %s',
                               (workspace_id,)).fetchone()[0]
        for s, t in tables
    }


def _stored_connections(workspace_ids: list[str]) -> list[str]:
    with airflow_db() as conn:
        return [c for (c,) in conn.execute(
            "select conn_id from connection where conn_id = any(%s) order by conn_id",
            ([f"{p}_{w}{s}" for w in workspace_ids for p, s in (("cometly", ""), ("meta", "_111"), ("meta", "_222"))],),
        )]


def test_remove_deletes_every_row_and_credential_of_the_workspace_only(wh):
    # dbt's schemas, as dbt would leave them: tables with workspace_id, and a view that must not trip remove
    wh.execute("create schema staging; create table staging.stg_events (workspace_id text)")
    wh.execute("create schema intermediate; create table intermediate.int_results (workspace_id text)")
    wh.execute("create schema marts; create table marts.fct_ad_results_daily (workspace_id text, results int)")
    wh.execute("create view marts.v_results as select * from marts.fct_ad_results_daily")
    _fill_workspace(wh, "h3-gone")
    _fill_workspace(wh, "h3-kept")
    assert _stored_connections(["h3-gone", "h3-kept"]) == [
        "cometly_h3-gone", "cometly_h3-kept", "meta_h3-gone_111", "meta_h3-gone_222", "meta_h3-kept_111",
        "meta_h3-kept_222",
    ]
    kept_before = _rows_per_table(wh, "h3-kept")

    result = cli("workspace", "remove", "h3-gone", "--yes")

    assert result.returncode == 0, result.stderr
    # 1 workspace + 1 connection + 1 version + 1 catalog + 1 selected + 2 meta accounts + 1 result metric + 1 sync state
    # + 3 raw_cometly + 7 raw_meta + 3 dbt = 22
    assert result.stdout == "Workspace 'h3-gone' removed: 22 rows and 3 stored credentials deleted.\n"
    assert set(_rows_per_table(wh, "h3-gone").values()) == {0}
    assert _rows_per_table(wh, "h3-kept") == kept_before
    assert {table for table, rows in kept_before.items() if rows} == FILLED_TABLES  # the bystander's rows
    assert _stored_connections(["h3-gone", "h3-kept"]) == ["cometly_h3-kept", "meta_h3-kept_111", "meta_h3-kept_222"]

    again = cli("workspace", "remove", "h3-gone", "--yes")
    assert (again.returncode, again.stderr) == (
        1, "cometly-elt: no workspace 'h3-gone': see 'cometly-elt workspace list'\n")
    remove_kept = cli("workspace", "remove", "h3-kept", "--yes")
    assert remove_kept.returncode == 0, remove_kept.stderr
    assert _stored_connections(["h3-kept"]) == []
