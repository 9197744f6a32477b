"""`cometly-elt status ID`: settings, selected events, Meta accounts, subscription, Last Synced, last error."""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import partial
from zoneinfo import ZoneInfo

from conftest import cli as checked_cli, cli_ok as ok

LABEL = 'Demo "Booked"; ✓ 予約'
ERROR = "Cometly rejected this API key: it may have expired or been revoked."


def days_since_june_2025() -> int:
    """Local days of New York from 2025-06-01 to today: what a new settings version must load."""
    return (datetime.now(ZoneInfo("America/New_York")).date() - date(2025, 6, 1)).days + 1


# These tests read the exit code and messages themselves.
cli = partial(checked_cli, check=False)


def _set_up_everything(wh) -> None:
    ok("workspace", "add", "h3-acme", "--name", "Acme; \"North\"", "--plan", "ultra", "--history-start", "2025-06-01")
    ok("cometly", "configure", "h3-acme", "--model", "first_touch", "--window", "lifetime",
       "--timezone", "America/New_York")
    ok("cometly", "configure", "h3-acme", "--model", "last_touch", "--window", "7", "--timezone", "America/New_York",
       "--yes")
    # what `cometly connect`, `cometly events` and `meta connect` leave behind
    wh.execute("insert into control.cometly_connections (workspace_id, conn_id, base_url)"
               " values ('h3-acme', 'cometly_h3-acme', 'https://app.cometly.com/public-api/v1')")
    wh.execute("insert into control.event_catalog (workspace_id, event_name, label)"
               " values ('h3-acme', 'custom_event_3', %s)", (LABEL,))
    wh.execute("insert into control.meta_ad_accounts (workspace_id, ad_account_id, conn_id, base_url, name, currency,"
               " timezone_name) values ('h3-acme', '1000000001', 'meta_h3-acme_1000000001', 'https://graph.facebook.com',"
               " 'Acme Ads', 'USD', 'America/New_York')")
    wh.execute("insert into control.sync_state (workspace_id, last_synced_at, synced_through, last_error,"
               " last_error_at) values ('h3-acme', '2026-03-05T12:00:00Z', '2025-06-10T04:00:00Z', %s,"
               " '2026-03-05T13:00:00Z')",
               (ERROR,))
    # what loading leaves in the ledger: purchases of 2025-06-01..04 (New York days, UTC-4), and half of 06-05
    wh.execute("insert into control.event_coverage (workspace_id, settings_version, event_name, covered) values"
               " ('h3-acme', 1, 'purchase', '{[2025-06-01T04:00:00Z,2025-06-05T16:00:00Z)}')")
    ok("cometly", "select", "h3-acme", LABEL, "purchase")
    ok("workspace", "pause", "h3-acme")


def test_status_shows_every_setting_and_the_sync_state(wh):
    _set_up_everything(wh)

    assert ok("status", "h3-acme") == (
        "Workspace         h3-acme: Acme; \"North\"\n"
        "Plan              ultra: syncs every 1 h\n"
        "Subscription      paused: no syncs run until 'cometly-elt workspace resume h3-acme'\n"
        "History from      2025-06-01\n"
        "Cometly           connected at https://app.cometly.com/public-api/v1\n"
        "Attribution       first_touch, window lifetime (settings version 1)\n"
        "Reprocessing      last_touch, window 7 days (settings version 2): being built beside the active version\n"
        "Timezone          America/New_York\n"
        f"Events            purchase, {LABEL} (custom_event_3)\n"
        "Meta ad accounts  1000000001 (Acme Ads)\n"
        "History loaded    purchase 4 of 9 days, custom_event_3 0 of 9 days\n"
        "Last Synced       2026-03-05 12:00:00 UTC\n"
        f"Last error        {ERROR} (2026-03-05 13:00:00 UTC)\n"
        f"Reprocessing      0 of {days_since_june_2025()} days (version 2)\n"
    )


def test_status_json(wh):
    _set_up_everything(wh)

    status = json.loads(ok("status", "h3-acme", "--json"))

    connected_at = status["cometly"].pop("connected_at")
    assert connected_at  # set by the database
    assert status == {
        "workspace_id": "h3-acme",
        "name": "Acme; \"North\"",
        "plan": "ultra",
        "sync_every_hours": 1,
        "subscription": "paused",
        "history_start": "2025-06-01",
        "cometly": {"base_url": "https://app.cometly.com/public-api/v1", "conn_id": "cometly_h3-acme"},
        "attribution": {"version": 1, "model": "first_touch", "window": "lifetime"},
        "building": {"version": 2, "model": "last_touch", "window": "7 days"},
        "timezone": "America/New_York",
        "marts_rebuild_pending": False,
        "selected_events": [
            {"event_name": "purchase", "label": "purchase"},
            {"event_name": "custom_event_3", "label": LABEL},
        ],
        "meta_ad_accounts": [
            {"ad_account_id": "1000000001", "name": "Acme Ads", "currency": "USD", "timezone_name": "America/New_York"}
        ],
        "setup_problem": None,
        "last_synced_at": "2026-03-05T12:00:00+00:00",
        "synced_through": "2025-06-10T04:00:00+00:00",
        "last_error": ERROR,
        "last_error_at": "2026-03-05T13:00:00+00:00",
        "coverage": [
            {"event_name": "purchase", "label": "purchase", "loaded_days": 4, "total_days": 9},
            {"event_name": "custom_event_3", "label": LABEL, "loaded_days": 0, "total_days": 9},
        ],
        "progress": {"reprocess": {"version": 2, "done_days": 0, "total_days": days_since_june_2025()}},
        "warnings": [],
    }


def test_status_of_a_new_workspace_says_what_to_do_next(wh):
    ok("workspace", "add", "h3-new", "--name", "New", "--plan", "hobby", "--history-start", "2026-01-01")

    assert ok("status", "h3-new") == (
        "Workspace         h3-new: New\n"
        "Plan              hobby: syncs every 6 h\n"
        "Subscription      active\n"
        "History from      2026-01-01\n"
        "Cometly           not connected\n"
        "Attribution       not configured\n"
        "Timezone          not configured\n"
        "Events            none selected\n"
        "Meta ad accounts  none connected\n"
        "Last Synced       never\n"
        "Last error        none\n"
        "Next step         not connected to Cometly: run 'cometly-elt cometly connect h3-new --api-key KEY'\n"
    )


def test_status_of_a_pro_workspace_after_a_timezone_change(wh):
    ok("workspace", "add", "h3-pro", "--name", "Pro", "--plan", "pro", "--history-start", "2026-01-01")
    ok("cometly", "configure", "h3-pro", "--model", "last_touch", "--window", "30", "--timezone", "Europe/Berlin")
    ok("cometly", "configure", "h3-pro", "--model", "last_touch", "--window", "30", "--timezone", "Asia/Tokyo")

    lines = ok("status", "h3-pro").splitlines()

    assert lines[1] == "Plan              pro: syncs every 3 h"
    assert lines[5] == "Attribution       last_touch, window 30 days (settings version 1)"
    assert lines[6] == "Timezone          Asia/Tokyo (changed: marts rebuild pending)"


def test_status_of_an_unknown_workspace(wh):
    result = cli("status", "h3-nope")

    assert (result.returncode, result.stdout, result.stderr) == (
        1, "", "cometly-elt: no workspace 'h3-nope': see 'cometly-elt workspace list'\n"
    )
