"""The ``pc6`` command line. Heavy libraries are imported only by the commands that use them."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

EXIT_INVALID = 2
EXTENSIONS = (
    "firmware_host.cli.log",
    "firmware_host.cli.ctl",
    "firmware_host.cli.daemon",
    "firmware_host.web.command",  # the last stage, found by name: cli never imports web
)

Handler = Callable[[argparse.Namespace], int]


def _level(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every ``pc6`` subcommand."""
    parser = argparse.ArgumentParser(
        prog="pc6",
        description="Drive a PC6 (Nei Guan) acupressure wristband: profiles, "
        "sessions, simulator. Not a medical device.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="play a profile on the band (the simulator by default)")
    run.add_argument("profile", help="built-in profile name or path to a .toml file")
    run.add_argument("--backend", default="sim", help="sim (default), gpio, serial or ble")
    run.add_argument(
        "--kind",
        choices=["vibration", "pressure"],
        help="actuator kind (default: the profile's first)",
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
        "--stop-button",
        type=int,
        metavar="GPIO",
        help="a push button on this GPIO: press to stop softly, hold 2 s to trip",
    )
    run.add_argument("--journal", metavar="PATH", help="journal database (default: XDG state)")
    run.set_defaults(handler=_cmd_run)

    prof = sub.add_parser("profile", help="inspect and check profiles")
    psub = prof.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = psub.add_parser("show", help="figures and a terminal plot of a profile")
    show.add_argument("profile")
    show.add_argument("--width", type=int, default=72)
    show.set_defaults(handler=_cmd_profile_show)
    plot = psub.add_parser("plot", help="draw a profile as a PNG (needs matplotlib)")
    plot.add_argument("profile")
    plot.add_argument("-o", "--output", required=True, metavar="OUT.png")
    plot.set_defaults(handler=_cmd_profile_plot)
    check = psub.add_parser("check", help="validate profile files")
    check.add_argument("files", nargs="+")
    check.set_defaults(handler=_cmd_profile_check)
    lst = psub.add_parser("list", help="the built-in library")
    lst.set_defaults(handler=_cmd_profile_list)

    band = sub.add_parser(
        "band", add_help=False, help="pair, inspect, flash and scan bands (pc6 band --help)"
    )
    band.add_argument("rest", nargs=argparse.REMAINDER)
    band.set_defaults(handler=_cmd_band)

    simulate = sub.add_parser("sim", help="simulated hardware: a band on a pseudo-terminal, …")
    simsub = simulate.add_subparsers(dest="sim_command", metavar="WHAT", required=True)
    simband = simsub.add_parser(
        "band", add_help=False, help="a simulated band on a pty (pc6 sim band --help)"
    )
    simband.add_argument("rest", nargs=argparse.REMAINDER)
    simband.set_defaults(handler=_cmd_sim_band)

    for name in EXTENSIONS:
        # Each module adds its own subcommands; it must be cheap to import (no heavy libs).
        module = importlib.import_module(name)
        module.register(sub)
        if hasattr(module, "register_sim"):
            module.register_sim(simsub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pc6`` console script."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    argv = list(sys.argv[1:] if argv is None else argv)
    # The band commands parse their own options (argparse's REMAINDER drops a leading --help).
    if argv[:1] == ["band"]:
        return _guarded(lambda: _cmd_band(argparse.Namespace(rest=argv[1:])))
    if argv[:2] == ["sim", "band"]:
        return _guarded(lambda: _cmd_sim_band(argparse.Namespace(rest=argv[2:])))
    parser = build_parser()
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
    return run(
        RunOptions(
            profile=resolve(args.profile),
            backend=args.backend,
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


def _cmd_sim_band(args: argparse.Namespace) -> int:
    from firmware_host.cli.band import sim_band_main

    return sim_band_main(list(args.rest))


def _cmd_profile_show(args: argparse.Namespace) -> int:
    from firmware_host.cli.plot import terminal_plot
    from firmware_host.durations import format_duration
    from firmware_host.plan.library import resolve
    from firmware_host.plan.timeline import compile_profile

    profile = resolve(args.profile)
    timeline = compile_profile(profile)
    s = timeline.stats()
    print(f"{profile.name} — {profile.intent}, for {', '.join(profile.kinds)}")
    print(f"  {profile.description}")
    if profile.basis:
        print(f"  basis: {profile.basis}")
    print(f"  duration        {format_duration(s.duration_ms)}")
    print(f"  on-time         {format_duration(s.on_ms)} (duty {s.duty:.0%})")
    print(f"  dose            {s.dose:.1f} level·s")
    print(f"  peak            {s.peak:.2f}")
    print(f"  longest on      {format_duration(s.longest_on_ms)}")
    rise = "step" if s.steepest_rise_per_s == float("inf") else f"{s.steepest_rise_per_s:.2f}/s"
    print(f"  steepest rise   {rise}")
    print(f"  breakpoints     {len(timeline)}")
    bands = "  ".join(
        f"{i / 10:.1f}+:{format_duration(ms)}" for i, ms in enumerate(s.time_at_level_ms) if ms
    )
    print(f"  time at level   {bands}")
    print(terminal_plot(timeline, width=max(20, args.width)))
    return 0


def _cmd_profile_plot(args: argparse.Namespace) -> int:
    from firmware_host.cli.plot import png_plot
    from firmware_host.plan.library import resolve
    from firmware_host.plan.timeline import compile_profile

    profile = resolve(args.profile)
    png_plot(compile_profile(profile), args.output, title=profile.name)
    print(f"wrote {args.output}")
    return 0


def _cmd_profile_check(args: argparse.Namespace) -> int:
    from firmware_host.drive.actuator import ActuatorKind
    from firmware_host.errors import ProfileError
    from firmware_host.guard.limits import limits_for
    from firmware_host.guard.preview import gate_warnings
    from firmware_host.plan.library import resolve
    from firmware_host.plan.timeline import compile_profile

    bad = 0
    for name in args.files:
        try:
            profile = resolve(name)
            timeline = compile_profile(profile)
        except ProfileError as err:
            print(f"FAIL {err}")
            bad += 1
            continue
        print(f"ok   {name}: {profile.name}, {len(timeline)} breakpoints")
        for kind in profile.kinds:
            actuator = ActuatorKind(kind)
            for note in gate_warnings(timeline, actuator, limits_for(actuator)):
                print(f"warn {name}: {note}")
    return EXIT_INVALID if bad else 0


def _cmd_profile_list(args: argparse.Namespace) -> int:
    from firmware_host.durations import format_duration
    from firmware_host.plan.library import library_names, load_builtin
    from firmware_host.plan.timeline import compile_profile

    for name in library_names():
        profile = load_builtin(name)
        stats = compile_profile(profile).stats()
        first = profile.description.split(". ")[0].rstrip(".")
        print(
            f"{name:<22} {format_duration(stats.duration_ms):>8}  "
            f"{'/'.join(profile.kinds):<18} {first}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
