"""``pc6 log``: nights and sessions from the journal, the morning report, a plot, CSV.

A night runs from noon to noon in the config's time zone and is named by the date of its
evening, so a session at 23:00 and one at 03:00 belong to the same night.
"""

from __future__ import annotations

import argparse
from typing import Any

from firmware_host.errors import InvalidInput


def register(sub: Any) -> None:
    """Add ``pc6 log`` to the ``pc6`` subcommands."""
    log = sub.add_parser("log", help="nights and sessions from the journal; morning report")
    log.add_argument("-n", type=_count, default=20, help="how many sessions to list")
    log.add_argument("--journal", metavar="PATH")
    log.add_argument("--config", metavar="FILE", help="config (for its time zone and journal)")
    log.add_argument("--events", action="store_true", help="show each session's events")
    log.add_argument(
        "--night",
        metavar="DATE",
        help="morning report of the night of DATE "
        "(YYYY-MM-DD, the evening's date; 'last' for the latest)",
    )
    log.add_argument("--plot", metavar="OUT.png", help="draw the night (with --night)")
    log.add_argument(
        "--csv",
        metavar="FILE",
        nargs="?",
        const="-",
        help="export sessions as CSV (to FILE or stdout); with --events, events",
    )
    log.set_defaults(handler=_cmd_log)


def _cmd_log(args: argparse.Namespace) -> int:
    from pathlib import Path

    from firmware_host.experiment.blind import open_for_display
    from firmware_host.record import report
    from firmware_host.session.config import load_config

    # Bad input is refused before anything is read: with or without a journal, a CSV or not.
    night_text = report.check_night(args.night) if args.night else None
    if args.plot:
        _require_matplotlib()
    config = load_config(args.config, missing_ok=args.config is None)
    path = Path(args.journal) if args.journal else config.journal
    if not path.exists():
        print(f"no journal yet at {path}")
        return 0
    tz = config.tz
    # While an experiment is blind its nights read as "experiment night" (no arm, no dose).
    with open_for_display(path, read_only=True) as journal:
        night = None
        if night_text or args.plot:
            night = report.pick_night(journal, night_text or "last", tz)
            if night is None:
                print("no sessions yet")
                return 0
        if args.csv:
            return _csv(journal, args.csv, events=args.events, night=night, tz=tz)
        if night is not None:
            print(report.morning_report(journal, night, tz))
            if args.plot:
                from firmware_host.record.night_plot import write_night_plot

                print(write_night_plot(journal, night, tz, args.plot))
            return 0
        _list(journal, args.n, tz, events=args.events)
    return 0


def _require_matplotlib() -> None:
    """``--plot`` needs matplotlib, an optional extra: say how to add it to this venv."""
    import sys

    from firmware_host.errors import PC6Error

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PC6Error(
            "--plot needs matplotlib, which is not installed here; add it with: "
            f"{sys.executable} -m pip install 'pc6band[plot]'"
        ) from None


def _list(journal: Any, n: int, tz: Any, *, events: bool) -> None:
    import datetime as dt

    from firmware_host.durations import format_duration
    from firmware_host.plan.schedule import night_of

    rows = journal.recent(n)
    if not rows:
        print("no sessions yet")
    current = None
    for r in reversed(rows):
        night = night_of(r.started_at, tz)
        if night != current:
            current = night
            print(f"night of {night}  (pc6 log --night {night})")
        when = dt.datetime.fromtimestamp(r.started_at, tz).strftime("%Y-%m-%d %H:%M")
        length = format_duration((r.duration_s or 0) * 1000)
        sim = " SIM" if r.simulated else ""
        ended = r.reason or "running or killed"
        delivered = f"dose {r.dose or 0:.1f}  peak {r.peak or 0:.2f}"
        if r.id in getattr(journal, "blinded", ()):  # a blind experiment night
            delivered = "dose and peak hidden"
        print(
            f"  #{r.id:<4} {when}  {r.profile:<20} {r.backend}/{r.kind}{sim}  {length:>8}  "
            f"{delivered}  {ended}"
            f"{': ' + r.detail if r.detail else ''}"
        )
        if events:
            for at, kind, detail in journal.events(r.id):
                stamp = dt.datetime.fromtimestamp(at, tz).strftime("%H:%M:%S")
                print(f"          {stamp} {kind}: {detail}")


def _csv(journal: Any, target: str, *, events: bool, night: Any = None, tz: Any = None) -> int:
    import csv
    import sys

    from firmware_host.record import report

    try:
        out = sys.stdout if target == "-" else open(target, "w", newline="", encoding="utf-8")  # noqa: SIM115
    except OSError as err:
        raise InvalidInput(f"--csv: cannot write {target}: {err.strerror}") from err
    try:
        writer = csv.writer(out)
        if events:
            rows = report.event_rows(journal, night=night, tz=tz)
        else:
            rows = report.session_rows(journal, night=night, tz=tz)
        for row in rows:
            writer.writerow(row)
    finally:
        if out is not sys.stdout:
            out.close()
    if target != "-":
        print(f"wrote {target}")
    return 0


#: The most sessions ``pc6 log -n`` lists (more than a lifetime of nights).
MAX_LISTED = 1_000_000


def _count(text: str) -> int:
    """``-n``: a whole number from 1 to :data:`MAX_LISTED` (SQLite's integers are 64-bit)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 1 <= value <= MAX_LISTED:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_LISTED}, got {value}")
    return value
