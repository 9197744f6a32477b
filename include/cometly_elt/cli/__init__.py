"""`cometly-elt`: each command mirrors a step of Settings → Integrations.

Every concern registers its sub-commands from its own module; heavy imports
happen inside the command functions so that `--help` stays fast.
"""

from __future__ import annotations

import argparse
import sys

from cometly_elt.errors import UserError
from cometly_elt.cli import cometly, fake, meta, reconcile, report, results, status, sync, warehouse, workspace

_MODULES = (workspace, cometly, meta, results, sync, status, report, reconcile, fake, warehouse)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cometly-elt",
        description="Cometly attributed conversions as Meta campaign result metrics.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _MODULES:
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except UserError as err:
        print(f"cometly-elt: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cometly-elt: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
