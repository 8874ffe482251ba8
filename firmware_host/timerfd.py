"""A Linux timerfd armed to absolute CLOCK_MONOTONIC deadlines, for the real clock.

``os.timerfd_*`` exists from Python 3.13; before that (Debian 12 and Raspberry Pi OS
Bookworm ship 3.11) the same two libc calls are made through ctypes. Either way one
:class:`Timerfd` holds one preallocated ``itimerspec``: re-arming is the hot path (once
per wake-up) and building the ctypes structures anew each time cost twice as much.

Two kernel facts the clock leans on (both checked by ``tests/ground/test_timerfd.py``):
``timerfd_settime`` resets the expiry count, so re-arming after an expiry also makes the
descriptor unreadable again without a ``read``; and a timer armed with
``TFD_TIMER_ABSTIME`` to a time already past fires at once. The kernel gives a timerfd no
timer slack (unlike ``epoll_wait``'s timeout or a futex wait, which get the thread's
50 µs), so it fires as soon as the high-resolution timer does.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import math
import os
import sys
import time
from typing import Any

_CLOCK_MONOTONIC = 1
_TFD_TIMER_ABSTIME = 1
_TFD_NONBLOCK = 0o4000
_TFD_CLOEXEC = 0o2000000
_NS = 1_000_000_000


class _Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


class _Itimerspec(ctypes.Structure):
    _fields_ = (("it_interval", _Timespec), ("it_value", _Timespec))


def _load_libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        create, settime = libc.timerfd_create, libc.timerfd_settime
    except (OSError, AttributeError):
        return None
    create.argtypes = (ctypes.c_int, ctypes.c_int)
    settime.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.POINTER(_Itimerspec), ctypes.c_void_p)
    return libc


_LIBC = _load_libc()
_NATIVE: Any = os if hasattr(os, "timerfd_settime_ns") else None

#: The implementations this machine has: "os" (Python ≥ 3.13), "libc" (ctypes on Linux).
BACKENDS: tuple[str, ...] = tuple(
    name for name, present in (("os", _NATIVE is not None), ("libc", _LIBC is not None)) if present
)


def deadline_ns(deadline: float) -> int:
    """``deadline`` (monotonic seconds) in whole nanoseconds, rounded up: never early.

    At least 1 ns, because an expiry of 0 would disarm the timer instead.
    """
    return max(1, math.ceil(deadline * _NS))


class Timerfd:
    """One non-blocking, close-on-exec CLOCK_MONOTONIC timerfd, armed to absolute times.

    Args:
        backend: ``"os"`` or ``"libc"`` (one of :data:`BACKENDS`); the first available
            one by default.

    Raises:
        OSError: there is no timerfd here (not Linux), or the kernel refused one.
    """

    def __init__(self, backend: str | None = None) -> None:
        if not BACKENDS:
            raise OSError("no timerfd on this platform")
        self.backend = backend or BACKENDS[0]
        if self.backend not in BACKENDS:
            raise OSError(f"timerfd backend {self.backend!r} is not available here")
        self._spec = _Itimerspec()
        self._spec_ref = ctypes.byref(self._spec)
        self._value = self._spec.it_value
        if self.backend == "os":
            flags = _NATIVE.TFD_NONBLOCK | _NATIVE.TFD_CLOEXEC
            self.fd: int = int(_NATIVE.timerfd_create(time.CLOCK_MONOTONIC, flags=flags))
        else:
            self.fd = int(_LIBC.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC))
            if self.fd < 0:
                err = ctypes.get_errno()
                raise OSError(err, f"timerfd_create: {os.strerror(err)}")

    def arm(self, deadline: float) -> None:
        """Fire once at monotonic time ``deadline``; forgets earlier expiries not yet read."""
        self._settime(deadline_ns(deadline))

    def disarm(self) -> None:
        """Fire no more; forgets expiries not yet read."""
        self._settime(0)

    def clear(self) -> int:
        """Read (and so forget) the expiries since the last arm; 0 when there were none."""
        try:
            return int.from_bytes(os.read(self.fd, 8), sys.byteorder)
        except (BlockingIOError, InterruptedError):
            return 0

    def close(self) -> None:
        """Close the descriptor; harmless twice."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1

    def _settime(self, ns: int) -> None:
        if self.backend == "os":
            _NATIVE.timerfd_settime_ns(self.fd, flags=_NATIVE.TFD_TIMER_ABSTIME, initial=ns)
            return
        self._value.tv_sec, self._value.tv_nsec = divmod(ns, _NS)
        if _LIBC.timerfd_settime(self.fd, _TFD_TIMER_ABSTIME, self._spec_ref, None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"timerfd_settime: {os.strerror(err)}")
