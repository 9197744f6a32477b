"""A scriptable fault schedule: make chosen calls to the fake APIs fail, so that retry logic is testable.

A schedule is a list of rules, given as JSON (a `--faults FILE` at start, or
`PUT /_fake/faults` at run time)::

    {"rules": [
      {"api": "cometly", "method": "GET", "path": "/events$", "calls": [3], "fault": "status", "status": 503},
      {"api": "cometly", "path": "/events$", "times": 2, "fault": "status", "status": 429,
       "headers": {"Retry-After": "1"}, "body": {"message": "Too Many Attempts."}},
      {"api": "meta", "path": "/insights", "calls": [1], "fault": "status", "status": 400,
       "body": {"error": {"message": "(#80000) ...", "type": "OAuthException", "code": 80000,
                          "error_subcode": 2446079, "fbtrace_id": "Afake"}}},
      {"api": "cometly", "path": "/events$", "times": 1, "fault": "timeout", "seconds": 30},
      {"api": "cometly", "path": "/events$", "times": 1, "fault": "reset"},
      {"api": "meta", "times": 1, "fault": "malformed_json"}
    ]}

Matching (all optional; a rule without them matches every API call):
`api` ("cometly" or "meta"; the export download counts as cometly), `method`,
`path` (a regular expression searched in the full request path, e.g.
`/public-api/v1/events$`), `space` (a Cometly Space id or a Meta `act_N`).

When it fires: `calls` lists which matching calls fail, counting from 1 since
the rule was set (`[3]` = the 3rd); `times: N` fails the next N matching calls;
with neither, every matching call fails. Each rule counts the calls it matches
on its own; when several fire on one call, the first listed wins.

Faults (`fault`, default `status`):
- `status`: answer `status` (default 500) with `headers` and `body` (an object
  or list is sent as JSON, a string as text) instead of calling the API;
- `timeout`: hang `seconds` (at most 300) before answering normally: set it
  longer than the client's timeout (the hang ends early when the client leaves);
- `reset`: send the API's real status and headers, half the body, then close
  the connection;
- `malformed_json`: send the API's real answer with its body cut in half.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from cometly_elt.errors import UserError
from cometly_elt.fake.calls import Call

FAULTS = ("status", "timeout", "reset", "malformed_json")
MAX_HANG_SECONDS = 300.0
_MATCH_KEYS = {"api", "method", "path", "space", "calls", "times"}
_FAULT_KEYS = {"status": {"status", "headers", "body"}, "timeout": {"seconds"}, "reset": set(), "malformed_json": set()}


class FaultSpecError(ValueError):
    """A fault schedule that cannot be read; `str()` names the offending key."""


@dataclass
class FaultRule:
    fault: str
    api: str | None = None
    method: str | None = None
    path: re.Pattern | None = None
    space: str | None = None
    calls: frozenset[int] | None = None
    times: int | None = None
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    seconds: float = 0.0
    seen: int = 0
    fired: int = 0

    def matches(self, call: Call) -> bool:
        return (
            (self.api is None or self.api == call.api)
            and (self.method is None or self.method == call.method)
            and (self.path is None or self.path.search(call.path) is not None)
            and (self.space is None or self.space == call.space)
        )

    def count_and_decide(self) -> bool:
        """Count one more matching call; say whether this one fails."""
        self.seen += 1
        if self.calls is not None:
            return self.seen in self.calls
        if self.times is not None:
            return self.fired < self.times
        return True

    def describe(self) -> dict:
        spec = {"fault": self.fault, "seen": self.seen, "fired": self.fired}
        for key in ("api", "method", "space", "times"):
            if getattr(self, key) is not None:
                spec[key] = getattr(self, key)
        if self.path is not None:
            spec["path"] = self.path.pattern
        if self.calls is not None:
            spec["calls"] = sorted(self.calls)
        if self.fault == "status":
            spec.update(status=self.status, headers=self.headers, body=self.body)
        if self.fault == "timeout":
            spec["seconds"] = self.seconds
        return spec


class FaultSchedule:
    """The rules in force; the server's fault middleware asks it about every API call."""

    def __init__(self, rules: list[FaultRule] | None = None):
        self._rules = list(rules or [])

    def replace(self, rules: list[FaultRule]) -> None:
        self._rules = list(rules)

    def extend(self, rules: list[FaultRule]) -> None:
        self._rules.extend(rules)

    def describe(self) -> list[dict]:
        return [rule.describe() for rule in self._rules]

    def pick(self, call: Call) -> FaultRule | None:
        chosen = None
        for rule in self._rules:
            if rule.matches(call) and rule.count_and_decide() and chosen is None:
                chosen = rule
        if chosen is not None:
            chosen.fired += 1
        return chosen


def parse_rules(spec: Any) -> list[FaultRule]:
    """Rules from `{"rules": [...]}` or a bare list; FaultSpecError names the first problem."""
    if isinstance(spec, dict) and set(spec) == {"rules"}:
        spec = spec["rules"]
    if not isinstance(spec, list):
        raise FaultSpecError('expected {"rules": [...]} or a list of rules')
    return [_parse_rule(item, f"rules[{i}]") for i, item in enumerate(spec)]


def load_faults(path: str | Path) -> list[FaultRule]:
    try:
        return parse_rules(json.loads(Path(path).read_text()))
    except OSError as err:
        raise UserError(f"faults {path}: cannot read: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise UserError(f"faults {path}: not JSON: {err}") from None
    except FaultSpecError as err:
        raise UserError(f"faults {path}: {err}") from None


def _parse_rule(item: Any, where: str) -> FaultRule:
    if not isinstance(item, dict):
        raise FaultSpecError(f"{where}: expected an object")
    fault = item.get("fault", "status")
    if fault not in FAULTS:
        raise FaultSpecError(f"{where}.fault: expected one of {', '.join(FAULTS)}")
    unknown = sorted(set(item) - _MATCH_KEYS - _FAULT_KEYS[fault] - {"fault"})
    if unknown:
        raise FaultSpecError(f"{where}.{unknown[0]}: not a key of a {fault!r} rule")
    rule = FaultRule(fault=fault)
    for key in ("api", "method", "space"):
        if key in item:
            rule_value = _expect(item[key], str, f"{where}.{key}", "a string")
            setattr(rule, key, rule_value.upper() if key == "method" else rule_value)
    if rule.api not in (None, "cometly", "meta"):
        raise FaultSpecError(f"{where}.api: expected cometly or meta")
    if "path" in item:
        try:
            rule.path = re.compile(_expect(item["path"], str, f"{where}.path", "a regular expression"))
        except re.error as err:
            raise FaultSpecError(f"{where}.path: not a regular expression: {err}") from None
    if "calls" in item and "times" in item:
        raise FaultSpecError(f"{where}: give calls or times, not both")
    if "calls" in item:
        calls = item["calls"]
        if not isinstance(calls, list) or not calls or not all(_is_int(n) and n >= 1 for n in calls):
            raise FaultSpecError(f"{where}.calls: expected a list of call numbers (1 = the first matching call)")
        rule.calls = frozenset(calls)
    if "times" in item:
        if not (_is_int(item["times"]) and item["times"] >= 1):
            raise FaultSpecError(f"{where}.times: expected a whole number >= 1")
        rule.times = item["times"]
    if "status" in item:
        if not (_is_int(item["status"]) and 100 <= item["status"] <= 599):
            raise FaultSpecError(f"{where}.status: expected an HTTP status code")
        rule.status = item["status"]
    if "headers" in item:
        headers = item["headers"]
        if not isinstance(headers, dict) or not all(isinstance(v, (str, int)) for v in headers.values()):
            raise FaultSpecError(f"{where}.headers: expected an object of header values")
        rule.headers = {str(k): str(v) for k, v in headers.items()}
    rule.body = item.get("body")
    if fault == "timeout":
        seconds = item.get("seconds")
        is_number = isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
        if not (is_number and 0 < seconds <= MAX_HANG_SECONDS):
            raise FaultSpecError(f"{where}.seconds: expected a number of seconds up to {MAX_HANG_SECONDS:g}")
        rule.seconds = float(seconds)
    return rule


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _expect(value: Any, kind: type, where: str, what: str) -> Any:
    if not isinstance(value, kind):
        raise FaultSpecError(f"{where}: expected {what}")
    return value


class FaultMiddleware:
    """ASGI middleware applying the schedule to calls that `describe_call` recognises as API calls."""

    def __init__(self, app, schedule_of: Callable[[], FaultSchedule], describe_call: Callable[[dict], Call | None]):
        self.app = app
        self.schedule_of = schedule_of
        self.describe_call = describe_call

    async def __call__(self, scope, receive, send):
        call = self.describe_call(scope) if scope["type"] == "http" else None
        rule = self.schedule_of().pick(call) if call is not None else None
        if rule is None:
            await self.app(scope, receive, send)
        elif rule.fault == "status":
            await _send_status(rule, send)
        elif rule.fault == "timeout":
            replay = await _hang(rule.seconds, receive)
            if replay is not None:
                await self.app(scope, replay, send)
        else:
            status, headers, body = await _capture(self.app, scope, receive)
            cut = body[: len(body) // 2]
            if rule.fault == "reset":
                # Leaving the response incomplete makes the server drop the connection mid-body.
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": cut, "more_body": True})
            else:
                await _send(send, status, _with_length(headers, len(cut)), cut)


async def _hang(seconds: float, receive):
    """Wait `seconds`, or until the client gives up; then a `receive` replaying the request, or None if it left."""
    kept: list[dict] = []

    async def until_disconnect():
        while (message := await receive())["type"] != "http.disconnect":
            kept.append(message)

    try:
        await asyncio.wait_for(until_disconnect(), seconds)
        return None
    except TimeoutError:
        pass

    async def replay():
        return kept.pop(0) if kept else await receive()

    return replay


async def _send_status(rule: FaultRule, send) -> None:
    body = rule.body if rule.body is not None else {"message": _phrase(rule.status)}
    if isinstance(body, str):
        payload, content_type = body.encode(), "text/plain; charset=utf-8"
    else:
        payload, content_type = json.dumps(body).encode(), "application/json"
    headers = [(b"content-type", content_type.encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in rule.headers.items()]
    await _send(send, rule.status, _with_length(headers, len(payload)), payload)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a code without a standard name, such as 599
        return "Error"


async def _capture(app, scope, receive) -> tuple[int, list, bytes]:
    """Run the API and keep its whole answer instead of sending it."""
    start: dict = {}
    chunks: list[bytes] = []

    async def keep(message):
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, keep)
    return start["status"], list(start.get("headers", [])), b"".join(chunks)


def _with_length(headers: list, length: int) -> list:
    return [(k, v) for k, v in headers if k.lower() != b"content-length"] + [(b"content-length", str(length).encode())]


async def _send(send, status: int, headers: list, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
