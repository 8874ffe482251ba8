"""``pc6 daemon``, ``pc6 config``, ``pc6 schedule``, ``pc6 sim night``, ``pc6 calibrate``,
``pc6 doctor``. Everything heavy is imported by the handler that needs it."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    """Add the daemon's subcommands to ``pc6``."""
    daemon = sub.add_parser("daemon", help="run the night service (schedules, control API)")
    daemon.add_argument("--config", metavar="FILE", help="config file (default: XDG config)")
    daemon.set_defaults(handler=_cmd_daemon)

    config = sub.add_parser("config", help="check or show the daemon's config")
    actions = config.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate; errors name the key and its line")
    check.add_argument("file", nargs="?")
    check.set_defaults(handler=_cmd_config_check)
    show = actions.add_parser("show", help="the effective config, defaults filled in")
    show.add_argument("file", nargs="?")
    show.set_defaults(handler=_cmd_config_show)
    example = actions.add_parser("example", help="print the commented example config")
    example.set_defaults(handler=_cmd_config_example)

    schedule = sub.add_parser("schedule", help="preview the next scheduled sessions")
    schedule.add_argument("--config", metavar="FILE")
    schedule.add_argument("-n", type=int, default=10, help="how many")
    schedule.set_defaults(handler=_cmd_schedule)

    calibrate = sub.add_parser("calibrate", help="find the wearer's felt and comfortable levels")
    calibrate.add_argument("--config", metavar="FILE")
    calibrate.add_argument("--kind", choices=["vibration", "pressure"])
    calibrate.add_argument("--dry-run", action="store_true", help="do not save to the config")
    calibrate.set_defaults(handler=_cmd_calibrate)

    doctor = sub.add_parser("doctor", help="check the Pi setup; each problem with its fix")
    doctor.add_argument("--config", metavar="FILE")
    doctor.set_defaults(handler=_cmd_doctor)


def register_sim(simsub: Any) -> None:
    """Add ``pc6 sim night`` under the lead's ``pc6 sim``."""
    night = simsub.add_parser("night", help="run a whole configured night in seconds")
    night.add_argument("--config", metavar="FILE", required=True)
    night.add_argument(
        "--date", metavar="YYYY-MM-DD", help="the night's evening (default: tonight)"
    )
    night.add_argument("--plot", metavar="OUT.png", help="draw the simulated night")
    night.add_argument(
        "--link-latency",
        choices=("none", "usb", "ble", "ble-fast"),
        default="none",
        help="a band backend's link timing in the twin (ble: 30–130 ms per message)",
    )
    night.set_defaults(handler=_cmd_sim_night)


def _cmd_daemon(args: argparse.Namespace) -> int:
    from pathlib import Path

    from firmware_host.errors import ConfigError
    from firmware_host.service.serve import serve
    from firmware_host.session.config import default_config_path

    if args.config and not Path(args.config).exists():
        # A named config that is not there is a typo: refuse, rather than serve defaults.
        raise ConfigError(f"{args.config}: no such config file")
    return serve(Path(args.config) if args.config else default_config_path())


def _cmd_config_check(args: argparse.Namespace) -> int:
    from firmware_host.plan.store import ProfileStore
    from firmware_host.service.reloading import check_night
    from firmware_host.session.config import default_config_path, load_config

    path = args.file or default_config_path()
    config = load_config(path, missing_ok=False)
    check_night(config, ProfileStore(config.profile_dirs))  # as the daemon will check it
    from firmware_host.files import read_regular
    from firmware_host.session.usable import daemon_problems

    errors, warnings = daemon_problems(config, read_regular(path).decode("utf-8"))
    for warning in warnings:
        print(f"pc6: warning: {warning}", file=sys.stderr)
    for error in errors:  # where the daemon would fail: said now, not in the night's log
        print(f"pc6: error: {error}", file=sys.stderr)
    if errors:
        return 2
    from firmware_host.drive.actuator import backend_is_simulated

    simulated = backend_is_simulated(config.backend, config.backend_options)
    sim = "  (SIMULATED: nothing physical moves)" if simulated else ""
    print(
        f"ok   {path}: backend {config.backend}/{config.kind}, "
        f"{len(config.schedule)} schedule entries, time zone {config.tz}{sim}"
    )
    return 0


def _cmd_config_show(args: argparse.Namespace) -> int:
    from firmware_host.session.config import effective, load_config, to_toml

    config = load_config(args.file)
    print(f"# effective config from {config.source}")
    print(to_toml(effective(config)), end="")
    return 0


def _cmd_config_example(args: argparse.Namespace) -> int:
    from firmware_host.session.config import example_config_text

    print(example_config_text(), end="")
    return 0


def _cmd_schedule(args: argparse.Namespace) -> int:
    import datetime as dt
    import time

    from firmware_host.plan.schedule import next_occurrences
    from firmware_host.session.config import load_config

    config = load_config(args.config)
    if not config.schedule:
        print(f"nothing scheduled in {config.source}")
        return 0
    tz = config.tz
    for entry in config.schedule:
        print(f"schedule[{entry.index}]  {entry.describe()}")
    print(f"next sessions ({tz}):")
    for occ in next_occurrences(config.schedule, tz, time.time(), args.n):
        when = dt.datetime.fromtimestamp(occ.when, tz).strftime("%a %Y-%m-%d %H:%M %Z")
        note = f"  ({occ.note})" if occ.note else ""
        print(f"  {when}  {occ.profile}{note}")
    return 0


def _cmd_sim_night(args: argparse.Namespace) -> int:
    import datetime as dt
    import sys
    from pathlib import Path

    from firmware_host.errors import InvalidInput
    from firmware_host.service.night import print_night, simulate_night

    night = None
    if args.date:
        try:
            night = dt.date.fromisoformat(args.date)
        except ValueError:
            raise InvalidInput(f"--date: must be like 2026-03-29, got {args.date!r}") from None
    result = simulate_night(
        Path(args.config), night, plot=args.plot, link_latency=args.link_latency
    )
    print_night(result, Path(args.config), sys.stdout)
    return result.exit_code


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from firmware_host.cli.calibrate import run_calibration

    return run_calibration(args.config, kind=args.kind, dry_run=args.dry_run)


def _cmd_doctor(args: argparse.Namespace) -> int:
    from firmware_host.cli.doctor import run_doctor

    return run_doctor(args.config)
