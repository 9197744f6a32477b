"""The fake Cometly's HTTP endpoints, each making the checks in the documented order:
authentication (401/403 spend no quota), then the rate limit, then validation (422 spends quota)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cometly_elt.fake.cometly.auth import ApiKey, authenticate
from cometly_elt.fake.cometly.errors import ApiError, route_not_found
from cometly_elt.fake.cometly.events import event_object
from cometly_elt.fake.cometly.exports import Exports
from cometly_elt.fake.cometly.paging import cursor_page
from cometly_elt.fake.cometly.throttle import RateLimiter
from cometly_elt.fake.cometly.validation import laravel_query, parse_export_request, parse_list_request
from cometly_elt.fake.cometly.world import Space, build_space
from cometly_elt.fake.context import FakeContext

Handler = Callable[[Request, Space], Awaitable[Response]]


@dataclass
class CometlyService:
    """The Spaces, keys and export jobs of one fake Cometly, and its HTTP endpoints."""

    ctx: FakeContext
    spaces: dict[str, Space]
    keys: dict[str, ApiKey]
    limiter: RateLimiter
    exports: Exports = field(default_factory=Exports)

    @classmethod
    def from_section(cls, section: dict, ctx: FakeContext) -> CometlyService:
        spaces, keys = {}, {}
        for spec in section.get("spaces", []):
            space = spaces[spec["id"]] = build_space(spec)
            for key in spec.get("api_keys", []):
                keys[key["key"]] = ApiKey(space, key["status"])
        return cls(ctx=ctx, spaces=spaces, keys=keys, limiter=RateLimiter(ctx))

    def endpoint(self, name: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            try:
                space = authenticate(self.keys, request.headers.get("authorization", ""))
            except ApiError as err:
                return err.response()
            allowed, headers = self.limiter.hit(space.id, name)
            if not allowed:
                response = JSONResponse({"message": "Too Many Attempts."}, status_code=429)
            else:
                try:
                    response = await handler(request, space)
                except ApiError as err:
                    response = err.response()
            response.headers.update(headers)
            return response

        return serve

    # -- endpoints

    async def list_events(self, request: Request, space: Space) -> Response:
        query, per_page, cursor = parse_list_request(laravel_query(request.url.query), space)
        return JSONResponse(cursor_page(space, query, per_page, cursor, str(request.url.replace(query=""))))

    async def get_event(self, request: Request, space: Space) -> Response:
        event_id = request.path_params["event_id"]
        if not event_id.isdigit():
            raise ApiError(422, "Invalid event ID provided.", {"event_id": ["Invalid event ID provided."]})
        event = space.by_id.get(int(event_id))
        if event is None:
            raise ApiError(404, "Event not found.")
        return JSONResponse(event_object(space, event))

    async def create_export(self, request: Request, space: Space) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = {}  # Laravel reads an unparsable JSON body as no input
        query = parse_export_request(body if isinstance(body, dict) else {}, space)
        export = self.exports.create(space, query, self.ctx.clock.now())
        message = "Export queued. Poll its status until it completes."
        return JSONResponse({"export_id": export.id, "status": "queued", "message": message}, status_code=202)

    async def export_status(self, request: Request, space: Space) -> Response:
        body = self.exports.status(request.path_params["export_id"], space, self.ctx.clock.now(),
                                   str(request.base_url))
        return JSONResponse(body)

    async def download(self, request: Request) -> Response:
        """An export file, at the URL a completed export's status hands out (no Cometly key)."""
        return self.exports.file(request.path_params["token"], self.ctx.clock.now())

    # -- what the admin endpoints and the call log need

    def space_for_key(self, authorization: str) -> str | None:
        key = self.keys.get(authorization.partition(" ")[2].strip())
        return key.space.id if key else None

    def set_key_status(self, key: str, status: str) -> None:
        self.keys[key].status = status

    def set_subscription(self, space_id: str, active: bool) -> None:
        self.spaces[space_id].subscription_active = active


def create_app(cometly_section: dict, ctx: FakeContext) -> Starlette:
    """The API to mount at `/public-api/v1`; `app.state.service` is the CometlyService behind it."""
    service = CometlyService.from_section(cometly_section, ctx)
    routes = [
        Route("/events", service.endpoint("list_events", service.list_events), methods=["GET"]),
        Route("/events/exports", service.endpoint("create_export", service.create_export), methods=["POST"]),
        Route("/events/exports/{export_id}", service.endpoint("export_status", service.export_status),
              methods=["GET"]),
        Route("/events/{event_id}", service.endpoint("get_event", service.get_event), methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: route_not_found})
    app.state.service = service
    return app
