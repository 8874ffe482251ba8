"""What ``pc6 config check`` asks beyond the file itself: can the daemon use these places?

The config reader checks values (a socket path short enough to bind, a sane
``check_every``). Some things can only be seen on the machine: whether the journal path is
a journal, whether the socket's group exists. ``pc6 config check`` refuses what the daemon
could not use, so the mistake shows before the night rather than in the service's log.
"""

from __future__ import annotations

import stat
from pathlib import Path

from firmware_host.paths import state_dir, system_paths
from firmware_host.session.config import Config
from firmware_host.tomlpos import field_lines, line_of

#: The first 16 bytes of every SQLite database file.
SQLITE_MAGIC = b"SQLite format 3\x00"


def journal_problem(path: Path) -> str | None:
    """Why the daemon could not keep its journal at ``path``; None when it can."""
    try:
        info = path.stat()
    except FileNotFoundError:
        folder = path.parent
        if folder.is_dir() or folder in (state_dir(), system_paths().state_dir):
            return None  # created on first use
        return f"no such folder {folder} (only the default journal location is created)"
    except OSError as err:
        return f"cannot look at {path}: {err.strerror or err}"
    if stat.S_ISDIR(info.st_mode):
        return f"{path} is a folder; name the journal file in it (e.g. {path / 'journal.sqlite'})"
    if not stat.S_ISREG(info.st_mode):
        return f"{path} is not a regular file"
    if info.st_size == 0:
        return None  # an empty file becomes a journal
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as err:
        return f"cannot read {path}: {err.strerror or err}"
    if head != SQLITE_MAGIC:
        return f"{path} is not a pc6 journal (not an SQLite database)"
    return None


def group_problem(group: str | None) -> tuple[str | None, str | None]:
    """(error, warning) about ``control.group``: an error when no such group exists."""
    if not group:
        return None, None
    try:
        import grp

        grp.getgrnam(group)
    except KeyError:
        return f"no group {group!r} on this machine (fix: sudo groupadd {group})", None
    except (ImportError, OSError) as err:
        return None, f"control.group: could not check that group {group!r} exists ({err})"
    return None, None


def daemon_problems(config: Config, text: str) -> tuple[list[str], list[str]]:
    """The errors and warnings about ``config`` (read from ``text``), each one line.

    Each names the config file, the line and the key, as the reader's errors do.
    """
    lines = field_lines(text)

    def where(key: str) -> str:
        line = line_of(lines, key)
        return f"{config.source}:{line}: {key}" if line else f"{config.source}: {key}"

    errors: list[str] = []
    warnings: list[str] = []
    if (problem := journal_problem(config.journal)) is not None:
        errors.append(f"{where('journal.path')}: {problem}")
    error, warning = group_problem(config.socket_group)
    if error:
        errors.append(f"{where('control.group')}: {error}")
    if warning:
        warnings.append(f"{config.source}: {warning}")
    return errors, warnings
