"""`cometly-elt`: each command mirrors a step of Settings → Integrations.

Every concern registers its sub-commands from its own module; heavy imports
happen inside the command functions so that `--help` stays fast.

What a user sees when something goes wrong is one line on stderr: a
`UserError`'s own line (exit 1), argparse's usage error (exit 2), or for
anything unexpected a line naming the log file that holds the traceback
(exit 70, EX_SOFTWARE). `--debug` or COMETLY_ELT_DEBUG=1 prints the
traceback instead. Secrets checked by `cometly_elt.inputs` are redacted from
all of these.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from datetime import datetime, timezone
from pathlib import Path

from cometly_elt import inputs
from cometly_elt.cli import cometly, fake, meta, reconcile, report, results, status, sync, warehouse, workspace
from cometly_elt.cli.output import ReservedStdout
from cometly_elt.errors import UserError

_MODULES = (workspace, cometly, meta, results, sync, status, report, reconcile, fake, warehouse)
EXIT_USER_ERROR = 1
EXIT_UNEXPECTED = 70
DEBUG_ENV = "COMETLY_ELT_DEBUG"
# Where the commands keep the secrets they were given (--api-key, --access-token).
SECRET_OPTIONS = ("api_key", "access_token")
# The longest error line printed: a message quoting a huge input stays readable.
MAX_ERROR_LINE = 1000


def _one_line(message: str) -> str:
    line = inputs.terminal_text(inputs.redact(message))
    return line if len(line) <= MAX_ERROR_LINE else line[:MAX_ERROR_LINE - 1] + "…"


class Parser(argparse.ArgumentParser):
    """argparse quotes what was typed in its errors (an unknown choice, extra arguments): escape and shorten it."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {_one_line(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="cometly-elt",
        description="Cometly attributed conversions as Meta campaign result metrics.",
        epilog=f"Exit status: 0 done, 1 a problem you can fix (one line on stderr), 2 wrong usage, "
               f"{EXIT_UNEXPECTED} an unexpected error (its traceback is in the log file the line names).",
    )
    parser.add_argument("--debug", action="store_true",
                        help=f"show the traceback of an unexpected error (also {DEBUG_ENV}=1)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _MODULES:
        module.register(commands)
    return parser


def crash_log_dir() -> Path:
    """$COMETLY_ELT_LOG_DIR, else Airflow's logs folder ($AIRFLOW_HOME/logs/cometly-elt), else the temp folder."""
    if os.environ.get("COMETLY_ELT_LOG_DIR"):
        return Path(os.environ["COMETLY_ELT_LOG_DIR"])
    if os.environ.get("AIRFLOW_HOME"):
        return Path(os.environ["AIRFLOW_HOME"]) / "logs" / "cometly-elt"
    return Path(tempfile.gettempdir()) / "cometly-elt"


def _write_crash_log(argv: list[str], text: str) -> Path | None:
    moment = datetime.now(timezone.utc)
    try:
        folder = crash_log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"crash-{moment:%Y%m%dT%H%M%S}-{os.getpid()}.log"
        path.write_text(inputs.redact(f"{moment.isoformat()} cometly-elt {' '.join(argv)}\n{text}"))
    except OSError:
        return None
    return path


def _masked(argv: list[str], args: argparse.Namespace) -> list[str]:
    """argv with the secrets given on it (even ones never checked) shown as ***."""
    secrets = [getattr(args, dest, None) for dest in SECRET_OPTIONS]
    for value in (s for s in secrets if isinstance(s, str) and s != "-"):
        argv = [arg.replace(value, "***") for arg in argv]
    return argv


def _unexpected(argv: list[str], err: BaseException, debug: bool) -> int:
    text = "".join(traceback.format_exception(err))
    if debug:
        sys.stderr.write(inputs.redact(text))
        return EXIT_UNEXPECTED
    path = _write_crash_log(argv, text)
    where = f"the traceback is in {path}" if path else "run again with --debug to see the traceback"
    print(f"cometly-elt: unexpected error ({type(err).__name__}): {where}; please report it", file=sys.stderr)
    return EXIT_UNEXPECTED


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    debug = args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        with ReservedStdout():
            if getattr(args, "workspace_id", None) is not None:
                # Every command naming a workspace: a malformed ID is refused before it is used or echoed.
                inputs.workspace_id(args.workspace_id)
            return args.func(args) or 0
    except UserError as err:
        print(f"cometly-elt: {_one_line(str(err))}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("cometly-elt: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        return _unexpected(_masked(argv, args), err, debug)


if __name__ == "__main__":
    sys.exit(main())
