"""Our vocabulary (`vocabulary.py`) as Cometly's public REST API spells it (docs/cometly-api.md §6).

The product offers "First/Last Touch – Source Specific" over Meta; Cometly's
API calls those models `first_platform_touch` / `last_platform_touch`, and the
sources are Meta's paid ones.
"""

from __future__ import annotations

from cometly_elt.vocabulary import CUSTOM_EVENTS, EVENT_NAMES, MODELS, STANDARD_EVENTS, WINDOWS

META_SOURCES = ("facebook_ads", "instagram_ads")

# Our settings' model → Cometly's `attribution_model`.
API_MODELS = dict(zip(MODELS, ("first_platform_touch", "last_platform_touch"), strict=True))

# Cometly's `attribution_window`: days, 0 = lifetime, as our settings keep it.
WINDOW_DAYS = tuple(WINDOWS.values())

# GET /events and exports take at most this many `event_names` per request.
MAX_EVENTS_PER_REQUEST = 10
MAX_PER_PAGE = 4000

# Row fields the marts need (`id` and `event_time_utc` always come).
EVENT_FIELDS = (
    "event_name", "configured_name", "amount", "order_id",
    "account_id", "account_name", "campaign_id", "campaign_name",
    "adset_id", "adset_name", "ad_id", "ad_name",
)


def api_model(model: str) -> str:
    """'first_touch' → 'first_platform_touch'; a name Cometly already uses passes through."""
    if model in API_MODELS.values():
        return model
    try:
        return API_MODELS[model]
    except KeyError:
        raise ValueError(f"attribution model '{model}' is not first_touch or last_touch") from None


def api_window(window: int | str) -> int:
    """'lifetime' or a number of days → Cometly's `attribution_window` (0 = lifetime)."""
    days = 0 if window == "lifetime" else int(window)
    if days not in WINDOW_DAYS:
        raise ValueError(f"attribution window {window!r} is not lifetime, 1, 7, 14, 30, 60 or 90")
    return days


def request_groups(event_names: list[str] | tuple[str, ...]) -> list[list[str]]:
    """The selected events in groups Cometly accepts in one request (at most 10, no duplicates)."""
    unknown = sorted(set(event_names) - set(EVENT_NAMES))
    if unknown:
        raise ValueError(f"not Cometly event names: {', '.join(unknown)}")
    names = sorted(set(event_names), key=EVENT_NAMES.index)
    return [names[i : i + MAX_EVENTS_PER_REQUEST] for i in range(0, len(names), MAX_EVENTS_PER_REQUEST)]


__all__ = ["CUSTOM_EVENTS", "EVENT_NAMES", "STANDARD_EVENTS"]
