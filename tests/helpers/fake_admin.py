"""A client for the fakes' admin endpoints (`/_fake/...`, listed in include/cometly_elt/fake/admin.py and the
fake Meta's under `/_fake/meta/`): fault rules, the call log, keys, settings, the clock."""

from __future__ import annotations

import requests


class FakeAdmin:
    """The admin endpoints of one running fake (conftest's FakeApi, or anything with its `url`)."""

    def __init__(self, api, timeout: float = 10):
        self.url = f"{api.url}/_fake"
        self.timeout = timeout

    def request(self, method: str, path: str, body=None) -> requests.Response:
        """The response as it is, for tests of the endpoints themselves (status codes, refusals)."""
        return requests.request(method, f"{self.url}/{path.lstrip('/')}", json=body, timeout=self.timeout)

    def call(self, method: str, path: str, body=None) -> dict:
        """The endpoint's JSON answer, which must be a 200."""
        response = self.request(method, path, body)
        assert response.status_code == 200, f"{method} /_fake/{path.lstrip('/')}: {response.text}"
        return response.json()

    def faults(self, *rules: dict) -> None:
        """These fault rules in force instead of any before."""
        self.call("PUT", "faults", {"rules": list(rules)})

    def clear_faults(self) -> None:
        self.call("DELETE", "faults")

    def fired(self) -> int:
        """How many times the rules in force have fired."""
        return sum(rule["fired"] for rule in self.call("GET", "faults")["rules"])

    def calls(self, api: str | None = None, endpoint: str | None = None) -> list[dict]:
        """The API calls logged so far, those to `api` ("cometly", "meta") or `endpoint` ("list_events") if given."""
        return [c for c in self.call("GET", "calls")["calls"]
                if api in (None, c["api"]) and endpoint in (None, c["endpoint"])]

    def clear_calls(self) -> None:
        self.call("DELETE", "calls")

    def meta_settings(self, **settings) -> None:
        """The fake Meta's switches (page size, throttling, ...)."""
        self.call("POST", "meta/settings", settings)
