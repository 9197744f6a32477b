"""A scenario's ad accounts as the fake Meta holds them: the campaign tree, daily delivery and tokens
(docs/scenarios.md §4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo


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
