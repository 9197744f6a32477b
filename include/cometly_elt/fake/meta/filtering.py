"""`effective_status` and `filtering` on edges and insights: what is listed, and what is left out
unless asked for (docs/meta-api.md §2, §4.1)."""

from __future__ import annotations

from cometly_elt.fake.meta.errors import invalid_parameter
from cometly_elt.fake.meta.requests import GraphRequest, json_param, list_param
from cometly_elt.fake.meta.vocabulary import VALID_STATUSES
from cometly_elt.fake.meta.world import AdObject


def filter_values(rule: dict) -> list[str]:
    operator, value = rule.get("operator"), rule.get("value")
    if operator in ("IN", "NOT_IN") and isinstance(value, list):
        return [str(v) for v in value]
    if operator in ("EQUAL", "NOT_EQUAL") and isinstance(value, (str, int)):
        return [str(value)]
    raise invalid_parameter(f"Filtering operator {operator} with value {value!r} is not valid")


def status_filter(req: GraphRequest, kind: str) -> set[str]:
    """effective_status from the param or a `<kind>.effective_status` filter; by default all but ARCHIVED
    and DELETED."""
    wanted = list_param(req.params.get("effective_status"))
    for rule in json_param("filtering", req.params.get("filtering"), list) or []:
        if isinstance(rule, dict) and rule.get("field") == f"{kind}.effective_status":
            wanted = filter_values(rule)
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


def ad_status_filter(filters: list) -> set[str] | None:
    """The ad statuses an insights `filtering` asks for; None when it does not say."""
    ad_statuses = None
    for rule in filters:
        if isinstance(rule, dict) and rule.get("field") == "ad.effective_status":
            ad_statuses = set(filter_values(rule))
            if rule["operator"].startswith("NOT"):
                ad_statuses = set(VALID_STATUSES["ad"]) - ad_statuses
    return ad_statuses


def passes(obj: AdObject, filters: list, kind: str) -> bool:
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
        values = filter_values(rule)
        if (actual in values) == rule["operator"].startswith("NOT"):
            return False
    return True
