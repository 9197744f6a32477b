"""Extracting Meta ad accounts into raw_meta, against the fake Meta API as a real process and a real PostgreSQL.

Expected rows are worked out by hand from tests/data/example.json and
tests/data/meta_tree.json.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta

from cometly_elt import credentials
from cometly_elt.hooks.meta import MetaAdsHook, MetaTokenError
from cometly_elt.meta.extract import ExtractResult, extract_account
from helpers.fake_admin import FakeAdmin

TREE = Path(__file__).parent / "data" / "meta_tree.json"
WS = "h2acme"
NY, BERLIN = "America/New_York", "Europe/Berlin"

EXAMPLE_CAMPAIGNS = [
    ("2000000001", "Spring Sale", "ACTIVE", "ACTIVE", "OUTCOME_SALES", datetime(2026, 2, 1, 14, tzinfo=timezone.utc)),
    ("2000000002", "Leads Q1", "PAUSED", "PAUSED", "OUTCOME_LEADS", datetime(2026, 1, 15, 14, tzinfo=timezone.utc)),
]
EXAMPLE_ADSETS = [
    ("2000000001", "3000000001", "Lookalike US", "ACTIVE", "ACTIVE"),
    ("2000000002", "3000000002", "Broad", "ACTIVE", "CAMPAIGN_PAUSED"),
]
EXAMPLE_ADS = [
    ("2000000001", "3000000001", "4000000001", "Carousel A", "ACTIVE", "ACTIVE"),
    ("2000000002", "3000000002", "4000000002", "Video B", "ACTIVE", "CAMPAIGN_PAUSED"),
]
EXAMPLE_INSIGHTS = [
    ("2000000002", "3000000002", "4000000002", date(2026, 2, 20), Decimal("30.00"), 2500, 40, NY),
    ("2000000001", "3000000001", "4000000001", date(2026, 3, 1), Decimal("50.00"), 4000, 80, NY),
    ("2000000001", "3000000001", "4000000001", date(2026, 3, 2), Decimal("45.50"), 3900, 71, NY),
]

# tests/data/meta_tree.json: every object, whatever its status.
TREE_CAMPAIGNS = [
    ("120200000000000100", "Live", "ACTIVE", "ACTIVE"),
    ("120200000000000200", "Paused campaign", "PAUSED", "PAUSED"),
    ("120200000000000300", "Archived campaign", "ARCHIVED", "ARCHIVED"),
    ("120200000000000400", "Deleted campaign", "DELETED", "DELETED"),
]
TREE_ADSETS = [
    ("120200000000000110", "Live set", "ACTIVE", "ACTIVE"),
    ("120200000000000120", "Paused set", "PAUSED", "PAUSED"),
    ("120200000000000210", "Set of paused campaign", "ACTIVE", "CAMPAIGN_PAUSED"),
    ("120200000000000310", "Set of archived campaign", "ACTIVE", "ARCHIVED"),
    ("120200000000000410", "Set of deleted campaign", "ACTIVE", "DELETED"),
]
TREE_ADS = [
    ("120200000000000111", "live ad", "ACTIVE", "ACTIVE"),
    ("120200000000000112", "paused ad", "PAUSED", "PAUSED"),
    ("120200000000000113", "archived ad", "ARCHIVED", "ARCHIVED"),
    ("120200000000000114", "deleted ad", "DELETED", "DELETED"),
    ("120200000000000121", "ad in paused set", "ACTIVE", "ADSET_PAUSED"),
    ("120200000000000211", "ad of paused campaign", "ACTIVE", "CAMPAIGN_PAUSED"),
    ("120200000000000311", "ad of archived campaign", "ACTIVE", "ARCHIVED"),
    ("120200000000000411", "ad of deleted campaign", "ACTIVE", "DELETED"),
]
TREE_INSIGHTS = [
    ("120200000000000111", date(2026, 10, 1), Decimal("10.00"), 100, 5),
    ("120200000000000114", date(2026, 10, 1), Decimal("2.50"), 20, 1),
    ("120200000000000111", date(2026, 10, 2), Decimal("12.25"), 130, 7),
    ("120200000000000311", date(2026, 10, 2), Decimal("1.25"), 10, 0),
    ("120200000000000411", date(2026, 10, 3), Decimal("4.00"), 40, 2),
]


@pytest.fixture
def account(wh):
    """Factory: the workspace, a stored connection for `token` on `api`, and its control row; returns a hook."""
    conn_ids = []
    wh.execute("insert into control.workspaces (workspace_id, name, plan, history_start, timezone)"
               " values (%s, 'Acme', 'pro', '2025-01-01', %s)", (WS, NY))

    def connect(api, ad_account: str, token: str, **extra) -> MetaAdsHook:
        conn_id = f"h2_meta_extract_{uuid.uuid4().hex[:10]}"
        credentials.store(conn_id, conn_type="meta_ads", host=api.meta_url, password=token,
                          extra={"max_wait_seconds": 0.01, **extra})
        conn_ids.append(conn_id)
        wh.execute("insert into control.meta_ad_accounts (workspace_id, ad_account_id, conn_id, base_url)"
                   " values (%s, %s, %s, %s) on conflict (workspace_id, ad_account_id) do update"
                   " set conn_id = excluded.conn_id", (WS, ad_account, conn_id, api.meta_url))
        return MetaAdsHook(conn_id)

    yield connect
    for conn_id in conn_ids:
        credentials.delete(conn_id)


def rows(wh, query: str) -> list[tuple]:
    return wh.execute(query).fetchall()


def tree_tables(wh) -> dict[str, list[tuple]]:
    return {
        "campaigns": rows(wh, "select campaign_id, name, status, effective_status from raw_meta.campaigns"
                              " order by campaign_id"),
        "adsets": rows(wh, "select adset_id, name, status, effective_status from raw_meta.adsets order by adset_id"),
        "ads": rows(wh, "select ad_id, name, status, effective_status from raw_meta.ads order by ad_id"),
    }


def tree_insights(wh) -> list[tuple]:
    return rows(wh, "select ad_id, date_start, spend, impressions, clicks from raw_meta.ad_insights_daily"
                    " order by date_start, ad_id")


def all_raw_meta(wh) -> dict[str, list[tuple]]:
    """Every raw_meta data table without its bookkeeping columns (batch_id, extracted_at)."""
    tables = {}
    for table in ("ad_accounts", "campaigns", "adsets", "ads", "ad_insights_daily"):
        columns = [c for (c,) in wh.execute(
            "select column_name from information_schema.columns where table_schema = 'raw_meta'"
            " and table_name = %s and column_name not in ('batch_id', 'extracted_at') order by ordinal_position",
            (table,))]
        tables[table] = rows(wh, f"select {', '.join(columns)} from raw_meta.{table} order by 1, 2, 3, 4, 5")
    return tables


def batches(wh) -> list[tuple]:
    return rows(wh, "select entity, since_date, until_date, method, received, loaded, rejected, api_calls"
                    " from raw_meta.load_batches order by batch_id")


# ---------------------------------------------------------------- the example

def test_example_tree_and_insights_equal_the_hand_written_expectation(fake_api, account, wh):
    api = fake_api()
    hook = account(api, "1000000001", "EAAB_acme_valid")
    result = extract_account(wh, hook, workspace_id=WS, ad_account_id="1000000001",
                             since=date(2026, 2, 15), until=date(2026, 3, 15))

    assert result == ExtractResult(
        ad_account_id="1000000001", name="Acme Ads", currency="USD", timezone_name=NY,
        insights_since="2026-02-15", insights_until="2026-03-15", campaigns=2, adsets=2, ads=2, insight_rows=3,
        rejected=0, api_calls=5)
    assert rows(wh, "select workspace_id, ad_account_id, name, currency, timezone_name, account_status"
                    " from raw_meta.ad_accounts") == [(WS, "1000000001", "Acme Ads", "USD", NY, 1)]
    assert rows(wh, "select campaign_id, name, status, effective_status, objective, created_time"
                    " from raw_meta.campaigns order by 1") == EXAMPLE_CAMPAIGNS
    assert rows(wh, "select campaign_id, adset_id, name, status, effective_status from raw_meta.adsets"
                    " order by 2") == EXAMPLE_ADSETS
    assert rows(wh, "select campaign_id, adset_id, ad_id, name, status, effective_status from raw_meta.ads"
                    " order by 3") == EXAMPLE_ADS
    assert rows(wh, "select campaign_id, adset_id, ad_id, date_start, spend, impressions, clicks, account_timezone"
                    " from raw_meta.ad_insights_daily order by date_start") == EXAMPLE_INSIGHTS
    assert rows(wh, "select distinct workspace_id, ad_account_id from raw_meta.campaigns") == [(WS, "1000000001")]
    assert rows(wh, "select name, currency, timezone_name from control.meta_ad_accounts") == [("Acme Ads", "USD", NY)]
    assert batches(wh) == [
        ("ad_accounts", None, None, "sync", 1, 1, 0, 1),
        ("ad_insights_daily", date(2026, 2, 15), date(2026, 3, 15), "sync", 3, 3, 0, 1),
        ("ads", None, None, "sync", 2, 2, 0, 1),
        ("adsets", None, None, "sync", 2, 2, 0, 1),
        ("campaigns", None, None, "sync", 2, 2, 0, 1),
    ]


def test_paging_with_a_page_size_of_1_gives_the_same_tables(fake_api, account, wh):
    hook = account(fake_api(), "1000000001", "EAAB_acme_valid", page_size=1)
    extract_account(wh, hook, workspace_id=WS, ad_account_id="act_1000000001",
                    since=date(2026, 2, 15), until=date(2026, 3, 15))
    assert rows(wh, "select campaign_id, adset_id, ad_id, date_start, spend, impressions, clicks, account_timezone"
                    " from raw_meta.ad_insights_daily order by date_start") == EXAMPLE_INSIGHTS
    assert len(rows(wh, "select * from raw_meta.ads")) == 2
    # One page per item.
    assert [(b[0], b[4], b[7]) for b in batches(wh)] == [
        ("ad_accounts", 1, 1), ("ad_insights_daily", 3, 3), ("ads", 2, 2), ("adsets", 2, 2), ("campaigns", 2, 2)]


def test_rerunning_a_range_leaves_identical_tables(fake_api, account, wh):
    hook = account(fake_api(), "1000000001", "EAAB_acme_valid")
    kwargs = {"workspace_id": WS, "ad_account_id": "1000000001", "since": date(2026, 2, 15), "until": date(2026, 3, 15)}
    extract_account(wh, hook, **kwargs)
    first = all_raw_meta(wh)
    extract_account(wh, hook, **kwargs)
    assert all_raw_meta(wh) == first
    assert len(first["ad_insights_daily"]) == 3
    assert len(batches(wh)) == 10  # each run is accounted for


# ---------------------------------------------------------------- paused, archived, deleted

def test_paused_archived_and_deleted_objects_and_their_delivery_are_extracted(fake_api, account, wh):
    hook = account(fake_api(TREE), "5000000001", "EAAB_tree_valid")
    result = extract_account(wh, hook, workspace_id=WS, ad_account_id="5000000001",
                             since=date(2026, 10, 1), until=date(2026, 10, 3))
    assert tree_tables(wh) == {"campaigns": TREE_CAMPAIGNS, "adsets": TREE_ADSETS, "ads": TREE_ADS}
    assert tree_insights(wh) == TREE_INSIGHTS
    assert rows(wh, "select distinct account_timezone from raw_meta.ad_insights_daily") == [(BERLIN,)]
    assert (result.campaigns, result.adsets, result.ads, result.insight_rows) == (4, 5, 8, 5)


def test_deleted_objects_the_edges_do_not_list_are_read_by_id(fake_api, account, wh):
    api = fake_api(TREE)
    FakeAdmin(api).meta_settings(deleted_in_edges=False)
    hook = account(api, "5000000001", "EAAB_tree_valid")
    extract_account(wh, hook, workspace_id=WS, ad_account_id="5000000001",
                    since=date(2026, 10, 1), until=date(2026, 10, 3))
    # The deleted ad without delivery (none here) would be missing; those with delivery are not.
    assert tree_tables(wh) == {"campaigns": TREE_CAMPAIGNS, "adsets": TREE_ADSETS, "ads": TREE_ADS}
    assert sorted(c["path"] for c in FakeAdmin(api).calls("meta") if c["endpoint"] == "{id}") == [
        "/v25.0/120200000000000114/", "/v25.0/120200000000000400/", "/v25.0/120200000000000410/",
        "/v25.0/120200000000000411/"]


def test_a_rerun_replaces_what_meta_restated_renamed_or_removed(fake_api, account, wh):
    kwargs = {"workspace_id": WS, "ad_account_id": "5000000001", "since": date(2026, 10, 1), "until": date(2026, 10, 3)}
    extract_account(wh, account(fake_api(TREE), "5000000001", "EAAB_tree_valid"), **kwargs)

    restated = json.loads(TREE.read_text())
    acct = restated["meta"]["ad_accounts"][0]
    acct["campaigns"][0]["name"] = "Live (renamed)"
    del acct["campaigns"][0]["adsets"][0]["ads"][1]  # the paused ad is gone
    acct["insights"][1]["spend"] = "11.00"  # 111 on 10-02 restated
    del acct["insights"][3]  # 311 on 10-02 withdrawn
    extract_account(wh, account(fake_api(restated), "5000000001", "EAAB_tree_valid"), **kwargs)

    assert tree_tables(wh)["campaigns"][0] == ("120200000000000100", "Live (renamed)", "ACTIVE", "ACTIVE")
    assert [a[0] for a in tree_tables(wh)["ads"]] == [a[0] for a in TREE_ADS if a[0] != "120200000000000112"]
    assert tree_insights(wh) == [
        ("120200000000000111", date(2026, 10, 1), Decimal("10.00"), 100, 5),
        ("120200000000000114", date(2026, 10, 1), Decimal("2.50"), 20, 1),
        ("120200000000000111", date(2026, 10, 2), Decimal("11.00"), 130, 7),
        ("120200000000000411", date(2026, 10, 3), Decimal("4.00"), 40, 2),
    ]


def test_another_workspace_and_ranges_outside_the_rerun_are_untouched(fake_api, account, wh):
    api = fake_api(TREE)
    hook = account(api, "5000000001", "EAAB_tree_valid")
    extract_account(wh, hook, workspace_id=WS, ad_account_id="5000000001",
                    since=date(2026, 10, 1), until=date(2026, 10, 3))
    wh.execute("insert into control.workspaces (workspace_id, name, plan, history_start) values"
               " ('h2other', 'Other', 'pro', '2025-01-01')")
    extract_account(wh, hook, workspace_id="h2other", ad_account_id="5000000001",
                    since=date(2026, 10, 2), until=date(2026, 10, 2))
    extract_account(wh, hook, workspace_id=WS, ad_account_id="5000000001",
                    since=date(2026, 10, 3), until=date(2026, 10, 3))
    assert rows(wh, "select ad_id, date_start, spend, impressions, clicks from raw_meta.ad_insights_daily"
                    " where workspace_id = 'h2acme' order by date_start, ad_id") == TREE_INSIGHTS
    assert rows(wh, "select ad_id, date_start from raw_meta.ad_insights_daily where workspace_id = 'h2other'"
                    " order by ad_id") == [("120200000000000111", date(2026, 10, 2)),
                                           ("120200000000000311", date(2026, 10, 2))]


# ---------------------------------------------------------------- date ranges

def test_dates_older_than_37_months_or_in_the_future_are_never_asked_for(fake_api, account, wh):
    api = fake_api()
    hook = account(api, "1000000001", "EAAB_acme_valid")
    result = extract_account(wh, hook, workspace_id=WS, ad_account_id="1000000001",
                             since=date(2020, 1, 1), until=date(2031, 1, 1))
    today = datetime.now(ZoneInfo(NY)).date()
    earliest = today - relativedelta(months=37) + timedelta(days=1)
    insight_batches = [b for b in batches(wh) if b[0] == "ad_insights_daily"]
    assert insight_batches[0][1] == earliest and insight_batches[-1][2] == today
    assert (result.insights_since, result.insights_until) == (earliest.isoformat(), today.isoformat())
    assert all(c["status"] == 200 for c in FakeAdmin(api).calls("meta"))  # no 3018, no "end in the future"
    assert result.insight_rows == 3


def test_a_range_entirely_beyond_37_months_asks_for_no_insights(fake_api, account, wh):
    api = fake_api()
    result = extract_account(wh, account(api, "1000000001", "EAAB_acme_valid"), workspace_id=WS,
                             ad_account_id="1000000001", since=date(2021, 1, 1), until=date(2021, 12, 31))
    assert (result.insights_since, result.insight_rows, result.campaigns) == (None, 0, 2)
    assert "act/insights" not in {c["endpoint"] for c in FakeAdmin(api).calls("meta")}


def test_a_long_range_uses_async_report_runs_and_restarts_a_failed_one(fake_api, account, wh):
    api = fake_api()
    FakeAdmin(api).call("POST", "meta/report_runs", {"plans": ["fails"]})
    hook = account(api, "1000000001", "EAAB_acme_valid")
    extract_account(wh, hook, workspace_id=WS, ad_account_id="1000000001",
                    since=date(2026, 2, 1), until=date(2026, 5, 31))
    assert rows(wh, "select campaign_id, adset_id, ad_id, date_start, spend, impressions, clicks, account_timezone"
                    " from raw_meta.ad_insights_daily order by date_start") == EXAMPLE_INSIGHTS
    # 90-day report runs: Feb 1 + 89 days is May 1. The first run fails (post + 3 polls) and is
    # started again (post + 4 polls + results); the second slice has no delivery.
    assert [b for b in batches(wh) if b[0] == "ad_insights_daily"] == [
        ("ad_insights_daily", date(2026, 2, 1), date(2026, 5, 1), "async", 3, 3, 0, 10),
        ("ad_insights_daily", date(2026, 5, 2), date(2026, 5, 31), "async", 0, 0, 0, 6),
    ]


def test_a_long_history_has_its_report_runs_in_flight_together(fake_api, account, wh):
    api = fake_api()
    hook = account(api, "1000000001", "EAAB_acme_valid")
    extract_account(wh, hook, workspace_id=WS, ad_account_id="1000000001",
                    since=date(2026, 1, 1), until=date(2026, 9, 27))
    assert rows(wh, "select campaign_id, adset_id, ad_id, date_start, spend, impressions, clicks, account_timezone"
                    " from raw_meta.ad_insights_daily order by date_start") == EXAMPLE_INSIGHTS
    # Three 90-day runs, all started before the first poll: the history waits as long as one run.
    # Each completes on its fourth poll, then one page of results.
    insights = [(c["method"], c["endpoint"]) for c in FakeAdmin(api).calls("meta") if c["endpoint"] != "act"][:18]
    assert insights == [("POST", "act/insights")] * 3 + [("GET", "{id}")] * 12 + [("GET", "{id}/insights")] * 3
    assert [b for b in batches(wh) if b[0] == "ad_insights_daily"] == [
        ("ad_insights_daily", date(2026, 1, 1), date(2026, 3, 31), "async", 3, 3, 0, 6),
        ("ad_insights_daily", date(2026, 4, 1), date(2026, 6, 29), "async", 0, 0, 0, 6),
        ("ad_insights_daily", date(2026, 6, 30), date(2026, 9, 27), "async", 0, 0, 0, 6),
    ]


def test_too_much_data_splits_the_date_range(fake_api, account, wh):
    api = fake_api()
    FakeAdmin(api).meta_settings(max_rows_per_sync_call=1)
    hook = account(api, "1000000001", "EAAB_acme_valid")
    extract_account(wh, hook, workspace_id=WS, ad_account_id="1000000001",
                    since=date(2026, 2, 15), until=date(2026, 3, 15))
    assert rows(wh, "select campaign_id, adset_id, ad_id, date_start, spend, impressions, clicks, account_timezone"
                    " from raw_meta.ad_insights_daily order by date_start") == EXAMPLE_INSIGHTS
    # 02-15..03-15 (3 rows) → 02-15..03-01 (2 rows) → 02-15..02-22 + 02-23..03-01; then 03-02..03-15.
    assert [c["status"] for c in FakeAdmin(api).calls("meta", endpoint="act/insights")] == [400, 400, 200, 200, 200]
    assert [b for b in batches(wh) if b[0] == "ad_insights_daily"] == [
        ("ad_insights_daily", date(2026, 2, 15), date(2026, 3, 15), "sync", 3, 3, 0, 5)]


# ---------------------------------------------------------------- bad rows and bad tokens

def test_malformed_insights_rows_are_kept_aside_with_why(fake_api, account, wh):
    api = fake_api()
    good = {"campaign_id": "2000000001", "adset_id": "3000000001", "ad_id": "4000000001", "spend": "50.00",
            "impressions": "4000", "clicks": "80", "date_start": "2026-03-01", "date_stop": "2026-03-01"}
    bad_spend = {**good, "date_start": "2026-03-02", "date_stop": "2026-03-02", "spend": "fifty"}
    no_ad = {k: v for k, v in good.items() if k != "ad_id"}
    weekly = {**good, "date_stop": "2026-03-07"}
    outside = {**good, "date_start": "2026-04-01", "date_stop": "2026-04-01"}
    body = {"data": [good, bad_spend, no_ad, weekly, outside], "paging": {"cursors": {"before": "a", "after": "b"}}}
    FakeAdmin(api).faults({"api": "meta", "path": "/insights$", "times": 1, "status": 200, "body": body})
    result = extract_account(wh, account(api, "1000000001", "EAAB_acme_valid"), workspace_id=WS,
                             ad_account_id="1000000001", since=date(2026, 2, 15), until=date(2026, 3, 15))

    assert rows(wh, "select ad_id, date_start, spend from raw_meta.ad_insights_daily") == [
        ("4000000001", date(2026, 3, 1), Decimal("50.00"))]
    rejected = rows(wh, "select r.workspace_id, r.reason, r.payload from raw_meta.rejected_rows r"
                        " join raw_meta.load_batches b using (batch_id) where b.entity = 'ad_insights_daily'"
                        " order by r.reason")
    assert [(w, reason, json.loads(payload)) for w, reason, payload in rejected] == [
        (WS, "insights row: ad_id None is not a Meta id", no_ad),
        (WS, "insights row: date 2026-04-01 is outside the requested 2026-02-15..2026-03-15", outside),
        (WS, "insights row: date_start 2026-03-01 and date_stop 2026-03-07 differ", weekly),
        (WS, "insights row: spend 'fifty' is not a number", bad_spend),
    ]
    assert [b for b in batches(wh) if b[0] == "ad_insights_daily"][0][4:7] == (5, 1, 4)
    assert result.rejected == 4


def test_an_expired_token_stops_the_extraction_before_anything_is_loaded(fake_api, account, wh):
    hook = account(fake_api(), "1000000001", "EAAB_acme_expired")
    with pytest.raises(MetaTokenError) as raised:
        extract_account(wh, hook, workspace_id=WS, ad_account_id="1000000001",
                        since=date(2026, 2, 15), until=date(2026, 3, 15))
    assert "has expired" in str(raised.value)
    assert rows(wh, "select count(*) from raw_meta.load_batches") == [(0,)]
    assert rows(wh, "select count(*) from raw_meta.ad_accounts") == [(0,)]
