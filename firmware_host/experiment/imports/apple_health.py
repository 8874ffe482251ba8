"""Apple Health's ``export.xml`` (50–500 MB): streamed, only sleep records kept in memory.

Sleep is ``<Record type="HKCategoryTypeIdentifierSleepAnalysis" value=… startDate=…
endDate=… sourceName=…>``, dates like ``2026-03-28 23:10:00 +0100`` (with their offset,
so clock changes are exact). Values: ``…InBed``, ``…Awake``, ``…Asleep`` /
``…AsleepUnspecified``, ``…AsleepCore`` (light), ``…AsleepDeep``, ``…AsleepREM``. A night
takes the source (watch, phone, app) that recorded the most sleep in it.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from firmware_host.experiment.imports import ImportFileError, night_row
from firmware_host.experiment.store import TrackerNight
from firmware_host.files import open_regular
from firmware_host.plan.schedule import night_of

SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"
PREFIX = "HKCategoryValueSleepAnalysis"
ASLEEP = {
    "Asleep": None,
    "AsleepUnspecified": None,
    "AsleepCore": "light",
    "AsleepDeep": "deep",
    "AsleepREM": "rem",
}
Span = tuple[float, float]


def read(path: Path, tz: dt.tzinfo) -> Iterator[TrackerNight]:
    """Each night's sleep, from records grouped by night and source."""
    groups: dict[tuple[str, str], dict[str, list[Span]]] = defaultdict(lambda: defaultdict(list))
    count = depth = 0
    root: ET.Element | None = None
    try:
        with open_regular(path) as raw:  # streamed: an export reaches gigabytes
            for event, elem in ET.iterparse(raw, events=("start", "end")):
                if event == "start":
                    root = elem if root is None else root
                    depth += 1
                    continue
                depth -= 1
                if elem.tag == "Record" and elem.get("type") == SLEEP:
                    count += 1
                    kind, span, source = _record(path, count, elem)
                    groups[(night_of(span[0], tz).isoformat(), source)][kind].append(span)
                if depth == 1 and root is not None:
                    # Keep memory flat: drop each finished top-level element (the export holds
                    # millions of records; cleared but still attached, they would pile up).
                    root.clear()
    except ET.ParseError as err:
        line, column = err.position
        raise ImportFileError(
            f"{path}: line {line}, column {column}: not well-formed XML"
        ) from None
    best: dict[str, tuple[float, str]] = {}
    for (night, source), kinds in groups.items():
        asleep = _total(_union([s for k, v in kinds.items() if k in ASLEEP for s in v]))
        if asleep > best.get(night, (-1.0, ""))[0]:
            best[night] = (asleep, source)
    for night, (_, source) in sorted(best.items()):
        yield _night(groups[(night, source)], source, tz)


def _record(path: Path, n: int, elem: ET.Element) -> tuple[str, Span, str]:
    where = f"{path}: sleep record {n}"
    value = (elem.get("value") or "").removeprefix(PREFIX)
    if value not in ASLEEP and value not in ("InBed", "Awake"):
        raise ImportFileError(f"{where}: unknown sleep value {elem.get('value')!r}")
    start, end = (_date(where, elem, key) for key in ("startDate", "endDate"))
    if end < start:
        raise ImportFileError(f"{where}: endDate is before startDate")
    return value, (start, end), elem.get("sourceName") or "?"


def _date(where: str, elem: ET.Element, key: str) -> float:
    text = elem.get(key) or ""
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z").timestamp()
    except ValueError:
        raise ImportFileError(
            f"{where}: {key} must be like 2026-03-28 23:10:00 +0100, got {text!r}"
        ) from None


def _union(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _total(spans: list[Span]) -> float:
    return sum(b - a for a, b in spans) / 60


def _night(kinds: dict[str, list[Span]], source: str, tz: dt.tzinfo) -> TrackerNight:
    asleep = _union([s for k, v in kinds.items() if k in ASLEEP for s in v])
    every = _union([s for v in kinds.values() for s in v])
    bed = _union(kinds.get("InBed", [])) or every
    start, end = bed[0][0], bed[-1][1]
    tst = _total(asleep)
    sol = waso = None
    if asleep:
        sol = max(0.0, (asleep[0][0] - start) / 60) if kinds.get("InBed") else None
        waso = round((asleep[-1][1] - asleep[0][0]) / 60 - tst, 1)
    stages = {
        s: _total(_union([x for k, v in kinds.items() if ASLEEP.get(k) == s for x in v]))
        for s in ("light", "deep", "rem")
    }
    staged = any(stages.values())
    return night_row(
        start,
        end,
        tz,
        f"Apple Health ({source})",
        tst_min=tst,
        sol_min=sol,
        waso_min=waso,
        deep_min=stages["deep"] if staged else None,
        light_min=stages["light"] if staged else None,
        rem_min=stages["rem"] if staged else None,
    )
