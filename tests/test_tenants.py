"""Tenants apart, and the read-only analyst role, after real syncs.

Two workspaces on one fake whose ids collide everywhere: both read the same Meta
ad account (same campaign, ad set and ad ids, same insights), and their Cometly
Spaces are copies of example.json's with the same event ids. Space "beta" differs
by one thing: it holds only contact 1, whose event 101 (purchase) is worth 200
instead of 89.5.

Expected marts, by hand (see tests/test_sync_e2e.py for the attribution of
example.json): h6a gets example.json's three ad-result rows; h6b one row,
2026-03-02, ad 4000000001, purchase, 1 result worth 200. Each workspace's
campaign rows are the ad account's insights once (a join across tenants would
double the spend): 2026-02-20 Leads Q1 30.00, 2026-03-01 Spring Sale 50.00,
2026-03-02 Spring Sale 45.50.
"""

from __future__ import annotations

import copy
import json
import os
from decimal import Decimal
from importlib import resources

import psycopg
import pytest
from psycopg import sql

from conftest import EXAMPLE_SCENARIO, FakeApi, cli, empty_warehouse, set_up_workspace
from helpers.expected_marts import (
    CAMPAIGN_SPEND,
    EXPECTED_AD_RESULTS,
    EXPECTED_CAMPAIGN_SPEND,
    ad_results,
    campaign_results,
)

# Tier (tests/conftest.py): `cometly-elt sync` runs the Sync Now DAG in-process.
pytestmark = pytest.mark.airflow

A, B = "h6a", "h6b"
BETA_KEY = "ck_beta_live"


def colliding_scenario(example: dict) -> dict:
    beta = copy.deepcopy(example["cometly"]["spaces"][0])
    beta["id"] = "space_beta"
    beta["api_keys"] = [{"key": BETA_KEY, "status": "active"}]
    beta["contacts"] = [c for c in beta["contacts"] if c["id"] == 1]
    beta["contacts"][0]["events"][0]["amount"] = 200
    scenario = copy.deepcopy(example)
    scenario["cometly"]["spaces"].append(beta)
    return scenario


def apply_analyst_migration(conn) -> None:
    """What set-up gave the marts schema: the `wh` fixture drops the schema (and its grants) between tests."""
    conn.execute(resources.files("cometly_elt.migrations").joinpath("004_analyst_role.sql").read_text())


@pytest.fixture(scope="module")
def tenants_wh(warehouse_url):
    """Like `wh`, for the whole module: the two syncs (minutes) run once for all its tests."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        empty_warehouse(conn)
        yield conn


@pytest.fixture(scope="module")
def two_tenants(tenants_wh, tmp_path_factory):
    apply_analyst_migration(tenants_wh)
    example = json.loads(EXAMPLE_SCENARIO.read_text())
    scenario = tmp_path_factory.mktemp("tenants") / "scenario.json"
    scenario.write_text(json.dumps(colliding_scenario(example)))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COMETLY_API_MINUTE_SECONDS", "0.1")
        api = FakeApi(scenario, ["--clock-speed", "600", "--no-rate-limits"], scenario.with_suffix(".log"))
        try:
            set_up_workspace(api, A)
            set_up_workspace(api, B, api_key=BETA_KEY, events=("purchase",))
            cli("sync", A)
            cli("sync", B)
            yield tenants_wh
        finally:
            api.stop()
            for ws in (A, B):
                cli("workspace", "remove", ws, "--yes", check=False)


def tenant_tables(conn) -> list[tuple[str, str]]:
    """Every table or view, in every schema, with a workspace_id column."""
    return conn.execute(
        "select table_schema, table_name from information_schema.columns"
        " where column_name = 'workspace_id' and table_schema not in ('pg_catalog', 'information_schema')"
        " order by 1, 2"
    ).fetchall()


def rows_of(conn, ws) -> dict[str, int]:
    counts = {}
    for schema, table in tenant_tables(conn):
        n = conn.execute(
            sql.SQL("select count(*) from {}.{} where workspace_id = %s").format(
                sql.Identifier(schema), sql.Identifier(table)), (ws,)
        ).fetchone()[0]
        if n:
            counts[f"{schema}.{table}"] = n
    return counts


def airflow_conn_ids(ws) -> list[str]:
    """The workspace's connections in Airflow's metadata database: its Cometly key and Meta token."""
    url = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("+psycopg2", "")
    with psycopg.connect(url) as conn:
        return [cid for (cid,) in conn.execute(
            "select conn_id from connection where conn_id = any(%s) order by 1",
            ([f"cometly_{ws}", f"meta_{ws}_1000000001"],),
        ).fetchall()]


def test_workspaces_with_colliding_ids_see_only_their_own_rows(two_tenants):
    wh = two_tenants
    assert ad_results(wh, A) == EXPECTED_AD_RESULTS
    assert ad_results(wh, B) == [
        ("2026-03-02", "1000000001", "2000000001", "3000000001", "4000000001", "purchase", "purchase", 1,
         Decimal("200")),
    ]
    assert campaign_results(wh, A, CAMPAIGN_SPEND) == EXPECTED_CAMPAIGN_SPEND
    assert campaign_results(wh, B, CAMPAIGN_SPEND) == EXPECTED_CAMPAIGN_SPEND
    assert wh.execute(
        "select workspace_id, campaign_id, campaign_name from marts.dim_campaigns"
        " where workspace_id in (%s, %s) order by 1, 2", (A, B)
    ).fetchall() == [
        (A, "2000000001", "Spring Sale"), (A, "2000000002", "Leads Q1"),
        (B, "2000000001", "Spring Sale"), (B, "2000000002", "Leads Q1"),
    ]


def test_analyst_reads_the_marts_and_nothing_else(two_tenants):
    with psycopg.connect(two_tenants.info.dsn, autocommit=True) as conn:
        conn.execute("set role analyst")
        for mart in ("fct_ad_results_daily", "fct_campaign_results_daily", "dim_campaigns"):
            assert conn.execute(
                sql.SQL("select count(*) from marts.{} where workspace_id = %s").format(sql.Identifier(mart)), (A,)
            ).fetchone()[0] > 0
        private = conn.execute(
            "select format('%I.%I', schemaname, tablename) from pg_tables"
            " where schemaname in ('raw_cometly', 'raw_meta', 'control')"
            " union all select format('%I.%I', schemaname, viewname) from pg_views"
            " where schemaname in ('staging', 'intermediate')"
            " union all select format('%I.%I', schemaname, tablename) from pg_tables"
            " where schemaname in ('staging', 'intermediate')"
        ).fetchall()
        assert {"raw_cometly.events", "raw_meta.ad_insights_daily", "control.workspaces"} <= {t for (t,) in private}
        assert any(t.startswith("staging.") for (t,) in private)
        assert any(t.startswith("intermediate.") for (t,) in private)
        for (table,) in private:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"select 1 from {table} limit 1")
        assert conn.execute(
            "select has_table_privilege('marts.fct_ad_results_daily', 'select'),"
            " has_table_privilege('marts.fct_ad_results_daily', 'delete'),"
            " has_schema_privilege('marts', 'create')"
        ).fetchone() == (True, False, False)


def test_workspace_remove_leaves_no_row_and_no_credential(two_tenants):
    wh = two_tenants
    assert rows_of(wh, A) and rows_of(wh, B)
    assert airflow_conn_ids(A) == [f"cometly_{A}", f"meta_{A}_1000000001"]
    before_b = rows_of(wh, B)

    cli("workspace", "remove", A, "--yes")

    assert rows_of(wh, A) == {}
    assert airflow_conn_ids(A) == []
    assert rows_of(wh, B) == before_b
    assert airflow_conn_ids(B) == [f"cometly_{B}", f"meta_{B}_1000000001"]
