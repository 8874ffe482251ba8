"""Gadgetbridge's database export (Settings → Data management → Export DB): SQLite.

Nights come from ``XIAOMI_SLEEP_TIME_SAMPLE`` (Xiaomi and Amazfit bands Gadgetbridge
syncs): ``TIMESTAMP`` and ``WAKEUP_TIME`` in milliseconds, the durations in minutes. Other
devices keep per-minute samples whose sleep codes differ from model to model; they are
not read here, and the error says so.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from firmware_host.experiment.imports import ImportFileError, night_row
from firmware_host.experiment.store import TrackerNight
from firmware_host.files import open_regular

TABLE = "XIAOMI_SLEEP_TIME_SAMPLE"
COLUMNS = (
    "TIMESTAMP",
    "WAKEUP_TIME",
    "TOTAL_DURATION",
    "DEEP_SLEEP_DURATION",
    "LIGHT_SLEEP_DURATION",
    "REM_SLEEP_DURATION",
    "AWAKE_DURATION",
)


def read(path: Path, tz: dt.tzinfo) -> Iterator[TrackerNight]:
    """Each sleep session of the export (streamed from SQLite, row by row)."""
    open_regular(path).close()  # SQLite would wait on a FIFO: refuse anything but a file
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error as err:
        raise ImportFileError(f"{path}: not a Gadgetbridge database export ({err})") from None
    try:
        if TABLE not in tables:
            raise ImportFileError(
                f"{path}: no {TABLE} table; only Xiaomi/Amazfit sleep sessions can be imported"
            )
        cur = db.execute(f"SELECT rowid, {', '.join(COLUMNS)} FROM {TABLE} ORDER BY TIMESTAMP")
        for rowid, start, wake, total, deep, light, rem, awake in cur:
            yield _night(path, rowid, start, wake, total, (deep, light, rem, awake), tz)
    except sqlite3.Error as err:
        raise ImportFileError(f"{path}: {TABLE}: {err}") from None
    finally:
        db.close()


def _night(
    path: Path,
    rowid: int,
    start: object,
    wake: object,
    total: object,
    parts: tuple[object, ...],
    tz: dt.tzinfo,
) -> TrackerNight:
    where = f"{path}: {TABLE} row {rowid}"
    if not isinstance(start, int) or not isinstance(wake, int) or wake <= start:
        raise ImportFileError(
            f"{where}: WAKEUP_TIME must be after TIMESTAMP (ms), got {start!r}, {wake!r}"
        )
    minutes = []
    for name, value in zip(COLUMNS[3:], parts, strict=True):
        if value is not None and (not isinstance(value, int | float) or value < 0):
            raise ImportFileError(f"{where}: {name} must be minutes ≥ 0, got {value!r}")
        minutes.append(None if value is None else float(value))
    deep, light, rem, awake = minutes
    if total is None:
        total = sum(m for m in (deep, light, rem) if m is not None)
    if not isinstance(total, int | float) or total < 0:
        raise ImportFileError(f"{where}: TOTAL_DURATION must be minutes ≥ 0, got {total!r}")
    return night_row(
        start / 1000,
        wake / 1000,
        tz,
        "Gadgetbridge",
        tst_min=float(total),
        waso_min=awake,
        deep_min=deep,
        light_min=light,
        rem_min=rem,
    )
