"""Best-effort line numbers for fields of a TOML file, for error messages.

``tomllib`` does not report where a value came from, so this scans the text for table
headers and keys and maps a field path such as ``steps[2].steps[0].over`` to its line.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\s\"]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"]+(?:\s*\.\s*[A-Za-z0-9_\-\"]+)*)\s*=")


def field_lines(text: str) -> dict[str, int]:
    """Map each field path found in ``text`` to its 1-based line number."""
    lines: dict[str, int] = {}
    counters: dict[str, int] = {}
    current = ""
    in_multiline = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if raw.count('"""') % 2 == 1 or raw.count("'''") % 2 == 1:
                in_multiline = False
            continue
        header = _HEADER.match(raw)
        if header:
            current = _table_path(header.group(1), header.group(2), current, counters)
            lines.setdefault(current, number)
            continue
        key = _KEY.match(raw)
        if key:
            # A dotted key (modulate.level = …) names its tables too.
            parts = [p.strip().strip('"') for p in key.group(1).split(".")]
            for i in range(1, len(parts) + 1):
                name = ".".join(parts[:i])
                lines.setdefault(f"{current}.{name}" if current else name, number)
            if raw.count('"""') % 2 == 1 or raw.count("'''") % 2 == 1:
                in_multiline = True
    return lines


def _table_path(bracket: str, dotted: str, current: str, counters: dict[str, int]) -> str:
    parts = [p.strip().strip('"') for p in dotted.split(".")]
    path = ""
    for i, part in enumerate(parts):
        plain = f"{path}.{part}" if path else part
        last = i == len(parts) - 1
        if last and bracket == "[[":
            index = counters.get(plain, -1) + 1
            counters[plain] = index
            # A new element resets the counters of arrays nested below it.
            for key in [k for k in counters if k.startswith(f"{plain}[{index}]")]:
                del counters[key]
            path = f"{plain}[{index}]"
        elif plain in counters:
            path = f"{plain}[{counters[plain]}]"
        else:
            path = plain
    return path


def line_of(lines: dict[str, int], field: str) -> int | None:
    """The line of ``field``, or of the closest enclosing table that has one."""
    probe = field
    while probe:
        if probe in lines:
            return lines[probe]
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    return None
