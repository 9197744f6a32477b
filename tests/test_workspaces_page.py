"""The Workspaces page (plugins/cometly_workspaces.py) served by a real Airflow api-server.

Who may see and change what is Airflow's to decide (SimpleAuthManager here, with a viewer, an
editor of role "user" and an admin), so every test goes through a real api-server and its
login. The dag-processor runs too (the page reads the plan DAGs' next run); no scheduler runs,
so a Sync Now started from the page stays queued where the test can read it.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from html import unescape

import pytest
import requests

from airflow_stack import _auth_headers, airflow_components, dag_runs, wait_for_dag_parsed
from conftest import cli, cli_ok, set_up_workspace

pytestmark = pytest.mark.airflow

PASSWORDS = {"admin": "admin-pw-1", "viewer": "viewer-pw-1", "editor": "editor-pw-1"}
WS = "acme"


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, warehouse_url):
    """api-server and dag-processor with three users; yields the base URL."""
    tmp_path = tmp_path_factory.mktemp("airflow")
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin,viewer:viewer,editor:user")
        monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(passwords))
        components = (["api-server", "--port"], ["dag-processor"])
        with airflow_components(tmp_path, monkeypatch, components=components) as base:
            yield base


def jwt(base: str, user: str) -> str:
    response = requests.post(f"{base}/auth/token", json={"username": user, "password": PASSWORDS[user]}, timeout=30)
    response.raise_for_status()
    return response.json()["access_token"]


def browser(base: str, user: str) -> requests.Session:
    """A session holding the UI's `_token` cookie, as a browser does after logging in."""
    session = requests.Session()
    session.cookies.set("_token", jwt(base, user))
    session.headers["Accept"] = "text/html"
    return session


def page_csrf(session: requests.Session, url: str) -> str:
    html = session.get(url, timeout=60)
    assert html.status_code == 200, html.text
    return re.search(r'name="csrf_token" value="([^"]+)"', html.text).group(1)


def text(html: str) -> str:
    """What a person reads: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", "", html, flags=re.S))).split())


def cli_error(*args: str) -> str:
    result = cli(*args, check=False)
    assert result.returncode == 1
    return result.stderr.removeprefix("cometly-elt: ").strip()


@pytest.fixture
def added(wh):
    cli("workspace", "add", WS, "--name", "Acme & Co <b>", "--plan", "pro", "--history-start", "2026-02-15")
    return WS


def test_the_plugin_is_listed_by_airflow_with_a_workspaces_nav_entry(airflow):
    plugins = requests.get(f"{airflow}/api/v2/plugins", headers=_auth_headers(airflow), timeout=30).json()["plugins"]

    ours = [p for p in plugins if any("Workspaces" in v["name"] for v in p["external_views"])]
    assert len(ours) == 1
    (view,) = ours[0]["external_views"]
    assert (view["name"], view["href"], view["destination"], view["url_route"]) == (
        "Workspaces", "/workspaces/", "nav", "workspaces")
    assert [a["url_prefix"] for a in ours[0]["fastapi_apps"]] == ["/workspaces"]


def test_anonymous_and_forged_requests_are_refused_on_every_route(airflow, added):
    from cometly_elt.webui.app import create_app

    routes = [(method, route.path.replace("{workspace_id}", WS)) for route in create_app().routes
              for method in route.methods if method != "HEAD"]
    assert len(routes) == 13
    forged = jwt(airflow, "admin")[:-4] + "AAAA"
    for method, path in routes:
        for accept in ("text/html", "application/json"):
            anonymous = requests.request(method, f"{airflow}/workspaces{path}", headers={"Accept": accept},
                                         allow_redirects=False, timeout=60)
            assert anonymous.status_code == 401, (method, path, anonymous.text)
            bad = requests.request(method, f"{airflow}/workspaces{path}", allow_redirects=False, timeout=60,
                                   headers={"Accept": accept, "Authorization": f"Bearer {forged}"})
            assert bad.status_code in (401, 403), (method, path, bad.status_code)
            assert "Acme" not in anonymous.text + bad.text
    # The login link of the refusal page leads back to the page asked for.
    refused = requests.get(f"{airflow}/workspaces/", headers={"Accept": "text/html"}, timeout=60)
    assert "/auth/login?next=" in refused.text and "Log in to Airflow" in text(refused.text)


def test_a_viewer_reads_and_cannot_change_anything(airflow, added, wh):
    viewer = browser(airflow, "viewer")
    listing = viewer.get(f"{airflow}/workspaces/", timeout=60)
    assert listing.status_code == 200
    assert "Acme &amp; Co &lt;b&gt;" in listing.text  # autoescaped, verbatim
    csrf = page_csrf(viewer, f"{airflow}/workspaces/w/{WS}")

    refused = viewer.post(f"{airflow}/workspaces/w/{WS}/subscription", data={"status": "paused", "csrf_token": csrf},
                          allow_redirects=False, timeout=60)
    assert refused.status_code == 403
    bearer = requests.post(f"{airflow}/workspaces/w/{WS}/subscription", data={"status": "paused"}, timeout=60,
                           headers={"Authorization": f"Bearer {jwt(airflow, 'viewer')}", "Accept": "application/json"})
    assert bearer.status_code == 403
    assert wh.execute("select subscription_status from control.workspaces").fetchone() == ("active",)


def test_a_change_from_the_browser_needs_the_pages_csrf_token_and_the_same_origin(airflow, added, wh):
    editor = browser(airflow, "editor")
    url = f"{airflow}/workspaces/w/{WS}/subscription"
    csrf = page_csrf(editor, f"{airflow}/workspaces/w/{WS}")
    viewers_token = page_csrf(browser(airflow, "viewer"), f"{airflow}/workspaces/w/{WS}")

    for data, headers in (
        ({"status": "paused"}, {}),                                               # no token
        ({"status": "paused", "csrf_token": "forged"}, {}),                       # not signed by Airflow's secret
        ({"status": "paused", "csrf_token": viewers_token}, {}),                  # another user's
        ({"status": "paused", "csrf_token": csrf}, {"Origin": "http://localhost:9"}),  # another origin
    ):
        refused = editor.post(url, data=data, headers=headers, allow_redirects=False, timeout=60)
        assert refused.status_code == 403, data
    assert wh.execute("select subscription_status from control.workspaces").fetchone() == ("active",)

    done = editor.post(url, data={"status": "paused", "csrf_token": csrf}, allow_redirects=False, timeout=60)
    assert (done.status_code, done.headers["location"]) == (303, f"/workspaces/w/{WS}")
    assert wh.execute("select subscription_status from control.workspaces").fetchone() == ("paused",)
    card = text(editor.get(f"{airflow}/workspaces/w/{WS}", timeout=60).text)
    # The CLI's sentence, once, then gone.
    assert f"Workspace '{WS}' paused: no syncs run until 'cometly-elt workspace resume {WS}'." in card
    assert "Resume" in card and "none: subscription paused" in card
    assert "no syncs run until 'cometly-elt" not in text(editor.get(f"{airflow}/workspaces/w/{WS}", timeout=60).text)


def test_every_input_is_refused_with_the_clis_message(airflow, added, wh):
    editor = browser(airflow, "editor")
    csrf = page_csrf(editor, f"{airflow}/workspaces/w/{WS}")
    as_json = {"Accept": "application/json", "X-CSRF-Token": csrf}

    unknown = editor.get(f"{airflow}/workspaces/w/nope", timeout=60)
    assert unknown.status_code == 404
    assert cli_error("status", "nope") == "no workspace 'nope': see 'cometly-elt workspace list'" in text(unknown.text)

    cases = [
        (f"/w/{WS}/attribution", {"model": "first_touch", "window": "lifetime", "timezone": "America/New_Yrok"},
         ("cometly", "configure", WS, "--model", "first_touch", "--window", "lifetime",
          "--timezone", "America/New_Yrok")),
        (f"/w/{WS}/attribution", {"model": "linear", "window": "lifetime", "timezone": "UTC"},
         ("cometly", "configure", WS, "--model", "linear", "--window", "lifetime", "--timezone", "UTC")),
        (f"/w/{WS}/events", {"event": "Nonexistent Event", "action": "select"},
         ("cometly", "select", WS, "Nonexistent Event")),
        ("/w/nope/events", {"event": "purchase", "action": "select"}, ("cometly", "select", "nope", "purchase")),
        (f"/w/{WS}/results", {"campaign": "120000000001", "event": "purchase"},
         ("results", "set", WS, "--campaign", "120000000001", "--event", "purchase")),
        (f"/w/{WS}/meta", {"ad_account": "1234", "access_token": "EAAB"},
         ("meta", "connect", WS, "--ad-account", "1234", "--access-token", "EAAB")),
    ]
    for path, data, command in cases:
        refused = editor.post(f"{airflow}/workspaces{path}", data=data, headers=as_json, timeout=60)
        assert refused.status_code in (400, 404), (path, refused.text)
        assert refused.json()["detail"] == cli_error(*command)
    assert "did you mean America/New_York?" in refused_text(airflow, editor, csrf)
    assert wh.execute("select timezone from control.workspaces").fetchone() == (None,)
    assert wh.execute("select count(*) from control.selected_events").fetchone() == (0,)


def refused_text(base: str, editor: requests.Session, csrf: str) -> str:
    """A refused form, as a browser follows it: back on the card with the message."""
    back = editor.post(f"{base}/workspaces/w/{WS}/attribution", timeout=60,
                       data={"model": "first_touch", "window": "lifetime", "timezone": "America/New_Yrok",
                             "csrf_token": csrf})
    return text(back.text)


def test_the_cometly_key_is_validated_before_it_is_stored_and_never_shown(airflow, added, wh, fake_api,
                                                                           tmp_path_factory):
    from cometly_elt.hooks.cometly import KEY_REJECTED

    api = fake_api()
    editor = browser(airflow, "editor")
    card_url = f"{airflow}/workspaces/w/{WS}"
    csrf = page_csrf(editor, card_url)

    wrong = editor.post(f"{card_url}/cometly", data={"api_key": "ck_wrong_key", "base_url": api.cometly_url,
                                                     "csrf_token": csrf}, timeout=60)
    assert KEY_REJECTED in text(wrong.text)
    assert wh.execute("select count(*) from control.cometly_connections").fetchone() == (0,)

    right = editor.post(f"{card_url}/cometly", data={"api_key": "ck_acme_live", "base_url": api.cometly_url,
                                                     "csrf_token": csrf}, timeout=60)
    assert f"Cometly connected at {api.cometly_url}: the key is valid and stored encrypted as Airflow connection" \
           f" 'cometly_{WS}'." in text(right.text)
    assert "ck_acme_live" not in right.text + editor.get(f"{airflow}/workspaces/", timeout=60).text
    assert "ck_acme_live" not in json.dumps(editor.get(f"{airflow}/workspaces/api/workspaces/{WS}", timeout=60).json())
    logs = "".join(p.read_text(errors="replace") for p in tmp_path_factory.getbasetemp().rglob("airflow-*.log"))
    assert "ck_acme_live" not in logs and "ck_wrong_key" not in logs


def test_a_model_change_asks_to_confirm_the_reprocess_it_names(airflow, added, wh):
    editor = browser(airflow, "editor")
    url = f"{airflow}/workspaces/w/{WS}/attribution"
    csrf = page_csrf(editor, f"{airflow}/workspaces/w/{WS}")
    first = editor.post(url, data={"model": "first_touch", "window": "lifetime", "timezone": "America/New_York",
                                   "csrf_token": csrf}, timeout=60)
    assert f"Attribution for '{WS}': first_touch, window lifetime, timezone America/New_York (settings version 1)." \
           in text(first.text)

    asked = editor.post(url, data={"model": "last_touch", "window": "7", "timezone": "America/New_York",
                                   "csrf_token": csrf}, timeout=60)
    assert "Reprocess all history?" in text(asked.text)
    assert ("Changing the attribution from first_touch, window lifetime to last_touch, window 7 days reprocesses all"
            " history of Acme & Co <b> since 2026-02-15") in text(asked.text)
    assert wh.execute("select count(*) from control.attribution_versions").fetchone() == (1,)

    confirm = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', asked.text))
    done = editor.post(url, data={k: unescape(v) for k, v in confirm.items()}, timeout=60)
    assert ("Settings version 2 (last_touch, window 7 days) is being built beside version 1: all history is"
            " reprocessed, and the marts switch to it when that is done.") in text(done.text)
    assert wh.execute("select version, model, window_days, state from control.attribution_versions"
                      " order by version").fetchall() == [(1, "first_touch", 0, "active"),
                                                          (2, "last_touch", 7, "building")]


def test_the_list_shows_schedule_sync_state_errors_and_progress(airflow, added, wh):
    from cometly_elt import control, warehouse

    wait_for_dag_parsed("cometly_sync_pro")
    cli("workspace", "add", "quiet", "--name", "Quiet", "--plan", "hobby", "--history-start", "2026-02-15")
    cli("workspace", "pause", "quiet")
    with warehouse.connect() as conn:
        control.record_sync_success(conn, WS, datetime(2026, 3, 1, tzinfo=timezone.utc))
        conn.execute("update control.sync_state set last_synced_at = now() - interval '2 hours'")
        control.record_sync_error(conn, WS, "Cometly rejected this API key: it may have expired or been revoked."
                                            " Generate a new one in Cometly (Integrations → API) and connect again.")
        control.merge_sync_progress(conn, WS, "reprocess", {"version": 2, "done_days": 120, "total_days": 330})
    synced_at = wh.execute("select last_synced_at from control.sync_state").fetchone()[0]
    pro = requests.get(f"{airflow}/api/v2/dags/cometly_sync_pro", headers=_auth_headers(airflow), timeout=30).json()

    page = browser(airflow, "viewer").get(f"{airflow}/workspaces/", timeout=60).text
    acme, quiet = (text(row) for row in re.findall(r'<tr data-workspace=.*?(?=<tr data-workspace=|</tbody>)', page,
                                                      flags=re.S))
    assert acme.startswith("Acme & Co <b> acme pro every 3 h active not connected 2 h ago")
    assert synced_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") in acme
    assert datetime.fromisoformat(pro["next_dagrun_run_after"]).strftime("%Y-%m-%d %H:%M:%S UTC") in acme
    assert ("error Cometly rejected this API key: it may have expired or been revoked. Generate a new one in Cometly"
            " (Integrations → API) and connect again.") in acme
    assert f"cometly-elt status {WS}" in acme
    assert "skipped until set up" in acme
    assert re.search(r"Reprocessing all history \(settings version 2\) ?: 120 of 330 days", acme)
    assert quiet.startswith("Quiet quiet hobby every 6 h paused not connected never never none: subscription paused")


def test_sync_now_goes_through_airflows_api_as_the_user_and_shows_its_banner(airflow, wh, fake_api):
    set_up_workspace(fake_api(), WS)
    wait_for_dag_parsed("cometly_sync_now")
    editor = browser(airflow, "editor")
    card_url = f"{airflow}/workspaces/w/{WS}"

    started = editor.post(f"{card_url}/sync", data={"csrf_token": page_csrf(editor, card_url)}, timeout=60)

    (run,) = dag_runs(airflow, "cometly_sync_now")
    assert (run["conf"], run["state"], run["triggering_user_name"]) == (
        {"workspace_id": WS, "full_refresh": False}, "queued", "editor")
    assert f"Sync Now started for '{WS}' (run {run['dag_run_id']})" in text(started.text)
    assert "Sync Now: queued" in text(editor.get(f"{card_url}/live", timeout=60).text)
    # The runs link finds it in Airflow's runs list, which filters with the same parameter.
    link = unescape(re.search(r'href="(/dag_runs\?conf_contains=[^"]+)"', started.text).group(1))
    listed = requests.get(f"{airflow}/api/v2/dags/~/dagRuns?" + link.split("?", 1)[1], timeout=30,
                          headers=_auth_headers(airflow)).json()["dag_runs"]
    assert [r["dag_run_id"] for r in listed] == [run["dag_run_id"]]


def test_events_and_results_on_the_card_are_the_clis(airflow, wh, fake_api):
    set_up_workspace(fake_api(), WS, events=("purchase",))
    editor = browser(airflow, "editor")
    csrf = page_csrf(editor, f"{airflow}/workspaces/w/{WS}")
    headers = {"Accept": "application/json", "X-CSRF-Token": csrf}

    listed = editor.get(f"{airflow}/workspaces/api/workspaces/{WS}/events", headers={"Accept": "application/json"},
                        timeout=120).json()
    assert listed == json.loads(cli_ok("cometly", "events", WS, "--json"))
    chosen = editor.post(f"{airflow}/workspaces/w/{WS}/events", data={"event": "lead_generated", "action": "select"},
                         headers=headers, timeout=60)
    assert chosen.json() == {
        "message": f"Selected for '{WS}': lead_generated.\nEvents synced: lead_generated, purchase."}
    removed = editor.post(f"{airflow}/workspaces/w/{WS}/events", data={"event": "purchase", "action": "unselect"},
                          headers=headers, timeout=60)
    assert removed.json()["message"].startswith(f"Unselected for '{WS}': purchase.")
    assert [e for (e,) in wh.execute("select event_name from control.selected_events")] == ["lead_generated"]


def test_events_say_so_plainly_when_cometly_has_none(airflow, added, wh, fake_api):
    api = fake_api({"cometly": {"spaces": [{"id": "space_empty", "timezone": "UTC", "contacts": [],
                                            "api_keys": [{"key": "ck_empty", "status": "active"}]}]}},
                   "--no-rate-limits")
    cli("cometly", "connect", WS, "--api-key", "ck_empty", "--base-url", api.cometly_url)

    listed = browser(airflow, "viewer").get(f"{airflow}/workspaces/api/workspaces/{WS}/events",
                                            headers={"Accept": "application/json"}, timeout=120).json()
    assert (listed["found_in_cometly"], listed["message"]) == (0, cli_ok("cometly", "events", WS).strip())


def test_per_event_coverage_is_a_banner_in_days_when_status_has_it():
    from cometly_elt.webui.app import _banners

    status = {"progress": {}, "last_synced_at": datetime(2026, 3, 1, tzinfo=timezone.utc), "setup_problem": None,
              "history_start": "2026-01-01", "coverage": [
                  {"event_name": "purchase", "label": "purchase", "loaded_days": 330, "total_days": 330},
                  {"event_name": "custom_event_3", "label": "Demo Booked", "loaded_days": 120, "total_days": 330}]}

    assert [(b["title"], b["done"], b["total"], b["unit"]) for b in _banners(status, [])] == [
        ("Event history: Demo Booked", 120, 330, "days")]
    # The same with the key named covered_days, and a state.
    renamed = [{"label": "Demo Booked", "covered_days": 120, "total_days": 330, "state": "filling"}]
    assert [(b["done"], b["state"]) for b in _banners({**status, "coverage": renamed}, [])] == [(120, "filling")]
    # A result backfill measured in days (from coverage) or, before coverage, in months.
    in_days = {"campaign_id": "7", "event": "purchase", "state": "running", "done_days": 120, "total_days": 330}
    in_months = {"campaign_id": "7", "event": "purchase", "state": "running", "done": 3, "total": 10}
    assert [(b["done"], b["total"], b["unit"]) for p in (in_days, in_months)
            for b in _banners({**status, "coverage": [], "progress": {"result_backfill": p}}, [])] == [
        (120, 330, "days"), (3, 10, "months")]
    # Before any sync the same numbers are the first sync's; without coverage, it says it has not synced yet.
    assert [b["title"] for b in _banners({**status, "last_synced_at": None}, [])] == ["First sync: Demo Booked"]
    del status["coverage"]
    assert [b["title"] for b in _banners({**status, "last_synced_at": None}, [])] == [
        "First sync: the whole history since 2026-01-01"]
