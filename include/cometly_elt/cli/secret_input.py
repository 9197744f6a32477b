"""Secrets on the command line: `--api-key KEY`, `--api-key -` (standard input) or a prompt.

A value typed as an argument shows in `ps` and shell history; `-` reads it
from standard input (a pipe, a file, a secret manager), and with no value on
a terminal it is asked for without echo. Whatever the way in, the value goes
through `inputs.secret` before anything uses it.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from cometly_elt import inputs
from cometly_elt.errors import UserError

FROM_STDIN = "-"
_ASK = object()  # the option given without a value
# Longer than any key or token: reading stops there instead of swallowing a huge stream.
_MAX_READ = inputs.MAX_SECRET_LENGTH + 2


def add_secret_option(parser: argparse.ArgumentParser, option: str, metavar: str, what: str) -> None:
    parser.add_argument(
        option, nargs="?", const=_ASK, metavar=metavar,
        help=f"the {what}; '{FROM_STDIN}' reads it from standard input (e.g. from a secret manager), so it does"
             f" not show in ps or shell history; given without a value or left out, it is asked for on the terminal",
    )


def read_secret(given, *, option: str, what: str, empty_hint: str) -> str:
    """The secret from the option's value, standard input or a prompt, checked by `inputs.secret`."""
    if given == FROM_STDIN:
        try:
            value = sys.stdin.read(_MAX_READ)
        except UnicodeDecodeError:
            raise UserError(f"the {what} read from standard input is not text: give the {what} alone") from None
    elif given is None or given is _ASK:
        if not sys.stdin.isatty():
            raise UserError(f"no {what} given: pass it with '{option} -' on standard input, or {option} VALUE")
        try:
            value = getpass.getpass(f"{what[0].upper()}{what[1:]}: ", stream=sys.stderr)
        except EOFError:
            value = ""
    else:
        value = given
    return inputs.secret(value, what=what, empty_hint=empty_hint)
