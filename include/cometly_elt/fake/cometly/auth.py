"""API keys: each belongs to one Space; a missing, unknown or revoked key is 401, a Space whose
subscription is inactive 403 (docs/cometly-api.md §1, §2)."""

from __future__ import annotations

from dataclasses import dataclass

from cometly_elt.fake.cometly.errors import ApiError
from cometly_elt.fake.cometly.world import Space


@dataclass
class ApiKey:
    space: Space
    status: str  # active | revoked


def bearer_token(authorization: str) -> str | None:
    """The key of an `Authorization: Bearer <key>` header; None for any other scheme."""
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def authenticate(keys: dict[str, ApiKey], authorization: str) -> Space:
    """The Space a request's key opens, or the ApiError Cometly would answer instead."""
    token = bearer_token(authorization)
    key = keys.get(token) if token is not None else None
    if key is None or key.status != "active":
        raise ApiError(401, "Unauthenticated.")
    if not key.space.subscription_active:
        raise ApiError(403, "Your Cometly subscription is inactive.")
    return key.space
