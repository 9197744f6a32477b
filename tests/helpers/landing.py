"""The example world landed in the warehouse by SQL, as extraction would land it: control rows (workspace,
attribution version, selected events, result metrics) and raw Cometly and Meta rows, for the dbt models alone.

EXAMPLE_*: the rows Cometly and Meta return for tests/data/example.json, extracted with first_platform_touch,
lifetime window, sources facebook_ads + instagram_ads, Space timezone America/New_York.
"""

from __future__ import annotations

ACME = "space_acme"
ACME_ACCOUNT = "1000000001"

# (event_id, event_name, configured_name, time_utc, amount, order_id,
#  account_id, campaign_id, adset_id, ad_id, campaign_name, ad_name)
EXAMPLE_EVENTS = [
    ("101", "purchase", "purchase", "2026-03-03T03:30:00Z", "89.5", "A-1",
     ACME_ACCOUNT, "2000000001", "3000000001", "4000000001", "Spring Sale", "Carousel A"),
    ("102", "lead_generated", "lead_generated", "2026-03-02T19:00:00Z", "0", None,
     ACME_ACCOUNT, "2000000002", "3000000002", "4000000002", None, None),
    ("103", "custom_event_3", "Demo Booked", "2026-03-04T15:00:00Z", "0", None,
     ACME_ACCOUNT, "2000000002", "3000000002", "4000000002", None, None),
]

# example.json's Meta account: (campaign_id, name, status, objective, adset_id, adset name, ad_id, ad name)
EXAMPLE_TREE = [
    ("2000000001", "Spring Sale", "ACTIVE", "OUTCOME_SALES", "3000000001", "Lookalike US", "4000000001", "Carousel A"),
    ("2000000002", "Leads Q1", "PAUSED", "OUTCOME_LEADS", "3000000002", "Broad", "4000000002", "Video B"),
]
# (ad_id, campaign_id, adset_id, date, spend, impressions, clicks)
EXAMPLE_INSIGHTS = [
    ("4000000001", "2000000001", "3000000001", "2026-03-01", "50.00", 4000, 80),
    ("4000000001", "2000000001", "3000000001", "2026-03-02", "45.50", 3900, 71),
    ("4000000002", "2000000002", "3000000002", "2026-02-20", "30.00", 2500, 40),
]


def add_workspace(wh, workspace_id: str, timezone: str, version: int = 1) -> None:
    wh.execute(
        "insert into control.workspaces (workspace_id, name, plan, history_start, timezone)"
        " values (%s, %s, 'pro', '2025-03-01', %s)",
        (workspace_id, workspace_id, timezone),
    )
    add_version(wh, workspace_id, version, "active")


def add_version(wh, workspace_id: str, version: int, state: str) -> None:
    wh.execute(
        "insert into control.attribution_versions (workspace_id, version, model, window_days, state)"
        " values (%s, %s, 'first_touch', 0, %s)",
        (workspace_id, version, state),
    )


def select_events(wh, workspace_id: str, labels: dict[str, str]) -> None:
    """The catalog as Cometly showed it (name -> label) and those events selected."""
    for name, label in labels.items():
        wh.execute("insert into control.event_catalog (workspace_id, event_name, label) values (%s, %s, %s)",
                   (workspace_id, name, label))
        wh.execute("insert into control.selected_events (workspace_id, event_name) values (%s, %s)",
                   (workspace_id, name))


def set_result_metric(wh, workspace_id: str, campaign_id: str, event_name: str) -> None:
    wh.execute("insert into control.result_metrics (workspace_id, campaign_id, event_name) values (%s, %s, %s)",
               (workspace_id, campaign_id, event_name))


def land_events(wh, workspace_id: str, events, version: int = 1) -> None:
    for (event_id, name, configured, time_utc, amount, order_id,
         account, campaign, adset, ad, campaign_name, ad_name) in events:
        wh.execute(
            "insert into raw_cometly.events (workspace_id, settings_version, event_id, event_name,"
            " configured_name, event_time_utc, amount, order_id, account_id, campaign_id, adset_id, ad_id,"
            " campaign_name, ad_name, batch_id)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 1)",
            (workspace_id, version, event_id, name, configured, time_utc, amount, order_id,
             account, campaign, adset, ad, campaign_name, ad_name),
        )


def land_meta_account(wh, workspace_id: str, account: str, timezone: str, tree, insights) -> None:
    wh.execute(
        "insert into control.meta_ad_accounts (workspace_id, ad_account_id, conn_id, base_url, timezone_name)"
        " values (%s, %s, %s, 'http://fake', %s)",
        (workspace_id, account, f"meta_{workspace_id}_{account}", timezone),
    )
    wh.execute(
        "insert into raw_meta.ad_accounts (workspace_id, ad_account_id, name, currency, timezone_name, batch_id)"
        " values (%s, %s, 'Ads', 'USD', %s, 1)",
        (workspace_id, account, timezone),
    )
    for campaign, name, status, objective, adset, adset_name, ad, ad_name in tree:
        wh.execute(
            "insert into raw_meta.campaigns (workspace_id, ad_account_id, campaign_id, name, status,"
            " effective_status, objective, batch_id) values (%s, %s, %s, %s, %s, %s, %s, 1)",
            (workspace_id, account, campaign, name, status, status, objective),
        )
        wh.execute(
            "insert into raw_meta.adsets (workspace_id, ad_account_id, campaign_id, adset_id, name, status, batch_id)"
            " values (%s, %s, %s, %s, %s, 'ACTIVE', 1)",
            (workspace_id, account, campaign, adset, adset_name),
        )
        wh.execute(
            "insert into raw_meta.ads (workspace_id, ad_account_id, campaign_id, adset_id, ad_id, name, status,"
            " batch_id) values (%s, %s, %s, %s, %s, %s, 'ACTIVE', 1)",
            (workspace_id, account, campaign, adset, ad, ad_name),
        )
    for ad, campaign, adset, day, spend, impressions, clicks in insights:
        wh.execute(
            "insert into raw_meta.ad_insights_daily (workspace_id, ad_account_id, campaign_id, adset_id, ad_id,"
            " date_start, spend, impressions, clicks, account_timezone, batch_id)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 1)",
            (workspace_id, account, campaign, adset, ad, day, spend, impressions, clicks, timezone),
        )


def land_example(wh) -> None:
    add_workspace(wh, ACME, "America/New_York")
    select_events(wh, ACME, {"purchase": "purchase", "lead_generated": "lead_generated",
                             "custom_event_3": "Demo Booked"})
    set_result_metric(wh, ACME, "2000000001", "purchase")
    land_events(wh, ACME, EXAMPLE_EVENTS)
    land_meta_account(wh, ACME, ACME_ACCOUNT, "America/New_York", EXAMPLE_TREE, EXAMPLE_INSIGHTS)
