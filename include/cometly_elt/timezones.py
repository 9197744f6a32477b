"""IANA timezone names: the Cometly Space's timezone decides every report date.

Cometly's API does not expose the Space's timezone, so people type it; a typo
would silently shift conversions to the wrong days, hence strict checking with
suggestions.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from zoneinfo import available_timezones

from cometly_elt.errors import UserError


def _fold(name: str) -> str:
    return name.strip().replace(" ", "_").casefold()


@lru_cache(maxsize=1)
def _names_by_folded() -> dict[str, str]:
    return {_fold(name): name for name in available_timezones()}


@lru_cache(maxsize=1)
def _names_by_city() -> dict[str, list[str]]:
    """'new_york' -> ['America/New_York']: people often type just the city."""
    cities: dict[str, list[str]] = {}
    for folded, name in sorted(_names_by_folded().items()):
        cities.setdefault(folded.rsplit("/", 1)[-1], []).append(name)
    return cities


def close_names(name: str, limit: int = 3) -> list[str]:
    """Valid names that look like `name` (case, spaces and small typos forgiven), best first."""
    names, folded = _names_by_folded(), _fold(name)
    if folded in names:
        return [names[folded]]
    found = [names[n] for n in difflib.get_close_matches(folded, names, n=limit, cutoff=0.85)]
    for city in difflib.get_close_matches(folded, _names_by_city(), n=limit, cutoff=0.85):
        found += [n for n in _names_by_city()[city] if n not in found]
    return found[:limit]


def validate_timezone(name: str) -> str:
    """`name` if it is an IANA timezone name, else a UserError naming it with suggestions."""
    if name in available_timezones():
        return name
    suggestions = close_names(name)
    hint = (
        f"did you mean {' or '.join(suggestions)}?"
        if suggestions
        else "use the Space's timezone as Cometly shows it, such as America/New_York or Europe/Berlin"
    )
    raise UserError(f"'{name}' is not an IANA timezone name: {hint}")
