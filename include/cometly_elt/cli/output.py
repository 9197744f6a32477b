"""Printing command results for people, or as JSON with `--json`.

Standard output carries the command's result and nothing else: while a
command runs, `main` points file descriptor 1 and `sys.stdout` at stderr, so
whatever a library logs or prints (Airflow, tenacity, dbt) lands there, and
only `say` and `emit` write to the real standard output kept here. Text for
people goes through `terminal_text`: an ESC byte from a name or a label never
reaches the terminal raw.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TextIO

from cometly_elt.inputs import terminal_text

# Longest cell a table shows; longer text (an old name, a Meta campaign name) is cut with an ellipsis.
MAX_CELL = 100
# JSON escapes C0 controls itself; these could still drive a terminal that shows the JSON.
_JSON_ESCAPES = {c: f"\\u{c:04x}" for c in (*range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A),
                                              0x200E, 0x200F, 0x061C, 0x2028, 0x2029)}

_result: TextIO | None = None


class ReservedStdout:
    """Keeps standard output for the command's result while the command runs (see the module's doc)."""

    def __enter__(self) -> TextIO:
        global _result
        self._stdout, self._fd = sys.stdout, None
        sys.stdout.flush()
        try:
            fd = sys.stdout.fileno()
        except (AttributeError, OSError, ValueError):  # not a file: a test's StringIO is the result's place
            _result = self._stdout
        else:
            self._fd, self._saved = fd, os.dup(fd)
            _result = os.fdopen(os.dup(fd), "w", encoding=sys.stdout.encoding, errors="backslashreplace")
            os.dup2(sys.stderr.fileno(), fd)
        sys.stdout = sys.stderr
        return _result

    def __exit__(self, *exc) -> None:
        global _result
        _result.flush()
        if self._fd is not None:
            _result.close()
            os.dup2(self._saved, self._fd)
            os.close(self._saved)
        sys.stdout, _result = self._stdout, None


def result_stream() -> TextIO:
    return _result or sys.stdout


def say(text: str) -> None:
    """Print a result line for people (control characters escaped)."""
    print(terminal_text(text, keep_newlines=True), file=result_stream())


def json_parent() -> argparse.ArgumentParser:
    """A parent parser that adds `--json` to a command that prints data."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--json", action="store_true", help="print machine-readable JSON (only JSON on stdout)")
    return parent


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def emit(args: argparse.Namespace, data: Any, human: Callable[[Any], str]) -> None:
    if getattr(args, "json", False):
        text = json.dumps(data, default=_default, ensure_ascii=False, indent=2)
        # The characters escaped here can only occur inside JSON strings, where \uXXXX means the same.
        result_stream().write(text.translate(_JSON_ESCAPES) + "\n")
    else:
        text = human(data)
        if text:
            say(text)


def cell(value: Any) -> str:
    """A table cell: one line, escaped, at most MAX_CELL characters."""
    text = terminal_text("" if value is None else str(value))
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "…"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain aligned text table."""
    cells = [[str(h) for h in headers]] + [[cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
