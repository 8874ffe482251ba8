"""Schedules: when sessions start, in local clock time, correct across daylight saving.

Three kinds of entry, one ``[[schedule]]`` table each in the config:

- ``at = "22:30"`` — once on each chosen day at that local time;
- ``between = "23:00"``, ``until = "06:00"``, ``every = "90m"`` — a window with repeats;
- ``once = "2026-03-29T02:30"`` — a single local date and time.

Rules across daylight-saving changes (the tests pin each one down):

- A local time that does not exist (the hour skipped in spring) runs when the clocks have
  jumped: shifted forward by the length of the gap, so 02:30 becomes 03:30. This is what
  ``zoneinfo`` does with ``fold=0``, and no session of the night is lost.
- A local time that exists twice (the hour repeated in autumn) runs once, at its first
  occurrence (``fold=0``). Each occurrence has a key made of the entry and its local date
  and time, and the daemon never runs a key twice.
- A window repeats on elapsed time from its start instant, not on the local clock: the
  spacing between sessions is what the wearer's body notices, and it stays the same on a
  night that is one hour shorter or longer.

Everything here is pure: it turns entries, a time zone and an interval of epoch seconds into
occurrences. Nothing reads the clock.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from difflib import get_close_matches
from typing import Any
from zoneinfo import ZoneInfo

from firmware_host.durations import parse_duration_ms
from firmware_host.errors import ConfigError, DurationError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAYS = frozenset(range(7))
ENTRY_KEYS = (
    "profile",
    "experiment",
    "at",
    "between",
    "until",
    "every",
    "once",
    "days",
    "label",
)
# ``experiment = "NAME"`` in place of a profile: the daemon plays tonight's arm of NAME.
EXPERIMENT_PREFIX = "experiment:"
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
UTC = dt.UTC


@dataclass(frozen=True)
class Entry:
    """One ``[[schedule]]`` table, validated."""

    index: int
    profile: str
    days: frozenset[int] = ALL_DAYS
    at: dt.time | None = None
    between: dt.time | None = None
    until: dt.time | None = None
    every_s: int | None = None
    once: dt.datetime | None = None  # naive: local wall time
    label: str = ""

    def describe(self) -> str:
        """The entry as a person would say it."""
        if self.at is not None:
            return f"{self.at:%H:%M} {_days_text(self.days)}: {self.profile}"
        if self.once is not None:
            return f"once at {self.once:%Y-%m-%d %H:%M}: {self.profile}"
        assert self.between is not None and self.until is not None and self.every_s
        return (
            f"between {self.between:%H:%M} and {self.until:%H:%M} every "
            f"{_minutes(self.every_s)} {_days_text(self.days)}: {self.profile}"
        )


@dataclass(frozen=True, order=True)
class Occurrence:
    """One session start: an instant (epoch seconds) and what to play."""

    when: float
    key: str
    profile: str
    entry: int
    note: str = ""

    def local(self, tz: dt.tzinfo) -> dt.datetime:
        """The start as local wall time in ``tz``."""
        return dt.datetime.fromtimestamp(self.when, tz)


# -- parsing ------------------------------------------------------------------------------


def parse_entries(raw: Any, *, section: str = "schedule") -> tuple[Entry, ...]:
    """Validate the ``[[schedule]]`` array of tables.

    Raises:
        ConfigError: naming ``schedule[i].key`` and what is wrong with it.
    """
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{section}: must be an array of tables ([[{section}]])")
    return tuple(_parse_entry(i, item, f"{section}[{i}]") for i, item in enumerate(raw))


def _parse_entry(index: int, item: Any, name: str) -> Entry:
    if not isinstance(item, Mapping):
        raise ConfigError(f"{name}: must be a table")
    for key in item:
        if key not in ENTRY_KEYS:
            hint = get_close_matches(key, ENTRY_KEYS, n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(f"{name}.{key}: unknown key{extra}")
    profile = _profile_or_experiment(item, name)
    kinds = [k for k in ("at", "between", "once") if k in item]
    if len(kinds) != 1:
        raise ConfigError(
            f"{name}: give exactly one of 'at', 'between' (with 'until' and "
            f"'every') or 'once'; found {', '.join(kinds) or 'none'}"
        )
    label = item.get("label", "")
    if not isinstance(label, str):
        raise ConfigError(f"{name}.label: must be text")
    days = _parse_days(item.get("days", "daily"), f"{name}.days")
    common: dict[str, Any] = {
        "index": index,
        "profile": profile.strip(),  # "experiment:NAME" for an experiment entry
        "days": days,
        "label": label,
    }
    if "at" in item:
        _refuse(item, name, ("until", "every"), "at")
        return Entry(at=_parse_clock(item["at"], f"{name}.at"), **common)
    if "once" in item:
        _refuse(item, name, ("until", "every", "days"), "once")
        return Entry(once=_parse_local_datetime(item["once"], f"{name}.once"), **common)
    return _parse_window(item, name, common)


def _profile_or_experiment(item: Mapping[str, Any], name: str) -> str:
    if "experiment" in item:
        exp = item["experiment"]
        if "profile" in item:
            raise ConfigError(f"{name}.profile: not used with 'experiment' (it picks the arm)")
        if not isinstance(exp, str) or not exp.strip():
            raise ConfigError(f"{name}.experiment: must be the name of a planned experiment")
        return EXPERIMENT_PREFIX + exp.strip()
    profile = item.get("profile")
    if not isinstance(profile, str) or not profile.strip():
        raise ConfigError(f"{name}.profile: required, the name or path of a profile")
    return profile


def _parse_window(item: Mapping[str, Any], name: str, common: dict[str, Any]) -> Entry:
    for key in ("until", "every"):
        if key not in item:
            raise ConfigError(f"{name}.{key}: required with 'between'")
    between = _parse_clock(item["between"], f"{name}.between")
    until = _parse_clock(item["until"], f"{name}.until")
    if between == until:
        raise ConfigError(f"{name}.until: must differ from 'between' ({between:%H:%M})")
    try:
        every_ms = parse_duration_ms(item["every"])
    except DurationError as err:
        raise ConfigError(f"{name}.every: {err}") from None
    if every_ms < 60_000:
        raise ConfigError(f"{name}.every: must be at least 1m, got {item['every']!r}")
    return Entry(between=between, until=until, every_s=every_ms // 1000, **common)


def _refuse(item: Mapping[str, Any], name: str, keys: Iterable[str], kind: str) -> None:
    for key in keys:
        if key in item:
            raise ConfigError(f"{name}.{key}: not used with '{kind}'")


def _parse_clock(raw: Any, name: str) -> dt.time:
    match = _CLOCK.match(raw.strip()) if isinstance(raw, str) else None
    if not match:
        raise ConfigError(f'{name}: must be a local time like "22:30", got {raw!r}')
    return dt.time(int(match.group(1)), int(match.group(2)))


def _parse_local_datetime(raw: Any, name: str) -> dt.datetime:
    if isinstance(raw, dt.datetime):  # TOML's own local date-time
        if raw.tzinfo is not None:
            raise ConfigError(f"{name}: give a local time without an offset, got {raw}")
        return _in_range(raw, name)
    if isinstance(raw, str):
        try:
            value = dt.datetime.fromisoformat(raw.strip())
        except ValueError:
            value = None
        if value is not None and value.tzinfo is None:
            return _in_range(value, name)
    raise ConfigError(f'{name}: must be a local date and time like "2026-03-29T02:30", got {raw!r}')


def _in_range(value: dt.datetime, name: str) -> dt.datetime:
    # Far dates overflow time conversions in every zone; a one-off session is for soon.
    if not 1971 <= value.year <= 2200:
        raise ConfigError(f"{name}: must be a date between 1971 and 2200, got {value:%Y-%m-%d}")
    return value


def _parse_days(raw: Any, name: str) -> frozenset[int]:
    if raw in ("daily", "every day"):
        return ALL_DAYS
    if raw == "weekdays":
        return frozenset(range(5))
    if raw == "weekends":
        return frozenset({5, 6})
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise ConfigError(
            f'{name}: must be "daily", "weekdays", "weekends" or a list '
            f'like ["mon", "fri"], got {raw!r}'
        )
    days = set()
    for day in raw:
        text = day.strip().lower()[:3] if isinstance(day, str) else None
        if text not in DAY_NAMES:
            raise ConfigError(f"{name}: unknown day {day!r}; use {', '.join(DAY_NAMES)}")
        days.add(DAY_NAMES.index(text))
    return frozenset(days)


# -- from local clock time to instants ---------------------------------------------------


def local_instant(day: dt.date, clock: dt.time, tz: dt.tzinfo) -> tuple[float, str]:
    """Epoch seconds of ``clock`` on ``day`` in ``tz``, and a note if DST moved it.

    A time in the spring gap maps (with ``fold=0``) through the offset before the change,
    which lands it after the gap by the gap's length; a repeated time takes its first
    occurrence.
    """
    wall = dt.datetime.combine(day, clock, tzinfo=tz)
    instant = wall.timestamp()
    back = dt.datetime.fromtimestamp(instant, tz)
    if back.replace(tzinfo=None) != wall.replace(tzinfo=None):
        return instant, (
            f"{clock:%H:%M} does not exist on {day} (daylight saving); runs at {back:%H:%M}"
        )
    if _is_ambiguous(wall):
        return instant, f"{clock:%H:%M} happens twice on {day}; runs at the first"
    return instant, ""


def _is_ambiguous(wall: dt.datetime) -> bool:
    return wall.utcoffset() != wall.replace(fold=1).utcoffset()


def occurrences(
    entries: Iterable[Entry], tz: dt.tzinfo, start: float, end: float
) -> list[Occurrence]:
    """Every occurrence with ``start <= when < end`` (epoch seconds), in time order."""
    first = dt.datetime.fromtimestamp(start, tz).date() - dt.timedelta(days=2)
    last = dt.datetime.fromtimestamp(end, tz).date() + dt.timedelta(days=1)
    found: list[Occurrence] = []
    # The zone is part of each key: after a change of timezone, "22:00" is another moment
    # and another session, not one that already ran.
    zone = getattr(tz, "key", None) or str(tz)
    for entry in entries:
        found.extend(
            replace(o, key=f"{o.key}@{zone}")
            for o in _of_entry(entry, tz, first, last)
            if start <= o.when < end
        )
    return sorted(found)


def next_occurrences(
    entries: Iterable[Entry], tz: dt.tzinfo, after: float, count: int = 5
) -> list[Occurrence]:
    """The next ``count`` occurrences at or after ``after``, looking up to 8 days ahead."""
    return occurrences(entries, tz, after, after + 8 * 86400)[:count]


def _of_entry(entry: Entry, tz: dt.tzinfo, first: dt.date, last: dt.date) -> list[Occurrence]:
    if entry.once is not None:
        when, note = local_instant(entry.once.date(), entry.once.time(), tz)
        return [
            Occurrence(
                when,
                f"{entry.index}:once:{entry.once:%Y-%m-%dT%H:%M}",
                entry.profile,
                entry.index,
                note,
            )
        ]
    found: list[Occurrence] = []
    day = first
    while day <= last:
        if day.weekday() in entry.days:
            found.extend(_of_day(entry, tz, day))
        day += dt.timedelta(days=1)
    return found


def _of_day(entry: Entry, tz: dt.tzinfo, day: dt.date) -> list[Occurrence]:
    if entry.at is not None:
        when, note = local_instant(day, entry.at, tz)
        return [
            Occurrence(
                when, f"{entry.index}:{day}:{entry.at:%H:%M}", entry.profile, entry.index, note
            )
        ]
    assert entry.between is not None and entry.until is not None and entry.every_s
    start, note = local_instant(day, entry.between, tz)
    end_day = day if entry.until > entry.between else day + dt.timedelta(days=1)
    end, _ = local_instant(end_day, entry.until, tz)
    found = []
    k = 0
    while start + k * entry.every_s < end:
        found.append(
            Occurrence(
                start + k * entry.every_s,
                f"{entry.index}:{day}:w{k}",
                entry.profile,
                entry.index,
                note if k == 0 else "",
            )
        )
        k += 1
    return found


def zone(name: str | None) -> dt.tzinfo:
    """The named IANA zone, or else the system's (``$TZ``, ``/etc/localtime``, UTC).

    Raises:
        ConfigError: an unknown zone name.
    """
    if name:
        try:
            return ZoneInfo(name)
        except (ValueError, OSError) as err:  # ZoneInfoNotFoundError is a KeyError too
            raise ConfigError(f"timezone: unknown time zone {name!r}") from err
        except KeyError as err:
            raise ConfigError(f"timezone: unknown time zone {name!r}") from err
    env = os.environ.get("TZ", "").lstrip(":")
    if env:
        try:
            return ZoneInfo(env)
        except (KeyError, ValueError, OSError):
            pass
    try:
        with open("/etc/localtime", "rb") as file:
            return ZoneInfo.from_file(file, key="localtime")
    except (OSError, ValueError):
        return UTC


def _days_text(days: frozenset[int]) -> str:
    if days == ALL_DAYS:
        return "every day"
    return "on " + ", ".join(DAY_NAMES[d] for d in sorted(days))


def _minutes(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


# -- nights -------------------------------------------------------------------------------

NIGHT_STARTS = dt.time(12, 0)  # a night runs from noon to noon, so 23:00 and 03:00 share one


def night_of(when: float, tz: dt.tzinfo) -> dt.date:
    """The night an instant belongs to, named by the date of its evening."""
    local = dt.datetime.fromtimestamp(when, tz)
    return local.date() if local.time() >= NIGHT_STARTS else local.date() - dt.timedelta(days=1)


def night_bounds(night: dt.date, tz: dt.tzinfo) -> tuple[float, float]:
    """Epoch seconds of the noon that starts the night of ``night`` and the noon that ends it."""
    start, _ = local_instant(night, NIGHT_STARTS, tz)
    end, _ = local_instant(night + dt.timedelta(days=1), NIGHT_STARTS, tz)
    return start, end
