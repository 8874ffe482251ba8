"""Durations as people write them (``90s``, ``2m``, ``1h30m``, ``250ms``), held as integer ms."""

from __future__ import annotations

import math
import re

from firmware_host.errors import DurationError

_UNITS_MS = {"h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}
#: Nothing in pc6band lasts longer than this; beyond it a number is a typo, not a plan.
MAX_DURATION_MS = 366 * 24 * 3_600_000
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration_ms(value: object, *, allow_zero: bool = False) -> int:
    """Read a duration as whole milliseconds.

    Accepts strings made of number+unit parts in descending order (``"1h30m"``,
    ``"2.5s"``, ``"500ms"``) and plain numbers, which are seconds.

    Raises:
        DurationError: for anything else, negative, NaN, or zero unless ``allow_zero``.
    """
    if isinstance(value, bool):
        raise DurationError(f"expected a duration like '90s', got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) * 1000 > MAX_DURATION_MS:
            raise DurationError(f"duration must be finite and at most 366 days, got {value!r}")
        ms = round(value * 1000)
    elif isinstance(value, str):
        ms = _parse_text(value)
    else:
        raise DurationError(f"expected a duration like '90s', got {type(value).__name__}")
    if ms < 0:
        raise DurationError(f"duration must not be negative, got {value!r}")
    if ms == 0 and not allow_zero:
        raise DurationError(f"duration must be above 0, got {value!r}")
    return ms


def _parse_text(text: str) -> int:
    compact = text.strip().replace(" ", "")
    if not compact:
        raise DurationError("empty duration; write it like '90s', '2m' or '1h30m'")
    pos = 0
    total = 0.0
    last_rank = -1
    order = ["h", "m", "s", "ms"]
    for match in _PART.finditer(compact):
        if match.start() != pos:
            break
        number, unit = match.groups()
        rank = order.index(unit)
        if rank <= last_rank:
            raise DurationError(f"units out of order or repeated in duration {text!r}")
        last_rank = rank
        total += float(number) * _UNITS_MS[unit]
        if not math.isfinite(total) or total > MAX_DURATION_MS:
            raise DurationError(f"duration {text!r} is longer than 366 days")
        pos = match.end()
    if pos != len(compact):
        raise DurationError(
            f"cannot read duration {text!r}; write it like '90s', '2m', '1h30m' or '250ms'"
        )
    return round(total)


def format_duration(ms: float) -> str:
    """Format milliseconds the way people read them: ``1h30m``, ``2m05s``, ``1.5s``, ``40ms``."""
    if ms < 1000:
        return f"{ms:.0f}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.3g}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s" if secs else f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
