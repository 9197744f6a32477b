"""The Workspaces page in a real browser, inside Airflow's UI, as a data engineer uses it.

Log in, open Workspaces from Airflow's navigation, connect the Cometly key, select an event,
press Sync Now and watch its banner until Last Synced changes, then make a Cometly event a
campaign's result and watch its backfill. Headless Chromium (scripts/chromium.sh) through
Playwright; a real api-server, scheduler and dag-processor run the DAGs against the fake APIs.
Screenshots of every step go to test-artifacts/workspaces/.
"""

from __future__ import annotations

import pytest

from airflow_stack import airflow_components, wait_for_dag_parsed
from conftest import EXAMPLE_SCENARIO, ROOT, cli
from helpers.browser import screenshot

pytestmark = [pytest.mark.airflow, pytest.mark.browser]

WS = "acme"
ARTIFACTS = ROOT / "test-artifacts" / "workspaces"


@pytest.fixture
def api(wh, fast_fake):
    """Workspace 'acme' with its attribution and Meta ad account, but neither Cometly key nor events yet."""
    api = fast_fake(EXAMPLE_SCENARIO, "--no-rate-limits")
    cli("workspace", "add", WS, "--name", "Acme", "--plan", "pro", "--history-start", "2026-02-15")
    cli("cometly", "configure", WS, "--model", "first_touch", "--window", "lifetime", "--timezone", "America/New_York")
    cli("meta", "connect", WS, "--ad-account", "act_1000000001", "--access-token", "EAAB_acme_valid",
        "--base-url", api.meta_url)
    return api


@pytest.fixture
def stack(api, tmp_path, monkeypatch):
    with airflow_components(tmp_path, monkeypatch) as base:
        yield base


def test_connect_select_sync_and_set_a_result_from_the_workspaces_page(wh, api, stack, page):
    from cometly_elt.trigger import admin_login

    base = stack
    wait_for_dag_parsed("cometly_sync_now")
    user, password = admin_login()
    page.goto(base)
    page.locator("input[name=username]").fill(user)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/auth/" not in url)

    page.get_by_role("link", name="Workspaces").first.click()
    page.wait_for_url(f"{base}/plugin/workspaces")
    frame = page.frame_locator("iframe")
    screenshot(page, ARTIFACTS, "01-list")
    frame.get_by_role("link", name="Acme").click()
    frame.locator("#api_key").wait_for()
    screenshot(page, ARTIFACTS, "02-card-not-connected")

    frame.locator("#api_key").fill("ck_acme_live")
    frame.get_by_text("API address", exact=True).click()  # the fake's, instead of Cometly's own
    frame.locator("input[name=base_url]").first.fill(api.cometly_url)
    frame.get_by_role("button", name="Connect").first.click()
    frame.get_by_role("status").filter(has_text="the key is valid and stored encrypted").wait_for()
    assert frame.locator("#api_key").input_value() == ""
    screenshot(page, ARTIFACTS, "03-key-connected")

    # The example Space's conversions are older than the 30 days looked at: said plainly, standard events offered.
    available = frame.locator("[data-available]")
    available.get_by_text("No events found in Cometly").wait_for()
    available.locator("li[data-event=purchase]").click()
    frame.locator("[data-selected] li[data-event=purchase]").wait_for()
    frame.get_by_text(f"Selected for '{WS}': purchase.").wait_for()
    screenshot(page, ARTIFACTS, "04-event-selected")
    assert [e for (e,) in wh.execute("select event_name from control.selected_events")] == ["purchase"]

    frame.get_by_role("button", name="Sync Now").click()
    frame.get_by_text("Sync Now started for 'acme'").wait_for()
    frame.locator("#live [data-banner]").filter(has_text="Sync Now").wait_for()
    screenshot(page, ARTIFACTS, "05-sync-banner")
    last_synced = frame.locator("[data-last-synced]")
    assert last_synced.inner_text().startswith("never")
    last_synced.filter(has_text="ago").wait_for(timeout=600_000)
    screenshot(page, ARTIFACTS, "06-last-synced")
    assert wh.execute("select last_synced_at is not null from control.sync_state").fetchone() == (True,)

    # Campaigns are known after the first sync: Spring Sale's Results column becomes Cometly's purchase.
    page.reload()
    frame = page.frame_locator("iframe")
    form = frame.locator("form[data-campaign='2000000001']")
    form.locator("select").select_option("purchase")
    form.get_by_role("button", name="Save & Update Results").click()
    frame.get_by_text("Campaign 2000000001 now counts 'purchase' as its result.").wait_for()
    frame.locator("#live [data-banner]").filter(has_text="Result backfill").first.wait_for()
    screenshot(page, ARTIFACTS, "07-result-backfill-banner")
    frame.locator("#live [data-banner]").filter(has_text="(done)").wait_for(timeout=600_000)
    page.set_viewport_size({"width": 1400, "height": 1700})  # the whole card, for docs/workspaces-card.png
    page.reload()
    frame = page.frame_locator("iframe")
    frame.locator("form[data-campaign='2000000001'] .badge.cometly").wait_for()
    frame.locator("[data-available] li[data-event]").first.wait_for()
    screenshot(page, ARTIFACTS, "08-card")
    assert wh.execute("select campaign_id, event_name from control.result_metrics").fetchall() == [
        ("2000000001", "purchase")]
