"""Reading one control request off the wire: size, nesting and number bounds, then JSON.

A request is one line of at most :data:`MAX_LINE` bytes holding a flat JSON object. Anything
else gets a one-line reason instead of reaching the command handlers, so a hostile or broken
client can neither exhaust the parser (a 2,000-deep ``[[[[…`` would otherwise raise
``RecursionError``) nor smuggle in a number no command could use (a 4,000-digit ``level``).
"""

from __future__ import annotations

import json
from typing import Any

from firmware_host.errors import PC6Error

MAX_LINE = 4096
#: Requests are flat objects; a little room for future fields that hold a list.
MAX_DEPTH = 8
#: Longer than any float's repr (``-1.7976931348623157e+308`` is 24).
MAX_NUMBER_CHARS = 32


class MalformedRequest(PC6Error, ValueError):
    """A request line that is not a bounded JSON object."""


class _TooLong:
    """A number literal that was too long to convert; reported with its field's name."""

    def __init__(self, text: str) -> None:
        self.digits = len(text)


def parse_request(line: bytes) -> dict[str, Any]:
    """The JSON object on ``line``.

    Raises:
        MalformedRequest: too deep, not JSON, not an object, or a number too long.
    """
    depth = nesting_depth(line)
    if depth > MAX_DEPTH:
        raise MalformedRequest(
            f"malformed request: nested {depth} deep (at most {MAX_DEPTH}); "
            'requests are flat objects like {"cmd": "status"}'
        )
    try:
        request = json.loads(
            line,
            parse_int=_bounded(int),
            parse_float=_bounded(float),
            parse_constant=_no_constant,
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        reason = err.msg if isinstance(err, json.JSONDecodeError) else str(err)
        raise MalformedRequest(f"malformed request: not JSON ({reason})") from None
    if not isinstance(request, dict):
        raise MalformedRequest('malformed request: must be a JSON object like {"cmd": "status"}')
    for key, value in request.items():
        if isinstance(value, _TooLong):
            raise MalformedRequest(
                f"{key}: a number of {value.digits} characters; at most {MAX_NUMBER_CHARS}"
            )
        if _holds_too_long(value):
            raise MalformedRequest(f"{key}: holds a number of over {MAX_NUMBER_CHARS} characters")
    return request


def nesting_depth(line: bytes) -> int:
    """How deeply arrays and objects nest on ``line`` (brackets inside strings not counted)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in line:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def _bounded(convert: type[int] | type[float]) -> Any:
    def parse(text: str) -> Any:
        return _TooLong(text) if len(text) > MAX_NUMBER_CHARS else convert(text)

    return parse


def _no_constant(name: str) -> Any:
    raise MalformedRequest(f"malformed request: {name} is not a JSON number")


def _holds_too_long(value: Any) -> bool:
    if isinstance(value, _TooLong):
        return True
    if isinstance(value, dict):
        return any(_holds_too_long(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_too_long(v) for v in value)
    return False
