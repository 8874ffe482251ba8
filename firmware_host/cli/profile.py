"""``pc6 profile``: the library, figures and plots, validation."""

from __future__ import annotations

import argparse
from typing import Any

EXIT_INVALID = 2


def register(sub: Any) -> None:
    """Add ``pc6 profile`` and its actions to the ``pc6`` subcommands."""
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
