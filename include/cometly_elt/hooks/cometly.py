"""The Cometly hook: Cometly's public REST API through an Airflow connection of type `cometly`.

The connection's host is the API's base URL and its password the API key,
sent as `Authorization: Bearer`. Every call goes through one path that spends
the Space's shared rate budget (when the hook has one), retries what is worth
retrying (429 after `Retry-After`, 5xx, timeouts, reset connections, bodies
that are not the JSON they should be) with tenacity, and turns what is not
(401, 403, 422) into one line a person can act on. The key never appears in a
message, a log line or a repr.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import msgspec
import requests
import tenacity
from airflow.providers.http.hooks.http import HttpHook

from cometly_elt import credentials, inputs
from cometly_elt.cometly.catalog import EVENT_NAMES, MAX_EVENTS_PER_REQUEST, MAX_PER_PAGE
from cometly_elt.cometly.connect import DEFAULT_BASE_URL
from cometly_elt.cometly.rate_budget import API_MINUTE, RateBudget, retry_after_seconds
from cometly_elt.cometly.windows import API_FORMAT
from cometly_elt.errors import UserError

log = logging.getLogger(__name__)
T = TypeVar("T")

KEY_REJECTED = (
    "Cometly rejected this API key: it may have expired or been revoked. "
    "Generate a new one in Cometly (Integrations → API) and connect again."
)
ACCESS_DENIED = (
    "Cometly refused this API key: the Cometly subscription is inactive or the key lacks permission. "
    "Reactivate the subscription or use a key with access, then connect again."
)


def unreachable(base_url: str) -> str:
    return f"Cometly could not be reached at {base_url}: check the base URL and the network, then try again."


def not_cometly(base_url: str) -> str:
    return (f"the answer at {base_url} is not Cometly's API (not the JSON Cometly sends): check --base-url;"
            " nothing was stored")


STORED_KEY_MALFORMED = ("the stored Cometly API key is not a valid key (it has characters no key has):"
                        " connect the workspace again with 'cometly-elt cometly connect'")


class _Bearer(requests.auth.AuthBase):
    """`Authorization: Bearer <key>` on every request, with a repr that does not show the key."""

    def __init__(self, key: str):
        # A key that is not a Bearer credential would make requests raise an error quoting the header.
        try:
            self._key = inputs.secret(key, what="Cometly API key", empty_hint="connect the workspace again")
        except UserError:
            raise UserError(STORED_KEY_MALFORMED) from None

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self._key}"
        return request

    def __repr__(self) -> str:
        return "Bearer(***)"


class _Transient(Exception):
    """A failure another attempt may not have: retried, then reported."""


class _RateLimited(_Transient):
    def __init__(self, retry_after: float):
        super().__init__(f"HTTP 429 (rate limited; retry after {retry_after:g} s)")
        self.retry_after = retry_after


class NotFound(UserError):
    """Cometly answered 404: the thing asked for is not in this key's Space."""


class DownloadExpired(Exception):
    """An export's presigned URL expired (S3 answers 403): poll the export again for a fresh one."""


_RETRYABLE = (_Transient, requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
              requests.exceptions.ContentDecodingError, msgspec.DecodeError)
_backoff = tenacity.wait_random_exponential(multiplier=0.5, max=30)


def _wait(retry_state: tenacity.RetryCallState) -> float:
    error = retry_state.outcome.exception()
    return error.retry_after if isinstance(error, _RateLimited) else _backoff(retry_state)


class EventPage(msgspec.Struct):
    """One GET /events page; rows stay raw JSON (verbatim for rejected rows, decoded by the extractor)."""

    data: list[msgspec.Raw]
    next_cursor: str | None = None
    per_page: int | None = None  # the page size Cometly used, which may be smaller than the one asked for


class _Labels(msgspec.Struct):
    event_name: str | None = None
    configured_name: str | None = None


class _LabelPage(msgspec.Struct):
    data: list[_Labels]
    next_cursor: str | None = None


class _Event(msgspec.Struct):
    id: int | str


class _Created(msgspec.Struct):
    export_id: int


class ExportStatus(msgspec.Struct):
    export_id: int
    status: str
    message: str | None = None
    download_url: str | None = None


def _message(body: bytes) -> str:
    """Cometly's error `message` (the only documented error field), else a short excerpt."""
    try:
        return str(msgspec.json.decode(body)["message"])
    except (msgspec.DecodeError, KeyError, TypeError):
        return body[:200].decode("utf-8", "replace")


class CometlyHook(HttpHook):
    """Cometly's public REST API (connection type `cometly`: host = base URL, password = API key)."""

    conn_name_attr = "cometly_conn_id"
    default_conn_name = "cometly_default"
    conn_type = "cometly"
    hook_name = "Cometly"
    default_host = DEFAULT_BASE_URL
    # Cometly asks for all three on every request, GETs included.
    default_headers = {"Accept": "application/json", "Content-Type": "application/json"}

    def __init__(self, cometly_conn_id: str = default_conn_name, *, budget: RateBudget | None = None,
                 max_attempts: int = 8, timeout: float | tuple[float, float] = (10, 300)):
        super().__init__(method="GET", http_conn_id=cometly_conn_id)
        self.cometly_conn_id = cometly_conn_id
        self.budget = budget
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.api_calls = 0
        self._unsaved = None
        self._session: requests.Session | None = None

    def __repr__(self) -> str:
        return f"CometlyHook({self.cometly_conn_id!r})"

    @classmethod
    def for_key(cls, base_url: str, api_key: str, **kwargs) -> CometlyHook:
        """A hook on a key that is not stored yet (to validate it before storing)."""
        from airflow.models.connection import Connection  # its repr shows only the conn id

        hook = cls("cometly_unsaved", **kwargs)
        hook._unsaved = Connection(conn_id="cometly_unsaved", conn_type=cls.conn_type, host=base_url, password=api_key)
        return hook

    def sibling(self) -> CometlyHook:
        """A hook on the same key and the same Space budget, for another thread: a hook's session and its
        budget's database connection serve one thread at a time. Close its budget when done."""
        hook = type(self)(self.cometly_conn_id, budget=self.budget.sibling() if self.budget else None,
                          max_attempts=self.max_attempts, timeout=self.timeout)
        hook._unsaved = self._unsaved
        return hook

    def fetch_method(self) -> str:
        """How extraction reads Cometly: `auto` (the cheapest way the limits allow), or the connection's
        extra `{"fetch": "list"}` / `{"fetch": "export"}` when an operator must avoid one endpoint."""
        from cometly_elt.cometly.extract import METHODS

        method = self.get_connection(self.cometly_conn_id).extra_dejson.get("fetch", "auto")
        if method not in METHODS:
            raise UserError(f"the Cometly connection's extra has fetch={method!r}: use auto, list or export")
        return method

    def get_connection(self, conn_id: str):
        """The stored connection, in a task or outside one; the key is masked in logs from here on."""
        connection = self._unsaved if self._unsaved is not None else credentials.get(conn_id)
        if connection.password:
            from airflow.sdk.log import mask_secret

            mask_secret(connection.password)
        return connection

    @staticmethod
    def get_ui_field_behaviour() -> dict[str, Any]:
        from cometly_elt.provider import connection_form

        return connection_form("cometly")

    def get_conn(self, headers: dict[str, Any] | None = None, extra_options: dict[str, Any] | None = None):
        session = super().get_conn(headers, extra_options)
        session.auth = _Bearer(self.get_connection(self.http_conn_id).password or "")
        return session

    # ------------------------------------------------------------ one call

    def _call(self, endpoint: str | None, method: str, path_or_url: str, decode: Callable[[bytes], T], *,
              params: Any = None, json: Any = None, attempts: int | None = None) -> T:
        """One API call with retries; `endpoint` names its rate budget (None: not Cometly's API)."""
        if self._session is None:
            self._session = self.get_conn()
        url = path_or_url if endpoint is None else self.url_from_endpoint(path_or_url)
        # Presigned download URLs are not Cometly's: they never see the key.
        send = requests.request if endpoint is None else self._session.request
        where, tries = url.split("?")[0], attempts or self.max_attempts
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_RETRYABLE),
            wait=_wait,
            stop=tenacity.stop_after_attempt(tries),
            before_sleep=lambda state: log.warning(
                "Cometly call %s %s failed (%s); attempt %d, retrying in %.1f s",
                method, where, state.outcome.exception(), state.attempt_number, state.next_action.sleep,
            ),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return decode(self._send(send, endpoint, method, url, params, json))
        except (requests.ConnectionError, requests.Timeout) as err:
            if isinstance(err, requests.ConnectTimeout) or not isinstance(err, requests.Timeout):
                raise UserError(unreachable(self.base_url)) from None
            raise UserError(f"Cometly did not answer {where} in time ({tries} tries): try again later") from None
        except (_Transient, requests.RequestException, msgspec.DecodeError) as err:
            raise UserError(f"Cometly kept failing at {where} ({err}): try again later") from None

    def _send(self, send: Callable[..., requests.Response], endpoint: str | None, method: str, url: str,
              params: Any, json: Any) -> bytes:
        window = self.budget.acquire(endpoint) if self.budget and endpoint else None
        if endpoint is not None:
            self.api_calls += 1
        response = send(method, url, params=params, json=json, timeout=self.timeout)
        if window is not None:
            self.budget.observe(endpoint, window, response.status_code, response.headers)
        status = response.status_code
        if status < 400:
            return response.content
        if status == 429:
            raise _RateLimited(retry_after_seconds(response.headers,
                                                   default=self.budget.minute if self.budget else API_MINUTE))
        if status >= 500:
            raise _Transient(f"HTTP {status}")
        if endpoint is None and status == 403:
            raise DownloadExpired()
        if status == 401:
            raise UserError(KEY_REJECTED)
        if status == 403:
            raise UserError(ACCESS_DENIED)
        if status == 404:
            raise NotFound(f"Cometly has no {url.split('?')[0]} (HTTP 404): {_message(response.content)}")
        raise UserError(f"Cometly refused {method} {url.split('?')[0]} (HTTP {status}): {_message(response.content)}")

    # ------------------------------------------------------------ the API

    def validate_key(self) -> None:
        """Make one cheap call; UserError if Cometly will not serve this key (401, 403, unreachable), or if
        what answered is not Cometly (a page that answers 200 to anything proves nothing about a key)."""

        def cometly_page(body: bytes) -> None:
            try:
                msgspec.json.decode(body, type=EventPage)
            except msgspec.DecodeError:
                raise UserError(not_cometly(self.base_url)) from None

        self._call("list_events", "GET", "events", cometly_page, attempts=3, params={
            "start_date": "2000-01-01 00:00:00", "end_date": "2000-01-01 00:00:01", "per_page": 1,
        })

    def has_event(self, event_id: str) -> bool:
        """Whether this key's Space holds the event (GET /events/{id}: Cometly answers 404 for another Space's)."""
        def same_event(body: bytes) -> bool:
            try:
                return str(msgspec.json.decode(body, type=_Event).id) == event_id
            except msgspec.DecodeError:
                raise UserError(not_cometly(self.base_url)) from None

        try:
            return self._call("get_event", "GET", f"events/{event_id}", same_event, attempts=3)
        except NotFound:
            return False

    def test_connection(self) -> tuple[bool, str]:
        """The UI's Test button: a GET (HttpHook's own test would POST to the base URL)."""
        try:
            self.validate_key()
        except UserError as err:
            return False, str(err)
        except Exception as err:  # the button shows any failure; the message carries no key
            return False, f"{type(err).__name__}: {err}"
        return True, "Cometly accepted the API key."

    def event_pages(self, params: list[tuple[str, Any]]) -> Iterator[EventPage]:
        """GET /events pages, following `next_cursor` with every filter re-sent (never `next_page_url`)."""
        cursor = None
        while True:
            page = self._call("list_events", "GET", "events", lambda b: msgspec.json.decode(b, type=EventPage),
                              params=params + ([("cursor", cursor)] if cursor else []))
            yield page
            if not page.next_cursor:
                return
            if page.next_cursor == cursor:
                raise UserError("Cometly returned the same page twice (its cursor did not move): try again later")
            cursor = page.next_cursor

    def create_export(self, body: dict[str, Any]) -> int:
        return self._call("create_export", "POST", "events/exports",
                          lambda b: msgspec.json.decode(b, type=_Created).export_id, json=body)

    def export_status(self, export_id: int) -> ExportStatus:
        return self._call("export_status", "GET", f"events/exports/{export_id}",
                          lambda b: msgspec.json.decode(b, type=ExportStatus))

    def download(self, url: str) -> bytes:
        """An export file from its presigned URL (no Cometly key, no rate budget); DownloadExpired on 403."""
        return self._call(None, "GET", url, lambda body: body)

    def discover_events(self, timezone: str | None, days: int = 30) -> dict[str, str]:
        """Events the Space had in the last `days` days: event_name → label (`configured_name`).

        Few calls: one first page of every event; while a page was full, ask
        again only for the names not seen yet (10 per call), first pages only.
        Each call either finds a new name or rules out the names it asked for.
        """
        tz = ZoneInfo(timezone) if timezone else ZoneInfo("UTC")
        now = datetime.now(tz).replace(tzinfo=None, microsecond=0)
        base = [("start_date", (now - timedelta(days=days)).strftime(API_FORMAT)),
                ("end_date", now.strftime(API_FORMAT)), ("per_page", MAX_PER_PAGE),
                ("fields[]", "event_name"), ("fields[]", "configured_name")]
        found: dict[str, str] = {}
        unknown = list(EVENT_NAMES)
        asking: list[str] = []  # empty: every event
        while True:
            page = self._call("list_events", "GET", "events", lambda b: msgspec.json.decode(b, type=_LabelPage),
                              params=base + [("event_names[]", n) for n in asking])
            new = {row.event_name: row.configured_name or row.event_name
                   for row in page.data if row.event_name and row.event_name not in found}
            found.update(new)
            # A page that was not full showed every name asked for (so did a full page without a new
            # name, which only a misbehaving API sends: ruling those out keeps this loop finite).
            if page.next_cursor is None or not new:
                unknown = [n for n in unknown if n not in asking] if asking else []
            unknown = [n for n in unknown if n not in found]
            if not unknown:
                return found
            asking = unknown[:MAX_EVENTS_PER_REQUEST]


@contextmanager
def workspace_hook(workspace_id: str, conn_id: str) -> Iterator[CometlyHook]:
    """The workspace's hook, sharing its Space's rate budget with every other process calling it.

    COMETLY_API_MINUTE_SECONDS is how long Cometly's rate-limit minute lasts in
    real seconds: 60, except against a fake whose clock runs faster.
    """
    from cometly_elt import warehouse

    budget = RateBudget(warehouse.warehouse_url(), workspace_id,
                        minute=float(os.environ.get("COMETLY_API_MINUTE_SECONDS", API_MINUTE)))
    try:
        yield CometlyHook(conn_id, budget=budget)
    finally:
        budget.close()
