"""The Meta Graph (Marketing) API as an Airflow hook.

The connection (type `meta_ads`) holds the base URL as host and the access
token as password; the API version is part of every path (`API_VERSION`).
Errors are classified by Meta's `error.code`, never by HTTP status (Meta
answers throttles and token errors with 400), as docs/meta-api.md
§5 describes:

- token errors (190, 102, 104) and permission errors (10, 200-299) fail at
  once with one line saying what to do;
- throttles (4, 17, 32, 613, 80000-80014) wait for the time the usage headers
  say access comes back, then retry (nothing is budgeted ahead: Meta's quotas
  are large for our few calls per account; Cometly's small per-minute limits
  are the other kind, kept by a budget shared through PostgreSQL in
  cometly/rate_budget.py);
- transient errors (1, 2, `is_transient`, 5xx, dropped connections, cut
  bodies) retry with exponential backoff;
- "reduce the amount of data" is raised as `MetaReduceData`: paging halves
  its page size, the extractor halves its date range.

Tuning lives in the connection's extra: `page_size` (default 100) and
`max_wait_seconds` (the longest single wait, default 600; tests set it tiny).
The token travels only in the `Authorization` header: never in a URL, a log
line or an error message.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import tenacity
from airflow.providers.http.hooks.http import HttpHook

from cometly_elt import inputs
from cometly_elt.errors import UserError
from cometly_elt.meta import API_VERSION, DEFAULT_BASE_URL

log = logging.getLogger(__name__)

PAGE_SIZE = 100
MAX_WAIT_SECONDS = 600.0
MAX_ATTEMPTS = 6
REQUEST_TIMEOUT = (10.0, 120.0)
# A report run that neither finishes nor fails within this long is given up (Meta: "up to an hour").
REPORT_RUN_TIMEOUT_SECONDS = 3600.0
REPORT_RUN_ATTEMPTS = 2
# Report runs of one account in flight at once. Airbyte keeps up to 100 while Meta's insights throttle
# reads under 70 %; 37 months of history are 13 runs of 90 days, so 10 at once stays far from either.
REPORT_RUNS_IN_FLIGHT = 10

# Connection extra keys this hook reads; HttpHook would otherwise send them as headers.
_OWN_EXTRA_KEYS = ("page_size", "max_wait_seconds", "workspace_id", "ad_account_id")
TOKEN_CODES = {102, 104, 190}
PERMISSION_CODES = {10, *range(200, 300)}
THROTTLE_CODES = {4, 17, 32, 613, *range(80000, 80015)}
_TOKEN_PROBLEMS = {463: "has expired", 460: "was invalidated (password change or security reset)",
                   458: "is no longer authorised for the app", 467: "was logged out", 492: "has an invalid session"}
NEW_TOKEN_HOW = ("create a new one (Meta Business Settings → System users → Generate token, or the Graph API"
                 " Explorer)")


class MetaApiError(UserError):
    """A Meta API failure; `str()` is one line without the token."""

    def __init__(self, message: str, *, code: int | None = None, subcode: int | None = None):
        super().__init__(message)
        self.code, self.subcode = code, subcode


class MetaTokenError(MetaApiError):
    """The token expired, was invalidated or is missing: only a new token helps."""


class MetaPermissionError(MetaApiError):
    """The token works but cannot read this object."""


class MetaThrottled(MetaApiError):
    def __init__(self, message: str, *, code: int, subcode: int | None, wait_seconds: float | None):
        super().__init__(message, code=code, subcode=subcode)
        self.wait_seconds = wait_seconds


class MetaTransientError(MetaApiError):
    """Worth retrying as is."""


class MetaReduceData(MetaApiError):
    """Meta wants a smaller request: fewer rows per page or a shorter date range."""


class MetaReportFailed(MetaApiError):
    """An async report run ended as failed or skipped (or never ended)."""


@dataclass
class ReportRun:
    """One async insights report run of `MetaAdsHook.run_reports`, and the calls it took (start and polls)."""

    params: dict[str, Any]
    run_id: str | None = None
    status: str = "not started"
    attempts: int = 0
    api_calls: int = 0
    delay: float = 1.0
    next_poll: float = 0.0
    deadline: float = 0.0

    @property
    def finished(self) -> bool:
        return self.status in ("Job Completed", "Job Failed", "Job Skipped")


def encode_params(params: dict[str, Any], method: str) -> dict[str, str]:
    """Parameters as the SDK sends them: lists and dicts as compact JSON, `fields` comma-joined on GET."""
    encoded = {}
    for name, value in params.items():
        if name == "fields" and method == "GET" and isinstance(value, (list, tuple)):
            encoded[name] = ",".join(value)
        elif isinstance(value, bool):
            encoded[name] = "true" if value else "false"
        elif isinstance(value, (list, tuple, dict)):
            encoded[name] = json.dumps(value, separators=(",", ":"), sort_keys=True)
        else:
            encoded[name] = str(value)
    return encoded


def regain_seconds(headers: requests.structures.CaseInsensitiveDict) -> float | None:
    """When the usage headers say access comes back (minutes in x-business-use-case-usage)."""
    minutes = []
    try:
        for entries in json.loads(headers.get("x-business-use-case-usage") or "{}").values():
            minutes += [float(e.get("estimated_time_to_regain_access") or 0) for e in entries]
    except (ValueError, AttributeError, TypeError):
        return None
    return max(minutes) * 60 if minutes else None


def backoff_seconds(error: BaseException, attempt: int, max_wait: float) -> float:
    """The wait after failed attempt number `attempt`, at most `max_wait`: a throttle waits until the
    usage headers say access is back (else a minute, doubling); anything else 2, 4, 8... seconds."""
    backoff = 2.0 ** attempt
    if isinstance(error, MetaThrottled):
        backoff = error.wait_seconds or 30.0 * backoff
    return min(backoff, max_wait)


def _json_content(response: requests.Response) -> bool:
    content_type = response.headers.get("Content-Type", "")
    return "json" in content_type or "javascript" in content_type


def _after_cursor(paging: dict) -> str:
    """The cursor of the next page: `cursors.after`, else the one in the `next` URL."""
    after = (paging.get("cursors") or {}).get("after")
    return after or parse_qs(urlsplit(paging["next"]).query)["after"][0]


class MetaAdsHook(HttpHook):
    """Graph API calls for one stored token (an Airflow connection of type `meta_ads`)."""

    conn_name_attr = "meta_conn_id"
    default_conn_name = "meta_default"
    conn_type = "meta_ads"
    hook_name = "Meta Ads"
    default_host = DEFAULT_BASE_URL

    def __init__(self, meta_conn_id: str = default_conn_name, *, connection=None):
        super().__init__(method="GET", http_conn_id=meta_conn_id)
        self.meta_conn_id = meta_conn_id
        self._connection = connection
        self._session: requests.Session | None = None
        self.api_calls = 0

    @classmethod
    def for_token(cls, access_token: str, *, base_url: str = DEFAULT_BASE_URL, ad_account_id: str | None = None,
                  workspace_id: str | None = None) -> MetaAdsHook:
        """A hook for a token not stored yet (`meta connect` checks it before storing it).

        Someone is waiting at the terminal: retries wait at most a second each.
        """
        from airflow.models.connection import Connection

        extra = {"max_wait_seconds": 1.0, "ad_account_id": ad_account_id, "workspace_id": workspace_id}
        connection = Connection(conn_id="meta_unsaved", conn_type=cls.conn_type, host=base_url,
                                password=access_token, extra=json.dumps({k: v for k, v in extra.items() if v}))
        return cls("meta_unsaved", connection=connection)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        from cometly_elt.provider import connection_form

        return connection_form(cls.conn_type)

    # -- the connection

    def get_connection(self, conn_id: str):
        """The stored connection, inside a task or outside one (commands); read once, its token masked in logs."""
        if self._connection is None:
            from airflow.sdk.log import mask_secret

            from cometly_elt import credentials

            self._connection = credentials.get(conn_id)
            if self._connection.password:
                mask_secret(self._connection.password)
        return self._connection

    @property
    def _extra(self) -> dict[str, Any]:
        return self.get_connection(self.meta_conn_id).extra_dejson

    @property
    def page_size(self) -> int:
        return int(self._extra.get("page_size", PAGE_SIZE))

    @property
    def max_wait(self) -> float:
        return float(self._extra.get("max_wait_seconds", MAX_WAIT_SECONDS))

    def get_conn(self, headers: dict | None = None, extra_options: dict | None = None) -> requests.Session:
        if self._session is None:
            connection = self.get_connection(self.meta_conn_id)
            if not connection.password:
                raise MetaTokenError(f"connection {self.meta_conn_id} holds no Meta access token:"
                                     f" {self._how_to_reconnect()}", code=104)
            session = super().get_conn(headers, extra_options)
            for key in _OWN_EXTRA_KEYS:
                session.headers.pop(key, None)
            # A token that is not a Bearer credential would make requests raise an error quoting the header.
            try:
                token = inputs.secret(connection.password, what="Meta access token", empty_hint=NEW_TOKEN_HOW)
            except UserError:
                raise MetaTokenError(f"the Meta access token stored in {self.meta_conn_id} has characters no token"
                                     f" has: {self._how_to_reconnect()}", code=190) from None
            session.headers["Authorization"] = f"Bearer {token}"
            self._session = session
        return self._session

    def _how_to_reconnect(self, account: str | None = None) -> str:
        account = account or self._extra.get("ad_account_id") or "act_N"
        workspace = self._extra.get("workspace_id") or "WORKSPACE"
        return (f"{NEW_TOKEN_HOW}, then run 'cometly-elt meta connect {workspace} --ad-account {account}"
                " --access-token NEW_TOKEN'")

    # -- calls

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict:
        """GET `/{API_VERSION}/{path}`, retrying throttles and transient errors."""
        return self._call("GET", path, params or {})

    def post(self, path: str, params: dict[str, Any] | None = None) -> dict:
        return self._call("POST", path, params or {})

    def ad_account(self, account: str, fields: list[str]) -> dict:
        """The ad account's node; refused unless the answer is Meta's node of that very account, so that
        a server answering anything with 200 (a wrong --base-url) is never taken for Meta."""
        node = self.get(f"{account}/", {"fields": fields})
        if not isinstance(node, dict) or node.get("id") != account:
            raise MetaApiError(f"the answer at {self.base_url} is not Meta's Graph API (no ad account {account} in"
                               " it): check --base-url; nothing was stored")
        return node

    def paginate(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict]:
        """Every item of an edge, following cursors while `paging.next` is present.

        A short or even empty page does not end the listing (Meta says so);
        "reduce the amount of data" halves the page size.
        """
        params = {**(params or {}), "limit": self.page_size}
        while True:
            try:
                body = self.get(path, params)
            except MetaReduceData as err:
                if err.code != 1 or params["limit"] <= 1:
                    raise
                params["limit"] = max(1, params["limit"] // 2)
                log.info("Meta asked for less data on %s: page size now %d", path, params["limit"])
                continue
            yield from body.get("data", [])
            paging = body.get("paging") or {}
            if not paging.get("next"):
                return
            params["after"] = _after_cursor(paging)

    def run_reports(self, ad_account: str, params_list: list[dict[str, Any]]) -> list[ReportRun]:
        """Async report runs for `params_list`, in flight together (at most REPORT_RUNS_IN_FLIGHT at once).

        Each run is polled on its own schedule (at once, then after 1, 2, 4... seconds) and is finished
        when `async_status` says so: the percentage can read 100 while the job is still running. A run
        that fails, is skipped or outlives REPORT_RUN_TIMEOUT_SECONDS is started again, REPORT_RUN_ATTEMPTS
        times in all. Waiting for them together is why a long history costs the wait of one run, not of
        one run per 90 days. Read each one's rows with `report_rows`.
        """
        runs = [ReportRun(params) for params in params_list]
        waiting, active = deque(runs), []
        while waiting or active:
            while waiting and len(active) < REPORT_RUNS_IN_FLIGHT:
                run = waiting.popleft()
                self._start_report(ad_account, run)
                active.append(run)
            run = min(active, key=lambda r: r.next_poll)
            time.sleep(max(run.next_poll - time.monotonic(), 0))
            self._poll_report(run)
            if run.status == "Job Completed":
                active.remove(run)
            elif run.finished or time.monotonic() > run.deadline:
                if not run.finished:
                    run.status = f"still {run.status} after {REPORT_RUN_TIMEOUT_SECONDS / 60:.0f} minutes"
                log.warning("Meta report run %s for %s ended as %s (attempt %d)", run.run_id, ad_account,
                            run.status, run.attempts)
                if run.attempts < REPORT_RUN_ATTEMPTS:
                    self._start_report(ad_account, run)
                else:
                    active.remove(run)
        return runs

    def report_rows(self, ad_account: str, run: ReportRun) -> list[dict]:
        """A completed run's rows; MetaReportFailed if it never completed."""
        if run.status != "Job Completed":
            raise MetaReportFailed(f"Meta could not build the insights report for {ad_account}"
                                   f" ({run.status}, {run.attempts} attempts)")
        return list(self.paginate(f"{run.run_id}/insights"))

    def run_report(self, ad_account: str, params: dict[str, Any]) -> list[dict]:
        """One report run's rows (`run_reports` of one)."""
        return self.report_rows(ad_account, self.run_reports(ad_account, [params])[0])

    def _start_report(self, ad_account: str, run: ReportRun) -> None:
        before = self.api_calls
        run.run_id = self.post(f"{ad_account}/insights", run.params)["report_run_id"]
        run.attempts += 1
        run.status, run.delay = "Job Not Started", 1.0
        run.next_poll = time.monotonic()
        run.deadline = run.next_poll + REPORT_RUN_TIMEOUT_SECONDS
        run.api_calls += self.api_calls - before

    def _poll_report(self, run: ReportRun) -> None:
        before = self.api_calls
        node = self.get(f"{run.run_id}/", {"fields": ["async_status", "async_percent_completion"]})
        run.api_calls += self.api_calls - before
        run.status = str(node.get("async_status"))
        run.next_poll = time.monotonic() + min(run.delay, self.max_wait)
        run.delay = min(run.delay * 2, 60.0)

    def test_connection(self) -> tuple[bool, str]:
        """The UI's Test button: one cheap read with the stored token."""
        try:
            account = self._extra.get("ad_account_id")
            if account:
                node = self.get(f"{account}/", {"fields": ["name"]})
                return True, f"the token can read {account} ({node.get('name')})"
            self.get("me/adaccounts", {"fields": ["id"], "limit": 1})
            return True, "the token is valid"
        except Exception as err:  # the Test button shows any failure as text
            return False, str(err)

    def _call(self, method: str, path: str, params: dict[str, Any]) -> dict:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type((MetaThrottled, MetaTransientError)),
            wait=self._wait,
            stop=tenacity.stop_after_attempt(MAX_ATTEMPTS),
            before_sleep=lambda state: log.warning(
                "Meta %s %s: %s; retrying (attempt %d)", method, path, state.outcome.exception(),
                state.attempt_number + 1),
            reraise=True,
        )
        return retrying(self._send, method, path, encode_params(params, method))

    def _wait(self, state: tenacity.RetryCallState) -> float:
        return backoff_seconds(state.outcome.exception(), state.attempt_number, self.max_wait)

    def _send(self, method: str, path: str, params: dict[str, str]) -> dict:
        session = self.get_conn()
        url = self.url_from_endpoint(f"{API_VERSION}/{path}")
        request = requests.Request(method, url, params=params if method == "GET" else None,
                                   data=params if method != "GET" else None)
        timeout = self.merged_extra.get("timeout", REQUEST_TIMEOUT)
        self.api_calls += 1
        try:
            response = self.run_and_check(session, session.prepare_request(request),
                                          {"timeout": timeout, "check_response": False})
        except requests.RequestException as err:
            raise MetaTransientError(f"no answer from Meta at {self.base_url} ({type(err).__name__})") from err
        return self._parse(response, path)

    def _parse(self, response: requests.Response, path: str) -> dict:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            raise self._classify(body["error"], response, path)
        if response.ok and isinstance(body, (dict, list)):
            return body
        if response.ok and not _json_content(response):
            # Meta answers JSON even to errors: a 200 HTML page is another server, not a cut body to retry.
            raise MetaApiError(f"the answer at {self.base_url} is not Meta's Graph API (it is not JSON):"
                               " check --base-url")
        if response.ok or response.status_code >= 500:
            raise MetaTransientError(f"Meta answered {path} with HTTP {response.status_code} and no usable body")
        if response.status_code == 429:
            raise MetaThrottled(f"Meta answered {path} with HTTP 429", code=429, subcode=None,
                                wait_seconds=regain_seconds(response.headers))
        raise MetaApiError(f"Meta answered {path} with HTTP {response.status_code}")

    def _classify(self, error: dict, response: requests.Response, path: str) -> MetaApiError:
        code, subcode = error.get("code"), error.get("error_subcode")
        message = str(error.get("message", "")).replace("\n", " ")
        numbers = f"{code}/{subcode}" if subcode else f"{code}"
        account = path.split("/")[0] if path.startswith("act_") else None
        if code in TOKEN_CODES:
            problem = "is missing" if code == 104 else _TOKEN_PROBLEMS.get(subcode, "expired or was invalidated")
            return MetaTokenError(
                f"the Meta access token {problem} (error {numbers}): {self._how_to_reconnect(account)}",
                code=code, subcode=subcode)
        if code in PERMISSION_CODES:
            what = f"ad account {account}" if account else path.split("/")[0]
            return MetaPermissionError(
                f"the Meta access token cannot read {what} (error {numbers}): give the token's system user access"
                " to the ad account in Meta Business Settings, or connect a token that can read it",
                code=code, subcode=subcode)
        if code in THROTTLE_CODES:
            return MetaThrottled(f"Meta is throttling calls (error {numbers}): {message}", code=code,
                                 subcode=subcode, wait_seconds=regain_seconds(response.headers))
        if (code, subcode) == (100, 1487534) or (code == 1 and "reduce the amount of data" in message.lower()):
            return MetaReduceData(f"Meta asks for less data on {path} (error {numbers})", code=code, subcode=subcode)
        if code in (1, 2) or error.get("is_transient"):
            return MetaTransientError(f"Meta error {numbers} on {path}: {message}", code=code, subcode=subcode)
        return MetaApiError(f"Meta error {numbers} on {path}: {message}", code=code, subcode=subcode)
