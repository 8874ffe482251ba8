"""How log lines look: a syslog priority prefix under systemd, the level name elsewhere.

journald reads a ``<N>`` at the start of each line a service writes to stdout/stderr as
that line's priority (``SyslogLevelPrefix=``, on by default), so ``journalctl -p err``
shows the errors alone. systemd sets ``$JOURNAL_STREAM`` to the ``device:inode`` of the
stream it connected; the prefix is used only when stderr is still that stream, so a
command run from a service's shell into a pipe or file keeps plain lines.
"""

from __future__ import annotations

import logging
import os
import sys

#: Python levels to syslog priorities (RFC 5424): crit 2, err 3, warning 4, info 6, debug 7.
PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))
DEBUG_PRIORITY = 7


def syslog_priority(levelno: int) -> int:
    """The syslog priority of a Python log level."""
    for level, priority in PRIORITIES:
        if levelno >= level:
            return priority
    return DEBUG_PRIORITY


class JournalFormatter(logging.Formatter):
    """``<3>firmware_host.service.control: message``; each continuation line prefixed too."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as journald-prefixed lines."""
        prefix = f"<{syslog_priority(record.levelno)}>"
        text = super().format(record)
        return "\n".join(prefix + line for line in text.splitlines() or [""])


def stderr_is_journal() -> bool:
    """Whether stderr is the stream systemd connected to the journal."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    dev, _, ino = stream.partition(":")
    try:
        st = os.fstat(sys.stderr.fileno())
        return bool(ino) and (st.st_dev, st.st_ino) == (int(dev), int(ino))
    except (OSError, ValueError, AttributeError):
        return False


def configure_logging(level: int = logging.WARNING) -> None:
    """Send log records to stderr, with priorities when that is the journal."""
    handler = logging.StreamHandler()
    if stderr_is_journal():
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
