"""A plain CSV of your own, one night a row::

    in_bed,out_of_bed,total_sleep_min,sleep_onset_min,waso_min,deep_min,light_min,rem_min,device
    2026-03-28T23:10+01:00,2026-03-29T07:05+02:00,410,20,35,,,,my notes

``in_bed`` and ``out_of_bed`` are ISO 8601 with their UTC offset (a local time alone is
ambiguous when the clocks go back); ``total_sleep_min`` is required, the rest optional.
An optional ``night`` column (YYYY-MM-DD, the evening's date) overrides the derived night.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from firmware_host.experiment.imports import ImportFileError, night_row
from firmware_host.experiment.store import TrackerNight
from firmware_host.files import open_regular

REQUIRED = ("in_bed", "out_of_bed", "total_sleep_min")
OPTIONAL = ("night", "sleep_onset_min", "waso_min", "deep_min", "light_min", "rem_min", "device")


def read(path: Path, tz: dt.tzinfo) -> Iterator[TrackerNight]:
    """Each row of the file, streamed."""
    with open_regular(path) as raw, io.TextIOWrapper(raw, "utf-8-sig", newline="") as file:
        rows = csv.DictReader(file)
        names = rows.fieldnames or []
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise ImportFileError(
                f"{path}: row 1: missing column {', '.join(missing)} (need {', '.join(REQUIRED)})"
            )
        unknown = [c for c in names if c not in REQUIRED + OPTIONAL]
        if unknown:
            raise ImportFileError(f"{path}: row 1: unknown column {unknown[0]!r}")
        for number, row in enumerate(rows, start=2):
            yield _row(f"{path}: row {number}", row, tz)


def _row(where: str, row: dict[str, str], tz: dt.tzinfo) -> TrackerNight:
    start, end = (_instant(where, row, key) for key in ("in_bed", "out_of_bed"))
    if end <= start:
        raise ImportFileError(f"{where}: out_of_bed must be after in_bed")
    values = {
        k: _minutes(where, row, k)
        for k in (
            "total_sleep_min",
            "sleep_onset_min",
            "waso_min",
            "deep_min",
            "light_min",
            "rem_min",
        )
    }
    if values["total_sleep_min"] is None:
        raise ImportFileError(f"{where}: total_sleep_min: required")
    night = night_row(
        start,
        end,
        tz,
        row.get("device") or "csv",
        tst_min=values["total_sleep_min"],
        sol_min=values["sleep_onset_min"],
        waso_min=values["waso_min"],
        deep_min=values["deep_min"],
        light_min=values["light_min"],
        rem_min=values["rem_min"],
    )
    if row.get("night"):
        try:
            night = replace(night, night=dt.date.fromisoformat(row["night"]).isoformat())
        except ValueError:
            raise ImportFileError(
                f"{where}: night must be a date like 2026-03-28, got {row['night']!r}"
            ) from None
    return night


def _instant(where: str, row: dict[str, str], key: str) -> float:
    text = (row.get(key) or "").strip()
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ImportFileError(
            f"{where}: {key} must be like 2026-03-28T23:10+01:00, got {text!r}"
        ) from None
    if value.tzinfo is None:
        raise ImportFileError(f"{where}: {key} needs its UTC offset (like +01:00), got {text!r}")
    return value.timestamp()


def _minutes(where: str, row: dict[str, str], key: str) -> float | None:
    text = (row.get(key) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ImportFileError(f"{where}: {key} must be minutes, got {text!r}") from None
    if not 0 <= value <= 1440:
        raise ImportFileError(f"{where}: {key} must be from 0 to 1440 minutes, got {text}")
    return value
