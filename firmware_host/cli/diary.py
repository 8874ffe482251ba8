"""``pc6 diary``: the two-minute morning diary, asked item by item or given as flags."""

from __future__ import annotations

import argparse
from typing import Any

from firmware_host.errors import InvalidInput

FLAGS = (
    ("in_bed", "--in-bed", "HH:MM"),
    ("tried", "--tried", "HH:MM"),
    ("sol", "--sol", "MIN"),
    ("awakenings", "--awakenings", "N"),
    ("waso", "--waso", "MIN"),
    ("final_wake", "--final-wake", "HH:MM"),
    ("out_of_bed", "--out-of-bed", "HH:MM"),
    ("quality", "--quality", "1-5"),
    ("rested", "--rested", "1-5"),
    ("guess", "--guess", "active|control|unsure"),
    ("naps", "--naps", "MIN"),
    ("caffeine", "--caffeine", "N"),
    ("alcohol", "--alcohol", "N"),
    ("medication", "--medication", "TEXT"),
    ("note", "--note", "TEXT"),
)


def register(sub: Any) -> None:
    """Add ``pc6 diary`` to the ``pc6`` subcommands."""
    diary = sub.add_parser("diary", help="the morning sleep diary (about two minutes)")
    diary.add_argument(
        "--night", metavar="YYYY-MM-DD", help="the evening's date (default: last night)"
    )
    for dest, flag, meta in FLAGS:
        diary.add_argument(flag, dest=dest, metavar=meta)
    diary.add_argument(
        "--score",
        action="append",
        default=[],
        metavar="NAME=TOTAL",
        help="a questionnaire total taken elsewhere, e.g. ISI=12 (repeatable)",
    )
    diary.add_argument("--config", metavar="FILE")
    diary.add_argument("--journal", metavar="PATH")
    diary.set_defaults(handler=_cmd_diary)


def _cmd_diary(args: argparse.Namespace) -> int:
    import datetime as dt
    import time
    from pathlib import Path

    from firmware_host.experiment import diary
    from firmware_host.experiment.store import Store
    from firmware_host.plan.schedule import night_of
    from firmware_host.session.config import load_config

    config = load_config(args.config, missing_ok=args.config is None)
    tz = config.tz
    now = time.time()
    try:
        night = dt.date.fromisoformat(args.night) if args.night else night_of(now - 43200, tz)
    except ValueError:
        raise InvalidInput(f"--night: must be a date like 2026-03-29, got {args.night!r}") from None
    scores = _scores(args.score)
    answers = {dest: getattr(args, dest) for dest, _, _ in FLAGS}
    only_scores = scores and all(answers[f] is None for f, _ in diary.QUESTIONS)
    if not only_scores:
        missing = [(f, q) for f, q in diary.QUESTIONS if answers.get(f) is None]
        if missing:
            print(f"Diary for the night of {night} (Enter a value for each; Ctrl-C to abandon)")
            for field, question in missing:
                answers[field] = _ask(question, field)
            for field, question in diary.OPTIONAL:
                if answers.get(field) is None:
                    answers[field] = _ask(question, field, optional=True)
        entry = diary.build(answers, night, tz, now)
    path = Path(args.journal) if args.journal else config.journal
    with Store(path) as store:
        if not only_scores:
            replaced = store.put_diary(night, entry.row(now))
            o = diary.outcomes(entry.row(now))
            print(
                f"{'replaced' if replaced else 'saved'} the diary of the night of {night}:"
                f" {o['tst']:.0f} min asleep, efficiency {o['se']:.0f} %"
            )
        if scores:
            store.put_scores(night, scores, at=now)
            print("saved " + ", ".join(f"{k} {v:g}" for k, v in scores.items()))
    return 0


def _scores(raw: list[str]) -> dict[str, float]:
    out = {}
    for item in raw:
        name, sep, total = item.partition("=")
        try:
            value = float(total)
        except ValueError:
            value = float("nan")
        if not sep or not name.strip() or not value == value or not 0 <= value <= 1000:
            raise InvalidInput(f"--score: must be NAME=TOTAL like ISI=12, got {item!r}")
        out[name.strip()] = value
    return out


def _ask(question: str, field: str, *, optional: bool = False) -> str:
    try:
        text = input(f"{question} ").strip()
    except EOFError:
        if optional:
            return ""
        raise InvalidInput(
            f"{field.replace('_', '-')}: input ended before it was answered"
        ) from None
    return text
