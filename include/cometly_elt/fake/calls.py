"""The call log: every request to a fake API with its fake time and status, to check later that a client
kept to its rate budget; and the `Call` that the log and the fault schedule both describe requests by."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone


@dataclass(frozen=True)
class Call:
    """One request to a fake API, as the call log and the fault schedule see it.

    `endpoint` is a stable name (`list_events`, `act/insights`, ...) and
    `space` the tenant it was made for (a Cometly Space id, a Meta `act_N`),
    or None when the request does not tell.
    """

    api: str  # "cometly" or "meta"
    method: str
    path: str
    endpoint: str
    space: str | None


class CallLog:
    """Every API call with its fake time and status."""

    def __init__(self) -> None:
        self._calls: list[tuple[Call, datetime, int]] = []

    def record(self, call: Call, at: datetime, status: int) -> None:
        self._calls.append((call, at, status))

    def clear(self) -> None:
        self._calls.clear()

    def entries(self) -> list[dict]:
        return [
            {"api": c.api, "endpoint": c.endpoint, "space": c.space, "method": c.method, "path": c.path,
             "at": _iso(at), "status": status}
            for c, at, status in self._calls
        ]

    def per_minute(self) -> list[dict]:
        """Call counts per (api, endpoint, space, fake-clock minute), with a count per status."""
        groups: dict[tuple, Counter] = {}
        for c, at, status in self._calls:
            minute = _iso(at.replace(second=0, microsecond=0))
            groups.setdefault((c.api, c.endpoint, c.space, minute), Counter())[str(status)] += 1
        return [
            {"api": api, "endpoint": endpoint, "space": space, "minute": minute,
             "count": sum(statuses.values()), "statuses": dict(statuses)}
            for (api, endpoint, space, minute), statuses in groups.items()
        ]


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class CallLogMiddleware:
    """ASGI middleware recording the calls that `describe_call` recognises as API calls."""

    def __init__(self, app, now: Callable[[], datetime], log: CallLog, describe_call: Callable[[dict], Call | None]):
        self.app, self.now, self.log, self.describe_call = app, now, log, describe_call

    async def __call__(self, scope, receive, send):
        call = self.describe_call(scope) if scope["type"] == "http" else None
        if call is None:
            await self.app(scope, receive, send)
            return
        arrived, status = self.now(), 500

        async def send_noting_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            self.log.record(call, arrived, status)
