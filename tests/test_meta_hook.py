"""MetaAdsHook against the fake Meta API as a real process: paging, each class of error, async report runs.

Hooks read their token from a real Airflow connection (Fernet-encrypted in
Airflow's metadata database); `max_wait_seconds` keeps the tests from sleeping.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pytest
import requests

from cometly_elt import credentials
from cometly_elt.hooks.meta import (
    MAX_ATTEMPTS,
    MetaAdsHook,
    MetaApiError,
    MetaPermissionError,
    MetaReportFailed,
    MetaThrottled,
    MetaTokenError,
    MetaTransientError,
    backoff_seconds,
    regain_seconds,
)
from helpers.fake_admin import FakeAdmin

TREE = Path(__file__).parent / "data" / "meta_tree.json"
ACME, TREE_ACCOUNT = "act_1000000001", "act_5000000001"
VALID, TREE_TOKEN = "EAAB_acme_valid", "EAAB_tree_valid"
ALL_CAMPAIGNS = {"fields": ["id", "name"], "effective_status": ["ACTIVE", "PAUSED", "ARCHIVED", "DELETED"]}
CAMPAIGN_IDS = ["120200000000000100", "120200000000000200", "120200000000000300", "120200000000000400"]
DAILY = {"level": "ad", "fields": ["ad_id", "spend"], "time_increment": 1,
         "time_range": {"since": "2026-02-01", "until": "2026-03-31"}}
EXAMPLE_SPEND = [("4000000002", "30.00", "2026-02-20"), ("4000000001", "50.00", "2026-03-01"),
                 ("4000000001", "45.50", "2026-03-02")]
NEW_TOKEN_HOW = ("create a new one (Meta Business Settings → System users → Generate token, or the Graph API"
                 " Explorer), then run 'cometly-elt meta connect h2acme --ad-account act_1000000001"
                 " --access-token NEW_TOKEN'")
THROTTLE_BODY = {"error": {"message": "(#80004) There have been too many calls to this ad-account. Wait a bit and"
                           " try again.", "type": "OAuthException", "code": 80004, "error_subcode": 2446079,
                           "fbtrace_id": "Afake"}}


@pytest.fixture
def stored_hook(airflow_metadata):
    """Factory: a MetaAdsHook over a freshly stored Airflow connection (deleted after the test)."""
    conn_ids = []

    def make(api, token: str = VALID, **extra) -> MetaAdsHook:
        conn_id = f"h2_meta_hook_{uuid.uuid4().hex[:10]}"
        credentials.store(conn_id, conn_type="meta_ads", host=api.meta_url, password=token,
                          extra={"max_wait_seconds": 0.05, "workspace_id": "h2acme", "ad_account_id": ACME, **extra})
        conn_ids.append(conn_id)
        return MetaAdsHook(conn_id)

    yield make
    for conn_id in conn_ids:
        credentials.delete(conn_id)


def spend_rows(rows: list[dict]) -> list[tuple]:
    return [(r["ad_id"], r["spend"], r["date_start"]) for r in rows]


# ---------------------------------------------------------------- paging

def test_paging_with_a_page_size_of_1_follows_next_until_it_is_absent(fake_api, stored_hook):
    api = fake_api(TREE, "--no-rate-limits")
    hook = stored_hook(api, TREE_TOKEN, page_size=1)
    campaigns = list(hook.paginate(f"{TREE_ACCOUNT}/campaigns", ALL_CAMPAIGNS))
    assert [c["id"] for c in campaigns] == CAMPAIGN_IDS
    assert [c["endpoint"] for c in FakeAdmin(api).calls("meta")] == ["act/campaigns"] * 4
    assert hook.api_calls == 4


def test_an_empty_page_with_next_does_not_end_the_listing(fake_api, stored_hook):
    api = fake_api(TREE, "--no-rate-limits")
    FakeAdmin(api).meta_settings(empty_first_page=True)
    campaigns = list(stored_hook(api, TREE_TOKEN).paginate(f"{TREE_ACCOUNT}/campaigns", ALL_CAMPAIGNS))
    assert [c["id"] for c in campaigns] == CAMPAIGN_IDS


def test_short_pages_do_not_end_the_listing(fake_api, stored_hook):
    api = fake_api(TREE, "--no-rate-limits")
    FakeAdmin(api).meta_settings(short_pages=True)
    hook = stored_hook(api, TREE_TOKEN, page_size=4)
    assert [c["id"] for c in hook.paginate(f"{TREE_ACCOUNT}/campaigns", ALL_CAMPAIGNS)] == CAMPAIGN_IDS
    assert hook.api_calls == 2


def test_reduce_the_amount_of_data_halves_the_page_size(fake_api, stored_hook):
    api = fake_api(TREE, "--no-rate-limits")
    FakeAdmin(api).meta_settings(max_limit=2)
    hook = stored_hook(api, TREE_TOKEN, page_size=8)
    assert [c["id"] for c in hook.paginate(f"{TREE_ACCOUNT}/campaigns", ALL_CAMPAIGNS)] == CAMPAIGN_IDS
    # limit 8 → 500, limit 4 → 500, then two pages of 2.
    assert [c["status"] for c in FakeAdmin(api).calls("meta")] == [500, 500, 200, 200]


# ---------------------------------------------------------------- errors that fail at once

def test_expired_token_fails_at_once_saying_how_to_get_a_new_one(fake_api, stored_hook):
    api = fake_api()
    with pytest.raises(MetaTokenError) as raised:
        stored_hook(api, "EAAB_acme_expired").get(f"{ACME}/", {"fields": ["name"]})
    assert str(raised.value) == f"the Meta access token has expired (error 190/463): {NEW_TOKEN_HOW}"
    assert len(FakeAdmin(api).calls("meta")) == 1


def test_invalidated_token_fails_at_once(fake_api, stored_hook):
    api = fake_api(TREE)
    with pytest.raises(MetaTokenError) as raised:
        stored_hook(api, "EAAB_tree_invalidated").get(f"{TREE_ACCOUNT}/campaigns")
    assert str(raised.value) == (
        "the Meta access token was invalidated (password change or security reset) (error 190/460): "
        + NEW_TOKEN_HOW.replace("act_1000000001", TREE_ACCOUNT))
    assert len(FakeAdmin(api).calls("meta")) == 1


def test_missing_token_error_104_and_an_empty_stored_token(fake_api, stored_hook):
    api = fake_api()
    FakeAdmin(api).faults({"api": "meta", "times": 1, "status": 400, "body": {"error": {
        "message": "An access token is required to request this resource.", "type": "OAuthException",
        "code": 104, "fbtrace_id": "Afake"}}})
    with pytest.raises(MetaTokenError) as raised:
        stored_hook(api).get(f"{ACME}/")
    assert str(raised.value).startswith("the Meta access token is missing (error 104): create a new one")

    with pytest.raises(MetaTokenError):
        stored_hook(api, token="").get(f"{ACME}/")
    assert len(FakeAdmin(api).calls("meta")) == 1  # the empty token never left the machine


def test_an_account_the_token_cannot_read_is_a_permission_error(fake_api, stored_hook):
    api = fake_api(TREE)
    with pytest.raises(MetaPermissionError) as raised:
        stored_hook(api, TREE_TOKEN).get("act_5000000003/", {"fields": ["name"]})
    assert str(raised.value) == (
        "the Meta access token cannot read ad account act_5000000003 (error 200): give the token's system user"
        " access to the ad account in Meta Business Settings, or connect a token that can read it")
    assert len(FakeAdmin(api).calls("meta")) == 1


def test_other_api_errors_are_not_retried(fake_api, stored_hook):
    api = fake_api()
    with pytest.raises(MetaApiError) as raised:
        stored_hook(api).get(f"{ACME}/", {"fields": ["colour"]})
    assert str(raised.value).startswith("Meta error 100 on act_1000000001/: (#100) Tried accessing nonexisting field")
    assert len(FakeAdmin(api).calls("meta")) == 1


# ---------------------------------------------------------------- errors that are retried

def test_a_throttle_then_success(fake_api, stored_hook):
    api = fake_api()
    usage = {"1000000001": [{"type": "ads_management", "call_count": 100, "total_cputime": 20, "total_time": 20,
                             "estimated_time_to_regain_access": 2}]}
    FakeAdmin(api).faults({"api": "meta", "path": "/campaigns$", "times": 1, "status": 400, "body": THROTTLE_BODY,
                           "headers": {"x-business-use-case-usage": json.dumps(usage)}})
    campaigns = list(stored_hook(api).paginate(f"{ACME}/campaigns", {"fields": ["id"]}))
    assert [c["id"] for c in campaigns] == ["2000000001", "2000000002"]
    assert [(c["endpoint"], c["status"]) for c in FakeAdmin(api).calls("meta")] == [
        ("act/campaigns", 400), ("act/campaigns", 200)]


@pytest.mark.parametrize("code", [4, 17, 613, 80000, 80004])
def test_every_throttle_code_is_retried(fake_api, stored_hook, code):
    api = fake_api()
    body = {"error": {**THROTTLE_BODY["error"], "code": code, "message": f"(#{code}) limit reached"}}
    FakeAdmin(api).faults({"api": "meta", "times": 2, "status": 400, "body": body})
    assert stored_hook(api).get(f"{ACME}/", {"fields": ["name"]}) == {"id": ACME, "name": "Acme Ads"}
    assert [c["status"] for c in FakeAdmin(api).calls("meta")] == [400, 400, 200]


@pytest.mark.parametrize("rule", [
    {"fault": "status", "status": 503, "body": {"error": {"message": "Service temporarily unavailable",
                                                           "type": "OAuthException", "code": 2,
                                                           "is_transient": True, "fbtrace_id": "Afake"}}},
    {"fault": "status", "status": 500, "body": {"error": {"message": "An unknown error occurred",
                                                           "type": "OAuthException", "code": 1,
                                                           "error_subcode": 99, "fbtrace_id": "Afake"}}},
    {"fault": "status", "status": 400, "body": {"error": {"message": "Error accessing adreport job.",
                                                           "type": "OAuthException", "code": 2601,
                                                           "is_transient": True, "fbtrace_id": "Afake"}}},
    {"fault": "status", "status": 502, "body": "<html>Bad Gateway</html>"},
    {"fault": "malformed_json"},
    {"fault": "reset"},
    {"fault": "timeout", "seconds": 3},
], ids=["code-2", "code-1", "is_transient", "502-html", "malformed-json", "reset", "timeout"])
def test_a_transient_failure_then_success(fake_api, stored_hook, rule):
    api = fake_api()
    FakeAdmin(api).faults({"api": "meta", "times": 1, **rule})
    hook = stored_hook(api, timeout=1)
    assert hook.get(f"{ACME}/", {"fields": ["name"]}) == {"id": ACME, "name": "Acme Ads"}
    assert hook.api_calls == 2


def test_retries_end_after_max_attempts_with_one_line(fake_api, stored_hook):
    api = fake_api()
    FakeAdmin(api).faults({"api": "meta", "status": 503, "body": "Service Unavailable"})
    hook = stored_hook(api)
    with pytest.raises(MetaTransientError) as raised:
        hook.get(f"{ACME}/")
    assert str(raised.value) == "Meta answered act_1000000001/ with HTTP 503 and no usable body"
    assert hook.api_calls == MAX_ATTEMPTS


def test_a_throttle_waits_as_long_as_the_usage_headers_say_within_the_cap():
    headers = requests.structures.CaseInsensitiveDict({"X-Business-Use-Case-Usage": json.dumps({
        "1": [{"type": "ads_management", "estimated_time_to_regain_access": 3}],
        "2": [{"type": "ads_insights", "estimated_time_to_regain_access": 7}]})})
    assert regain_seconds(headers) == 420
    assert regain_seconds(requests.structures.CaseInsensitiveDict()) is None

    throttled = MetaThrottled("x", code=80004, subcode=2446079, wait_seconds=420)
    unknown_wait = MetaThrottled("x", code=4, subcode=None, wait_seconds=None)
    assert backoff_seconds(throttled, 1, 600) == 420
    assert backoff_seconds(throttled, 1, 60) == 60
    assert [backoff_seconds(unknown_wait, n, 600) for n in (1, 2, 3)] == [60, 120, 240]
    assert [backoff_seconds(MetaTransientError("x"), n, 600) for n in (1, 2, 3)] == [2, 4, 8]


# ---------------------------------------------------------------- async report runs

def test_async_report_run_that_fails_once_then_succeeds(fake_api, stored_hook):
    api = fake_api()
    FakeAdmin(api).call("POST", "meta/report_runs", {"plans": ["fails"]})
    rows = stored_hook(api).run_report(ACME, DAILY)
    assert spend_rows(rows) == EXAMPLE_SPEND
    assert [c["endpoint"] for c in FakeAdmin(api).calls("meta") if c["method"] == "POST"] == [
        "act/insights", "act/insights"]


def test_100_percent_while_job_running_is_not_complete(fake_api, stored_hook):
    api = fake_api()
    FakeAdmin(api).call("POST", "meta/report_runs", {"plans": ["percent_100_while_running"]})
    rows = stored_hook(api).run_report(ACME, DAILY)
    assert spend_rows(rows) == EXAMPLE_SPEND
    calls = FakeAdmin(api).calls("meta")
    # Results were asked for once, after Job Completed: never early (which is a 400 from Meta).
    assert [c["status"] for c in calls] == [200] * len(calls)
    assert [c["endpoint"] for c in calls] == ["act/insights"] + ["{id}"] * 5 + ["{id}/insights"]


def test_a_report_run_that_fails_twice_is_given_up(fake_api, stored_hook):
    api = fake_api()
    FakeAdmin(api).call("POST", "meta/report_runs", {"plans": ["skipped", "fails"]})
    with pytest.raises(MetaReportFailed) as raised:
        stored_hook(api).run_report(ACME, DAILY)
    assert str(raised.value) == "Meta could not build the insights report for act_1000000001 (Job Failed, 2 attempts)"


# ---------------------------------------------------------------- the connection and its secret

def test_the_token_is_never_in_a_log_a_message_a_url_or_a_repr(fake_api, stored_hook, caplog):
    api = fake_api()
    caplog.set_level(logging.DEBUG)
    FakeAdmin(api).faults({"api": "meta", "times": 1, "fault": "reset"})
    hook = stored_hook(api, "EAAB_acme_expired")
    with pytest.raises(MetaTokenError) as raised:
        hook.get(f"{ACME}/", {"fields": ["name"]})
    valid = stored_hook(api, VALID)
    list(valid.paginate(f"{ACME}/campaigns", {"fields": ["id"]}))
    seen = [caplog.text, str(raised.value), repr(raised.value), repr(hook), repr(valid),
            json.dumps(FakeAdmin(api).calls("meta"))]
    for text in seen:
        assert "EAAB_acme_expired" not in text and VALID not in text


def test_airflow_test_button_uses_this_hook(fake_api, stored_hook):
    from airflow.models.connection import Connection

    api = fake_api()
    good, bad = stored_hook(api), stored_hook(api, "EAAB_acme_expired")
    assert Connection.get_connection_from_secrets(good.meta_conn_id).test_connection() == (
        True, "the token can read act_1000000001 (Acme Ads)")
    ok, message = Connection.get_connection_from_secrets(bad.meta_conn_id).test_connection()
    assert not ok and message.startswith("the Meta access token has expired (error 190/463)")


def test_connection_form_hides_what_meta_does_not_use():
    behaviour = MetaAdsHook.get_ui_field_behaviour()
    assert set(behaviour["hidden_fields"]) == {"schema", "port", "login"}
    assert behaviour["relabeling"] == {"host": "Graph API base URL", "password": "Access token"}
