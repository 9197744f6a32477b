"""The fake Meta Graph (Marketing) API, serving a scenario's `meta` section.

It reproduces what shared/reference/meta-api.md §8 lists: any `/vNN.N/`
version, `/x` and `/x/` alike, the token from the query, a form body or
`Authorization: Bearer`; the account node, `me/adaccounts`, the
campaign/ad set/ad edges with opaque cursors and hierarchy-consistent
`effective_status`; ad-level daily insights in the account's timezone, sync
and as async report runs; Meta's error envelope (HTTP 400 for OAuth and
throttle errors, never 429) and its usage headers.

Generic faults (a status, a timeout, a reset, a cut body) belong to the
server's fault schedule. What only Meta does is scripted here, under paths
the real API does not have:

- `POST /_fake/meta/settings` with any of the `Settings` fields (JSON);
- `POST /_fake/meta/report_runs` with `{"plans": [PLAN, ...]}`: how the next
  report runs behave, one plan each, then `completes` again (see RUN_PLANS);
- `GET /_fake/meta/settings` shows the settings in force.
"""

from __future__ import annotations

import base64
import json
import math
import re
import secrets
from collections import defaultdict, deque
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cometly_elt.fake.context import FakeContext

ADMIN_PREFIX = "/_fake/meta/"
_VERSIONED = re.compile(r"^/(v\d+\.\d+)(/.*)?$")
_ACCOUNT_ID = re.compile(r"^act_(\d+)$")

RATE_LIMIT_DOC = "For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting."

# effective_status values each level accepts (SDK enums); others are error 100/1487561.
_BASE_STATUSES = ("ACTIVE", "PAUSED", "DELETED", "ARCHIVED", "IN_PROCESS", "WITH_ISSUES")
VALID_STATUSES = {
    "campaign": _BASE_STATUSES,
    "adset": (*_BASE_STATUSES, "CAMPAIGN_PAUSED"),
    "ad": (*_BASE_STATUSES, "CAMPAIGN_PAUSED", "ADSET_PAUSED", "DISAPPROVED", "PENDING_REVIEW",
           "PREAPPROVED", "PENDING_BILLING_INFO"),
}
_EDGE_KIND = {"campaigns": "campaign", "adsets": "adset", "ads": "ad"}
_NODE_TYPE = {"campaign": "Campaign", "adset": "AdSet", "ad": "Ad", "account": "AdAccount"}
LEVELS = ("account", "campaign", "adset", "ad")

OBJECT_FIELDS = {
    "campaign": ("id", "name", "account_id", "status", "configured_status", "effective_status", "objective",
                 "created_time"),
    "adset": ("id", "name", "account_id", "campaign_id", "status", "configured_status", "effective_status",
              "created_time"),
    "ad": ("id", "name", "account_id", "campaign_id", "adset_id", "status", "configured_status",
           "effective_status", "created_time"),
}
ACCOUNT_FIELDS = ("id", "account_id", "name", "currency", "timezone_name", "timezone_offset_hours_utc",
                  "account_status")
INSIGHT_FIELDS = ("account_id", "account_name", "account_currency", "campaign_id", "campaign_name", "adset_id",
                  "adset_name", "ad_id", "ad_name", "objective", "spend", "impressions", "clicks", "cpc", "cpm",
                  "ctr", "date_start", "date_stop")
DEFAULT_INSIGHT_FIELDS = ("impressions", "spend")
RUN_FIELDS = ("id", "report_run_id", "account_id", "time_ref", "time_completed", "async_status",
              "async_percent_completion", "is_running", "date_start", "date_stop", "error_code",
              "error_subcode", "error_message", "error_user_title", "error_user_msg")

# What a report run's status node says at each poll; the last step repeats.
RUN_PLANS: dict[str, list[tuple[str, int]]] = {
    "completes": [("Job Not Started", 0), ("Job Started", 0), ("Job Running", 50), ("Job Completed", 100)],
    # Meta's gotcha: the percentage reaches 100 before the job is done.
    "percent_100_while_running": [("Job Not Started", 0), ("Job Running", 100), ("Job Running", 100),
                                  ("Job Running", 100), ("Job Completed", 100)],
    # Failed jobs sit at 0 % forever.
    "fails": [("Job Not Started", 0), ("Job Started", 0), ("Job Failed", 0)],
    "skipped": [("Job Not Started", 0), ("Job Skipped", 0)],
    "never_finishes": [("Job Not Started", 0), ("Job Running", 42)],
}
_FINISHED = {"Job Completed", "Job Failed", "Job Skipped"}


# ---------------------------------------------------------------- errors

class GraphError(Exception):
    """An answer in Meta's error envelope."""

    def __init__(self, code: int, message: str, *, status: int = 400, subcode: int | None = None,
                 type_: str = "OAuthException", is_transient: bool | None = None,
                 user_title: str | None = None, user_msg: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code, self.message, self.status, self.subcode = code, message, status, subcode
        self.type, self.is_transient, self.user_title, self.user_msg = type_, is_transient, user_title, user_msg
        self.headers = headers or {}

    def body(self) -> dict:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.is_transient is not None:
            error["is_transient"] = self.is_transient
        if self.user_title:
            error["error_user_title"] = self.user_title
        if self.user_msg:
            error["error_user_msg"] = self.user_msg
        error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
        return {"error": error}


def invalid_parameter(message: str, subcode: int | None = None, user_title: str | None = None) -> GraphError:
    return GraphError(100, f"(#100) {message}", subcode=subcode, user_title=user_title)


def unsupported_get(object_id: str) -> GraphError:
    return GraphError(
        100,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded due to missing"
        " permissions, or does not support this operation. Please read the Graph API documentation at"
        " https://developers.facebook.com/docs/graph-api",
        subcode=33, type_="GraphMethodException",
    )


def nonexisting_field(name: str, node_type: str) -> GraphError:
    return invalid_parameter(f"Tried accessing nonexisting field ({name}) on node type ({node_type})")


def reduce_data(code: int = 100) -> GraphError:
    if code == 1:
        return GraphError(1, "Please reduce the amount of data you're asking for, then retry your request",
                          status=500, is_transient=False)
    return invalid_parameter("Please reduce the amount of data you're asking for, then retry your request",
                             subcode=1487534, user_title="Too much data requested")


# ---------------------------------------------------------------- the world

@dataclass
class Account:
    id: str
    digits: str
    name: str
    currency: str
    timezone_name: str
    account_status: int
    objects: list[AdObject] = field(default_factory=list)
    delivery: list[Delivery] = field(default_factory=list)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone_name)

    def today(self, now: datetime) -> date:
        return now.astimezone(self.tz).date()

    def values(self, now: datetime) -> dict:
        offset = now.astimezone(self.tz).utcoffset() or timedelta(0)
        return {"id": self.id, "account_id": self.digits, "name": self.name, "currency": self.currency,
                "timezone_name": self.timezone_name, "timezone_offset_hours_utc": offset.total_seconds() / 3600,
                "account_status": self.account_status}

    def of_kind(self, kind: str) -> list[AdObject]:
        return [o for o in self.objects if o.kind == kind]


@dataclass
class AdObject:
    """A campaign, ad set or ad."""

    kind: str
    id: str
    name: str
    status: str
    account: Account
    parent: AdObject | None = None
    objective: str | None = None
    created_time: datetime | None = None

    def lineage(self) -> list[AdObject]:
        """Campaign first, this object last."""
        chain = [self]
        while chain[0].parent is not None:
            chain.insert(0, chain[0].parent)
        return chain

    def at(self, kind: str) -> AdObject | None:
        return next((o for o in self.lineage() if o.kind == kind), None)

    @property
    def effective_status(self) -> str:
        statuses = [o.status for o in self.lineage()]
        for final in ("DELETED", "ARCHIVED"):
            if final in statuses:
                return final
        if self.status != "ACTIVE":
            return self.status
        for ancestor in self.lineage()[:-1]:
            if ancestor.status == "PAUSED":
                return f"{ancestor.kind.upper()}_PAUSED"
        return "ACTIVE"

    def values(self) -> dict:
        campaign = self.at("campaign")
        created = self.created_time or (campaign.created_time if campaign else None)
        values = {
            "id": self.id, "name": self.name, "account_id": self.account.digits, "status": self.status,
            "configured_status": self.status, "effective_status": self.effective_status,
        }
        if self.kind == "campaign" and self.objective:
            values["objective"] = self.objective
        if self.kind in ("adset", "ad"):
            values["campaign_id"] = campaign.id
        if self.kind == "ad":
            values["adset_id"] = self.parent.id
        if created is not None:
            values["created_time"] = created.astimezone(self.account.tz).strftime("%Y-%m-%dT%H:%M:%S%z")
        return values


@dataclass(frozen=True)
class Delivery:
    ad: AdObject
    day: date
    spend: Decimal
    impressions: int
    clicks: int


@dataclass
class Token:
    status: str
    account_ids: frozenset[str]


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")


def build_world(meta: dict) -> tuple[dict[str, Account], dict[str, AdObject], dict[str, Token]]:
    accounts: dict[str, Account] = {}
    objects: dict[str, AdObject] = {}
    for spec in meta.get("ad_accounts", []):
        account = Account(spec["id"], spec["id"].removeprefix("act_"), spec.get("name", ""),
                          spec.get("currency", "USD"), spec["timezone_name"], spec.get("account_status", 1))
        accounts[account.id] = account
        for c in spec.get("campaigns", []):
            campaign = AdObject("campaign", c["id"], c.get("name", ""), c.get("status", "ACTIVE"), account,
                                objective=c.get("objective"), created_time=_parse_time(c.get("created_time")))
            account.objects.append(campaign)
            for s in c.get("adsets", []):
                adset = AdObject("adset", s["id"], s.get("name", ""), s.get("status", "ACTIVE"), account, campaign,
                                 created_time=_parse_time(s.get("created_time")))
                account.objects.append(adset)
                for a in s.get("ads", []):
                    account.objects.append(AdObject("ad", a["id"], a.get("name", ""), a.get("status", "ACTIVE"),
                                                    account, adset, created_time=_parse_time(a.get("created_time"))))
        objects.update((o.id, o) for o in account.objects)
        for row in spec.get("insights", []):
            account.delivery.append(Delivery(objects[row["ad_id"]], date.fromisoformat(row["date"]),
                                             Decimal(str(row.get("spend", "0"))), int(row.get("impressions", 0)),
                                             int(row.get("clicks", 0))))
    tokens = {t["token"]: Token(t.get("status", "valid"), frozenset(t.get("ad_accounts", [])))
              for t in meta.get("access_tokens", [])}
    return accounts, objects, tokens


# ---------------------------------------------------------------- settings and scripting

@dataclass
class Settings:
    default_limit: int = 25
    max_limit: int = 5000  # a larger `limit` gets error 1 (HTTP 500) "reduce the amount of data"
    max_rows_per_sync_call: int | None = None  # a sync insights call with more rows gets 100/1487534
    # Whether edges list DELETED objects when asked to (the reference's open question 1).
    deleted_in_edges: bool = True
    empty_first_page: bool = False  # first page empty but with `next` (the SDK stops there)
    short_pages: bool = False  # pages of half the limit while more remain
    usage_headers: bool = True
    future_check: str = "account"  # "utc": the reported bug of checking `until` against UTC today
    quota_ads_management: int | None = None  # calls per ad account and rolling hour; None: Meta's dev-tier formula
    quota_ads_insights: int | None = None
    quota_app: int = 20000  # calls per rolling hour for the whole app (error 4 beyond)

    def update(self, changes: Any) -> None:
        if not isinstance(changes, dict):
            raise ValueError("expected a JSON object of settings")
        known = {f.name: f.default for f in fields(self)}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown setting {key!r}; known: {', '.join(known)}")
            default = known[key]
            if key == "future_check":
                valid = value in ("account", "utc")
            elif isinstance(default, bool):
                valid = isinstance(value, bool)
            else:  # a count; the optional ones may be null
                valid = (value is None and default is None) or (
                    isinstance(value, int) and not isinstance(value, bool) and value >= 1)
            if not valid:
                raise ValueError(f"{key}: {value!r} is not a valid value")
            setattr(self, key, value)


@dataclass
class ReportRun:
    id: str
    account: Account
    rows: list[dict]
    since: date
    until: date
    plan: list[tuple[str, int]]
    created: datetime
    polls: int = 0
    completed: datetime | None = None

    @property
    def state(self) -> tuple[str, int]:
        return self.plan[min(max(self.polls - 1, 0), len(self.plan) - 1)]

    def poll(self, now: datetime) -> dict:
        self.polls += 1
        status, percent = self.state
        if status == "Job Completed" and self.completed is None:
            self.completed = now
        values = {
            "id": self.id, "report_run_id": self.id, "account_id": self.account.digits,
            "time_ref": int(self.created.timestamp()), "async_status": status,
            "async_percent_completion": percent, "is_running": status not in _FINISHED,
            "date_start": self.since.isoformat(), "date_stop": self.until.isoformat(),
        }
        if self.completed is not None:
            values["time_completed"] = int(self.completed.timestamp())
        if status == "Job Failed":
            values.update(error_code=-2, error_subcode=2490547, error_message="Report Failed",
                          error_user_title="Report Failed", error_user_msg="Report failed, please try again later.")
        return values


# ---------------------------------------------------------------- usage (business use case rate limits)

class Usage:
    """Calls per ad account and use case in a rolling hour on the fake clock, as Meta's BUC limits count them.

    Usage is always reported in the headers; calls beyond a quota are refused
    (4 for the app, 80004 management, 80000 insights) only when rate limits are on.
    """

    WINDOW = timedelta(hours=1)

    def __init__(self, ctx: FakeContext, settings: Settings):
        self.ctx, self.settings = ctx, settings
        self.calls: dict[tuple[str, str], deque[datetime]] = defaultdict(deque)
        self.app_calls: deque[datetime] = deque()

    def quota(self, account: Account, kind: str) -> int:
        active_ads = sum(1 for o in account.of_kind("ad") if o.effective_status == "ACTIVE")
        if kind == "ads_insights":
            return self.settings.quota_ads_insights or 600 + 400 * active_ads
        return self.settings.quota_ads_management or 300 + 40 * active_ads

    def spend(self, account: Account | None, kind: str) -> dict[str, str]:
        """Count one call; its usage headers. Raises the throttle error when over a quota."""
        now = self.ctx.clock.now()
        app_pct, app_throttled = self._count(self.app_calls, self.settings.quota_app, now)
        headers = {"x-app-usage": json.dumps({"call_count": app_pct, "total_cputime": app_pct // 2,
                                              "total_time": app_pct // 2})}
        if app_throttled:
            raise GraphError(4, "(#4) Application request limit reached", is_transient=True,
                             headers=self._shown(headers))
        if account is None:
            return self._shown(headers)
        calls = self.calls[(account.digits, kind)]
        pct, throttled = self._count(calls, self.quota(account, kind), now)
        regain = math.ceil((calls[0] + self.WINDOW - now).total_seconds() / 60) if throttled else 0
        headers["x-business-use-case-usage"] = json.dumps({account.digits: [{
            "type": kind, "call_count": pct, "total_cputime": pct // 2, "total_time": pct // 2,
            "estimated_time_to_regain_access": regain, "ads_api_access_tier": "development_access"}]})
        if kind == "ads_insights":
            headers["x-fb-ads-insights-throttle"] = json.dumps(
                {"app_id_util_pct": app_pct, "acc_id_util_pct": pct, "ads_api_access_tier": "development_access"})
        if throttled:
            code, what = (80000, "from") if kind == "ads_insights" else (80004, "to")
            raise GraphError(code, f"(#{code}) There have been too many calls {what} this ad-account. Wait a bit"
                                   f" and try again. {RATE_LIMIT_DOC}", subcode=2446079, is_transient=True,
                             headers=self._shown(headers))
        return self._shown(headers)

    def _count(self, calls: deque[datetime], quota: int, now: datetime) -> tuple[int, bool]:
        """Count a call in the rolling window unless it is over quota: (usage %, throttled)."""
        while calls and calls[0] <= now - self.WINDOW:
            calls.popleft()
        throttled = self.ctx.rate_limits and len(calls) >= quota
        if not throttled:
            calls.append(now)
        return min(100, math.ceil(100 * len(calls) / quota)), throttled

    def _shown(self, headers: dict[str, str]) -> dict[str, str]:
        return headers if self.settings.usage_headers else {}


# ---------------------------------------------------------------- request parsing

def list_param(value: str | None) -> list[str] | None:
    """Lists arrive JSON-encoded (`["a","b"]`, as the SDK sends them) or comma-joined (`a,b`)."""
    if value is None:
        return None
    value = value.strip()
    if value.startswith("["):
        try:
            items = json.loads(value)
        except json.JSONDecodeError:
            raise invalid_parameter(f"Invalid JSON for a list parameter: {value}") from None
        return [str(i) for i in items]
    return [v.strip() for v in value.split(",") if v.strip()]


def json_param(name: str, value: str | None, kind: type) -> Any:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, kind):
        raise invalid_parameter(f"Param {name} must be a JSON {'object' if kind is dict else 'array'}")
    return parsed


def int_param(name: str, value: str | None, default: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise invalid_parameter(f"Param {name} must be a positive integer")
    return number


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"pos:{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if text.startswith("pos:"):
            return int(text[4:])
    except (ValueError, UnicodeDecodeError):
        pass
    raise invalid_parameter("The after cursor is invalid")


@dataclass
class GraphRequest:
    method: str
    version: str
    segments: list[str]
    query: dict[str, str]
    params: dict[str, str]  # query and form body together
    token: str | None

    @property
    def path(self) -> str:
        return "/" + "/".join(self.segments)


async def read_request(request: Request, version: str, rest: str) -> GraphRequest:
    query = dict(request.query_params)
    params = dict(query)
    if request.method == "POST":
        params.update(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    token = params.pop("access_token", None)
    params.pop("appsecret_proof", None)
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        token = auth[7:].strip()
    return GraphRequest(request.method, version, [s for s in rest.split("/") if s], query, params, token)


# ---------------------------------------------------------------- the API

class MetaGraph:
    def __init__(self, meta: dict, ctx: FakeContext):
        self.ctx = ctx
        self.accounts, self.objects, self.tokens = build_world(meta or {})
        self.settings = Settings()
        self.usage = Usage(ctx, self.settings)
        self.runs: dict[str, ReportRun] = {}
        self.next_plans: deque[str] = deque()
        self._run_ids = iter(range(6035747473269, 10**15))

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
                plans = (await request.json()).get("plans")
                if not isinstance(plans, list) or not all(p in RUN_PLANS for p in plans):
                    raise ValueError(f"expected {{\"plans\": [...]}} with plans among {', '.join(RUN_PLANS)}")
                self.next_plans.extend(plans)
                return JSONResponse({"queued": list(self.next_plans)})
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
        if edge[0] in _EDGE_KIND and req.method == "GET":
            return self.edge(req, target, _EDGE_KIND[edge[0]])
        raise nonexisting_field(edge[0], _NODE_TYPE["account" if isinstance(target, Account) else target.kind])

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

    def requested_fields(self, req: GraphRequest, allowed: tuple[str, ...], node_type: str) -> list[str]:
        names = list_param(req.params.get("fields")) or ["id"]
        for name in names:
            if name not in allowed:
                raise nonexisting_field(name, node_type)
        return names if "id" in names else ["id", *names]

    def select(self, values: dict, names: list[str]) -> dict:
        return {n: values[n] for n in names if n in values}

    def node(self, req: GraphRequest, target: Account | AdObject) -> dict:
        if isinstance(target, Account):
            return self.select(target.values(self.now), self.requested_fields(req, ACCOUNT_FIELDS, "AdAccount"))
        names = self.requested_fields(req, OBJECT_FIELDS[target.kind], _NODE_TYPE[target.kind])
        return self.select(target.values(), names)

    def edge(self, req: GraphRequest, parent: Account | AdObject, kind: str) -> dict:
        if isinstance(parent, Account):
            candidates = parent.of_kind(kind)
        elif LEVELS.index(kind) > LEVELS.index(parent.kind):
            candidates = [o for o in parent.account.of_kind(kind) if o.at(parent.kind) is parent]
        else:
            raise nonexisting_field(f"{kind}s", _NODE_TYPE[parent.kind])
        statuses = self.status_filter(req, kind)
        if not self.settings.deleted_in_edges:
            statuses -= {"DELETED"}
        filters = json_param("filtering", req.params.get("filtering"), list) or []
        chosen = [o for o in candidates if o.effective_status in statuses and self.passes(o, filters, kind)]
        return self.page(req, [o.values() for o in chosen], OBJECT_FIELDS[kind], _NODE_TYPE[kind])

    def status_filter(self, req: GraphRequest, kind: str) -> set[str]:
        """effective_status from the param or a `<kind>.effective_status` filter; by default all but ARCHIVED
        and DELETED."""
        wanted = list_param(req.params.get("effective_status"))
        for rule in json_param("filtering", req.params.get("filtering"), list) or []:
            if isinstance(rule, dict) and rule.get("field") == f"{kind}.effective_status":
                wanted = self.filter_values(rule)
                if rule["operator"].startswith("NOT"):
                    wanted = [s for s in VALID_STATUSES[kind] if s not in wanted]
        if wanted is None:
            return set(VALID_STATUSES[kind]) - {"ARCHIVED", "DELETED"}
        invalid = [s for s in wanted if s not in VALID_STATUSES[kind]]
        if invalid:
            raise invalid_parameter(f"Param effective_status[{wanted.index(invalid[0])}] must be one of"
                                    f" {{{', '.join(VALID_STATUSES[kind])}}}", subcode=1487561,
                                    user_title="Run Status not valid")
        return set(wanted)

    def filter_values(self, rule: dict) -> list[str]:
        operator, value = rule.get("operator"), rule.get("value")
        if operator in ("IN", "NOT_IN") and isinstance(value, list):
            return [str(v) for v in value]
        if operator in ("EQUAL", "NOT_EQUAL") and isinstance(value, (str, int)):
            return [str(value)]
        raise invalid_parameter(f"Filtering operator {operator} with value {value!r} is not valid")

    def passes(self, obj: AdObject, filters: list, kind: str) -> bool:
        """Filters other than this level's effective_status (handled by `status_filter`)."""
        for rule in filters:
            if not isinstance(rule, dict) or not isinstance(rule.get("field"), str) or "." not in rule["field"]:
                raise invalid_parameter(f"Filtering rule {rule!r} is not valid")
            entity, attribute = rule["field"].split(".", 1)
            if entity not in VALID_STATUSES or attribute not in ("id", "effective_status"):
                raise invalid_parameter(f"Filtering field {rule['field']} is invalid")
            if rule["field"] == f"{kind}.effective_status":
                continue
            subject = obj.at(entity)
            if subject is None:
                raise invalid_parameter(f"Filtering field {rule['field']} is invalid for this edge")
            actual = subject.id if attribute == "id" else subject.effective_status
            values = self.filter_values(rule)
            if (actual in values) == rule["operator"].startswith("NOT"):
                return False
        return True

    def page(self, req: GraphRequest, items: list[dict], allowed: tuple[str, ...] | None, node_type: str) -> dict:
        limit = int_param("limit", req.params.get("limit"), self.settings.default_limit)
        if limit > self.settings.max_limit:
            raise reduce_data(code=1)
        names = self.requested_fields(req, allowed, node_type) if allowed else None
        start = decode_cursor(req.params["after"]) + 1 if req.params.get("after") else 0
        size = max(1, limit // 2) if self.settings.short_pages else limit
        if self.settings.empty_first_page and start == 0 and items and "after" not in req.params:
            size = 0
        chunk = items[start:start + size]
        body: dict[str, Any] = {"data": [self.select(i, names) if names else i for i in chunk]}
        if items:
            cursors = {"before": encode_cursor(start), "after": encode_cursor(start + len(chunk) - 1)}
            body["paging"] = {"cursors": cursors}
            if start + len(chunk) < len(items):
                query = {k: v for k, v in req.query.items() if k not in ("after", "before")}
                query.update(limit=str(limit), after=body["paging"]["cursors"]["after"])
                body["paging"]["next"] = f"{self.ctx.base_url}/{req.version}{req.path}?{urlencode(query)}"
        if req.params.get("summary") == "true" and allowed:
            body["summary"] = {"total_count": len(items)}
        return body

    # -- insights

    def insights(self, req: GraphRequest, target: Account | AdObject) -> dict:
        account = target if isinstance(target, Account) else target.account
        level = req.params.get("level") or ("account" if isinstance(target, Account) else target.kind)
        if level not in LEVELS:
            raise invalid_parameter(f"Param level must be one of {{{', '.join(LEVELS)}}}")
        names = list_param(req.params.get("fields")) or list(DEFAULT_INSIGHT_FIELDS)
        for name in names:
            if name not in INSIGHT_FIELDS:
                raise invalid_parameter(f"{name} is not valid for fields param. please check"
                                        " https://developers.facebook.com/docs/marketing-api/reference/ads-insights/")
        since, until = self.insights_range(req, account)
        buckets = self.buckets(req.params.get("time_increment"), since, until)
        rows = self.insight_rows(account, target, level, names, buckets,
                                 json_param("filtering", req.params.get("filtering"), list) or [])
        if req.method == "POST":
            plan = self.next_plans.popleft() if self.next_plans else "completes"
            run = ReportRun(str(next(self._run_ids)), account, rows, since, until, RUN_PLANS[plan], self.now)
            self.runs[run.id] = run
            return {"report_run_id": run.id}
        if self.settings.max_rows_per_sync_call and len(rows) > self.settings.max_rows_per_sync_call:
            raise reduce_data()
        return self.page(req, rows, None, "AdsInsights")

    def insights_range(self, req: GraphRequest, account: Account) -> tuple[date, date]:
        today = account.today(self.now)
        time_range = json_param("time_range", req.params.get("time_range"), dict)
        if time_range is not None:
            try:
                since, until = date.fromisoformat(time_range["since"]), date.fromisoformat(time_range["until"])
            except (KeyError, TypeError, ValueError):
                raise invalid_parameter("Param time_range must have since and until as YYYY-MM-DD dates") from None
        else:
            since, until = self.preset(req.params.get("date_preset") or "last_30d", today)
        if since > until:
            raise invalid_parameter("Param time_range: since must not be after until")
        if since < months_before(today, 37):
            raise GraphError(3018, "(#3018) The start date of the time range cannot be beyond 37 months from the"
                                   " current date", user_title="Start date beyond 37 months")
        latest = self.now.astimezone(timezone.utc).date() if self.settings.future_check == "utc" else today
        if until > latest:
            raise invalid_parameter("time_ranges.end cannot be in the future")
        return since, until

    @staticmethod
    def preset(name: str, today: date) -> tuple[date, date]:
        if name == "today":
            return today, today
        if name == "yesterday":
            return today - timedelta(days=1), today - timedelta(days=1)
        days = re.fullmatch(r"last_(\d+)d", name)
        if days and int(days.group(1)) in (3, 7, 14, 28, 30, 90):
            return today - timedelta(days=int(days.group(1))), today - timedelta(days=1)
        if name == "maximum":
            return months_before(today, 37), today
        raise invalid_parameter(f"date_preset {name} is not supported by this fake")

    @staticmethod
    def buckets(increment: str | None, since: date, until: date) -> list[tuple[date, date]]:
        if increment in (None, "all_days"):
            return [(since, until)]
        if increment == "monthly":
            edges, day = [], since
            while day <= until:
                next_month = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
                edges.append((day, min(until, next_month - timedelta(days=1))))
                day = next_month
            return edges
        if not increment.isdigit() or not 1 <= int(increment) <= 90:
            raise invalid_parameter("Param time_increment must be all_days, monthly or a number of days 1-90")
        step, edges, day = int(increment), [], since
        while day <= until:
            edges.append((day, min(until, day + timedelta(days=step - 1))))
            day += timedelta(days=step)
        return edges

    def insight_rows(self, account: Account, target: Account | AdObject, level: str, names: list[str],
                     buckets: list[tuple[date, date]], filters: list) -> list[dict]:
        ad_statuses = None
        for rule in filters:
            if isinstance(rule, dict) and rule.get("field") == "ad.effective_status":
                ad_statuses = set(self.filter_values(rule))
                if rule["operator"].startswith("NOT"):
                    ad_statuses = set(VALID_STATUSES["ad"]) - ad_statuses
        totals: dict[tuple, list] = {}
        for d in account.delivery:
            if isinstance(target, AdObject) and d.ad.at(target.kind) is not target:
                continue
            if ad_statuses is not None:
                wanted = d.ad.effective_status in ad_statuses
            else:  # deleted ads drop out unless asked for, or read by their own id
                wanted = d.ad.effective_status != "DELETED" or target is d.ad
            bucket = next((b for b in buckets if b[0] <= d.day <= b[1]), None)
            if not wanted or bucket is None or not self.passes(d.ad, filters, "ad"):
                continue
            subject = None if level == "account" else d.ad.at(level)
            total = totals.setdefault((bucket, subject.id if subject else account.id), [subject, Decimal(0), 0, 0])
            total[1] += d.spend
            total[2] += d.impressions
            total[3] += d.clicks
        return [self.insight_row(account, subject, bucket, spend, impressions, clicks, names)
                for (bucket, _), (subject, spend, impressions, clicks) in sorted(totals.items(), key=lambda t: t[0])]

    @staticmethod
    def insight_row(account: Account, subject: AdObject | None, bucket: tuple[date, date], spend: Decimal,
                    impressions: int, clicks: int, names: list[str]) -> dict:
        values: dict[str, Any] = {"account_id": account.digits, "account_name": account.name,
                                  "account_currency": account.currency, "spend": str(spend),
                                  "impressions": str(impressions), "clicks": str(clicks)}
        for obj in subject.lineage() if subject else []:
            values[f"{obj.kind}_id"], values[f"{obj.kind}_name"] = obj.id, obj.name
            if obj.kind == "campaign" and obj.objective:
                values["objective"] = obj.objective
        if clicks:
            values["cpc"] = f"{spend / clicks:.6f}"
        if impressions:
            values["cpm"] = f"{spend * 1000 / impressions:.6f}"
            values["ctr"] = f"{Decimal(clicks) * 100 / impressions:.6f}"
        row = {n: values[n] for n in names if n in values}
        row.update(date_start=bucket[0].isoformat(), date_stop=bucket[1].isoformat())
        return row

    # -- async report runs

    def report_run(self, req: GraphRequest, run: ReportRun, edge: list[str]) -> tuple[Any, dict[str, str]]:
        if run.account.id not in self.tokens[req.token].account_ids:
            raise unsupported_get(run.id)
        usage = self.usage.spend(run.account, "ads_insights")
        if not edge and req.method == "GET":
            values = run.poll(self.now)
            names = list_param(req.params.get("fields"))
            return (self.select(values, ["id", *names]) if names else values), usage
        if edge == ["insights"] and req.method == "GET":
            if run.state[0] != "Job Completed":
                raise GraphError(2601, "Error accessing adreport job.", subcode=1815107, is_transient=True,
                                 user_title="Loading Async Ads Report Failed",
                                 user_msg="Sorry, the report cannot be loaded successfully. Please check if your job"
                                          " status is completed instead of failed or running before fetching the"
                                          " data.", headers=usage)
            return self.page(req, run.rows, None, "AdsInsights"), usage
        raise unsupported_get("/".join(req.segments))


def months_before(day: date, months: int) -> date:
    """The same day of the month `months` earlier (the last day when that month is shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    next_month = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(day.day, (next_month - timedelta(days=1)).day))


def create_app(meta_section: dict | None, ctx: FakeContext) -> Starlette:
    """The ASGI app for every `/vNN.N/...` path and the Meta admin routes under `/_fake/meta/`."""
    graph = MetaGraph(meta_section or {}, ctx)
    app = Starlette(routes=[Route("/{path:path}", graph.handle, methods=["GET", "POST", "DELETE", "PUT"])])
    app.state.graph = graph
    return app
