"""Who may use the Workspaces page: Airflow's own users and permissions, and no cross-site forms.

Airflow mounts a plugin's FastAPI app as it is: none of the core API's authentication reaches
it. So every route of this app depends on `require_read` (set on the app itself), and every
change on `require_edit`:

- the user comes from Airflow's JWT (the UI's `_token` cookie, or an `Authorization: Bearer`
  header), through the same `get_user` dependency as Airflow's REST API: 401 without one;
- reading needs GET access to every Cometly DAG, changing needs PUT access (the auth manager
  decides; with SimpleAuthManager: viewer reads, user and above change): 403 otherwise;
- a change made with the cookie (a browser) must carry the CSRF token of the page it came from,
  signed with Airflow's JWT secret for that user, and must not come from another origin. The
  cookie is SameSite=Lax, which does not stop a page on another port of the same host (same
  site, other origin), hence both checks. A Bearer token is not sent by browsers on their own,
  so a request that authenticates with one needs neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, status

COMETLY_DAGS = ("cometly_sync_hobby", "cometly_sync_pro", "cometly_sync_ultra", "cometly_sync_now",
                "cometly_result_backfill")
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
# A page left open for a working day still submits.
CSRF_MAX_AGE_SECONDS = 12 * 3600

try:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
    from airflow.api_fastapi.core_api.security import get_user
except ImportError:  # pragma: no cover - an Airflow without these cannot authenticate: refuse everything
    COOKIE_NAME_JWT_TOKEN = "_token"

    async def get_user() -> None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Airflow's authentication is not available")


@dataclass(frozen=True)
class Viewer:
    """The logged-in Airflow user and what they may do here."""

    user: object
    name: str
    can_edit: bool
    # The JWT the request came with: Sync Now and the result backfill go to Airflow's REST API with it.
    token: str
    via_cookie: bool


def _allowed(user, method: str) -> bool:
    requests = [{"method": method, "details": DagDetails(id=dag_id)} for dag_id in COMETLY_DAGS]
    return get_auth_manager().batch_is_authorized_dag(requests, user=user)


def require_read(request: Request, user=Depends(get_user)) -> Viewer:
    if not _allowed(user, "GET"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden: reading workspaces needs read access to the"
                                                       " Cometly DAGs")
    header = request.headers.get("authorization", "")
    bearer = header[7:].strip() if header[:7].lower() == "bearer " else ""
    token = bearer or request.cookies.get(COOKIE_NAME_JWT_TOKEN, "")
    viewer = Viewer(user, user.get_name(), _allowed(user, "PUT"), token, via_cookie=not bearer)
    request.state.cometly_viewer = viewer
    return viewer


def signer(purpose: str):
    """Signs and checks values with Airflow's JWT secret; `purpose` keeps one kind from passing for another."""
    from airflow.configuration import conf
    from itsdangerous import URLSafeTimedSerializer

    secret = conf.get("api_auth", "jwt_secret", fallback="")
    if not secret:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden: [api_auth] jwt_secret is not set")
    return URLSafeTimedSerializer(secret, salt=f"cometly-elt workspaces page {purpose}")


def csrf_token(viewer: Viewer) -> str:
    return signer("csrf").dumps(viewer.user.get_id())


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return True  # not a browser's cross-site request: browsers send Origin on every POST
    # Host only: behind a TLS-terminating proxy the scheme seen here is not the browser's.
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def require_edit(request: Request, viewer: Viewer = Depends(require_read)) -> Viewer:
    if not viewer.can_edit:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden: changing a workspace needs edit access to the"
                                                       " Cometly DAGs")
    if viewer.via_cookie:
        from itsdangerous import BadSignature

        if not _same_origin(request):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden: cross-origin request")
        given = request.headers.get(CSRF_HEADER)
        if given is None and "form" in request.headers.get("content-type", ""):
            given = (await request.form()).get(CSRF_FIELD)
        try:
            valid = (given is not None
                     and signer("csrf").loads(given, max_age=CSRF_MAX_AGE_SECONDS) == viewer.user.get_id())
        except BadSignature:
            valid = False
        if not valid:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden: the form is out of date or not from this"
                                                           " page: reload the page and try again")
    return viewer
