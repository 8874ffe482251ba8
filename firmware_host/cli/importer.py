"""``pc6 import SOURCE FILE``: a tracker's export, read offline, into the journal's file."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add ``pc6 import`` to the ``pc6`` subcommands."""
    imp = sub.add_parser("import", help="read a sleep tracker's export (offline)")
    imp.add_argument(
        "source",
        metavar="SOURCE",
        help="gadgetbridge, sleep-as-android, fitbit, apple-health or csv",
    )
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--config", metavar="FILE")
    imp.add_argument("--journal", metavar="PATH")
    imp.set_defaults(handler=_cmd_import)


def _cmd_import(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from firmware_host.experiment.imports import import_file, reader
    from firmware_host.experiment.store import Store
    from firmware_host.session.config import load_config

    reader(args.source)  # an unknown source fails before anything is opened
    config = load_config(args.config, missing_ok=args.config is None)
    path = Path(args.journal) if args.journal else config.journal
    with Store(path) as store:
        done = import_file(store, args.source, Path(args.file), config.tz, now=time.time())
    span = f", nights {done.first} to {done.last}" if done.first else ""
    print(
        f"imported {done.nights} nights from {args.file} ({done.source}{span});"
        f" {done.replaced} replaced an earlier import. These are the device's estimates:"
        " trackers detect sleep well but wake poorly, and their stages are unreliable."
    )
    return 0
