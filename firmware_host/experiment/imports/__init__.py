"""Tracker exports read offline: each night as the device estimated it.

A reader turns one export file into :class:`~firmware_host.experiment.store.TrackerNight`
rows; :func:`import_file` keeps the longest sleep of each noon-to-noon night and stores them
all in one transaction, replacing nights an earlier import of the same source gave. Consumer
trackers detect sleep well but wake poorly, and their stages are unreliable: every figure is
labelled as the device's estimate.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from firmware_host.errors import InvalidInput
from firmware_host.experiment.store import Store, TrackerNight
from firmware_host.files import reason
from firmware_host.plan.schedule import night_of

Reader = Callable[[Path, dt.tzinfo], Iterator[TrackerNight]]
SOURCES = {
    "gadgetbridge": "gadgetbridge",
    "sleep-as-android": "sleep_as_android",
    "fitbit": "fitbit",
    "apple-health": "apple_health",
    "csv": "plain_csv",
}


class ImportFileError(InvalidInput):
    """An export file that cannot be read; the message names the file and the row."""


@dataclass(frozen=True)
class Imported:
    """What an import did."""

    source: str
    nights: int
    replaced: int
    first: str | None
    last: str | None


def reader(source: str) -> Reader:
    """The reader of ``source``.

    Raises:
        InvalidInput: an unknown source.
    """
    if source not in SOURCES:
        raise InvalidInput(f"SOURCE: must be one of {', '.join(SOURCES)}, got {source!r}")
    module = importlib.import_module(f"firmware_host.experiment.imports.{SOURCES[source]}")
    read: Reader = module.read
    return read


def import_file(store: Store, source: str, path: Path, tz: dt.tzinfo, *, now: float) -> Imported:
    """Read ``path`` and store its nights; nothing is stored if any row is bad."""
    read = reader(source)
    if not path.exists():
        raise ImportFileError(f"{path}: no such file")
    best: dict[str, TrackerNight] = {}
    try:
        for night in read(path, tz):
            held = best.get(night.night)
            if held is None or (night.tib_min or 0) > (held.tib_min or 0):
                best[night.night] = night  # a nap does not replace the main sleep
    except OSError as err:  # the readers open through firmware_host.files: FIFOs, devices
        where = getattr(err, "filename", None) or path
        raise ImportFileError(f"{where}: cannot read: {reason(err)}") from None
    before = {t.night for t in store.tracker(source)}
    rows = [best[k] for k in sorted(best)]
    store.replace_tracker(source, rows, at=now)
    return Imported(
        source,
        len(rows),
        len(before & set(best)),
        rows[0].night if rows else None,
        rows[-1].night if rows else None,
    )


def night_row(
    start: float,
    end: float,
    tz: dt.tzinfo,
    device: str,
    *,
    tst_min: float | None,
    sol_min: float | None = None,
    waso_min: float | None = None,
    deep_min: float | None = None,
    light_min: float | None = None,
    rem_min: float | None = None,
) -> TrackerNight:
    """One night from a sleep record's start and end (epoch seconds) and its figures."""
    tib = (end - start) / 60
    return TrackerNight(
        night=night_of(start, tz).isoformat(),
        device=device,
        onset=start + 60 * sol_min if sol_min is not None else None,
        wake=end,
        tib_min=round(tib, 1),
        tst_min=None if tst_min is None else round(tst_min, 1),
        sol_min=sol_min,
        waso_min=waso_min,
        se=round(100 * tst_min / tib, 1) if tst_min is not None and tib > 0 else None,
        deep_min=deep_min,
        light_min=light_min,
        rem_min=rem_min,
    )
