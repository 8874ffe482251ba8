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
    show.add_argument(
        "--kind",
        choices=["vibration", "pressure"],
        help="the figures as delivered on this actuator kind (after the safety gate)",
    )
    show.set_defaults(handler=_cmd_profile_show)
    plot = psub.add_parser("plot", help="draw a profile as a PNG (needs matplotlib)")
    plot.add_argument("profile")
    plot.add_argument("-o", "--output", required=True, metavar="OUT.png")
    plot.add_argument(
        "--kind",
        choices=["vibration", "pressure"],
        help="draw what this actuator kind delivers, with the requested level beside it",
    )
    plot.set_defaults(handler=_cmd_profile_plot)
    check = psub.add_parser("check", help="validate profile files")
    check.add_argument("files", nargs="+")
    check.set_defaults(handler=_cmd_profile_check)
    imp = psub.add_parser(
        "import", help="a phone haptic pattern (Apple .ahap, Android JSON, .haptic) as a profile"
    )
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("-o", "--output", metavar="OUT.toml", help="write here (default: stdout)")
    imp.add_argument("--name", help="the profile's name (default: from the file name)")
    imp.add_argument("--force", action="store_true", help="overwrite OUT.toml if it exists")
    imp.set_defaults(handler=_cmd_profile_import)
    lst = psub.add_parser("list", help="the built-in library")
    lst.set_defaults(handler=_cmd_profile_list)


def _cmd_profile_show(args: argparse.Namespace) -> int:
    from firmware_host.cli.plot import terminal_plot
    from firmware_host.errors import ProfileError
    from firmware_host.plan.library import resolve
    from firmware_host.plan.timeline import compile_profile

    profile = resolve(args.profile)
    timeline = compile_profile(profile)
    print(f"{profile.name} — {profile.intent}, for {', '.join(profile.kinds)}")
    print(f"  {profile.description}")
    if profile.basis:
        print(f"  basis: {profile.basis}")
    width = max(20, args.width)
    if args.kind is None:
        _print_figures(timeline.stats(), None, "")
        print(f"  time at level   {_bands(timeline.stats())}")
        for kind in profile.kinds:
            try:
                view = _view(profile, timeline, kind)
            except ProfileError as err:
                print(f"  on {kind}: refused — {err.reason} ({err.field})")
                continue
            if view.changed:
                print(
                    f"  on {kind} the safety gate changes it (dose {timeline.stats().dose:.2f}"
                    f" → {view.dose:.2f}): pc6 profile show {args.profile} --kind {kind}"
                )
            else:
                print(f"  on {kind}: delivered as requested (default limits)")
        print(terminal_plot(timeline, width=width))
        return 0
    view = _view(profile, timeline, args.kind)
    delivered = view.delivered.stats()
    _print_figures(timeline.stats(), delivered, args.kind, dose=view.dose)
    print(f"  time at level   {_bands(delivered)}  (delivered)")
    if view.changed:
        print(f"  the safety gate changes it on {args.kind} (default limits):")
        for line in view.summary():
            print(f"    {line}")
    else:
        print(f"  the safety gate changes nothing on {args.kind} (default limits)")
    marks = [(c.start_ms, c.end_ms) for c in view.changes]
    marks += [(t, t + 1) for t, _ in view.limit_events]
    print(terminal_plot(view.delivered, width=width, marks=marks))
    return 0


def _view(profile: Any, timeline: Any, kind_name: str) -> Any:
    """The gate's view of ``timeline`` on ``kind_name`` with the default limits."""
    from firmware_host.guard.limits import limits_for
    from firmware_host.guard.preview import gate_view
    from firmware_host.session.run import choose_kind

    kind = choose_kind(profile, kind_name)
    return gate_view(timeline, kind, limits_for(kind))


def _print_figures(
    requested: Any, delivered: Any | None, kind: str, *, dose: float | None = None
) -> None:
    """The figures a wearer wants, requested and (with a kind) delivered beside them."""
    from firmware_host.durations import format_duration as fd

    def rise(s: Any) -> str:
        return "step" if s.steepest_rise_per_s == float("inf") else f"{s.steepest_rise_per_s:.2f}/s"

    rows = [
        ("duration", lambda s: fd(s.duration_ms)),
        ("on-time", lambda s: f"{fd(s.on_ms)} (duty {s.duty:.0%})"),
        ("dose", lambda s: f"{s.dose:.2f} level·s"),
        ("peak", lambda s: f"{s.peak:.2f}"),
        ("longest on", lambda s: fd(s.longest_on_ms)),
        ("steepest rise", rise),
    ]
    if delivered is not None:
        print(f"  {'':<15} {'requested':<22} delivered on {kind}")
    for label, show in rows:
        want = show(requested)
        if delivered is None:
            print(f"  {label:<15} {want}")
            continue
        got = f"{dose:.2f} level·s" if label == "dose" and dose is not None else show(delivered)
        mark = "" if got == want else "   ← changed"
        print(f"  {label:<15} {want:<22} {got}{mark}")


def _bands(s: Any) -> str:
    from firmware_host.durations import format_duration

    return "  ".join(
        f"{i / 10:.1f}+:{format_duration(ms)}" for i, ms in enumerate(s.time_at_level_ms) if ms
    )


def _cmd_profile_plot(args: argparse.Namespace) -> int:
    from firmware_host.cli.plot import png_plot
    from firmware_host.errors import InvalidInput
    from firmware_host.pictures import check_output_path, import_pyplot
    from firmware_host.plan.library import resolve
    from firmware_host.plan.timeline import compile_profile

    out = check_output_path(args.output)
    profile = resolve(args.profile)
    timeline = compile_profile(profile)
    import_pyplot()  # a missing matplotlib is said before any work
    options: dict[str, Any] = {"title": profile.name}
    if args.kind:
        view = _view(profile, timeline, args.kind)
        options.update(
            delivered=view.delivered,
            kind=args.kind,
            marks=[(c.start_ms, c.end_ms) for c in view.changes],
        )
    try:
        png_plot(timeline, out, **options)
    except OSError as err:
        raise InvalidInput(f"-o {args.output}: cannot write {out}: {err.strerror}") from err
    added = "" if str(out) == args.output else " (a name without an extension gets .png)"
    print(f"wrote {out}{added}")
    return 0


def _cmd_profile_import(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from firmware_host.errors import InvalidInput
    from firmware_host.plan.imports.source import import_pattern

    text, shape = import_pattern(args.file, name=args.name)
    for note in shape.notes:
        print(f"pc6: not mapped or approximated: {note}", file=sys.stderr)
    if not args.output:
        sys.stdout.write(text)
        return 0
    out = Path(args.output)
    if out.exists() and not args.force:
        raise InvalidInput(f"-o {out}: exists; choose another name or add --force")
    if not out.parent.is_dir():
        raise InvalidInput(f"-o {out}: folder {out.parent} does not exist")
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as err:
        raise InvalidInput(f"-o {out}: cannot write: {err.strerror}") from err
    print(f"wrote {out} ({shape.format}); check it with: pc6 profile show {out}")
    return 0


def _cmd_profile_check(args: argparse.Namespace) -> int:
    from firmware_host.drive.actuator import ActuatorKind
    from firmware_host.errors import ProfileError
    from firmware_host.guard.limits import limits_for
    from firmware_host.guard.preview import gate_warnings, refuse_beyond_ceiling
    from firmware_host.plan.library import resolve
    from firmware_host.plan.timeline import compile_profile

    bad = 0
    for name in args.files:
        try:
            profile = resolve(name)
            timeline = compile_profile(profile)
            for kind in profile.kinds:
                refuse_beyond_ceiling(timeline, ActuatorKind(kind))
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
