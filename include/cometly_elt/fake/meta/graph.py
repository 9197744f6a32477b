"""The fake Graph API's entry point: routing, tokens, nodes and edges, insights and report runs, and the
admin routes under `/_fake/meta/`."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cometly_elt.fake.context import FakeContext
from cometly_elt.fake.meta.errors import GraphError, invalid_parameter, nonexisting_field, reduce_data, unsupported_get
from cometly_elt.fake.meta.filtering import passes, status_filter
from cometly_elt.fake.meta.insights import read_insights
from cometly_elt.fake.meta.paging import page
from cometly_elt.fake.meta.report_runs import ReportRun, ReportRuns
from cometly_elt.fake.meta.requests import GraphRequest, json_param, list_param, read_request, requested_fields, select
from cometly_elt.fake.meta.settings import Settings
from cometly_elt.fake.meta.usage import Usage
from cometly_elt.fake.meta.vocabulary import ACCOUNT_FIELDS, EDGE_KIND, LEVELS, NODE_TYPE, OBJECT_FIELDS
from cometly_elt.fake.meta.world import Account, AdObject, build_world

ADMIN_PREFIX = "/_fake/meta/"
_VERSIONED = re.compile(r"^/(v\d+\.\d+)(/.*)?$")
_ACCOUNT_ID = re.compile(r"^act_(\d+)$")


class MetaGraph:
    def __init__(self, meta: dict, ctx: FakeContext):
        self.ctx = ctx
        self.accounts, self.objects, self.tokens = build_world(meta or {})
        self.settings = Settings()
        self.usage = Usage(ctx, self.settings)
        self.runs = ReportRuns()

    # -- entry points

    async def handle(self, request: Request) -> Response:
        path = request.scope["path"]
        if path.startswith(ADMIN_PREFIX):
            return await self.admin(request, path[len(ADMIN_PREFIX):].strip("/"))
        match = _VERSIONED.match(path)
        headers: dict[str, str] = {}
        try:
            if match is None:
                raise GraphError(2500, f"Unknown path components: {path} (a version segment such as /v25.0 is"
                                       " required)")
            graph = await read_request(request, match.group(1), match.group(2) or "")
            headers["facebook-api-version"] = graph.version
            body, usage = self.dispatch(graph)
            headers.update(usage)
            return JSONResponse(body, headers=headers)
        except GraphError as err:
            return JSONResponse(err.body(), status_code=err.status, headers={**headers, **err.headers})

    async def admin(self, request: Request, what: str) -> Response:
        try:
            if what == "settings" and request.method == "GET":
                return JSONResponse(asdict(self.settings))
            if what == "settings" and request.method == "POST":
                self.settings.update(await request.json())
                return JSONResponse(asdict(self.settings))
            if what == "report_runs" and request.method == "POST":
                return JSONResponse({"queued": self.runs.script((await request.json()).get("plans"))})
        except (ValueError, AttributeError) as err:
            return JSONResponse({"error": str(err)}, status_code=400)
        return JSONResponse({"error": f"no such admin route: {request.method} {ADMIN_PREFIX}{what}"}, status_code=404)

    def dispatch(self, req: GraphRequest) -> tuple[Any, dict[str, str]]:
        if req.method not in ("GET", "POST"):
            raise invalid_parameter(f"Unsupported method {req.method}")
        if not req.segments:
            raise invalid_parameter("Batch requests are not supported by this fake")
        self.authenticate(req.token)
        head, edge, extra = req.segments[0], req.segments[1:2], req.segments[2:]
        if extra:
            raise unsupported_get("/".join(req.segments))
        if head == "me":
            if edge != ["adaccounts"] or req.method != "GET":
                raise unsupported_get("me")
            return self.page(req, [a.values(self.now) for a in self.token_accounts(req.token)],
                             ACCOUNT_FIELDS, "AdAccount"), self.usage.spend(None, "ads_management")
        if head in self.runs:
            return self.report_run(req, self.runs[head], edge)
        target = self.resolve(head, req.token)
        account = target if isinstance(target, Account) else target.account
        usage = self.usage.spend(account, "ads_insights" if edge == ["insights"] else "ads_management")
        try:
            return self.read(req, target, edge), usage
        except GraphError as err:
            err.headers = {**usage, **err.headers}
            raise

    def read(self, req: GraphRequest, target: Account | AdObject, edge: list[str]) -> Any:
        if not edge:
            if req.method != "GET":
                raise invalid_parameter("Updating objects is not supported by this fake")
            return self.node(req, target)
        if edge == ["insights"]:
            return self.insights(req, target)
        if edge[0] in EDGE_KIND and req.method == "GET":
            return self.edge(req, target, EDGE_KIND[edge[0]])
        raise nonexisting_field(edge[0], NODE_TYPE["account" if isinstance(target, Account) else target.kind])

    @property
    def now(self) -> datetime:
        return self.ctx.clock.now()

    # -- auth

    def authenticate(self, token: str | None) -> None:
        if not token:
            raise GraphError(104, "An access token is required to request this resource.")
        known = self.tokens.get(token)
        if known is None:
            raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
        if known.status == "expired":
            expired = self.now - timedelta(days=1)
            raise GraphError(
                190, f"Error validating access token: Session has expired on {expired:%A, %d-%b-%y %H:%M:%S} PST."
                     f" The current time is {self.now:%A, %d-%b-%y %H:%M:%S} PST.",
                subcode=463)
        if known.status == "invalidated":
            raise GraphError(190, "Error validating access token: The session has been invalidated because the user"
                                  " changed their password or Facebook has changed the session for security reasons.",
                             subcode=460)

    def token_accounts(self, token: str) -> list[Account]:
        return [a for a in self.accounts.values() if a.id in self.tokens[token].account_ids]

    def resolve(self, object_id: str, token: str) -> Account | AdObject:
        if _ACCOUNT_ID.match(object_id):
            account = self.accounts.get(object_id)
            if account is None:
                raise unsupported_get(object_id)
            if account.id not in self.tokens[token].account_ids:
                raise GraphError(200, "(#200) Ad account owner has NOT grant ads_management or ads_read permission",
                                 status=403)
            return account
        found = self.objects.get(object_id)
        # Objects of accounts the token cannot read look missing, as on the real API.
        if found is None or found.account.id not in self.tokens[token].account_ids:
            raise unsupported_get(object_id)
        return found

    # -- nodes and edges

    def node(self, req: GraphRequest, target: Account | AdObject) -> dict:
        if isinstance(target, Account):
            return select(target.values(self.now), requested_fields(req, ACCOUNT_FIELDS, "AdAccount"))
        names = requested_fields(req, OBJECT_FIELDS[target.kind], NODE_TYPE[target.kind])
        return select(target.values(), names)

    def edge(self, req: GraphRequest, parent: Account | AdObject, kind: str) -> dict:
        if isinstance(parent, Account):
            candidates = parent.of_kind(kind)
        elif LEVELS.index(kind) > LEVELS.index(parent.kind):
            candidates = [o for o in parent.account.of_kind(kind) if o.at(parent.kind) is parent]
        else:
            raise nonexisting_field(f"{kind}s", NODE_TYPE[parent.kind])
        statuses = status_filter(req, kind)
        if not self.settings.deleted_in_edges:
            statuses -= {"DELETED"}
        filters = json_param("filtering", req.params.get("filtering"), list) or []
        chosen = [o for o in candidates if o.effective_status in statuses and passes(o, filters, kind)]
        return self.page(req, [o.values() for o in chosen], OBJECT_FIELDS[kind], NODE_TYPE[kind])

    def page(self, req: GraphRequest, items: list[dict], allowed: tuple[str, ...] | None, node_type: str) -> dict:
        return page(req, items, allowed, node_type, self.settings, self.ctx.base_url)

    # -- insights and report runs

    def insights(self, req: GraphRequest, target: Account | AdObject) -> dict:
        found = read_insights(req, target, self.now, self.settings.future_check)
        if req.method == "POST":
            run = self.runs.start(found.account, found.rows, found.since, found.until, self.now)
            return {"report_run_id": run.id}
        if self.settings.max_rows_per_sync_call and len(found.rows) > self.settings.max_rows_per_sync_call:
            raise reduce_data()
        return self.page(req, found.rows, None, "AdsInsights")

    def report_run(self, req: GraphRequest, run: ReportRun, edge: list[str]) -> tuple[Any, dict[str, str]]:
        if run.account.id not in self.tokens[req.token].account_ids:
            raise unsupported_get(run.id)
        usage = self.usage.spend(run.account, "ads_insights")
        if not edge and req.method == "GET":
            values = run.poll(self.now)
            names = list_param(req.params.get("fields"))
            return (select(values, ["id", *names]) if names else values), usage
        if edge == ["insights"] and req.method == "GET":
            error = run.results_error(usage)
            if error is not None:
                raise error
            return self.page(req, run.rows, None, "AdsInsights"), usage
        raise unsupported_get("/".join(req.segments))


def create_app(meta_section: dict | None, ctx: FakeContext) -> Starlette:
    """The ASGI app for every `/vNN.N/...` path and the Meta admin routes under `/_fake/meta/`."""
    graph = MetaGraph(meta_section or {}, ctx)
    app = Starlette(routes=[Route("/{path:path}", graph.handle, methods=["GET", "POST", "DELETE", "PUT"])])
    app.state.graph = graph
    return app
