"""What people type, checked once for every front end (the CLI, the Workspaces page).

Each checker takes the raw text and returns the value to use, or raises a
`UserError` whose one line says what to do. A message never quotes more than
a short, escaped excerpt of what was typed (`quoted`), and never quotes a
secret at all. `terminal_text` is the other half: anything from outside
(names, labels, errors) is escaped before it reaches a terminal.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from cometly_elt.errors import UserError

# Workspace ids become part of Airflow connection ids, which allow few characters: keep them plain.
WORKSPACE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
MAX_NAME_LENGTH = 100
# Cometly's custom event labels are short names people give; longer text cannot be one.
MAX_LABEL_LENGTH = 200
# RFC 6750's b64token: the whole grammar of a Bearer credential, so a key that passes cannot
# break the Authorization header, and its repr in any traceback is the key itself (redactable).
_BEARER_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")
MAX_SECRET_LENGTH = 4096
MIN_REDACTED = 8
# Cometly did not exist before 2019: an earlier history start has nothing to sync.
EARLIEST_HISTORY_START = date(2019, 1, 1)
MAX_REPORT_DAYS = 3660
MAX_QUOTED = 60
# Bidirectional overrides reorder what a terminal shows ("Trojan Source"), line and paragraph separators
# break lines: escape them with the controls.
_INVISIBLE_FORMATS = {*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C, 0x2028, 0x2029}

_secrets: set[str] = set()


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _is_control(char: str) -> bool:
    return unicodedata.category(char) == "Cc" or ord(char) in _INVISIBLE_FORMATS


def terminal_text(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with every control character (ESC, CR, C1, bidi overrides...) written as a visible escape."""
    return "".join(
        _escape(c) if _is_control(c) and not (keep_newlines and c == "\n") else c for c in text
    )


def quoted(text: str, limit: int = MAX_QUOTED) -> str:
    """`text` as an error message quotes it: escaped, quoted, and cut in the middle when long."""
    shown = terminal_text(text)
    if len(shown) > limit:
        return f"'{shown[:limit - 15]}…{shown[-10:]}' ({len(text)} characters)"
    return f"'{shown}'"


def workspace_id(value: str) -> str:
    if not WORKSPACE_ID.fullmatch(value):
        raise UserError(
            f"workspace ID {quoted(value)} is not allowed: use up to 63 letters, digits, '-' or '_',"
            " starting with a letter or digit"
        )
    return value


def display_name(value: str, *, what: str = "workspace name", option: str = "--name",
                 max_length: int = MAX_NAME_LENGTH) -> str:
    """A name shown in tables: not blank, no control characters, at most `max_length` characters."""
    if not value.strip():
        raise UserError(f"{what} is empty: give one with {option}")
    if any(_is_control(c) for c in value):
        raise UserError(f"{what} {quoted(value)} contains a control character (newline, tab, escape...):"
                        " give it on one line of plain text")
    if len(value) > max_length:
        raise UserError(f"{what} {quoted(value)} is too long: use at most {max_length} characters")
    return value


def event_reference(value: str) -> str:
    """An event as people name it: `purchase`, `custom_event_3`, or a custom event's label."""
    return display_name(value, what="event", option="an event name or label", max_length=MAX_LABEL_LENGTH)


def campaign_id(value: str) -> str:
    if not re.fullmatch(r"[0-9]{1,32}", value):
        raise UserError(f"{quoted(value)} is not a Meta campaign id (digits only)")
    return value


def secret(value: str, *, what: str, empty_hint: str) -> str:
    """A key or token, refused before it is sent anywhere unless it can only be a Bearer credential.

    The message says which rule it breaks but never shows the value; an accepted
    value is remembered, so that `redact` can take it out of any text.
    """
    # A pasted key often ends with a line break; anything inside it is refused below.
    value = value.strip(" \t\r\n")
    if not value:
        raise UserError(f"the {what} is empty: {empty_hint}")
    if len(value) > MAX_SECRET_LENGTH:
        raise UserError(f"the {what} is {len(value)} characters long, more than any {what}: copy it again")
    if not _BEARER_TOKEN.fullmatch(value):
        if any(c.isspace() or _is_control(c) for c in value):
            problem = "a space, line break or control character"
        elif not value.isascii():
            problem = "a non-ASCII character"
        else:
            problem = "a character no key or token has (only letters, digits and - . _ ~ + / =)"
        raise UserError(f"the {what} contains {problem}: copy it again (it was not sent anywhere)")
    _secrets.add(value)
    return value


def redact(text: str) -> str:
    """`text` with every secret checked in this process replaced by ***.

    Values shorter than MIN_REDACTED are left: no service issues such a key, and replacing
    every 'k' would garble the message around it.
    """
    for value in sorted(_secrets, key=len, reverse=True):
        if len(value) >= MIN_REDACTED:
            text = text.replace(value, "***")
    return text


def history_start(text: str, today: date) -> date:
    """YYYY-MM-DD between 2019-01-01 (Cometly's start) and `today`."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        start = date.fromisoformat(text)
    except ValueError:
        raise UserError(f"history start {quoted(text)} is not a date: use YYYY-MM-DD") from None
    if start > today:
        raise UserError(f"history start {start} is in the future: give a past date")
    if start < EARLIEST_HISTORY_START:
        raise UserError(f"history start {start} is before Cometly existed: give {EARLIEST_HISTORY_START} or later")
    return start


def whole_number(text: str, *, option: str, low: int, high: int, unit: str = "") -> int:
    """A whole number in [low, high]; the message names the option and its range."""
    allowed = f"use {low} to {high}{unit}"
    try:
        if not re.fullmatch(r"[+-]?\d{1,12}", text.strip()):
            raise ValueError
        number = int(text)
    except ValueError:
        raise UserError(f"{option} {quoted(text)} is not a whole number: {allowed}") from None
    if not low <= number <= high:
        raise UserError(f"{option} {number} is out of range: {allowed}")
    return number


def report_days(text: str) -> int:
    return whole_number(text, option="--days", low=1, high=MAX_REPORT_DAYS, unit=" days")


def port(text: str) -> int:
    return whole_number(text, option="--port", low=1, high=65535)
