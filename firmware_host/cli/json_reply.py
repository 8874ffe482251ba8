"""The daemon's JSON reply, decoded without importing ``json`` (which imports ``re``).

``pc6 ctl`` is the stop button over SSH, and ``json`` with the ``re`` and ``enum`` it pulls
in costs it about 4 ms of start-up. The decoding is CPython's own: ``json.loads`` runs the
same C scanner (``_json.make_scanner``) with the same settings, so a reply decodes to the same
value and a malformed one fails the same way (``ValueError``). Where ``_json`` is missing
(another Python), this is ``json.loads``.
"""

from __future__ import annotations

#: JSON's whitespace (RFC 8259), what json.loads skips around the value.
_WHITESPACE = " \t\n\r"
_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


class _Settings:
    """json.JSONDecoder's defaults, the attributes the C scanner reads."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


def decode(data: bytes) -> object:
    """``json.loads(data)`` for UTF-8 ``data``.

    Raises:
        ValueError: ``data`` is not UTF-8, or not one JSON value.
    """
    text = data.decode("utf-8")
    try:
        from _json import make_scanner
    except ImportError:  # not CPython: the plain way
        import json

        return json.loads(text)
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        # typeshed types the argument as a make_scanner; the C code reads these attributes.
        value, end = make_scanner(_Settings())(text, start)  # type: ignore[arg-type]
    except Exception:  # json.loads says what is wrong, below
        end = -1
    if end < 0 or text[end:].strip(_WHITESPACE):
        # Not one JSON value. The C scanner's errors need json.decoder imported (in 3.11 it
        # looks the error class up in sys.modules): let json explain, as json.loads would.
        import json

        return json.loads(text)
    return value
