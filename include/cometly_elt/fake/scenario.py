"""Reading and checking scenario files (docs/scenarios.md).

A bad file is refused with its path and the first problem, located by a JSON
path, e.g. `scenario x.json: cometly.spaces[0].contacts[2].events[0].time_utc:
expected YYYY-MM-DDTHH:MM:SSZ`. The Cometly section is checked strictly (an
unknown key is an error, usually a typo); Meta objects may carry more of Meta's
fields than docs/scenarios.md lists, so only the listed keys are checked there.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cometly_elt.errors import UserError
from cometly_elt.fake.cometly.vocabulary import CUSTOM_EVENTS, EVENT_NAMES, SOURCES

META_STATUSES = ("ACTIVE", "PAUSED", "ARCHIVED", "DELETED")
TOKEN_STATUSES = ("valid", "expired", "invalidated")
UTC_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


class ScenarioError(ValueError):
    """`str()` is `<json path>: <problem>`."""


def load_scenario(path: str | Path) -> dict:
    """The scenario in `path`, checked; UserError (one line) if it cannot be served."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as err:
        raise UserError(f"scenario {path}: cannot read: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise UserError(f"scenario {path}: not JSON: {err}") from None
    try:
        validate_scenario(data)
    except ScenarioError as err:
        raise UserError(f"scenario {path}: {err}") from None
    return data


def validate_scenario(data: Any) -> None:
    _object(data, "scenario", optional=("cometly", "meta"))
    if "cometly" in data:
        _cometly(data["cometly"], "cometly")
    if "meta" in data:
        _meta(data["meta"], "meta")


# ---------------------------------------------------------------- cometly

def _cometly(section: Any, where: str) -> None:
    _object(section, where, optional=("spaces",))
    space_ids: set[str] = set()
    keys: set[str] = set()
    for i, space in enumerate(_list(section, "spaces", where)):
        at = f"{where}.spaces[{i}]"
        _object(space, at, required=("id", "timezone"),
                optional=("subscription_active", "api_keys", "custom_events", "contacts"))
        _unique(_text(space["id"], f"{at}.id"), space_ids, f"{at}.id", "Space id")
        _timezone(space["timezone"], f"{at}.timezone")
        if "subscription_active" in space and not isinstance(space["subscription_active"], bool):
            _fail(f"{at}.subscription_active", "expected true or false")
        for k, key in enumerate(_list(space, "api_keys", at)):
            kat = f"{at}.api_keys[{k}]"
            _object(key, kat, required=("key", "status"))
            _unique(_text(key["key"], f"{kat}.key"), keys, f"{kat}.key", "API key (a key belongs to one Space)")
            _one_of(key["status"], ("active", "revoked"), f"{kat}.status")
        labels = space.get("custom_events", {})
        _object(labels, f"{at}.custom_events", optional=CUSTOM_EVENTS, what="custom event slot")
        for slot, label in labels.items():
            _text(label, f"{at}.custom_events.{slot}")
        _contacts(space, at)


def _contacts(space: dict, where: str) -> None:
    contact_ids: set[int] = set()
    event_ids: set[int] = set()
    for c, contact in enumerate(_list(space, "contacts", where)):
        at = f"{where}.contacts[{c}]"
        _object(contact, at, required=("id",), optional=("touchpoints", "events"))
        _unique(_integer(contact["id"], f"{at}.id"), contact_ids, f"{at}.id", "contact id")
        for t, touch in enumerate(_list(contact, "touchpoints", at)):
            tat = f"{at}.touchpoints[{t}]"
            _object(touch, tat, required=("time_utc", "source", "account_id", "campaign_id", "adset_id", "ad_id"),
                    optional=("account_name", "campaign_name", "adset_name", "ad_name"))
            _utc_time(touch["time_utc"], f"{tat}.time_utc")
            if not isinstance(touch["source"], str) or touch["source"] not in SOURCES:
                _fail(f"{tat}.source", "not a Cometly source (see cometly-api.md §6.2)")
            for key in ("account_id", "campaign_id", "adset_id", "ad_id", "account_name", "campaign_name",
                        "adset_name", "ad_name"):
                if key in touch:
                    _string(touch[key], f"{tat}.{key}")
        for e, event in enumerate(_list(contact, "events", at)):
            eat = f"{at}.events[{e}]"
            _object(event, eat, required=("id", "event_name", "time_utc"), optional=("amount", "order_id"))
            _unique(_integer(event["id"], f"{eat}.id"), event_ids, f"{eat}.id", "event id in this Space")
            if not isinstance(event["event_name"], str) or event["event_name"] not in EVENT_NAMES:
                _fail(f"{eat}.event_name", "expected a standard event name or custom_event_1..custom_event_50")
            _utc_time(event["time_utc"], f"{eat}.time_utc")
            amount = event.get("amount", 0)
            if isinstance(amount, bool) or not isinstance(amount, (int, float)):
                _fail(f"{eat}.amount", "expected a number")
            if "order_id" in event:
                _string(event["order_id"], f"{eat}.order_id")


# ---------------------------------------------------------------- meta

def _meta(section: Any, where: str) -> None:
    _object(section, where, optional=("access_tokens", "ad_accounts"))
    tokens: set[str] = set()
    for i, token in enumerate(_list(section, "access_tokens", where)):
        at = f"{where}.access_tokens[{i}]"
        _object(token, at, required=("token", "status"), optional=("ad_accounts",), strict=False)
        _unique(_text(token["token"], f"{at}.token"), tokens, f"{at}.token", "access token")
        _one_of(token["status"], TOKEN_STATUSES, f"{at}.status")
        for k, account_id in enumerate(_list(token, "ad_accounts", at)):
            _account_id(account_id, f"{at}.ad_accounts[{k}]")
    account_ids: set[str] = set()
    object_ids: set[str] = set()
    for i, account in enumerate(_list(section, "ad_accounts", where)):
        at = f"{where}.ad_accounts[{i}]"
        _object(account, at, required=("id", "name", "currency", "timezone_name"),
                optional=("account_status", "campaigns", "insights"), strict=False)
        _unique(_account_id(account["id"], f"{at}.id"), account_ids, f"{at}.id", "ad account id")
        _string(account["name"], f"{at}.name")
        _text(account["currency"], f"{at}.currency")
        _timezone(account["timezone_name"], f"{at}.timezone_name")
        if "account_status" in account:
            _integer(account["account_status"], f"{at}.account_status")
        ad_ids = _campaign_tree(account, at, object_ids)
        _insights(account, at, ad_ids)


def _campaign_tree(account: dict, where: str, object_ids: set[str]) -> set[str]:
    """Checks campaigns > ad sets > ads; returns the account's ad ids."""
    ad_ids: set[str] = set()
    for c, campaign in enumerate(_list(account, "campaigns", where)):
        cat = f"{where}.campaigns[{c}]"
        _object(campaign, cat, required=("id", "name", "status", "objective", "created_time"),
                optional=("adsets",), strict=False)
        _meta_object(campaign, cat, object_ids)
        _text(campaign["objective"], f"{cat}.objective")
        if not (isinstance(campaign["created_time"], str)
                and re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4}", campaign["created_time"])):
            _fail(f"{cat}.created_time", "expected YYYY-MM-DDTHH:MM:SS+HHMM")
        for s, adset in enumerate(_list(campaign, "adsets", cat)):
            sat = f"{cat}.adsets[{s}]"
            _object(adset, sat, required=("id", "name", "status"), optional=("ads",), strict=False)
            _meta_object(adset, sat, object_ids)
            for a, ad in enumerate(_list(adset, "ads", sat)):
                aat = f"{sat}.ads[{a}]"
                _object(ad, aat, required=("id", "name", "status"), strict=False)
                _meta_object(ad, aat, object_ids)
                ad_ids.add(ad["id"])
    return ad_ids


def _meta_object(obj: dict, where: str, object_ids: set[str]) -> None:
    _unique(_text(obj["id"], f"{where}.id"), object_ids, f"{where}.id", "Meta object id")
    _string(obj["name"], f"{where}.name")
    _one_of(obj["status"], META_STATUSES, f"{where}.status")


def _insights(account: dict, where: str, ad_ids: set[str]) -> None:
    seen: set[tuple[str, str]] = set()
    for r, row in enumerate(_list(account, "insights", where)):
        at = f"{where}.insights[{r}]"
        _object(row, at, required=("ad_id", "date", "spend", "impressions", "clicks"), strict=False)
        if not isinstance(row["ad_id"], str) or row["ad_id"] not in ad_ids:
            _fail(f"{at}.ad_id", "not an ad of this account")
        try:
            datetime.strptime(row["date"], "%Y-%m-%d")
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["date"]):
                raise ValueError
        except (TypeError, ValueError):
            _fail(f"{at}.date", "expected YYYY-MM-DD")
        if (row["ad_id"], row["date"]) in seen:
            _fail(at, f"a second row for ad {row['ad_id']} on {row['date']}")
        seen.add((row["ad_id"], row["date"]))
        if not (isinstance(row["spend"], str) and re.fullmatch(r"\d+(\.\d+)?", row["spend"])):
            _fail(f"{at}.spend", 'expected a decimal string such as "12.34"')
        for key in ("impressions", "clicks"):
            if _integer(row[key], f"{at}.{key}") < 0:
                _fail(f"{at}.{key}", "expected a whole number >= 0")


# ---------------------------------------------------------------- small checks

def _fail(where: str, problem: str) -> None:
    raise ScenarioError(f"{where}: {problem}")


def _object(value: Any, where: str, required: tuple = (), optional: tuple = (), strict: bool = True,
            what: str = "key") -> None:
    if not isinstance(value, dict):
        _fail(where, "expected an object")
    for key in required:
        if key not in value:
            _fail(f"{where}.{key}", "missing")
    if strict:
        for key in value:
            if key not in required and key not in optional:
                _fail(f"{where}.{key}", f"not a known {what}")


def _list(parent: dict, key: str, where: str) -> list:
    value = parent.get(key, [])
    if not isinstance(value, list):
        _fail(f"{where}.{key}", "expected a list")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        _fail(where, "expected a string")
    return value


def _text(value: Any, where: str) -> str:
    if not (isinstance(value, str) and value):
        _fail(where, "expected a non-empty string")
    return value


def _integer(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(where, "expected a whole number")
    return value


def _one_of(value: Any, allowed: tuple, where: str) -> None:
    if value not in allowed:
        _fail(where, f"expected one of {', '.join(allowed)}")


def _unique(value: Any, seen: set, where: str, what: str) -> None:
    if value in seen:
        _fail(where, f"duplicate {what} {value!r}")
    seen.add(value)


def _utc_time(value: Any, where: str) -> None:
    try:
        if isinstance(value, str) and UTC_TIME.fullmatch(value):
            datetime.fromisoformat(value)  # rejects impossible dates such as 02-30
            return
    except ValueError:
        pass
    _fail(where, "expected YYYY-MM-DDTHH:MM:SSZ")


def _timezone(value: Any, where: str) -> None:
    try:
        if isinstance(value, str) and value:
            ZoneInfo(value)
            return
    except (ZoneInfoNotFoundError, ValueError):
        pass
    _fail(where, "expected an IANA timezone name such as America/New_York")


def _account_id(value: Any, where: str) -> str:
    if not (isinstance(value, str) and re.fullmatch(r"act_\d+", value)):
        _fail(where, "expected act_<digits>")
    return value
