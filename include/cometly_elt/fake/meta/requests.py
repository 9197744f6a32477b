"""Reading a Graph API request: the version, the path, the token wherever it comes from, and parameters
encoded as the SDK encodes them (docs/meta-api.md §1)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from cometly_elt.fake.meta.errors import invalid_parameter, nonexisting_field


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


def requested_fields(req: GraphRequest, allowed: tuple[str, ...], node_type: str) -> list[str]:
    """The `fields` asked for (only `id` when none), `id` always first among them."""
    names = list_param(req.params.get("fields")) or ["id"]
    for name in names:
        if name not in allowed:
            raise nonexisting_field(name, node_type)
    return names if "id" in names else ["id", *names]


def select(values: dict, names: list[str]) -> dict:
    return {n: values[n] for n in names if n in values}
