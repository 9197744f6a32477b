"""Errors a person can act on.

A `UserError` carries one line that says what went wrong and what to do; the
CLI prints it to stderr and exits non-zero, tasks record it in sync status.
It must never contain a secret.
"""


class UserError(Exception):
    """A problem the user can fix; `str(err)` is the one line to show."""
