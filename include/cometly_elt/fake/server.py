"""One process, one port: the fake Cometly and Meta APIs, Cometly's export files, and admin endpoints.

Paths:
- `/public-api/v1/...`       the fake Cometly API (fake/cometly/)
- `/_s3/<token>.ndjson.gz`   Cometly export files (the real ones are presigned S3 URLs)
- `/vNN.N/...`               the fake Meta Graph API (fake/meta/)
- `/_fake/meta/...`          the fake Meta's own admin endpoints (fake/meta/graph.py)
- `/_fake/...`               admin endpoints for tests (fake/admin.py)

Every API call goes through two middlewares: the call log, then the fault schedule.
"""

from __future__ import annotations

import re
import socket

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from cometly_elt.errors import UserError
from cometly_elt.fake import cometly, meta
from cometly_elt.fake.admin import admin_routes
from cometly_elt.fake.calls import Call, CallLogMiddleware
from cometly_elt.fake.cometly import CometlyService
from cometly_elt.fake.context import Clock, FakeContext
from cometly_elt.fake.faults import FaultMiddleware, load_faults
from cometly_elt.fake.scenario import load_scenario

GRAPH_VERSION_PATH = re.compile(r"/v\d+\.\d+/")
COMETLY_PREFIX = "/public-api/v1"
_COMETLY_ENDPOINTS = (
    (re.compile(r"GET /events/?"), "list_events"),
    (re.compile(r"POST /events/exports/?"), "create_export"),
    (re.compile(r"GET /events/exports/[^/]+"), "export_status"),
    (re.compile(r"GET /events/[^/]+"), "get_event"),
)


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
            return Call("cometly", method, path, "export_download", self.cometly.exports.space_for_download(token))
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


class _GraphVersionOnly:
    """Hands `/vNN.N/...` paths to the Meta app, full path included."""

    def __init__(self, meta_app):
        self.meta_app = meta_app

    async def __call__(self, scope, receive, send):
        if GRAPH_VERSION_PATH.match(scope["path"]):
            await self.meta_app(scope, receive, send)
        else:
            await JSONResponse({"message": "Not Found"}, status_code=404)(scope, receive, send)


def create_app(scenario: dict, ctx: FakeContext) -> Starlette:
    """Both fakes for a checked scenario (see scenario.validate_scenario)."""
    cometly_app = cometly.create_app(scenario.get("cometly", {}), ctx)
    service: CometlyService = cometly_app.state.service
    meta_app = meta.create_app(scenario.get("meta", {}), ctx)
    routes = [
        # Meta's own admin endpoints go first, before the general /_fake ones.
        Route("/_fake/meta/{rest:path}", meta_app),
        Mount("/_fake", routes=admin_routes(ctx, service)),
        Route("/_s3/{token}.ndjson.gz", service.download, methods=["GET"]),
        Mount(COMETLY_PREFIX, app=cometly_app),
        Route("/{version}/{rest:path}", _GraphVersionOnly(meta_app)),
    ]
    describe_call = CallDescriber(service)
    return Starlette(routes=routes, middleware=[
        Middleware(CallLogMiddleware, now=ctx.clock.now, log=ctx.calls, describe_call=describe_call),
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
