"""`cometly-elt meta connect`, through the real CLI, the fake Meta API as a real process and PostgreSQL."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest

from airflow_stack import metadata_connection as airflow_db
from cometly_elt import credentials
from cometly_elt.control.meta_accounts import TimezoneMismatch, timezone_mismatches
from conftest import cli as checked_cli, free_port
from helpers.fake_admin import FakeAdmin

TREE = Path(__file__).parent / "data" / "meta_tree.json"
WS = "h2acme"
NY = "America/New_York"
CONN_IDS = ("meta_h2acme_1000000001", "meta_h2acme_5000000001", "meta_h2acme_5000000002", "meta_h2acme_5000000003")
HOW = ("create a new one (Meta Business Settings → System users → Generate token, or the Graph API Explorer),"
       " then run 'cometly-elt meta connect h2acme --ad-account {account} --access-token NEW_TOKEN'")


# These tests read the exit code and messages themselves.
cli = partial(checked_cli, check=False)




def stored_connections() -> list[tuple]:
    with airflow_db() as db:
        return db.execute("select conn_id, conn_type, host, password, is_encrypted, extra from connection"
                          " where conn_id like 'meta_h2acme_%' order by conn_id").fetchall()


@pytest.fixture
def workspace(wh):
    """Factory: the workspace h2acme with a timezone (or none); its Airflow connections are removed afterwards."""
    def add(timezone: str | None = NY) -> None:
        wh.execute("insert into control.workspaces (workspace_id, name, plan, history_start, timezone)"
                   " values (%s, 'Acme', 'pro', '2025-01-01', %s)", (WS, timezone))

    for conn_id in CONN_IDS:
        credentials.delete(conn_id)
    yield add
    for conn_id in CONN_IDS:
        credentials.delete(conn_id)


def warehouse_text(wh) -> str:
    """Every row of every warehouse table, as text."""
    tables = wh.execute("select format('%I.%I', schemaname, tablename) from pg_tables"
                        " where schemaname in ('control', 'raw_cometly', 'raw_meta')").fetchall()
    return "\n".join(str(wh.execute(f"select * from {t}").fetchall()) for (t,) in tables)


def test_connect_checks_the_token_then_stores_it_encrypted(fake_api, workspace, wh):
    api = fake_api()
    workspace()
    done = cli("meta", "connect", WS, "--ad-account", "act_1000000001", "--access-token", "EAAB_acme_valid",
               "--base-url", api.meta_url)

    assert done.returncode == 0, done.stderr
    assert done.stdout == ("Connected ad account act_1000000001 (Acme Ads) to workspace h2acme:"
                           " currency USD, timezone America/New_York.\n")
    assert done.stderr == ""  # same timezone as the workspace: no warning
    assert wh.execute("select workspace_id, ad_account_id, conn_id, base_url, name, currency, timezone_name"
                      " from control.meta_ad_accounts").fetchall() == [
        (WS, "1000000001", "meta_h2acme_1000000001", api.meta_url, "Acme Ads", "USD", NY)]
    [(conn_id, conn_type, host, password, is_encrypted, extra)] = stored_connections()
    assert (conn_id, conn_type, host, is_encrypted) == ("meta_h2acme_1000000001", "meta_ads", api.meta_url, True)
    assert "EAAB_acme_valid" not in password
    assert credentials.get(conn_id).password == "EAAB_acme_valid"
    assert "EAAB_acme_valid" not in extra and "EAAB_acme_valid" not in warehouse_text(wh)
    assert [c["endpoint"] for c in FakeAdmin(api).calls("meta")] == ["act"]


def test_several_accounts_and_a_warning_when_their_timezone_is_not_the_workspaces(fake_api, workspace, wh):
    api = fake_api(TREE)
    workspace()
    berlin = cli("meta", "connect", WS, "--ad-account", "act_5000000001", "--access-token", "EAAB_tree_valid",
                 "--base-url", api.meta_url + "/v25.0/")  # a pasted versioned URL is cut back to the host
    los_angeles = cli("meta", "connect", WS, "--ad-account", "act_5000000002", "--access-token", "EAAB_tree_valid",
                      "--base-url", api.meta_url, "--json")

    assert berlin.returncode == 0 and los_angeles.returncode == 0
    assert berlin.stderr == ("warning: ad account act_5000000001 reports in Europe/Berlin but the workspace uses"
                             " America/New_York: spend and results fall on different day boundaries\n")
    assert json.loads(los_angeles.stdout) == {
        "workspace_id": WS, "ad_account_id": "5000000002", "conn_id": "meta_h2acme_5000000002",
        "name": "Second Co", "currency": "USD", "timezone_name": "America/Los_Angeles",
        "timezone_warning": "ad account act_5000000002 reports in America/Los_Angeles but the workspace uses"
                            " America/New_York: spend and results fall on different day boundaries"}
    assert wh.execute("select ad_account_id, conn_id, base_url, timezone_name from control.meta_ad_accounts"
                      " order by 1").fetchall() == [
        ("5000000001", "meta_h2acme_5000000001", api.meta_url, "Europe/Berlin"),
        ("5000000002", "meta_h2acme_5000000002", api.meta_url, "America/Los_Angeles")]
    assert [c[0] for c in stored_connections()] == ["meta_h2acme_5000000001", "meta_h2acme_5000000002"]
    assert timezone_mismatches(wh, WS) == [
        TimezoneMismatch("5000000001", "Europe/Berlin", NY),
        TimezoneMismatch("5000000002", "America/Los_Angeles", NY)]


def test_no_warning_while_the_workspace_has_no_timezone(fake_api, workspace, wh):
    api = fake_api(TREE)
    workspace(timezone=None)
    done = cli("meta", "connect", WS, "--ad-account", "act_5000000001", "--access-token", "EAAB_tree_valid",
               "--base-url", api.meta_url)
    assert done.returncode == 0 and done.stderr == ""
    assert timezone_mismatches(wh, WS) == []


def test_connecting_again_replaces_the_token(fake_api, workspace, wh):
    api = fake_api(TREE)
    workspace()
    for token in ("EAAB_tree_invalidated", "EAAB_tree_valid"):
        cli("meta", "connect", WS, "--ad-account", "act_5000000001", "--access-token", token,
            "--base-url", api.meta_url)
    assert credentials.get("meta_h2acme_5000000001").password == "EAAB_tree_valid"
    assert wh.execute("select count(*) from control.meta_ad_accounts").fetchone() == (1,)


@pytest.mark.parametrize("account", ["1000000001", "act_12ab", "act_1 OR 1=1"])
def test_a_malformed_account_id_is_refused_before_any_call(fake_api, workspace, wh, account):
    api = fake_api()
    workspace()
    refused = cli("meta", "connect", WS, "--ad-account", account, "--access-token", "EAAB_acme_valid",
                  "--base-url", api.meta_url)
    assert refused.returncode == 1
    assert refused.stderr == (f"cometly-elt: '{account}' is not an ad account id: use act_ followed by the account's"
                              " digits, e.g. act_1234567890 (Ads Manager shows it in the URL as act=1234567890)\n")
    assert FakeAdmin(api).calls("meta") == []
    assert wh.execute("select count(*) from control.meta_ad_accounts").fetchone() == (0,)
    assert stored_connections() == []


@pytest.mark.parametrize("account, token, message", [
    ("act_1000000001", "EAAB_acme_expired",
     "the Meta access token has expired (error 190/463): " + HOW.format(account="act_1000000001")),
    ("act_5000000001", "EAAB_tree_invalidated",
     "the Meta access token was invalidated (password change or security reset) (error 190/460): "
     + HOW.format(account="act_5000000001")),
    ("act_5000000003", "EAAB_tree_valid",
     "the Meta access token cannot read ad account act_5000000003 (error 200): give the token's system user access"
     " to the ad account in Meta Business Settings, or connect a token that can read it"),
], ids=["expired", "invalidated", "permission"])
def test_a_token_meta_refuses_is_not_stored(fake_api, workspace, wh, account, token, message):
    scenario = json.loads(TREE.read_text())
    scenario["meta"]["access_tokens"].append({"token": "EAAB_acme_expired", "status": "expired",
                                             "ad_accounts": ["act_1000000001"]})
    api = fake_api(scenario)
    workspace()
    refused = cli("meta", "connect", WS, "--ad-account", account, "--access-token", token,
                  "--base-url", api.meta_url)
    assert refused.returncode == 1
    assert refused.stderr == f"cometly-elt: {message}\n"
    assert token not in refused.stdout + refused.stderr
    assert wh.execute("select count(*) from control.meta_ad_accounts").fetchone() == (0,)
    assert stored_connections() == []


def test_an_unknown_workspace_is_refused_before_any_call(fake_api, workspace, wh):
    api = fake_api()
    refused = cli("meta", "connect", "nope", "--ad-account", "act_1000000001", "--access-token", "EAAB_acme_valid",
                  "--base-url", api.meta_url)
    assert refused.returncode == 1
    assert refused.stderr == "cometly-elt: no workspace 'nope': see 'cometly-elt workspace list'\n"
    assert FakeAdmin(api).calls("meta") == []


def test_an_unreachable_base_url_is_one_line_and_stores_nothing(workspace, wh):
    workspace()
    url = f"http://127.0.0.1:{free_port()}"
    refused = cli("meta", "connect", WS, "--ad-account", "act_1000000001", "--access-token", "EAAB_acme_valid",
                  "--base-url", url)
    assert (refused.returncode, refused.stdout) == (1, "")
    # The retries' log records come first on stderr (logs go there); the error is the one line after them.
    *logged, error = refused.stderr.splitlines()
    assert error == f"cometly-elt: no answer from Meta at {url} (ConnectionError)"
    assert all("[warning" in line and "retry" in line for line in logged), logged
    assert wh.execute("select count(*) from control.meta_ad_accounts").fetchone() == (0,)
    assert stored_connections() == []


def test_a_base_url_that_is_not_http_is_refused(workspace):
    workspace()
    refused = cli("meta", "connect", WS, "--ad-account", "act_1000000001", "--access-token", "EAAB_acme_valid",
                  "--base-url", "graph.facebook.com")
    assert refused.returncode == 1
    assert refused.stderr == ("cometly-elt: base URL 'graph.facebook.com' is not an http(s) URL: leave --base-url"
                              " out to use https://graph.facebook.com\n")
