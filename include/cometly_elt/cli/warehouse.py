"""`cometly-elt warehouse migrate`: create or upgrade the warehouse schemas (run by `make setup`)."""

from __future__ import annotations

import argparse

from cometly_elt.cli.output import say


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("warehouse", help="warehouse maintenance")
    sub = parser.add_subparsers(dest="warehouse_command", required=True, metavar="ACTION")
    migrate = sub.add_parser("migrate", help="create or upgrade the control and raw schemas")
    migrate.set_defaults(func=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    from cometly_elt import warehouse

    applied = warehouse.migrate()
    say(f"warehouse: applied {', '.join(applied)}" if applied else "warehouse: schemas up to date")
    return 0
