"""The admin endpoints tests drive the fakes with, under `/_fake` (paths the real APIs do not have):

  GET    /_fake/health                 {"status": "ok", ...}
  GET    /_fake/faults                 the fault rules in force, with how often each matched and fired
  PUT    /_fake/faults                 replace them (body as a --faults file, see faults.py)
  POST   /_fake/faults                 add rules;  DELETE /_fake/faults: remove them all
  GET    /_fake/clock                  {"now", "speed"}
  POST   /_fake/clock                  {"speed": 60} and/or {"advance_seconds": 120}
  POST   /_fake/rate-limits            {"enabled": false}
  POST   /_fake/cometly/keys           {"key": "ck_...", "status": "revoked" | "active"}
  POST   /_fake/cometly/spaces/{id}    {"subscription_active": false}
  POST   /_fake/cometly/exports/fail   {"next": 2} (the next 2 exports created will fail) or {"export_id": 90001}
  GET    /_fake/calls                  {"per_minute": [{api, endpoint, space, minute, count, statuses}], "calls": [...]}
  DELETE /_fake/calls                  forget the calls so far

The fake Meta's own switches are under `/_fake/meta/` (fake/meta/graph.py).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cometly_elt.fake.cometly import CometlyService
from cometly_elt.fake.cometly.world import iso_utc
from cometly_elt.fake.context import FakeContext
from cometly_elt.fake.faults import FaultSpecError, parse_rules


class _AdminError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        raise _AdminError(400, "the body is not JSON") from None


def _admin(handler):
    async def endpoint(request: Request):
        try:
            return JSONResponse(await handler(request))
        except _AdminError as err:
            return JSONResponse({"message": err.message}, status_code=err.status)

    return endpoint


def admin_routes(ctx: FakeContext, cometly: CometlyService) -> list[Route]:
    """The routes to mount at `/_fake`."""

    async def health(request):
        return {"status": "ok", "cometly_spaces": sorted(cometly.spaces), "clock": _clock(ctx)}

    async def get_faults(request):
        return {"rules": ctx.faults.describe()}

    async def set_faults(request):
        try:
            rules = parse_rules(await _json_body(request))
        except FaultSpecError as err:
            raise _AdminError(400, f"faults: {err}") from None
        (ctx.faults.replace if request.method == "PUT" else ctx.faults.extend)(rules)
        return {"rules": ctx.faults.describe()}

    async def clear_faults(request):
        ctx.faults.replace([])
        return {"rules": []}

    async def get_clock(request):
        return _clock(ctx)

    async def set_clock(request):
        body = _expect_object(await _json_body(request))
        speed, advance = body.get("speed"), body.get("advance_seconds")
        if speed is not None:
            if not _is_number(speed) or speed <= 0:
                raise _AdminError(400, "speed: expected a number > 0")
            ctx.clock.set_speed(float(speed))
        if advance is not None:
            if not _is_number(advance) or advance < 0:
                raise _AdminError(400, "advance_seconds: expected a number >= 0")
            ctx.clock.advance(float(advance))
        return _clock(ctx)

    async def set_rate_limits(request):
        enabled = _expect_object(await _json_body(request)).get("enabled")
        if not isinstance(enabled, bool):
            raise _AdminError(400, "enabled: expected true or false")
        ctx.rate_limits = enabled
        return {"enabled": enabled}

    async def set_key(request):
        body = _expect_object(await _json_body(request))
        if body.get("status") not in ("active", "revoked"):
            raise _AdminError(400, "status: expected active or revoked")
        if body.get("key") not in cometly.keys:
            raise _AdminError(404, "no such API key")
        cometly.set_key_status(body["key"], body["status"])
        return {"status": body["status"]}

    async def set_space(request):
        active = _expect_object(await _json_body(request)).get("subscription_active")
        if not isinstance(active, bool):
            raise _AdminError(400, "subscription_active: expected true or false")
        space_id = request.path_params["space_id"]
        if space_id not in cometly.spaces:
            raise _AdminError(404, f"no Space {space_id!r}")
        cometly.set_subscription(space_id, active)
        return {"id": space_id, "subscription_active": active}

    async def fail_exports(request):
        body = _expect_object(await _json_body(request))
        count, export_id = body.get("next"), body.get("export_id")
        if _is_number(count) and count == int(count) >= 0:
            cometly.exports.to_fail = int(count)
            return {"next": int(count)}
        if _is_number(export_id) and export_id in cometly.exports.jobs:
            cometly.exports.fail(export_id)
            return {"export_id": export_id}
        raise _AdminError(400, 'expected {"next": N} or {"export_id": <an existing export>}')

    async def get_calls(request):
        return {"per_minute": ctx.calls.per_minute(), "calls": ctx.calls.entries()}

    async def clear_calls(request):
        ctx.calls.clear()
        return {"calls": []}

    return [
        Route("/health", _admin(health), methods=["GET"]),
        Route("/faults", _admin(get_faults), methods=["GET"]),
        Route("/faults", _admin(set_faults), methods=["PUT", "POST"]),
        Route("/faults", _admin(clear_faults), methods=["DELETE"]),
        Route("/clock", _admin(get_clock), methods=["GET"]),
        Route("/clock", _admin(set_clock), methods=["POST"]),
        Route("/rate-limits", _admin(set_rate_limits), methods=["POST"]),
        Route("/cometly/keys", _admin(set_key), methods=["POST"]),
        Route("/cometly/spaces/{space_id}", _admin(set_space), methods=["POST"]),
        Route("/cometly/exports/fail", _admin(fail_exports), methods=["POST"]),
        Route("/calls", _admin(get_calls), methods=["GET"]),
        Route("/calls", _admin(clear_calls), methods=["DELETE"]),
    ]


def _clock(ctx: FakeContext) -> dict:
    return {"now": iso_utc(ctx.clock.now()), "speed": ctx.clock.speed}


def _expect_object(body: Any) -> dict:
    if not isinstance(body, dict):
        raise _AdminError(400, "expected a JSON object")
    return body


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
