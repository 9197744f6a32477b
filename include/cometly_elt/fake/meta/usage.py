"""Meta's business-use-case rate limits: calls per ad account and use case in a rolling hour, reported in
the usage headers and refused beyond a quota (docs/meta-api.md §5.3)."""

from __future__ import annotations

import json
import math
from collections import defaultdict, deque
from datetime import datetime, timedelta

from cometly_elt.fake.context import FakeContext
from cometly_elt.fake.meta.errors import RATE_LIMIT_DOC, GraphError
from cometly_elt.fake.meta.settings import Settings
from cometly_elt.fake.meta.world import Account


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
