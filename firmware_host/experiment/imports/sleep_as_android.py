"""Sleep as Android's ``sleep-export.csv``: a header row before each record.

The start is the ``Id`` (milliseconds since the epoch) and the length ``Hours``: the
``From``/``To`` strings are local times without an offset, ambiguous when the clocks go
back. Asleep = Hours + ``LenAdjust`` minutes (``-1.0`` means a manual record: no adjust).
``DeepSleep`` is a fraction of the night (negative when not measured).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

from firmware_host.experiment.imports import ImportFileError, night_row
from firmware_host.experiment.store import TrackerNight
from firmware_host.files import open_regular


def read(path: Path, tz: dt.tzinfo) -> Iterator[TrackerNight]:
    """Each record of the export, streamed line by line."""
    header: list[str] | None = None
    expect_data = False
    with (
        open_regular(path) as raw,
        io.TextIOWrapper(raw, "utf-8", errors="replace", newline="") as file,
    ):
        for number, row in enumerate(csv.reader(file), start=1):
            if not row:
                continue
            if row[0] == "Id":
                header, expect_data = row, True
                continue
            if not expect_data or header is None:
                continue  # a row of noise or actigraphy values after a record
            expect_data = False
            yield _record(f"{path}: row {number}", dict(zip(header, row, strict=False)), tz)
    if header is None:
        raise ImportFileError(
            f"{path}: no 'Id,Tz,From,To,...' header: not a Sleep as Android export"
        )


def _record(where: str, rec: dict[str, str], tz: dt.tzinfo) -> TrackerNight:
    try:
        start = int(rec.get("Id", "")) / 1000
    except ValueError:
        raise ImportFileError(
            f"{where}: Id must be milliseconds since 1970, got {rec.get('Id')!r}"
        ) from None
    hours = _number(where, rec, "Hours")
    if not 0 < hours <= 24:
        raise ImportFileError(f"{where}: Hours must be from 0 to 24, got {hours:g}")
    asleep = hours * 60
    adjust = rec.get("LenAdjust", "").strip()
    if adjust not in ("", "-1.0"):
        asleep += _number(where, rec, "LenAdjust")
    deep = None
    if rec.get("DeepSleep", "").strip():
        fraction = _number(where, rec, "DeepSleep")
        deep = round(fraction * asleep, 1) if 0 <= fraction <= 1 else None
    zone = _zone(rec.get("Tz", ""), tz)
    return night_row(
        start,
        start + hours * 3600,
        zone,
        "Sleep as Android",
        tst_min=max(0.0, asleep),
        deep_min=deep,
    )


def _number(where: str, rec: dict[str, str], key: str) -> float:
    try:
        return float(rec.get(key, ""))
    except ValueError:
        raise ImportFileError(f"{where}: {key} must be a number, got {rec.get(key)!r}") from None


def _zone(name: str, fallback: dt.tzinfo) -> dt.tzinfo:
    try:
        return ZoneInfo(name) if name else fallback
    except (KeyError, ValueError, OSError):
        return fallback
