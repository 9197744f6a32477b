"""The marts as a user reads them, and the rows worked out by hand that they must hold.

Each query takes the columns its test compares (a test states what it checks) and orders the rows the one
way every test relies on: by day, then ad and event, or campaign.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

AD_RESULTS = ("report_date::text", "ad_account_id", "campaign_id", "adset_id", "ad_id", "event_name", "event_label",
              "results", "result_value")

# fct_ad_results_daily (AD_RESULTS) for a workspace synced from tests/data/example.json with first_touch, lifetime
# window, America/New_York, events purchase, lead_generated and custom_event_3 ("Demo Booked"): the attribution is
# worked out event by event at the top of tests/test_sync_e2e.py.
EXPECTED_AD_RESULTS = [
    ("2026-03-02", "1000000001", "2000000001", "3000000001", "4000000001", "purchase", "purchase", 1, Decimal("89.5")),
    ("2026-03-02", "1000000001", "2000000002", "3000000002", "4000000002", "lead_generated", "lead_generated", 1,
     Decimal("0")),
    ("2026-03-04", "1000000001", "2000000002", "3000000002", "4000000002", "custom_event_3", "Demo Booked", 1,
     Decimal("0")),
]

CAMPAIGN_SPEND = ("report_date::text", "campaign_id", "campaign_name", "spend", "impressions", "clicks")

# fct_campaign_results_daily (CAMPAIGN_SPEND) for the same workspace: example.json's spend per campaign and day.
EXPECTED_CAMPAIGN_SPEND = [
    ("2026-02-20", "2000000002", "Leads Q1", Decimal("30.00"), 2500, 40),
    ("2026-03-01", "2000000001", "Spring Sale", Decimal("50.00"), 4000, 80),
    ("2026-03-02", "2000000001", "Spring Sale", Decimal("45.50"), 3900, 71),
]


def ad_results(wh, workspace_id: str, columns: Sequence[str] = AD_RESULTS) -> list[tuple]:
    """The workspace's rows of marts.fct_ad_results_daily, by day, ad and event."""
    return wh.execute(f"select {', '.join(columns)} from marts.fct_ad_results_daily where workspace_id = %s"
                      " order by report_date, ad_id, event_name", (workspace_id,)).fetchall()


def campaign_results(wh, workspace_id: str, columns: Sequence[str]) -> list[tuple]:
    """The workspace's rows of marts.fct_campaign_results_daily, by day and campaign."""
    return wh.execute(f"select {', '.join(columns)} from marts.fct_campaign_results_daily where workspace_id = %s"
                      " order by report_date, campaign_id", (workspace_id,)).fetchall()


def mart_tables(conn, tables: dict[str, str], *, every_column: bool = False,
                workspace_id: str | None = None) -> dict[str, list[tuple]]:
    """{table: its rows} for each marts table in `tables` (name: the columns compared, which also sort the rows;
    all of the table's columns if `every_column`), of one workspace if given, else of all."""
    where, params = ("where workspace_id = %s", (workspace_id,)) if workspace_id else ("", ())
    return {table: conn.execute(f"select {'*' if every_column else columns} from marts.{table} {where}"
                                f" order by {columns}", params).fetchall()
            for table, columns in tables.items()}
