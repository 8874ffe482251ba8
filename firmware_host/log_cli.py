"""``pc6 log``: sessions and events from the journal."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add ``pc6 log`` to the ``pc6`` subcommands."""
    log = sub.add_parser("log", help="recent sessions from the journal")
    log.add_argument("-n", type=int, default=20, help="how many sessions")
    log.add_argument("--journal", metavar="PATH")
    log.add_argument("--events", action="store_true", help="show each session's events")
    log.set_defaults(handler=_cmd_log)


def _cmd_log(args: argparse.Namespace) -> int:
    import datetime as dt
    from pathlib import Path

    from .durations import format_duration
    from .journal import Journal
    from .paths import default_journal_path

    path = Path(args.journal) if args.journal else default_journal_path()
    if not path.exists():
        print(f"no journal yet at {path}")
        return 0
    with Journal(path) as journal:
        rows = journal.recent(args.n)
        if not rows:
            print("no sessions yet")
        for r in rows:
            when = dt.datetime.fromtimestamp(r.started_at).strftime("%Y-%m-%d %H:%M")
            length = format_duration((r.duration_s or 0) * 1000)
            sim = " SIM" if r.simulated else ""
            ended = r.reason or "running or killed"
            print(
                f"#{r.id:<4} {when}  {r.profile:<20} {r.backend}/{r.kind}{sim}  {length:>8}  "
                f"dose {r.dose or 0:.1f}  peak {r.peak or 0:.2f}  {ended}"
                f"{': ' + r.detail if r.detail else ''}"
            )
            if args.events:
                for at, kind, detail in journal.events(r.id):
                    stamp = dt.datetime.fromtimestamp(at).strftime("%H:%M:%S")
                    print(f"        {stamp} {kind}: {detail}")
    return 0
