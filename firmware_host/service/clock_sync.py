"""Is the system clock synchronized? The kernel's answer, and what to do when it will not say.

A Pi has no real-time clock and boots with the time it last saved, so scheduled sessions wait
for a synchronized clock (``require_clock_sync``). The kernel keeps that flag: ``adjtimex()``
with no modes only reads it, and returns ``TIME_ERROR`` (5) while the clock is
unsynchronized — what ``timedatectl`` shows as "System clock synchronized: no".

glibc's ``adjtimex()`` is the ``clock_adjtime`` syscall, which systemd puts in ``@clock``; a
sandbox that filters it answers EPERM (or kills the process). An answer we did not get is
not a yes: then systemd-timesyncd's flag file decides, and without it the clock counts as
NOT synchronized, with a warning that says why.
"""

from __future__ import annotations

import ctypes
import enum
import errno
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

TIME_ERROR = 5
#: systemd-timesyncd touches this file once it has synchronized the clock.
TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")

#: Returns (state, errno) like ``adjtimex(&timex)`` with ``modes = 0``.
AdjtimexCall = Callable[[], tuple[int, int]]


class Sync(enum.Enum):
    """The three answers."""

    SYNCED = "synchronized"
    UNSYNCED = "not synchronized"
    UNKNOWN = "cannot tell"


@dataclass(frozen=True)
class ClockSync:
    """What is known about the clock, and how it was learnt.

    Attributes:
        state: synced, unsynced or unknown.
        how: a short phrase for logs and ``pc6 doctor`` ("kernel (adjtimex)", or why not).
    """

    state: Sync
    how: str

    @property
    def trusted(self) -> bool:
        """Whether scheduled sessions may rely on the clock (unknown is not trusted)."""
        return self.state is Sync.SYNCED


def _adjtimex() -> tuple[int, int]:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        buf = ctypes.create_string_buffer(512)  # larger than struct timex on every ABI
        state = int(libc.adjtimex(buf))
    except (OSError, AttributeError):
        return -1, errno.ENOSYS
    return state, ctypes.get_errno() if state == -1 else 0


def clock_sync(adjtimex: AdjtimexCall = _adjtimex, flag: Path = TIMESYNC_FLAG) -> ClockSync:
    """Ask the kernel, then timesyncd's flag file; never guess yes."""
    state, err = adjtimex()
    if state != -1:
        synced = Sync.UNSYNCED if state == TIME_ERROR else Sync.SYNCED
        return ClockSync(synced, "kernel (adjtimex)")
    refused = f"adjtimex refused: {errno.errorcode.get(err, str(err))}"
    if flag.exists():
        return ClockSync(Sync.SYNCED, f"{refused}; systemd-timesyncd says synchronized")
    return ClockSync(Sync.UNKNOWN, f"{refused}; no {flag}")


class ClockSyncCheck:
    """The daemon's check: a bool, with one warning per change of what is known."""

    def __init__(self, probe: Callable[[], ClockSync] = clock_sync) -> None:
        self._probe = probe
        self._last: ClockSync | None = None

    def __call__(self) -> bool:
        """Whether the clock may be trusted now."""
        result = self._probe()
        if result != self._last and result.state is not Sync.UNKNOWN:
            logger.info("system clock %s (%s)", result.state.value, result.how)
        elif result != self._last:
            logger.warning(
                "cannot tell whether the clock is synchronized (%s): scheduled sessions "
                "wait; allow clock_adjtime in the sandbox or run systemd-timesyncd",
                result.how,
            )
        self._last = result
        return result.trusted


def clock_synchronized() -> bool:
    """Whether the clock is known to be synchronized (unknown counts as no)."""
    return clock_sync().trusted
