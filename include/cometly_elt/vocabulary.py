"""The product's vocabulary: plans, subscriptions, attribution models and windows, Cometly's events.

One definition for the commands, the control plane, the DAGs and the Cometly client
(`cometly/catalog.py` maps it to the API's own spelling). The fake APIs keep their own copy on
purpose: they stand for Cometly, and must not change when our code does.
"""

from __future__ import annotations

import re

from cometly_elt.errors import UserError

# Hours between scheduled syncs, as the cometly_sync_<plan> DAGs run.
PLAN_SYNC_HOURS = {"hobby": 6, "pro": 3, "ultra": 1}
SUBSCRIPTIONS = ("active", "paused")
# The product's "First/Last Touch – Source Specific"; the extraction maps them
# to Cometly's first_platform_touch / last_platform_touch over the Meta sources.
MODELS = ("first_touch", "last_touch")
# Attribution window as people type it → window_days (0 = lifetime, as Cometly's API has it).
WINDOWS = {"lifetime": 0, "1": 1, "7": 7, "14": 14, "30": 30, "60": 60, "90": 90}
STANDARD_EVENTS = (
    "add_payment_info", "add_to_cart", "complete_registration", "contact", "initiate_checkout",
    "lead_generated", "purchase", "schedule", "sign_up", "start_trial", "submit_application",
    "subscribe", "upsell_purchase", "view_content", "webinar_registration",
)
# Fixed slots; each Space labels the ones it uses (the rows' `configured_name`).
CUSTOM_EVENTS = tuple(f"custom_event_{n}" for n in range(1, 51))
EVENT_NAMES = STANDARD_EVENTS + CUSTOM_EVENTS
_CUSTOM_EVENT = re.compile(r"custom_event_([1-9]|[1-4][0-9]|50)")


def window_label(window_days: int) -> str:
    return "lifetime" if window_days == 0 else f"{window_days} day" + ("" if window_days == 1 else "s")


def parse_model(model: str) -> str:
    if model not in MODELS:
        raise UserError(f"attribution model '{model}' is not supported: use first_touch or last_touch")
    return model


def parse_window(window: str) -> int:
    """'lifetime' or a number of days → window_days."""
    if window not in WINDOWS:
        raise UserError(f"attribution window '{window}' is not supported: use lifetime, 1, 7, 14, 30, 60 or 90 (days)")
    return WINDOWS[window]


def parse_plan(plan: str) -> str:
    if plan not in PLAN_SYNC_HOURS:
        raise UserError(f"plan '{plan}' does not exist: use hobby, pro or ultra")
    return plan


def is_event_name(name: str) -> bool:
    """A name Cometly's API accepts: one of the 15 standard events or custom_event_1..50."""
    return name in STANDARD_EVENTS or _CUSTOM_EVENT.fullmatch(name) is not None


def event_sort_key(name: str) -> tuple:
    """Standard events alphabetically, then custom events by slot number."""
    custom = _CUSTOM_EVENT.fullmatch(name)
    return (1, int(custom.group(1)), "") if custom else (0, 0, name)
