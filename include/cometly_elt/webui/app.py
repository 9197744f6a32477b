"""The Workspaces page: the product's Cometly card inside Airflow's UI.

Server-rendered (Jinja2, autoescaped) with a little vanilla JavaScript. Every change calls the
function of `cometly_elt.actions` that the matching `cometly-elt` command calls, and shows the
same one-line message on refusal. A form post answers with a redirect back to the card and the
outcome in a signed, short-lived cookie; a client that asks for JSON (`Accept: application/json`)
gets {"message": ...} or {"detail": ...} with 400 instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from cometly_elt import actions
from cometly_elt.errors import UserError
from cometly_elt.webui import airflow_state
from cometly_elt.webui.security import CSRF_FIELD, CSRF_HEADER, Viewer, csrf_token, require_edit, require_read, signer

_templates = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                         autoescape=select_autoescape(default=True, default_for_string=True))
FLASH_COOKIE = "cometly_workspaces_flash"
MODELS = ("first_touch", "last_touch")
WINDOWS = ("lifetime", "1", "7", "14", "30", "60", "90")


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "never"


def _airflow_root(request: Request) -> str:
    """Airflow's own root path (the page is mounted one level below it)."""
    return request.scope.get("root_path", "").rsplit("/", 1)[0]


def _render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    viewer: Viewer = request.state.cometly_viewer
    html = _templates.get_template(template).render(
        page=request.scope.get("root_path", ""), airflow=_airflow_root(request), viewer=viewer,
        csrf=csrf_token(viewer), csrf_field=CSRF_FIELD, csrf_header=CSRF_HEADER, when=_when,
        relative=lambda moment: airflow_state.relative(moment, datetime.now(UTC)), **context)
    return HTMLResponse(html, status_code=status_code)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


# ---------------------------------------------------------------- what the pages show

def _campaigns(workspace_id: str) -> list[dict]:
    """The workspace's Meta campaigns (as last synced) and each one's result event."""
    from psycopg.rows import dict_row

    from cometly_elt import warehouse

    with warehouse.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "select c.campaign_id, c.name, c.effective_status, c.ad_account_id, m.event_name as result_event"
            " from raw_meta.campaigns c left join control.result_metrics m using (workspace_id, campaign_id)"
            " where c.workspace_id = %s order by c.name, c.campaign_id",
            (workspace_id,),
        ).fetchall()


def _banners(status: dict, runs: list[dict]) -> list[dict]:
    """Progress a person waits for: {title, done, total, unit, state}; `done` None while not measurable."""
    banners = []
    for run in runs:
        what = ("Sync Now" if run["dag_id"] == "cometly_sync_now"
                else f"Result backfill of campaign {run['campaign_id']}")
        banners.append({"title": f"{what}: {run['state']}", "run_id": run["run_id"], "dag_id": run["dag_id"],
                        "done": None, "total": None, "unit": "", "state": run["state"]})
    progress = status["progress"]
    if progress.get("reprocess"):
        p = progress["reprocess"]
        banners.append({"title": f"Reprocessing all history (settings version {p['version']})",
                        "done": p["done_days"], "total": p["total_days"], "unit": "days", "state": "running"})
    if progress.get("result_backfill"):
        # In days where the status measures them from the coverage ledger, else in months done.
        p = progress["result_backfill"]
        days = "done_days" in p
        banners.append({"title": f"Result backfill: campaign {p['campaign_id']} → {p['event']}",
                        "done": p["done_days" if days else "done"], "total": p["total_days" if days else "total"],
                        "unit": "days" if days else "months", "state": p["state"]})
    for entry in status.get("coverage") or []:
        # Each selected event's history loaded: `loaded_days` (or `covered_days`) of `total_days`.
        loaded = entry.get("loaded_days", entry.get("covered_days"))
        if loaded is not None and loaded < entry["total_days"]:
            kind = "First sync" if status["last_synced_at"] is None else "Event history"
            banners.append({"title": f"{kind}: {entry['label']}", "done": loaded, "total": entry["total_days"],
                            "unit": "days", "state": entry.get("state", "running")})
    if status["last_synced_at"] is None and not status["setup_problem"] and not status.get("coverage"):
        banners.append({"title": "First sync: the whole history since " + str(status["history_start"]),
                        "done": None, "total": None, "unit": "", "state": "not synced yet"})
    return banners


def _summary(status: dict, next_syncs: dict[str, dict]) -> dict:
    """The plan DAG's next run as Airflow's metadata has it, and why it would not sync this workspace."""
    plan_dag = airflow_state.plan_dag_id(status["plan"])
    schedule = next_syncs.get(plan_dag, {})
    next_at, note = schedule.get("next_at"), None
    if status["subscription"] == "paused":
        next_at, note = None, "none: subscription paused"
    elif schedule.get("paused"):
        next_at, note = None, f"none: DAG {plan_dag} is paused in Airflow"
    elif status["setup_problem"]:
        note = "skipped until set up"
    elif next_at is None:
        note = "not scheduled yet"
    return {"plan_dag": plan_dag, "next_at": next_at, "next_note": note}


def _card(workspace_id: str) -> dict:
    status = actions.workspace_status(workspace_id)
    runs = airflow_state.active_runs().get(workspace_id, [])
    return {"s": status, "banners": _banners(status, runs), "campaigns": _campaigns(workspace_id),
            **_summary(status, airflow_state.next_syncs()), "models": MODELS, "windows": WINDOWS,
            "current_window": (status["attribution"] or {}).get("window", "").split(" ")[0]}


# ---------------------------------------------------------------- the app

def create_app() -> FastAPI:
    app = FastAPI(title="Cometly workspaces", dependencies=[Depends(require_read)], docs_url=None,
                  redoc_url=None, openapi_url=None)

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException) -> Response:
        if "text/html" in request.headers.get("accept", "") and exc.status_code in (401, 403):
            login = f"{_airflow_root(request)}/auth/login?next={quote(str(request.url))}"
            page = _templates.get_template("refused.html").render(detail=exc.detail, login=login,
                                                                   anonymous=exc.status_code == 401)
            return HTMLResponse(page, status_code=exc.status_code)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError) -> Response:
        """The CLI's one line: as JSON, on an error page for a GET, or back on the card after a form."""
        code = 404 if str(exc).startswith("no workspace '") else 400
        if _wants_json(request):
            return JSONResponse({"detail": str(exc)}, status_code=code)
        if request.method == "GET":
            return _render(request, "refused_input.html", status_code=code, detail=str(exc))
        return _back(request, error=str(exc))

    @app.get("/", response_class=HTMLResponse)
    def workspace_list(request: Request) -> Response:
        next_syncs, runs = airflow_state.next_syncs(), airflow_state.active_runs()
        rows = []
        for workspace in actions.list_workspaces():
            status = actions.workspace_status(workspace["workspace_id"])
            rows.append({"s": status, "banners": _banners(status, runs.get(status["workspace_id"], [])),
                         **_summary(status, next_syncs)})
        return _render(request, "list.html", rows=rows)

    @app.get("/api/workspaces")
    def workspace_list_json() -> Any:
        return actions.list_workspaces()

    @app.get("/w/{workspace_id}", response_class=HTMLResponse)
    def card(request: Request, workspace_id: str) -> Response:
        flash = _read_flash(request)
        response = _render(request, "card.html", flash=flash, **_card(workspace_id))
        if flash:
            response.delete_cookie(FLASH_COOKIE, path=request.scope.get("root_path") or "/")
        return response

    @app.get("/w/{workspace_id}/live", response_class=HTMLResponse)
    def card_live(request: Request, workspace_id: str) -> Response:
        """The card's changing part (status and banners), polled by the page."""
        return _render(request, "live.html", **_card(workspace_id))

    @app.get("/api/workspaces/{workspace_id}")
    def card_json(workspace_id: str) -> Any:
        data = _card(workspace_id)
        return {"status": data["s"], "banners": data["banners"], "campaigns": data["campaigns"],
                "next_sync": data["next_at"], "next_sync_note": data["next_note"], "plan_dag": data["plan_dag"]}

    @app.get("/api/workspaces/{workspace_id}/events")
    def events(workspace_id: str) -> Any:
        """Cometly's events for the Space (one call to Cometly, as `cometly-elt cometly events`)."""
        return actions.list_events(workspace_id)

    # -------------------------------------------------------- changes (edit access + CSRF)

    @app.post("/w/{workspace_id}/cometly")
    async def connect_cometly(request: Request, workspace_id: str, viewer: Viewer = Depends(require_edit)) -> Response:
        form = await request.form()
        connected = await _run(actions.connect_cometly, workspace_id, api_key=str(form.get("api_key", "")),
                               base_url=str(form.get("base_url") or actions.DEFAULT_COMETLY_URL))
        return _done(request, workspace_id, f"Cometly connected at {connected.base_url}: the key is valid and stored"
                                            f" encrypted as Airflow connection '{connected.conn_id}'.")

    @app.post("/w/{workspace_id}/attribution")
    async def configure(request: Request, workspace_id: str, viewer: Viewer = Depends(require_edit)) -> Response:
        from cometly_elt.control import ReprocessNotConfirmed

        form = await request.form()
        fields = {name: str(form.get(name, "")) for name in ("model", "window", "timezone")}
        try:
            result = await _run(actions.configure_attribution, workspace_id, **fields,
                                reprocess_confirmed=form.get("confirm_reprocess") == "yes")
        except ReprocessNotConfirmed as refused:
            if _wants_json(request):
                return JSONResponse({"detail": str(refused), "confirm": "confirm_reprocess=yes"}, status_code=409)
            status = actions.workspace_status(workspace_id)
            return _render(request, "confirm.html", s=status, fields=fields)
        return _done(request, workspace_id, actions.describe_attribution(workspace_id, result))

    @app.post("/w/{workspace_id}/events")
    async def choose(request: Request, workspace_id: str, viewer: Viewer = Depends(require_edit)) -> Response:
        form = await request.form()
        chosen = [str(e) for e in form.getlist("event")]
        if not chosen:
            raise UserError("no event given: pick one from the list")
        choice = await _run(actions.choose_events, workspace_id, chosen, select=form.get("action") != "unselect")
        return _done(request, workspace_id, actions.describe_event_choice(workspace_id, choice))

    @app.post("/w/{workspace_id}/meta")
    async def connect_meta(request: Request, workspace_id: str, viewer: Viewer = Depends(require_edit)) -> Response:
        from cometly_elt.meta import DEFAULT_BASE_URL

        form = await request.form()
        account = await _run(actions.connect_meta_account, workspace_id, ad_account=str(form.get("ad_account", "")),
                             access_token=str(form.get("access_token", "")),
                             base_url=str(form.get("base_url") or DEFAULT_BASE_URL))
        message = f"Connected ad account act_{account.ad_account_id} ({account.name})."
        if account.timezone_warning:
            message += f" Warning: {account.timezone_warning}"
        return _done(request, workspace_id, message)

    @app.post("/w/{workspace_id}/results")
    async def set_result(request: Request, workspace_id: str, viewer: Viewer = Depends(require_edit)) -> Response:
        form = await request.form()
        result = await _run(actions.set_result_metric, workspace_id, campaign=str(form.get("campaign", "")),
                            event=str(form.get("event", "")), airflow_token=viewer.token)
        return _done(request, workspace_id, actions.describe_result_metric(result))

    @app.post("/w/{workspace_id}/sync")
    async def sync_now(request: Request, workspace_id: str, viewer: Viewer = Depends(require_edit)) -> Response:
        result = await _run(actions.sync_now, workspace_id, airflow_token=viewer.token)
        return _done(request, workspace_id, actions.describe_sync(result))

    @app.post("/w/{workspace_id}/subscription")
    async def subscription(request: Request, workspace_id: str, viewer: Viewer = Depends(require_edit)) -> Response:
        form = await request.form()
        wanted = str(form.get("status", ""))
        if wanted not in ("active", "paused"):
            raise UserError(f"subscription '{wanted}' does not exist: use active or paused")
        change = await _run(actions.set_subscription, workspace_id, wanted)
        return _done(request, workspace_id, actions.describe_subscription(workspace_id, change))

    return app


async def _run(function, *args, **kwargs):
    """An action off the event loop: actions block on the warehouse, Cometly, Meta and Airflow's API."""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(function, *args, **kwargs)


# ---------------------------------------------------------------- after a change

def _read_flash(request: Request) -> dict | None:
    from itsdangerous import BadSignature

    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        return signer("flash").loads(raw, max_age=120)
    except BadSignature:
        return None


def _redirect_with(request: Request, workspace_id: str | None, flash: dict) -> Response:
    root = request.scope.get("root_path", "")
    target = f"{root}/w/{quote(workspace_id, safe='')}" if workspace_id else f"{root}/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(FLASH_COOKIE, signer("flash").dumps(flash), max_age=120, path=root or "/",
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


def _done(request: Request, workspace_id: str, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"message": message})
    return _redirect_with(request, workspace_id, {"message": message})


def _back(request: Request, error: str) -> Response:
    workspace_id = request.path_params.get("workspace_id")
    return _redirect_with(request, workspace_id, {"error": error})
