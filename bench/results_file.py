"""bench/RESULTS.md: each benchmark owns one `## ` section and rewrites only that one."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(section: str, text: str) -> None:
    """Replace the section headed `section` (e.g. "## Backfill planning") with `text`, or add it."""
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    start = old.find(section)
    if start == -1:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = old.find("\n## ", start + len(section))
        new = old[:start] + text + ("" if end == -1 else old[end + 1:])
    RESULTS.write_text(new)
