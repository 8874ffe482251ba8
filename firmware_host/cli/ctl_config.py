"""Which control socket a config file names, read quickly enough for the stop button.

``pc6 ctl`` needs one value of the config, ``control.socket``. Importing ``tomllib`` costs
about a fifth of the command's start-up, so a scan reads the plain form the example config
uses::

    [control]
    socket = "/run/pc6band/control.sock"   # a comment

and hands everything else to ``tomllib``: dotted keys, inline tables, quoted keys, escapes,
multi-line strings, a second mention, a header it does not recognise. On a valid TOML file
the answer is always tomllib's (``tests/cli/test_ctl_config.py`` compares the two on many
tricky files). A file that is broken somewhere else but has a plain socket line still gives
that socket: the stop button has to work while the rest of a config is being edited into
shape (the full validating reader is for ``pc6 config check`` and the daemon).
"""

from __future__ import annotations

import os

from firmware_host.errors import InvalidInput, PC6Error
from firmware_host.files import UnsuitableFile, read_regular, reason

#: A multi-line string: a line inside it is not a statement, and the scan reads statements.
_MULTI_LINE = ('"""', "'''")


def configured_socket(config: str, *, named: bool) -> str | None:
    """``control.socket`` of the config file ``config``, resolved; None when it names none.

    A relative socket path is relative to the config's folder; ``~`` is expanded.

    Raises:
        InvalidInput: ``named`` and the file is missing; not UTF-8 or not TOML; the value
            is not a path.
        PC6Error: the file cannot be read.
    """
    text = _read(config, named=named)
    if text is None:
        return None
    decided, found = scan(text)
    value = found if decided else _with_tomllib(config, text)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{config}: control.socket: must be the path of the socket")
    path = os.path.expanduser(value)
    return path if os.path.isabs(path) else os.path.join(os.path.dirname(config), path)


def _read(config: str, *, named: bool) -> str | None:
    try:
        raw = read_regular(config, what="a config file")  # never a FIFO or /dev/zero
    except FileNotFoundError:
        if named:
            raise InvalidInput(f"{config}: no such config file") from None
        return None
    except UnsuitableFile as err:
        raise InvalidInput(f"{config}: cannot read: {reason(err)}") from err
    except OSError as err:
        raise PC6Error(f"{config}: cannot read: {reason(err)}") from err
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidInput(f"{config}: not valid TOML: {err}") from err


def _with_tomllib(config: str, text: str) -> object:
    import tomllib  # only now: it costs more than the rest of the stop button's start-up

    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InvalidInput(f"{config}: not valid TOML: {err}") from err
    control = table.get("control")
    return control.get("socket") if isinstance(control, dict) else None


def scan(text: str) -> tuple[bool, str | None]:
    """``(True, control.socket or None)`` when a plain scan of ``text`` can tell.

    ``(False, None)`` when it cannot, and tomllib must read the file.
    """
    # A backslash may start an escape, and "\u0073ocket" is a key that spells socket.
    escapes = "\\" in text
    if "socket" not in text and not escapes:
        return True, None  # nothing can name it
    if escapes or any(mark in text for mark in _MULTI_LINE):
        return False, None
    table = ""
    found: str | None = None
    for raw in text.split("\n"):
        line = raw.removesuffix("\r").strip(" \t")
        if line.startswith("["):
            table = line.partition("#")[0].rstrip(" \t")
            if "socket" in table:
                return False, None
            continue
        if "socket" not in line:
            continue
        code = _before_comment(line)
        if code is None:
            return False, None
        if "socket" not in code:
            continue  # only the comment mentions it
        value = _plain_socket_value(code) if table == "[control]" else None
        if value is None or found is not None or not _printable(line):
            return False, None
        found = value
    return True, found


def _before_comment(line: str) -> str | None:
    """``line`` up to its comment; None when a string is left open."""
    quote = ""
    escaped = False
    for index, char in enumerate(line):
        if escaped:
            escaped = False
        elif quote:
            if char == quote:
                quote = ""
            elif char == "\\" and quote == '"':
                escaped = True
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[:index]
    return None if quote else line


def _plain_socket_value(code: str) -> str | None:
    """The value of ``socket = "..."`` (or ``'...'``); None for anything else."""
    rest = code.rstrip(" \t")
    if not rest.startswith("socket"):
        return None
    rest = rest[len("socket") :].lstrip(" \t")
    if not rest.startswith("="):
        return None
    rest = rest[1:].lstrip(" \t")
    if len(rest) < 2 or rest[0] not in "\"'" or rest[-1] != rest[0]:
        return None
    value = rest[1:-1]
    return None if rest[0] in value else value


def _printable(line: str) -> bool:
    """No control character TOML refuses (tab is allowed)."""
    return all(char == "\t" or " " <= char != "\x7f" for char in line)
