"""The world generator: deterministic, valid, consistent between Cometly and Meta, and servable."""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from cometly_elt.fake.generate import WorldOptions, generate_world, options_from_spec
from cometly_elt.fake.scenario import validate_scenario

CLI = Path(sys.executable).parent / "cometly-elt"
SMALL = WorldOptions(seed=5, spaces=2, days=4, events_per_day=10, campaigns=3, adsets=1, ads=2, custom_events=1)


@pytest.fixture(scope="module")
def demo() -> dict:
    return generate_world(options_from_spec("demo"))


def all_events(space: dict) -> list[dict]:
    return [e for contact in space["contacts"] for e in contact["events"]]


def test_same_seed_same_world_other_seed_other_world(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for out in (first, second):
        result = subprocess.run([str(CLI), "fake", "generate", "--seed", "5", "--spaces", "2", "--days", "4",
                                 "--events-per-day", "10", "--out", str(out)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    assert first.read_bytes() == second.read_bytes()
    assert json.loads(first.read_text()) == generate_world(
        options_from_spec("seed=5,spaces=2,days=4,events_per_day=10"))
    assert generate_world(SMALL) != generate_world(dataclasses.replace(SMALL, seed=6))


def test_generated_worlds_pass_the_scenario_checks(demo):
    validate_scenario(generate_world(SMALL))
    validate_scenario(demo)


def test_demo_preset_shape_and_derived_credentials(demo):
    spaces, meta = demo["cometly"]["spaces"], demo["meta"]
    assert [(s["id"], s["timezone"]) for s in spaces] == [
        ("demo_hobby", "America/New_York"), ("demo_pro", "Europe/Berlin"), ("demo_ultra", "Australia/Sydney")]
    assert [s["api_keys"] for s in spaces][0] == [{"key": "ck_demo_hobby", "status": "active"},
                                                  {"key": "ck_demo_hobby_revoked", "status": "revoked"}]
    assert [(a["id"], a["timezone_name"]) for a in meta["ad_accounts"]] == [
        ("act_1000000001", "America/New_York"), ("act_1000000002", "Europe/Berlin"),
        ("act_1000000003", "Australia/Sydney")]
    assert {"token": "EAAB_demo_pro", "status": "valid", "ad_accounts": ["act_1000000002"]} in meta["access_tokens"]
    for space, account in zip(spaces, meta["ad_accounts"]):
        events = all_events(space)
        assert 10_000 <= len(events) <= 20_000  # tens of thousands in all
        assert len(account["campaigns"]) == 4
        assert {c["status"] for c in account["campaigns"]} == {"ACTIVE", "PAUSED", "ARCHIVED"}
        labels = space["custom_events"]
        assert len(labels) == 3 and {e["event_name"] for e in events} >= set(labels)
        sources = {t["source"] for c in space["contacts"] for t in c["touchpoints"]}
        assert {"facebook_ads", "instagram_ads", "google_ads", "direct"} <= sources
        assert len({e["id"] for e in events}) == len(events)


def test_meta_touches_name_real_ads_on_days_they_delivered(demo):
    for space, account in zip(demo["cometly"]["spaces"], demo["meta"]["ad_accounts"]):
        tz = ZoneInfo(account["timezone_name"])
        tree = {ad["id"]: (campaign, adset, ad) for campaign in account["campaigns"]
                for adset in campaign["adsets"] for ad in adset["ads"]}
        delivered = {(row["ad_id"], row["date"]) for row in account["insights"]}
        meta_touches = [t for c in space["contacts"] for t in c["touchpoints"]
                        if t["source"] in ("facebook_ads", "instagram_ads")]
        assert len(meta_touches) > 1000
        for touch in meta_touches:
            campaign, adset, ad = tree[touch["ad_id"]]
            assert (touch["account_id"], touch["campaign_id"], touch["adset_id"]) == (
                account["id"].removeprefix("act_"), campaign["id"], adset["id"])
            assert (touch["campaign_name"], touch["ad_name"]) == (campaign["name"], ad["name"])
            at = datetime.strptime(touch["time_utc"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
            assert (touch["ad_id"], at.astimezone(tz).date().isoformat()) in delivered


def test_paused_campaign_stops_delivering(demo):
    account = demo["meta"]["ad_accounts"][0]
    paused = next(c for c in account["campaigns"] if c["status"] == "PAUSED")
    paused_ads = {ad["id"] for adset in paused["adsets"] for ad in adset["ads"]}
    dates = {row["date"] for row in account["insights"] if row["ad_id"] in paused_ads}
    # 93 days from 2026-08-01; it stops after day 62 (two thirds), i.e. 2026-10-02.
    assert max(dates) == "2026-10-02" and min(dates) == "2026-08-01"


def test_serve_a_generated_world_and_dump_it(tmp_path):
    dump = tmp_path / "world.json"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = "seed=5,spaces=2,days=4,events_per_day=10,campaigns=3,adsets=1,ads=2,custom_events=1"
    with open(tmp_path / "serve.log", "wb") as log:  # the process keeps its own copy of the handle
        proc = subprocess.Popen(
            [str(CLI), "fake", "serve", "--generate", spec, "--dump", str(dump), "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/public-api/v1/events/100001",
                                     headers={"Authorization": "Bearer ck_space_2"})
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.1)
        world = json.loads(dump.read_text())
        assert world == generate_world(SMALL)
        first = min(all_events(world["cometly"]["spaces"][1]), key=lambda e: e["id"])
        assert response.status_code == 200
        assert (response.json()["id"], response.json()["event_time_utc"]) == (100001, first["time_utc"])
    finally:
        proc.terminate()
        proc.wait(10)


def test_bad_generator_options_are_refused():
    result = subprocess.run([str(CLI), "fake", "generate", "--preset", "huge", "--out", "-"],
                            capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (1, "cometly-elt: unknown preset 'huge': expected one of demo\n")
    result = subprocess.run([str(CLI), "fake", "generate", "--start", "2026-13-01", "--out", "-"],
                            capture_output=True, text=True)
    assert result.stderr == "cometly-elt: generator option start: expected YYYY-MM-DD, got '2026-13-01'\n"
