"""Fitbit's data in Google Takeout: ``Fitbit/Global Export Data/sleep-YYYY-MM-DD.json``.

Each file is a JSON array of sleep logs: ``startTime`` is local time without an offset (read
in the config's time zone), ``duration`` milliseconds, ``minutesToFallAsleep``,
``minutesAsleep``, ``minutesAwake``, ``timeInBed``; ``levels.summary`` holds the stage
minutes on "stages" logs. Only the main sleep of a night is kept. A directory imports
every ``sleep-*.json`` in it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from firmware_host.experiment.imports import ImportFileError, night_row
from firmware_host.experiment.store import TrackerNight
from firmware_host.files import UnsuitableFile, read_regular, reason

#: Takeout writes one file a month: a few hundred KiB. The cap keeps memory bounded.
MAX_FILE_BYTES = 64 << 20


def read(path: Path, tz: dt.tzinfo) -> Iterator[TrackerNight]:
    """Each main sleep of the file (or of every ``sleep-*.json`` in a directory)."""
    files = sorted(path.glob("sleep-*.json")) if path.is_dir() else [path]
    for file in files:
        try:
            logs = json.loads(read_regular(file, limit=MAX_FILE_BYTES, what="a Fitbit file"))
        except UnsuitableFile as err:
            raise ImportFileError(f"{file}: cannot read: {reason(err)}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ImportFileError(f"{file}: not a Fitbit sleep JSON file ({err})") from None
        if not isinstance(logs, list):
            raise ImportFileError(f"{file}: must be a JSON array of sleep logs")
        for i, log in enumerate(logs):
            if isinstance(log, dict) and not log.get("mainSleep", log.get("isMainSleep", True)):
                continue  # a nap
            yield _log(f"{file}: entry {i} (logId {_id(log)})", log, tz)


def _id(log: Any) -> str:
    return str(log.get("logId", "?")) if isinstance(log, dict) else "?"


def _log(where: str, log: Any, tz: dt.tzinfo) -> TrackerNight:
    if not isinstance(log, dict):
        raise ImportFileError(f"{where}: must be an object")
    try:
        local = dt.datetime.fromisoformat(str(log["startTime"]))
    except (KeyError, ValueError):
        raise ImportFileError(
            f"{where}: startTime must be a date and time, got {log.get('startTime')!r}"
        ) from None
    start = local.replace(tzinfo=tz).timestamp() if local.tzinfo is None else local.timestamp()
    duration = _minutes(where, log, "duration", scale=60_000)
    summary = (log.get("levels") or {}).get("summary") or {}
    stages = {k: (summary.get(k) or {}).get("minutes") for k in ("deep", "light", "rem")}
    return night_row(
        start,
        start + duration * 60,
        tz,
        "Fitbit",
        tst_min=_minutes(where, log, "minutesAsleep"),
        sol_min=_minutes(where, log, "minutesToFallAsleep", required=False),
        waso_min=_minutes(where, log, "minutesAwake", required=False),
        deep_min=stages["deep"],
        light_min=stages["light"],
        rem_min=stages["rem"],
    )


def _minutes(
    where: str, log: dict[str, Any], key: str, *, scale: float = 1, required: bool = True
) -> Any:
    value = log.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ImportFileError(f"{where}: {key} must be a number ≥ 0, got {value!r}")
    return value / scale
