"""One process, one port: the fake Cometly and Meta APIs, Cometly's export files, and admin endpoints.

Paths:
- `/public-api/v1/...`       the fake Cometly API (cometly_api.py)
- `/_s3/<token>.ndjson.gz`   Cometly export files (the real ones are presigned S3 URLs)
- `/vNN.N/...`               the fake Meta Graph API (meta_api.py)
- `/_fake/meta/...`          the fake Meta's own admin endpoints (meta_api.py)
- `/_fake/...`               admin endpoints for tests, on paths the real APIs do not have:

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

Every API call goes through two middlewares: the call log, then the fault schedule.
"""

from __future__ import annotations

import json
import re
import socket
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from cometly_elt.errors import UserError
from cometly_elt.fake import cometly_api
from cometly_elt.fake.cometly_api import CometlyService, iso_utc
from cometly_elt.fake.context import Call, Clock, FakeContext
from cometly_elt.fake.faults import FaultMiddleware, FaultSpecError, load_faults, parse_rules
from cometly_elt.fake.scenario import load_scenario

GRAPH_VERSION_PATH = re.compile(r"/v\d+\.\d+/")
COMETLY_PREFIX = "/public-api/v1"
_COMETLY_ENDPOINTS = (
    (re.compile(r"GET /events/?"), "list_events"),
    (re.compile(r"POST /events/exports/?"), "create_export"),
    (re.compile(r"GET /events/exports/[^/]+"), "export_status"),
    (re.compile(r"GET /events/[^/]+"), "get_event"),
)


# ---------------------------------------------------------------- which call is this

class CallDescriber:
    """Names an API call's endpoint and tenant; None for paths that are not an API's (admin, unknown)."""

    def __init__(self, cometly: CometlyService):
        self.cometly = cometly

    def __call__(self, scope: dict) -> Call | None:
        method, path = scope["method"], scope["path"]
        if path.startswith(COMETLY_PREFIX + "/"):
            request = f"{method} {path.removeprefix(COMETLY_PREFIX)}"
            endpoint = next((name for pattern, name in _COMETLY_ENDPOINTS if pattern.fullmatch(request)), "other")
            authorization = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            return Call("cometly", method, path, endpoint, self.cometly.space_for_key(authorization))
        if path.startswith("/_s3/"):
            token = path.removeprefix("/_s3/").removesuffix(".ndjson.gz")
            return Call("cometly", method, path, "export_download", self.cometly.space_for_download(token))
        if GRAPH_VERSION_PATH.match(path):
            return Call("meta", method, path, _meta_endpoint(path), _ad_account(path))
        return None


def _meta_endpoint(path: str) -> str:
    """`/v25.0/act_1/insights` -> `act/insights`, `/v25.0/6123/` -> `{id}`."""
    parts = [p for p in GRAPH_VERSION_PATH.sub("", path, count=1).split("/") if p]
    names = ["act" if re.fullmatch(r"act_\d+", p) else "{id}" if p.isdigit() else p for p in parts]
    return "/".join(names) or "batch"


def _ad_account(path: str) -> str | None:
    match = re.search(r"/(act_\d+)(/|$)", path)
    return match.group(1) if match else None


class CallLogMiddleware:
    def __init__(self, app, ctx: FakeContext, describe_call: CallDescriber):
        self.app, self.ctx, self.describe_call = app, ctx, describe_call

    async def __call__(self, scope, receive, send):
        call = self.describe_call(scope) if scope["type"] == "http" else None
        if call is None:
            await self.app(scope, receive, send)
            return
        arrived, status = self.ctx.clock.now(), 500

        async def send_noting_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            self.ctx.calls.record(call, arrived, status)


class _GraphVersionOnly:
    """Hands `/vNN.N/...` paths to the Meta app, full path included."""

    def __init__(self, meta_app):
        self.meta_app = meta_app

    async def __call__(self, scope, receive, send):
        if GRAPH_VERSION_PATH.match(scope["path"]):
            await self.meta_app(scope, receive, send)
        else:
            await JSONResponse({"message": "Not Found"}, status_code=404)(scope, receive, send)


def _meta_app(meta_section: dict, ctx: FakeContext):
    try:
        from cometly_elt.fake import meta_api
    except ModuleNotFoundError as err:
        if err.name != "cometly_elt.fake.meta_api":
            raise
        return None  # meta_api.py is built separately; until it exists, Meta paths answer 404.
    return meta_api.create_app(meta_section, ctx)


# ---------------------------------------------------------------- admin endpoints

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


def _admin_routes(ctx: FakeContext, cometly: CometlyService) -> list[Route]:
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
            cometly.exports_to_fail = int(count)
            return {"next": int(count)}
        if _is_number(export_id) and export_id in cometly.exports:
            cometly.fail_export(export_id)
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


# ---------------------------------------------------------------- the app and the process

def create_app(scenario: dict, ctx: FakeContext) -> Starlette:
    """Both fakes for a checked scenario (see scenario.validate_scenario)."""
    cometly = cometly_api.create_app(scenario.get("cometly", {}), ctx)
    service: CometlyService = cometly.state.service
    meta = _meta_app(scenario.get("meta", {}), ctx)
    routes = [
        Mount("/_fake", routes=_admin_routes(ctx, service)),
        Route("/_s3/{token}.ndjson.gz", service.download, methods=["GET"]),
        Mount(COMETLY_PREFIX, app=cometly),
    ]
    if meta is not None:
        # Meta's own admin endpoints go first, before the general /_fake ones.
        routes = [Route("/_fake/meta/{rest:path}", meta), *routes, Route("/{version}/{rest:path}", _GraphVersionOnly(meta))]
    describe_call = CallDescriber(service)
    return Starlette(routes=routes, middleware=[
        Middleware(CallLogMiddleware, ctx=ctx, describe_call=describe_call),
        Middleware(FaultMiddleware, schedule_of=lambda: ctx.faults, describe_call=describe_call),
    ])


def serve(scenario_path: str, port: int, rate_limits: bool = True, clock_speed: float = 1.0,
          faults_path: str | None = None) -> None:
    serve_world(load_scenario(scenario_path), port, rate_limits, clock_speed, faults_path)


def serve_world(scenario: dict, port: int, rate_limits: bool = True, clock_speed: float = 1.0,
                faults_path: str | None = None) -> None:
    """Serve a checked scenario on 127.0.0.1:`port` until interrupted."""
    import uvicorn

    ctx = FakeContext(clock=Clock(speed=clock_speed), rate_limits=rate_limits, base_url=f"http://127.0.0.1:{port}")
    if faults_path:
        ctx.faults.replace(load_faults(faults_path))
    app = create_app(scenario, ctx)
    listening = socket.socket()
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restarts need no wait
    try:
        listening.bind(("127.0.0.1", port))
    except OSError as err:
        listening.close()
        raise UserError(f"cannot listen on 127.0.0.1:{port}: {err.strerror}") from None
    print(f"fake Cometly on {ctx.base_url}{COMETLY_PREFIX}, fake Meta on {ctx.base_url}/v25.0,"
          f" admin on {ctx.base_url}/_fake", flush=True)
    # A short graceful shutdown: a request hanging in a timeout fault must not keep the process alive.
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=1)
    uvicorn.Server(config).run(sockets=[listening])
