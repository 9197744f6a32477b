"""Sub-commands: fake serve, fake generate (the fake Cometly and Meta APIs for tests and the demo)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cometly_elt import inputs
from cometly_elt.errors import UserError

MAX_CLOCK_SPEED = 100_000.0


def register(commands: argparse._SubParsersAction) -> None:
    fake = commands.add_parser("fake", help="the fake Cometly and Meta APIs (tests, demo, benchmarks)")
    sub = fake.add_subparsers(dest="fake_command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve a scenario: Cometly under /public-api/v1, Meta under /vNN.N")
    world = serve.add_mutually_exclusive_group(required=True)
    world.add_argument("--scenario", metavar="PATH", help="a scenario file (docs/scenarios.md)")
    world.add_argument("--generate", metavar="SPEC",
                       help="serve a generated world instead: a preset (demo), options (days=30,spaces=2)"
                            " or both (demo,seed=7)")
    serve.add_argument("--port", required=True, metavar="N", help="1 to 65535")
    serve.add_argument("--no-rate-limits", action="store_true", help="lift Cometly's per-minute limits")
    serve.add_argument("--clock-speed", type=_positive_float, default=1.0, metavar="S",
                       help="fake seconds per real second (rate-limit windows, export jobs): more than 0, at most"
                            f" {MAX_CLOCK_SPEED:g}; default 1")
    serve.add_argument("--faults", metavar="FILE", help="a fault schedule (see cometly_elt/fake/faults.py)")
    serve.add_argument("--dump", metavar="PATH", help="with --generate: also write the world as a scenario file")
    serve.set_defaults(func=_serve)

    generate = sub.add_parser("generate", help="write a generated world as a scenario file (seeded, deterministic)")
    generate.add_argument("--preset", metavar="NAME", help="start from a preset: demo")
    for option, (kind, text) in _generator_flags().items():
        generate.add_argument(f"--{option.replace('_', '-')}", dest=option, type=kind,
                              metavar="N" if kind is int else "VALUE", help=text)
    generate.add_argument("--out", required=True, metavar="PATH", help="where to write the scenario ('-' for stdout)")
    generate.set_defaults(func=_generate)


def _generator_flags() -> dict:
    from cometly_elt.fake.generate import OPTION_HELP

    return OPTION_HELP


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= MAX_CLOCK_SPEED:  # also refuses nan
        raise argparse.ArgumentTypeError(
            f"expected a number > 0 and <= {MAX_CLOCK_SPEED:g}, got {inputs.quoted(text)}")
    return value


def _serve(args: argparse.Namespace) -> int:
    from cometly_elt.fake import server

    port = inputs.port(args.port)
    if args.dump and not args.generate:
        raise UserError("--dump goes with --generate (a scenario file is already a file)")
    if args.scenario:
        server.serve(args.scenario, port, not args.no_rate_limits, args.clock_speed, args.faults)
        return 0
    from cometly_elt.fake.generate import generate_world, options_from_spec

    world = generate_world(options_from_spec(args.generate))
    if args.dump:
        _write(world, args.dump)
    server.serve_world(world, port, not args.no_rate_limits, args.clock_speed, args.faults)
    return 0


def _generate(args: argparse.Namespace) -> int:
    from cometly_elt.fake.generate import connections, generate_world, options_from_flags

    flags = {name: getattr(args, name) for name in _generator_flags() if getattr(args, name) is not None}
    world = generate_world(options_from_flags(args.preset, flags))
    _write(world, args.out)
    if args.out != "-":
        from cometly_elt.cli.output import say, table

        rows = [[c["space_id"], c["timezone"], c["api_key"], c["ad_account"], c["access_token"]]
                for c in connections(world)]
        say(table(["space", "timezone", "cometly api key", "meta ad account", "meta access token"], rows))
    return 0


def _write(world: dict, path: str) -> None:
    text = json.dumps(world, indent=1) + "\n"
    if path == "-":
        from cometly_elt.cli.output import result_stream

        result_stream().write(text)
        return
    try:
        Path(path).write_text(text)
    except OSError as err:
        raise UserError(f"cannot write {path}: {err.strerror}") from None
