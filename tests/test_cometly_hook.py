"""The Cometly hook against the fake Cometly served as a real process: keys, messages, secrecy, discovery."""

from __future__ import annotations

import http.server
import logging
import threading

import pytest

from cometly_elt.errors import UserError
from cometly_elt.hooks.cometly import CometlyHook
from helpers.fake_admin import FakeAdmin

KEY = "ck_acme_live"
KEY_REJECTED = (
    "Cometly rejected this API key: it may have expired or been revoked. "
    "Generate a new one in Cometly (Integrations → API) and connect again."
)


def test_an_active_key_is_accepted_with_one_call(fake_api):
    api = fake_api()
    hook = CometlyHook.for_key(api.cometly_url, KEY)

    hook.validate_key()

    assert hook.test_connection() == (True, "Cometly accepted the API key.")
    assert [c["status"] for c in FakeAdmin(api).calls(endpoint="list_events")] == [200, 200]


def test_a_revoked_key_gets_the_rejected_key_line(fake_api):
    api = fake_api()
    hook = CometlyHook.for_key(api.cometly_url, "ck_acme_old")

    with pytest.raises(UserError) as raised:
        hook.validate_key()

    assert str(raised.value) == KEY_REJECTED
    assert hook.test_connection() == (False, KEY_REJECTED)


def test_an_unknown_key_is_rejected_the_same_way(fake_api):
    api = fake_api()
    with pytest.raises(UserError, match="^Cometly rejected this API key"):
        CometlyHook.for_key(api.cometly_url, "ck_nobody").validate_key()


def test_an_inactive_subscription_is_named(fake_api):
    api = fake_api()
    FakeAdmin(api).call("POST", "cometly/spaces/space_acme", {"subscription_active": False})

    with pytest.raises(UserError) as raised:
        CometlyHook.for_key(api.cometly_url, KEY).validate_key()

    assert "subscription is inactive" in str(raised.value)
    assert "lacks permission" in str(raised.value)
    assert len(FakeAdmin(api).calls(endpoint="list_events")) == 1  # 403 is not retried


def test_an_unreachable_cometly_is_named_with_its_url():
    with socket_nobody_listens_on() as port:
        url = f"http://127.0.0.1:{port}/public-api/v1"
        with pytest.raises(UserError) as raised:
            CometlyHook.for_key(url, KEY).validate_key()

    assert str(raised.value).startswith(f"Cometly could not be reached at {url}")


class socket_nobody_listens_on:
    """A port that refuses connections: bound, never listening."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        self.sock.close()


def test_requests_carry_the_bearer_key_and_json_headers():
    seen: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            body = b'{"data": [], "next_cursor": null}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        CometlyHook.for_key(f"http://127.0.0.1:{server.server_port}/public-api/v1", KEY).validate_key()
    finally:
        server.shutdown()

    assert seen[0]["authorization"] == f"Bearer {KEY}"
    assert seen[0]["accept"] == "application/json"
    assert seen[0]["content-type"] == "application/json"
    assert seen[0]["path"].startswith("/public-api/v1/events?")


def test_the_key_never_shows_in_messages_logs_or_reprs(fake_api, caplog):
    api = fake_api()
    FakeAdmin(api).faults(
        {"api": "cometly", "path": "/events$", "calls": [1], "fault": "status", "status": 503},
        {"api": "cometly", "path": "/events$", "calls": [2], "fault": "status", "status": 401,
         "body": {"message": f"Unauthenticated. ({KEY})"}},
    )
    hook = CometlyHook.for_key(api.cometly_url, KEY)

    with caplog.at_level(logging.DEBUG), pytest.raises(UserError) as raised:
        hook.validate_key()

    assert str(raised.value) == KEY_REJECTED
    assert "503" in caplog.text  # the retry was logged...
    for text in (caplog.text, str(raised.value), repr(raised.value), repr(hook), repr(hook.get_conn().auth)):
        assert KEY not in text  # ...without the key


def test_the_ui_test_button_finds_the_hook_through_the_provider(fake_api, monkeypatch):
    """Airflow's connection Test: the `cometly` type resolves to this hook, which makes a GET."""
    from airflow.models.connection import Connection

    api = fake_api()
    conn = Connection(conn_id="cometly_ui_test", conn_type="cometly", host=api.cometly_url, password=KEY)
    # The API server puts the form's connection in an environment variable, as here.
    monkeypatch.setenv("AIRFLOW_CONN_COMETLY_UI_TEST", conn.as_json())

    assert conn.test_connection() == (True, "Cometly accepted the API key.")
    assert [(c["method"], c["status"]) for c in FakeAdmin(api).calls(endpoint="list_events")] == [("GET", 200)]


def test_the_connection_form_hides_what_cometly_does_not_use():
    behaviour = CometlyHook.get_ui_field_behaviour()
    assert set(behaviour["hidden_fields"]) == {"login", "port", "schema", "extra"}
    assert behaviour["relabeling"]["password"] == "API key"


def test_discover_events_lists_names_with_labels_in_one_call(fake_api):
    """example.json has purchase (101, 104), lead_generated (102) and custom_event_3 "Demo Booked" (103)."""
    api = fake_api()
    hook = CometlyHook.for_key(api.cometly_url, KEY)

    found = hook.discover_events("America/New_York", days=3650)

    assert found == {"purchase": "purchase", "lead_generated": "lead_generated", "custom_event_3": "Demo Booked"}
    assert len(FakeAdmin(api).calls(endpoint="list_events")) == 1


def test_discover_events_finds_rare_events_behind_a_full_page(fake_api):
    """4,001 purchases fill the first page (4,000 rows, newest ids first); a lead and a custom event
    with the oldest ids hide behind it. Then the 63 names not seen are asked 10 at a time, first
    pages only: [add_payment_info .. submit_application] finds lead_generated, the next ten
    (subscribe .. custom_event_6) nothing, custom_event_7..16 finds "Call Booked", and the four
    groups left nothing: 1 + 7 = 8 calls."""
    touch = {"time_utc": "2026-10-01T00:00:00Z", "source": "facebook_ads",
             "account_id": "1", "campaign_id": "2", "adset_id": "3", "ad_id": "4"}
    events = [{"id": 1, "event_name": "lead_generated", "time_utc": "2026-10-02T00:00:00Z"},
              {"id": 2, "event_name": "custom_event_7", "time_utc": "2026-10-02T00:00:00Z"}]
    events += [{"id": 10 + i, "event_name": "purchase", "time_utc": "2026-10-03T00:00:00Z"} for i in range(4001)]
    scenario = {"cometly": {"spaces": [{
        "id": "busy", "timezone": "UTC", "api_keys": [{"key": "ck_busy", "status": "active"}],
        "custom_events": {"custom_event_7": "Call Booked"},
        "contacts": [{"id": 1, "touchpoints": [touch], "events": events}],
    }]}}
    api = fake_api(scenario, "--no-rate-limits")

    found = CometlyHook.for_key(api.cometly_url, "ck_busy").discover_events("UTC", days=3650)

    assert found == {"purchase": "purchase", "lead_generated": "lead_generated", "custom_event_7": "Call Booked"}
    assert len(FakeAdmin(api).calls(endpoint="list_events")) == 8


def test_discover_events_in_a_space_without_events_is_empty(fake_api):
    scenario = {"cometly": {"spaces": [{"id": "quiet", "timezone": "Europe/Berlin",
                                        "api_keys": [{"key": "ck_quiet", "status": "active"}], "contacts": []}]}}
    api = fake_api(scenario)
    assert CometlyHook.for_key(api.cometly_url, "ck_quiet").discover_events("Europe/Berlin", days=30) == {}
    assert len(FakeAdmin(api).calls(endpoint="list_events")) == 1
