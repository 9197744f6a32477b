"""The fake Meta Graph API, as a real process, against what docs/meta-api.md documents.

Worlds: tests/data/example.json and tests/data/meta_tree.json (a tree with
paused, archived and deleted objects at every level). Expected values are
worked out by hand from those files.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
from dateutil.relativedelta import relativedelta

from helpers.fake_admin import FakeAdmin

TREE = Path(__file__).parent / "data" / "meta_tree.json"
ACME = "act_1000000001"
VALID, EXPIRED = "EAAB_acme_valid", "EAAB_acme_expired"
TREE_ACCOUNT, TREE_TOKEN = "act_5000000001", "EAAB_tree_valid"
AD_STATUSES = ["ACTIVE", "PAUSED", "DELETED", "ARCHIVED", "IN_PROCESS", "WITH_ISSUES", "CAMPAIGN_PAUSED",
               "ADSET_PAUSED", "DISAPPROVED", "PENDING_REVIEW", "PREAPPROVED", "PENDING_BILLING_INFO"]


class Graph:
    """Plain HTTP calls to the fake, the way any client would make them."""

    def __init__(self, api, token: str | None = VALID, version: str = "v25.0"):
        self.api, self.token, self.version = api, token, version

    def get(self, path: str, **params) -> requests.Response:
        if self.token:
            params.setdefault("access_token", self.token)
        return requests.get(f"{self.api.url}/{self.version}/{path}", params=params, timeout=30)

    def post(self, path: str, **form) -> requests.Response:
        if self.token:
            form.setdefault("access_token", self.token)
        return requests.post(f"{self.api.url}/{self.version}/{path}", data=form, timeout=30)


def error_of(response: requests.Response) -> dict:
    error = response.json()["error"]
    assert error["fbtrace_id"] and error["type"] and error["message"]
    return error


@pytest.fixture
def acme(fake_api):
    return Graph(fake_api())


@pytest.fixture
def tree(fake_api):
    return Graph(fake_api(TREE), token=TREE_TOKEN)


def daily(since: str, until: str) -> dict:
    return {"time_range": json.dumps({"since": since, "until": until}), "time_increment": "1"}


# ---------------------------------------------------------------- routing, auth, nodes

def test_account_node_any_version_with_and_without_trailing_slash(fake_api):
    api = fake_api()
    fields = "id,account_id,name,currency,timezone_name,account_status"
    expected = {"id": ACME, "account_id": "1000000001", "name": "Acme Ads", "currency": "USD",
                "timezone_name": "America/New_York", "account_status": 1}
    for version, path in (("v25.0", f"{ACME}/"), ("v25.0", ACME), ("v19.0", f"{ACME}/")):
        response = Graph(api, version=version).get(path, fields=fields)
        assert response.status_code == 200
        assert response.json() == expected
        assert response.headers["facebook-api-version"] == version


def test_token_from_the_query_the_form_body_or_a_bearer_header(fake_api):
    api = fake_api()
    bearer = requests.get(f"{api.url}/v25.0/{ACME}/", headers={"Authorization": f"Bearer {VALID}"}, timeout=10)
    query = Graph(api).get(f"{ACME}/")
    form = Graph(api).post(f"{ACME}/insights", level="ad", **daily("2026-03-01", "2026-03-02"))
    assert bearer.json() == query.json() == {"id": ACME}  # without `fields`, only the id
    assert "report_run_id" in form.json()


def test_timezone_offset_follows_daylight_saving(acme):
    offset = acme.get(f"{ACME}/", fields="timezone_offset_hours_utc").json()["timezone_offset_hours_utc"]
    new_york_now = datetime.now(ZoneInfo("America/New_York")).utcoffset().total_seconds() / 3600
    assert offset == new_york_now  # -5.0 in winter, -4.0 in summer


def test_token_errors(fake_api):
    api = fake_api(TREE)
    missing = Graph(api, token=None).get(f"{TREE_ACCOUNT}/")
    unknown = Graph(api, token="EAAB_nobody").get(f"{TREE_ACCOUNT}/")
    invalidated = Graph(api, token="EAAB_tree_invalidated").get(f"{TREE_ACCOUNT}/")
    expired = Graph(fake_api(), token=EXPIRED).get(f"{ACME}/")

    assert missing.status_code == 400 and error_of(missing)["code"] == 104
    assert unknown.status_code == 400
    assert (error_of(unknown)["code"], error_of(unknown).get("error_subcode")) == (190, None)
    assert invalidated.status_code == 400
    assert (error_of(invalidated)["code"], error_of(invalidated)["error_subcode"]) == (190, 460)
    assert expired.status_code == 400
    assert (error_of(expired)["code"], error_of(expired)["error_subcode"]) == (190, 463)
    assert error_of(expired)["message"].startswith("Error validating access token: Session has expired on")


def test_an_account_outside_the_tokens_list_is_permission_denied(tree):
    response = tree.get("act_5000000003/", fields="name")
    assert response.status_code == 403
    assert error_of(response)["code"] == 200
    # Objects of such an account look missing, as on the real API.
    other = Graph(tree.api, token="EAAB_other_valid").get("120200000000000111/")
    assert other.status_code == 400 and (error_of(other)["code"], error_of(other)["error_subcode"]) == (100, 33)


def test_me_adaccounts_lists_the_tokens_accounts(tree):
    body = tree.get("me/adaccounts", fields="id,name,timezone_name").json()
    assert body["data"] == [
        {"id": "act_5000000001", "name": "Tree Co", "timezone_name": "Europe/Berlin"},
        {"id": "act_5000000002", "name": "Second Co", "timezone_name": "America/Los_Angeles"},
    ]


def test_unknown_field_is_error_100(acme):
    response = acme.get(f"{ACME}/", fields="name,colour")
    assert response.status_code == 400 and error_of(response)["code"] == 100


# ---------------------------------------------------------------- tree, statuses, paging

def test_default_listing_leaves_out_archived_and_deleted_with_hierarchy_statuses(tree):
    ads = tree.get(f"{TREE_ACCOUNT}/ads", fields="id,name,status,effective_status,adset_id,campaign_id").json()
    assert ads["data"] == [
        {"id": "120200000000000111", "name": "live ad", "status": "ACTIVE", "effective_status": "ACTIVE",
         "adset_id": "120200000000000110", "campaign_id": "120200000000000100"},
        {"id": "120200000000000112", "name": "paused ad", "status": "PAUSED", "effective_status": "PAUSED",
         "adset_id": "120200000000000110", "campaign_id": "120200000000000100"},
        {"id": "120200000000000121", "name": "ad in paused set", "status": "ACTIVE",
         "effective_status": "ADSET_PAUSED", "adset_id": "120200000000000120", "campaign_id": "120200000000000100"},
        {"id": "120200000000000211", "name": "ad of paused campaign", "status": "ACTIVE",
         "effective_status": "CAMPAIGN_PAUSED", "adset_id": "120200000000000210",
         "campaign_id": "120200000000000200"},
    ]
    adsets = tree.get(f"{TREE_ACCOUNT}/adsets", fields="id,effective_status").json()["data"]
    assert adsets == [{"id": "120200000000000110", "effective_status": "ACTIVE"},
                      {"id": "120200000000000120", "effective_status": "PAUSED"},
                      {"id": "120200000000000210", "effective_status": "CAMPAIGN_PAUSED"}]


def test_effective_status_param_or_filtering_brings_archived_and_deleted_back(tree):
    by_param = tree.get(f"{TREE_ACCOUNT}/campaigns", fields="id,effective_status",
                        effective_status='["ARCHIVED","DELETED"]').json()["data"]
    by_filter = tree.get(f"{TREE_ACCOUNT}/campaigns", fields="id,effective_status", filtering=json.dumps(
        [{"field": "campaign.effective_status", "operator": "IN", "value": ["ARCHIVED", "DELETED"]}])).json()["data"]
    expected = [{"id": "120200000000000300", "effective_status": "ARCHIVED"},
                {"id": "120200000000000400", "effective_status": "DELETED"}]
    assert by_param == by_filter == expected
    # Children take the hierarchy's final states.
    ads = tree.get(f"{TREE_ACCOUNT}/ads", fields="id,effective_status",
                   effective_status="ARCHIVED,DELETED").json()["data"]
    assert ads == [{"id": "120200000000000113", "effective_status": "ARCHIVED"},
                   {"id": "120200000000000114", "effective_status": "DELETED"},
                   {"id": "120200000000000311", "effective_status": "ARCHIVED"},
                   {"id": "120200000000000411", "effective_status": "DELETED"}]


def test_deleted_objects_stay_readable_by_id_and_can_be_left_out_of_edges(tree):
    node = tree.get("120200000000000114/", fields="id,name,effective_status").json()
    assert node == {"id": "120200000000000114", "name": "deleted ad", "effective_status": "DELETED"}
    FakeAdmin(tree.api).meta_settings(deleted_in_edges=False)
    ads = tree.get(f"{TREE_ACCOUNT}/ads", fields="id", effective_status='["DELETED"]').json()
    assert ads == {"data": []}
    assert tree.get("120200000000000114/", fields="name").json()["name"] == "deleted ad"


def test_a_status_the_level_does_not_have_is_error_1487561(tree):
    response = tree.get(f"{TREE_ACCOUNT}/campaigns", effective_status='["ADSET_PAUSED"]')
    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["error_subcode"]) == (100, 1487561)


def test_paging_with_limit_1_visits_every_campaign_once(tree):
    statuses = '["ACTIVE","PAUSED","ARCHIVED","DELETED"]'
    pages, params = [], {"fields": "id,name", "effective_status": statuses, "limit": "1"}
    while True:
        body = tree.get(f"{TREE_ACCOUNT}/campaigns", **params).json()
        pages.append(body)
        if "next" not in body["paging"]:
            break
        next_url = urlsplit(body["paging"]["next"])
        # An absolute URL on the fake's host, with the version and the original query.
        assert f"{next_url.scheme}://{next_url.netloc}" == tree.api.url
        assert next_url.path == f"/v25.0/{TREE_ACCOUNT}/campaigns"
        query = {k: v[0] for k, v in parse_qs(next_url.query).items()}
        assert query["after"] == body["paging"]["cursors"]["after"]
        assert (query["fields"], query["effective_status"], query["limit"]) == ("id,name", statuses, "1")
        params["after"] = query["after"]
    assert [p["data"] for p in pages] == [
        [{"id": "120200000000000100", "name": "Live"}],
        [{"id": "120200000000000200", "name": "Paused campaign"}],
        [{"id": "120200000000000300", "name": "Archived campaign"}],
        [{"id": "120200000000000400", "name": "Deleted campaign"}],
    ]
    assert pages[-1]["paging"]["cursors"]["after"]  # present on the last page too


def test_an_empty_first_page_still_has_next(tree):
    FakeAdmin(tree.api).meta_settings(empty_first_page=True)
    first = tree.get(f"{TREE_ACCOUNT}/campaigns", fields="id").json()
    assert first["data"] == [] and "next" in first["paging"]
    after = first["paging"]["cursors"]["after"]
    second = tree.get(f"{TREE_ACCOUNT}/campaigns", fields="id", after=after).json()
    assert [c["id"] for c in second["data"]] == ["120200000000000100", "120200000000000200"]


def test_an_oversized_limit_asks_to_reduce_the_data(tree):
    FakeAdmin(tree.api).meta_settings(max_limit=50)
    response = tree.get(f"{TREE_ACCOUNT}/campaigns", limit="51")
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == 1 and "reduce the amount of data" in error["message"]


# ---------------------------------------------------------------- insights

def test_ad_level_daily_insights_of_the_example(acme):
    body = acme.get(f"{ACME}/insights", level="ad", fields="campaign_id,adset_id,ad_id,spend,impressions,clicks",
                    **daily("2026-02-01", "2026-03-31")).json()
    assert body["data"] == [
        {"campaign_id": "2000000002", "adset_id": "3000000002", "ad_id": "4000000002", "spend": "30.00",
         "impressions": "2500", "clicks": "40", "date_start": "2026-02-20", "date_stop": "2026-02-20"},
        {"campaign_id": "2000000001", "adset_id": "3000000001", "ad_id": "4000000001", "spend": "50.00",
         "impressions": "4000", "clicks": "80", "date_start": "2026-03-01", "date_stop": "2026-03-01"},
        {"campaign_id": "2000000001", "adset_id": "3000000001", "ad_id": "4000000001", "spend": "45.50",
         "impressions": "3900", "clicks": "71", "date_start": "2026-03-02", "date_stop": "2026-03-02"},
    ]
    assert "next" not in body["paging"]


def test_insights_levels_sum_the_ad_rows(acme):
    whole_range = {"time_range": json.dumps({"since": "2026-02-01", "until": "2026-03-31"})}
    campaigns = acme.get(f"{ACME}/insights", level="campaign", fields="campaign_id,spend,impressions,clicks",
                         **whole_range).json()["data"]
    account = acme.get(f"{ACME}/insights", level="account", fields="spend,impressions,clicks", **whole_range).json()
    assert campaigns == [
        {"campaign_id": "2000000001", "spend": "95.50", "impressions": "7900", "clicks": "151",
         "date_start": "2026-02-01", "date_stop": "2026-03-31"},
        {"campaign_id": "2000000002", "spend": "30.00", "impressions": "2500", "clicks": "40",
         "date_start": "2026-02-01", "date_stop": "2026-03-31"},
    ]
    assert account["data"] == [{"spend": "125.50", "impressions": "10400", "clicks": "191",
                                "date_start": "2026-02-01", "date_stop": "2026-03-31"}]


def test_no_row_for_a_day_without_delivery(acme):
    body = acme.get(f"{ACME}/insights", level="ad", fields="ad_id,spend", **daily("2026-03-03", "2026-03-20")).json()
    assert body == {"data": []}


def test_deleted_ads_need_the_status_filter_except_by_their_own_id(tree):
    fields = "ad_id,spend"
    unfiltered = tree.get(f"{TREE_ACCOUNT}/insights", level="ad", fields=fields, **daily("2026-10-01", "2026-10-03"))
    filtered = tree.get(f"{TREE_ACCOUNT}/insights", level="ad", fields=fields, **daily("2026-10-01", "2026-10-03"),
                        filtering=json.dumps([{"field": "ad.effective_status", "operator": "IN",
                                               "value": AD_STATUSES}]))
    own = tree.get("120200000000000114/insights", fields=fields, **daily("2026-10-01", "2026-10-03"))
    day = lambda d: {"date_start": d, "date_stop": d}  # noqa: E731
    assert unfiltered.json()["data"] == [
        {"ad_id": "120200000000000111", "spend": "10.00", **day("2026-10-01")},
        {"ad_id": "120200000000000111", "spend": "12.25", **day("2026-10-02")},
        {"ad_id": "120200000000000311", "spend": "1.25", **day("2026-10-02")},  # archived stays
    ]
    assert filtered.json()["data"] == [
        {"ad_id": "120200000000000111", "spend": "10.00", **day("2026-10-01")},
        {"ad_id": "120200000000000114", "spend": "2.50", **day("2026-10-01")},
        {"ad_id": "120200000000000111", "spend": "12.25", **day("2026-10-02")},
        {"ad_id": "120200000000000311", "spend": "1.25", **day("2026-10-02")},
        {"ad_id": "120200000000000411", "spend": "4.00", **day("2026-10-03")},
    ]
    assert own.json()["data"] == [{"ad_id": "120200000000000114", "spend": "2.50", **day("2026-10-01")}]


def test_37_months_back_is_the_limit(acme):
    today = datetime.now(ZoneInfo("America/New_York")).date()
    limit = today - relativedelta(months=37)
    allowed = acme.get(f"{ACME}/insights", **daily(limit.isoformat(), today.isoformat()))
    refused = acme.get(f"{ACME}/insights", **daily((limit - timedelta(days=1)).isoformat(), today.isoformat()))
    assert allowed.status_code == 200
    assert refused.status_code == 400 and error_of(refused)["code"] == 3018


def test_until_in_the_future_is_refused_in_the_accounts_timezone(fake_api):
    scenario = json.loads(TREE.read_text())
    scenario["meta"]["ad_accounts"][1]["timezone_name"] = "Pacific/Kiritimati"  # UTC+14
    api = fake_api(scenario)
    # Noon UTC: Kiritimati is already on the next day.
    now = datetime.now(timezone.utc)
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
    noon += timedelta(days=1) if noon <= now else timedelta(0)
    FakeAdmin(api).call("POST", "clock", {"advance_seconds": (noon - now).total_seconds() + 60})
    graph, local_today = Graph(api, token=TREE_TOKEN), noon.date() + timedelta(days=1)

    today_ok = graph.get("act_5000000002/insights", **daily(local_today.isoformat(), local_today.isoformat()))
    tomorrow = graph.get("act_5000000002/insights", **daily(local_today.isoformat(),
                                                              (local_today + timedelta(days=1)).isoformat()))
    assert today_ok.status_code == 200
    assert tomorrow.status_code == 400 and "cannot be in the future" in error_of(tomorrow)["message"]
    # The reported bug: the check made on the UTC date.
    FakeAdmin(api).meta_settings(future_check="utc")
    utc_check = graph.get("act_5000000002/insights", **daily(local_today.isoformat(), local_today.isoformat()))
    assert utc_check.status_code == 400


def test_too_many_rows_for_one_sync_call_is_100_1487534(acme):
    FakeAdmin(acme.api).meta_settings(max_rows_per_sync_call=2)
    response = acme.get(f"{ACME}/insights", level="ad", **daily("2026-02-01", "2026-03-31"))
    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["error_subcode"]) == (100, 1487534)
    assert acme.get(f"{ACME}/insights", level="ad", **daily("2026-03-01", "2026-03-31")).status_code == 200


# ---------------------------------------------------------------- async report runs

def _poll(graph: Graph, run_id: str) -> dict:
    return graph.get(f"{run_id}/").json()


def test_async_report_run_walks_to_completion_and_matches_the_sync_answer(acme):
    params = {"level": "ad", "fields": json.dumps(["ad_id", "spend", "impressions", "clicks"]),
              **daily("2026-02-01", "2026-03-31")}
    run_id = acme.post(f"{ACME}/insights", **params).json()["report_run_id"]
    early = acme.get(f"{run_id}/insights")
    assert early.status_code == 400
    error = error_of(early)
    assert (error["code"], error["error_subcode"], error["is_transient"]) == (2601, 1815107, True)

    statuses = [_poll(acme, run_id) for _ in range(4)]
    assert [(s["async_status"], s["async_percent_completion"], s["is_running"]) for s in statuses] == [
        ("Job Not Started", 0, True), ("Job Started", 0, True), ("Job Running", 50, True),
        ("Job Completed", 100, False)]
    assert statuses[-1]["id"] == run_id and "time_completed" in statuses[-1]
    result = acme.get(f"{run_id}/insights").json()["data"]
    sync = acme.get(f"{ACME}/insights", **{**params, "fields": "ad_id,spend,impressions,clicks"}).json()["data"]
    assert result == sync and len(result) == 3


def test_scripted_report_runs_fail_skip_or_reach_100_while_running(acme):
    response = FakeAdmin(acme.api).request("POST", "meta/report_runs",
                                           {"plans": ["fails", "percent_100_while_running", "skipped"]})
    assert response.status_code == 200
    runs = [acme.post(f"{ACME}/insights", **daily("2026-03-01", "2026-03-02")).json()["report_run_id"]
            for _ in range(4)]

    failed = [_poll(acme, runs[0]) for _ in range(5)]
    assert [s["async_status"] for s in failed] == ["Job Not Started", "Job Started"] + ["Job Failed"] * 3
    assert {s["async_percent_completion"] for s in failed} == {0}
    assert failed[-1]["error_code"] == -2

    running = [_poll(acme, runs[1]) for _ in range(5)]
    assert [(s["async_status"], s["async_percent_completion"]) for s in running] == [
        ("Job Not Started", 0), ("Job Running", 100), ("Job Running", 100), ("Job Running", 100),
        ("Job Completed", 100)]

    assert [_poll(acme, runs[2])["async_status"] for _ in range(2)] == ["Job Not Started", "Job Skipped"]
    # Then runs complete again.
    assert [_poll(acme, runs[3])["async_status"] for _ in range(4)][-1] == "Job Completed"


# ---------------------------------------------------------------- usage headers and throttling

def test_usage_headers_on_every_call_and_insights_throttle_header_on_insights(acme):
    node = acme.get(f"{ACME}/")
    insights = acme.get(f"{ACME}/insights", **daily("2026-03-01", "2026-03-02"))
    error = acme.get(f"{ACME}/insights", **daily("2020-01-01", "2026-03-02"))
    for response in (node, insights, error):
        usage = json.loads(response.headers["x-business-use-case-usage"])
        assert list(usage) == ["1000000001"]
        assert {"type", "call_count", "total_cputime", "total_time", "estimated_time_to_regain_access"} <= set(
            usage["1000000001"][0])
        assert set(json.loads(response.headers["x-app-usage"])) == {"call_count", "total_cputime", "total_time"}
    assert "x-fb-ads-insights-throttle" not in node.headers
    assert set(json.loads(insights.headers["x-fb-ads-insights-throttle"])) == {
        "app_id_util_pct", "acc_id_util_pct", "ads_api_access_tier"}
    assert "retry-after" not in {k.lower() for k in error.headers}


def test_usage_ramps_to_the_quota_then_80004_until_the_hour_passes(fake_api):
    api = fake_api()  # rate limits on
    graph = Graph(api)
    FakeAdmin(api).meta_settings(quota_ads_management=4)
    usage = []
    for _ in range(4):
        response = graph.get(f"{ACME}/", fields="name")
        assert response.status_code == 200
        usage.append(json.loads(response.headers["x-business-use-case-usage"])["1000000001"][0]["call_count"])
    assert usage == [25, 50, 75, 100]

    throttled = graph.get(f"{ACME}/campaigns")
    assert throttled.status_code == 400
    error = error_of(throttled)
    assert (error["code"], error["error_subcode"]) == (80004, 2446079)
    assert error["message"].startswith("(#80004) There have been too many calls to this ad-account.")
    entry = json.loads(throttled.headers["x-business-use-case-usage"])["1000000001"][0]
    assert entry["call_count"] == 100 and entry["estimated_time_to_regain_access"] == 60
    # Insights are another use case, with their own budget.
    assert graph.get(f"{ACME}/insights", **daily("2026-03-01", "2026-03-02")).status_code == 200

    FakeAdmin(api).call("POST", "clock", {"advance_seconds": 3601})
    assert graph.get(f"{ACME}/campaigns").status_code == 200


def test_the_apps_hourly_limit_is_error_4(fake_api):
    api = fake_api()  # rate limits on
    FakeAdmin(api).meta_settings(quota_app=2)
    graph = Graph(api)
    assert [graph.get(f"{ACME}/").status_code for _ in range(2)] == [200, 200]
    refused = graph.get("me/adaccounts")
    assert refused.status_code == 400
    assert (error_of(refused)["code"], error_of(refused)["is_transient"]) == (4, True)
    assert json.loads(refused.headers["x-app-usage"])["call_count"] == 100


def test_usage_headers_can_be_switched_off(acme):
    FakeAdmin(acme.api).meta_settings(usage_headers=False)
    response = acme.get(f"{ACME}/insights", **daily("2026-03-01", "2026-03-02"))
    assert response.status_code == 200
    assert not any(k.lower().startswith(("x-business", "x-app", "x-fb-ads")) for k in response.headers)


def test_bad_admin_settings_are_refused(acme):
    response = FakeAdmin(acme.api).request("POST", "meta/settings", {"page_sise": 3})
    assert response.status_code == 400 and "page_sise" in response.json()["error"]
