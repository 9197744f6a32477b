"""IANA timezone names: the Cometly Space's timezone decides every report date.

Cometly's API does not expose the Space's timezone, so people type it; a typo
would silently shift conversions to the wrong days, hence strict checking with
suggestions.

Only region names (Area/Location, such as America/New_York) and UTC are
accepted. The other names zoneinfo knows are fixed offsets or legacy aliases
that silently do what people do not expect: `EST` never observes daylight
saving time, `Etc/GMT-3` is UTC+3 (POSIX inverts the sign), `US/Eastern` is an
old alias. A Cometly Space is set to a region, so its name is a region's.
"""

from __future__ import annotations

import difflib
import os
from functools import lru_cache
from importlib import resources
from zoneinfo import TZPATH, available_timezones

from cometly_elt.errors import UserError
from cometly_elt.inputs import quoted

REGIONS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian",
           "Pacific")


def is_region_name(name: str) -> bool:
    return name == "UTC" or name.split("/", 1)[0] in REGIONS and "/" in name


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


def _tzif(name: str) -> bytes | None:
    """The compiled rules of `name`, from where zoneinfo reads them (system first, then tzdata)."""
    for root in TZPATH:
        path = os.path.join(root, name)
        if os.path.isfile(path):
            with open(path, "rb") as file:
                return file.read()
    try:
        return resources.files("tzdata.zoneinfo").joinpath(*name.split("/")).read_bytes()
    except (ModuleNotFoundError, OSError):
        return None


def same_rules(name: str) -> list[str]:
    """Region names with exactly the rules of `name` (what an alias such as US/Eastern stands for)."""
    rules = _tzif(name)
    if rules is None:
        return []
    return sorted(n for n in available_timezones() if is_region_name(n) and n != "UTC" and _tzif(n) == rules)


def validate_timezone(name: str) -> str:
    """`name` if it is an IANA region name or UTC, else a UserError naming it with suggestions."""
    if is_region_name(name) and name in available_timezones():
        return name
    if name in available_timezones():
        if name.startswith("Etc/GMT") and name[7:8] in "+-" and name[8:]:
            offset = f"UTC{'-' if name[7] == '+' else '+'}{name[8:]}"
            what = f"means {offset} (POSIX inverts the sign) with no daylight saving time"
        else:
            what = "is a fixed offset or a legacy alias, not a region"
        regions = same_rules(name)[:2]
        hint = f"use {' or '.join(regions)}" if regions else "use the Space's region, such as America/New_York"
        raise UserError(f"timezone {quoted(name)} {what}: {hint} (or UTC), as the Cometly Space is set")
    suggestions = close_names(name)
    hint = (
        f"did you mean {' or '.join(suggestions)}?"
        if suggestions
        else "use the Space's timezone as Cometly shows it, such as America/New_York or Europe/Berlin"
    )
    raise UserError(f"{quoted(name)} is not an IANA timezone name: {hint}")
