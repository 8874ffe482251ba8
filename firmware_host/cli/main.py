"""The ``pc6`` command line. Heavy libraries are imported only by the commands that use them."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

EXIT_INVALID = 2
EXTENSIONS = (
    "firmware_host.cli.profile",
    "firmware_host.cli.log",
    "firmware_host.cli.experiment",
    "firmware_host.cli.diary",
    "firmware_host.cli.importer",
    "firmware_host.cli.ctl",
    "firmware_host.cli.daemon",
    "firmware_host.cli.service",
    "firmware_host.web.command",  # the last stage, found by name: cli never imports web
)

#: Commands of other distributions under ``pc6 sim`` (the simulator's ``pc6 sim band``):
#: each entry point names an object with ``help`` (one line) and ``main(argv) -> int``.
SIM_COMMAND_GROUP = "pc6band.sim_commands"

Handler = Callable[[argparse.Namespace], int]


def _level(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _backend_option(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with VALUE read as a TOML value (``3``, ``true``), else as text."""
    import tomllib

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"not KEY=VALUE: {text!r}")
    try:
        value: object = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def build_parser(*, sim_commands: bool = True) -> argparse.ArgumentParser:
    """The argument parser for every ``pc6`` subcommand.

    Args:
        sim_commands: also list the ``pc6 sim`` commands of other distributions (reading
            entry points costs tens of ms, so :func:`main` asks only when ``sim`` or help
            is on the command line).
    """
    parser = argparse.ArgumentParser(
        prog="pc6",
        description="Drive a PC6 (Nei Guan) acupressure wristband: profiles, "
        "sessions, simulator. Not a medical device.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="play a profile on the band (the simulator by default)")
    run.add_argument("profile", help="built-in profile name or path to a .toml file")
    run.add_argument("--backend", help="sim, gpio, serial or ble (default: the config's, else sim)")
    run.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: the daemon's, pc6band.toml in the config folder)",
    )
    run.add_argument(
        "--kind",
        choices=["vibration", "pressure"],
        help="actuator kind (default: the config's, what the band drives, or the profile's first)",
    )
    run.add_argument(
        "--fast", action="store_true", help="run on virtual time (simulated backends only)"
    )
    run.add_argument("--trace", metavar="FILE.csv", help="write the delivered level as CSV")
    run.add_argument(
        "--max-level",
        type=_level,
        metavar="X",
        help="ceiling on the level, 0–1 of the wearer's comfortable maximum",
    )
    run.add_argument(
        "--sim-pins", action="store_true", help="gpio backend on mock pins with a simulated wrist"
    )
    run.add_argument("--port", help="serial port of the band (serial backend)")
    run.add_argument("--address", help="BLE address of the band (ble backend)")
    run.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        type=_backend_option,
        metavar="KEY=VALUE",
        help="a backend option, as in the config's [backend] table (repeatable)",
    )
    run.add_argument(
        "--stop-button",
        type=int,
        metavar="GPIO",
        help="a push button on this GPIO: press to stop softly, hold 2 s to trip",
    )
    run.add_argument("--journal", metavar="PATH", help="journal database (default: XDG state)")
    run.set_defaults(handler=_cmd_run)

    band = sub.add_parser(
        "band", add_help=False, help="pair, inspect, flash and scan bands (pc6 band --help)"
    )
    band.add_argument("rest", nargs=argparse.REMAINDER)
    band.set_defaults(handler=_cmd_band)

    simulate = sub.add_parser("sim", help="simulated hardware: a band on a pseudo-terminal, …")
    simsub = simulate.add_subparsers(dest="sim_command", metavar="WHAT", required=True)
    for name, entry in _sim_commands().items() if sim_commands else ():
        command = entry.load()
        extra = simsub.add_parser(name, add_help=False, help=command.help)
        extra.add_argument("rest", nargs=argparse.REMAINDER)
        extra.set_defaults(handler=lambda args, main=command.main: main(list(args.rest)))

    for name in EXTENSIONS:
        # Each module adds its own subcommands; it must be cheap to import (no heavy libs).
        module = importlib.import_module(name)
        module.register(sub)
        if hasattr(module, "register_sim"):
            module.register_sim(simsub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pc6`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["ctl"]:
        # The stop button over SSH: straight to the client, none of the rest of the CLI.
        from firmware_host.cli.ctl import main as ctl_main

        return ctl_main(argv[1:])
    import logging

    from firmware_host.cli.logs import configure_logging

    configure_logging(logging.WARNING)
    # The band commands parse their own options (argparse's REMAINDER drops a leading --help).
    if argv[:1] == ["band"]:
        return _guarded(lambda: _cmd_band(argparse.Namespace(rest=argv[1:])))
    if argv[:1] == ["sim"] and len(argv) > 1 and argv[1] in (extra := _sim_commands()):
        command = extra[argv[1]].load()
        return _guarded(lambda: int(command.main(argv[2:])))
    parser = build_parser(sim_commands=not argv or argv[0] in ("sim", "-h", "--help"))
    args = parser.parse_args(argv)
    if args.version:
        from firmware_host import __version__

        print(f"pc6band {__version__}")
        return 0
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_INVALID
    return _guarded(lambda: handler(args))


def _guarded(call: Callable[[], int]) -> int:
    """Run a command; our own errors become one line and an exit code (2 for bad input)."""
    from firmware_host.errors import InvalidInput, PC6Error

    try:
        return call()
    except BrokenPipeError:
        # `pc6 profile list | head`: the reader left. Stay quiet (never SIGPIPE's default,
        # which would kill a running session before its outputs are turned off).
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except InvalidInput as err:
        print(f"pc6: error: {err}", file=sys.stderr)
        return EXIT_INVALID
    except PC6Error as err:
        print(f"pc6: {err}", file=sys.stderr)
        return 1


def _cmd_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from firmware_host.plan.library import resolve
    from firmware_host.session.run import RunOptions, run

    options: dict[str, object] = {}
    if args.sim_pins:
        options["sim_pins"] = True
    if args.port:
        options["port"] = args.port
    if args.address:
        options["address"] = args.address
    options.update(args.option)
    return run(
        RunOptions(
            profile=resolve(args.profile),
            backend=args.backend,
            config=Path(args.config) if args.config else None,
            kind=args.kind,
            fast=args.fast,
            trace=Path(args.trace) if args.trace else None,
            max_level=args.max_level,
            journal=Path(args.journal) if args.journal else None,
            backend_options=options,
            stop_button=args.stop_button,
        )
    )


def _cmd_band(args: argparse.Namespace) -> int:
    from firmware_host.cli.band import band_main

    return band_main(list(args.rest))


def _sim_commands() -> dict[str, Any]:
    """The registered ``pc6 sim`` commands by name (entry points, not loaded yet)."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=SIM_COMMAND_GROUP)}


if __name__ == "__main__":
    sys.exit(main())
