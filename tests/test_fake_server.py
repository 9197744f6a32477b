"""The fake server as a whole: fault schedule, admin endpoints, call log, scenario checking."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cometly_elt.fake.scenario import ScenarioError, validate_scenario
from helpers.fake_admin import FakeAdmin

EXAMPLE = Path(__file__).resolve().parent / "data" / "example.json"
EVENTS = "/public-api/v1/events"
AUTH = {"Authorization": "Bearer ck_acme_live", "Accept": "application/json"}
WEEK = {"start_date": "2026-03-01 00:00:00", "end_date": "2026-03-07 23:59:59"}


def list_events(api, timeout: float = 10, key: str = "ck_acme_live") -> httpx.Response:
    return httpx.get(api.url + EVENTS, params=WEEK, headers={**AUTH, "Authorization": f"Bearer {key}"}, timeout=timeout)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    cli = Path(sys.executable).parent / "cometly-elt"
    return subprocess.run([str(cli), *args], capture_output=True, text=True, timeout=60)


# ---------------------------------------------------------------- faults


def test_a_scheduled_503_then_success_and_a_chosen_call_number(fake_api):
    api = fake_api()
    admin = FakeAdmin(api)
    admin.faults({"api": "cometly", "method": "GET", "path": "/events$", "times": 1, "fault": "status",
                  "status": 503})
    assert list_events(api).status_code == 503
    assert list_events(api).status_code == 200

    admin.faults({"api": "cometly", "path": "/events$", "calls": [2], "status": 429,
                  "headers": {"Retry-After": "1"}, "body": {"message": "Too Many Attempts."}})
    first, second, third = list_events(api), list_events(api), list_events(api)
    assert (first.status_code, second.status_code, third.status_code) == (200, 429, 200)
    assert second.headers["Retry-After"] == "1" and second.json() == {"message": "Too Many Attempts."}
    rule = admin.request("GET", "faults").json()["rules"][0]
    assert (rule["seen"], rule["fired"]) == (3, 1)


def test_a_meta_rule_leaves_cometly_alone_and_a_meta_error_body_goes_out_as_is(fake_api):
    api = fake_api()
    meta_error = {"error": {"message": "(#80000) There have been too many calls from this ad-account.",
                            "type": "OAuthException", "code": 80000, "error_subcode": 2446079, "fbtrace_id": "Afake"}}
    FakeAdmin(api).faults({"api": "meta", "path": "/insights", "times": 1, "status": 400, "body": meta_error})
    assert list_events(api).status_code == 200
    response = httpx.get(f"{api.url}/v25.0/act_1000000001/insights", params={"access_token": "EAAB_acme_valid"})
    assert (response.status_code, response.json()) == (400, meta_error)


def test_reset_mid_body_then_success(fake_api):
    api = fake_api()
    FakeAdmin(api).faults({"api": "cometly", "path": "/events$", "times": 1, "fault": "reset"})
    with pytest.raises(httpx.TransportError):
        list_events(api)
    assert list_events(api).status_code == 200


def test_malformed_json_body(fake_api):
    api = fake_api()
    FakeAdmin(api).faults({"api": "cometly", "path": "/events$", "times": 1, "fault": "malformed_json"})
    broken = list_events(api)
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.content)
    assert list_events(api).json()["data"]


def test_a_timeout_outlasts_the_client(fake_api):
    api = fake_api()
    FakeAdmin(api).faults({"api": "cometly", "path": "/events$", "times": 1, "fault": "timeout", "seconds": 20})
    with pytest.raises(httpx.ReadTimeout):
        list_events(api, timeout=0.5)
    assert list_events(api).status_code == 200


def test_faults_file_at_start(fake_api, tmp_path):
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps([{"api": "cometly", "path": "/events/\\d+$", "times": 2, "status": 500}]))
    api = fake_api(EXAMPLE, "--faults", str(faults))
    statuses = [httpx.get(api.url + EVENTS + "/101", headers=AUTH).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert list_events(api).status_code == 200


def test_a_bad_fault_schedule_is_refused(fake_api, tmp_path):
    api = fake_api()
    response = FakeAdmin(api).request("PUT", "faults", {"rules": [{"fault": "explode"}]})
    assert response.status_code == 400
    assert response.json()["message"] == (
        "faults: rules[0].fault: expected one of status, timeout, reset, malformed_json"
    )

    bad = tmp_path / "faults.json"
    bad.write_text(json.dumps({"rules": [{"times": 0}]}))
    result = run_cli("fake", "serve", "--scenario", str(EXAMPLE), "--port", "1", "--faults", str(bad))
    assert result.returncode == 1
    assert result.stderr == f"cometly-elt: faults {bad}: rules[0].times: expected a whole number >= 1\n"


# ---------------------------------------------------------------- admin endpoints


def test_revoking_a_key_and_deactivating_a_subscription_at_run_time(fake_api):
    api = fake_api()
    admin = FakeAdmin(api)
    assert list_events(api).status_code == 200
    assert admin.request("POST", "cometly/keys", {"key": "ck_acme_live", "status": "revoked"}).status_code == 200
    assert list_events(api).status_code == 401
    admin.request("POST", "cometly/keys", {"key": "ck_acme_live", "status": "active"})
    assert list_events(api).status_code == 200

    assert admin.request("POST", "cometly/spaces/space_acme", {"subscription_active": False}).status_code == 200
    assert list_events(api).status_code == 403
    assert admin.request("POST", "cometly/spaces/nowhere", {"subscription_active": False}).status_code == 404
    assert admin.request("POST", "cometly/keys", {"key": "ck_nobody", "status": "revoked"}).status_code == 404


def test_call_log_counts_per_endpoint_space_and_minute(fake_api):
    api = fake_api()
    admin = FakeAdmin(api)
    admin.request("POST", "clock", {"speed": 1})
    list_events(api)
    list_events(api, key="ck_nobody")
    httpx.get(api.url + EVENTS + "/101", headers=AUTH)
    httpx.get(f"{api.url}/v25.0/act_1000000001/campaigns")
    admin.request("GET", "health")  # admin calls are not API calls

    calls = admin.request("GET", "calls").json()
    by_endpoint = {}
    for group in calls["per_minute"]:
        key = (group["api"], group["endpoint"], group["space"])
        by_endpoint.setdefault(key, {"count": 0, "statuses": {}})
        by_endpoint[key]["count"] += group["count"]
        for status, n in group["statuses"].items():
            by_endpoint[key]["statuses"][status] = by_endpoint[key]["statuses"].get(status, 0) + n
    assert by_endpoint[("cometly", "list_events", "space_acme")] == {"count": 1, "statuses": {"200": 1}}
    assert by_endpoint[("cometly", "list_events", None)] == {"count": 1, "statuses": {"401": 1}}
    assert by_endpoint[("cometly", "get_event", "space_acme")]["count"] == 1
    assert by_endpoint[("meta", "act/campaigns", "act_1000000001")]["count"] == 1
    assert len(calls["calls"]) == 4

    admin.request("DELETE", "calls")
    assert admin.request("GET", "calls").json() == {"per_minute": [], "calls": []}


def test_unknown_cometly_route_is_a_json_404(fake_api):
    api = fake_api()
    response = httpx.get(api.url + "/public-api/v1/nothing", headers=AUTH)
    assert response.status_code == 404 and "message" in response.json()


# ---------------------------------------------------------------- scenario checking


def test_a_bad_scenario_file_is_refused_with_its_path_and_first_error(tmp_path, example_scenario):
    example_scenario["cometly"]["spaces"][0]["contacts"][2]["events"][0]["time_utc"] = "2026-03-02 13:00:00"
    example_scenario["cometly"]["spaces"][0]["timezone"] = "Mars/Olympus"  # a later problem: not reported
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps(example_scenario))
    result = run_cli("fake", "serve", "--scenario", str(bad), "--port", "1")
    assert result.returncode == 1
    # The space's timezone comes before its contacts, so it is the first problem.
    assert result.stderr == (
        f"cometly-elt: scenario {bad}: cometly.spaces[0].timezone:"
        " expected an IANA timezone name such as America/New_York\n"
    )

    example_scenario["cometly"]["spaces"][0]["timezone"] = "America/New_York"
    bad.write_text(json.dumps(example_scenario))
    result = run_cli("fake", "serve", "--scenario", str(bad), "--port", "1")
    assert result.stderr == (f"cometly-elt: scenario {bad}: cometly.spaces[0].contacts[2].events[0].time_utc:"
                             " expected YYYY-MM-DDTHH:MM:SSZ\n")

    bad.write_text("{not json")
    assert run_cli("fake", "serve", "--scenario", str(bad), "--port", "1").stderr.startswith(
        f"cometly-elt: scenario {bad}: not JSON")


def first_problem(scenario: dict) -> str:
    with pytest.raises(ScenarioError) as caught:
        validate_scenario(scenario)
    return str(caught.value)


def test_scenario_checks(example_scenario):
    validate_scenario(example_scenario)
    space = example_scenario["cometly"]["spaces"][0]

    def changed(change) -> str:
        scenario = json.loads(json.dumps(example_scenario))
        change(scenario["cometly"]["spaces"][0], scenario["meta"])
        return first_problem(scenario)

    assert changed(lambda s, m: s["contacts"][1]["events"].append({**s["contacts"][0]["events"][0]})) == \
        "cometly.spaces[0].contacts[1].events[2].id: duplicate event id in this Space 101"
    assert changed(lambda s, m: s["contacts"][0]["touchpoints"][0].update(source="meta_ads")) == \
        "cometly.spaces[0].contacts[0].touchpoints[0].source: not a Cometly source (see cometly-api.md §6.2)"
    assert changed(lambda s, m: s["contacts"][0]["events"][0].update(event_name="custom_event_51")) == \
        "cometly.spaces[0].contacts[0].events[0].event_name:" \
        " expected a standard event name or custom_event_1..custom_event_50"
    assert changed(lambda s, m: s["api_keys"][1].update(status="expired")) == \
        "cometly.spaces[0].api_keys[1].status: expected one of active, revoked"
    assert changed(lambda s, m: s.update(custom_events={"custom_event_0": "Zero"})) == \
        "cometly.spaces[0].custom_events.custom_event_0: not a known custom event slot"
    assert changed(lambda s, m: s["contacts"][0]["events"][0].update(amount="89.5")) == \
        "cometly.spaces[0].contacts[0].events[0].amount: expected a number"
    assert changed(lambda s, m: s.update(timezon="UTC")) == "cometly.spaces[0].timezon: not a known key"
    assert changed(lambda s, m: m["ad_accounts"][0]["insights"][0].update(ad_id="999")) == \
        "meta.ad_accounts[0].insights[0].ad_id: not an ad of this account"
    assert changed(lambda s, m: m["ad_accounts"][0]["insights"][1].update(date="2026-03-01")) == \
        "meta.ad_accounts[0].insights[1]: a second row for ad 4000000001 on 2026-03-01"
    assert changed(lambda s, m: m["ad_accounts"][0].update(id="1000000001")) == \
        "meta.ad_accounts[0].id: expected act_<digits>"
    assert changed(lambda s, m: m["access_tokens"][0].update(status="revoked")) == \
        "meta.access_tokens[0].status: expected one of valid, expired, invalidated"
    assert changed(lambda s, m: m["ad_accounts"][0]["campaigns"][0].update(status="RUNNING")) == \
        "meta.ad_accounts[0].campaigns[0].status: expected one of ACTIVE, PAUSED, ARCHIVED, DELETED"
    assert changed(lambda s, m: m["ad_accounts"][0]["insights"][0].update(spend=50)) == \
        'meta.ad_accounts[0].insights[0].spend: expected a decimal string such as "12.34"'
    assert space["id"] == "space_acme"  # the original is untouched
