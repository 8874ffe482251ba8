"""Clocks: the only source of time in pc6band.

``RealClock`` is monotonic and wakes tasks well under a millisecond after their deadline:
asyncio's own timers round up to whole milliseconds (epoll), so a timerfd armed to each
absolute deadline wakes the loop instead (no thread, no spinning; ``ThreadClock`` is the
older timer-thread clock, kept where there is no timerfd). ``LoopClock`` reads the
running event loop's time, which on a virtual-time loop (the simulator's) jumps straight to
the next deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import heapq
import itertools
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

#: Two times closer than this are the same moment: virtual clocks count whole microseconds,
#: so a deadline computed in floats may sit a hair past the tick that serves it.
EPSILON_S = 2e-6


class Cancellable(Protocol):
    """A scheduled wake-up that can be called off."""

    def cancel(self) -> None:
        """Call it off; harmless after it fired."""
        ...


class Clock(Protocol):
    """What the engine needs to know about time."""

    @property
    def simulated(self) -> bool:
        """True when time is virtual."""
        ...

    def now(self) -> float:
        """Monotonic seconds."""
        ...

    def wall(self) -> float:
        """Seconds since the epoch, for journal timestamps and schedules."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return at ``deadline`` (monotonic seconds), or at once if it has passed."""
        ...

    def call_at(self, deadline: float, callback: Callable[[], None]) -> Cancellable:
        """Run ``callback`` in the running loop at ``deadline``."""
        ...


class LoopClock:
    """Time as the running event loop sees it; virtual on a virtual-time loop."""

    def __init__(self, *, simulated: bool = True, epoch: float | None = None) -> None:
        self._simulated = simulated
        # Wall time is anchored once so a virtual night has believable timestamps.
        self._epoch = time.time() if epoch is None else epoch
        self._origin: float | None = None

    @property
    def simulated(self) -> bool:
        """True when time is virtual."""
        return self._simulated

    def now(self) -> float:
        """The loop's monotonic time, in whole microseconds (a virtual loop's tick)."""
        return round(asyncio.get_running_loop().time(), 6)

    def wall(self) -> float:
        """Epoch seconds: the anchor plus the loop time elapsed since first asked."""
        now = self.now()
        if self._origin is None:
            self._origin = now
        return self._epoch + (now - self._origin)

    async def sleep_until(self, deadline: float) -> None:
        """Sleep on the loop's own timers."""
        delay = deadline - self.now()
        # Always yield, even when late: a loop that is behind must not starve the others.
        await asyncio.sleep(max(0.0, delay))

    def call_at(self, deadline: float, callback: Callable[[], None]) -> Cancellable:
        """The loop's own ``call_at``."""
        return asyncio.get_running_loop().call_at(deadline, callback)


class _Timer:
    """One entry of the RealClock's heap."""

    __slots__ = ("callback", "cancelled", "deadline", "loop")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, deadline: float, callback: Callable[[], None]
    ) -> None:
        self.loop = loop
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def fire(self) -> None:
        if not self.cancelled and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._run)

    def _run(self) -> None:
        if self.cancelled:
            return
        # The thread woke us a little early to hide the hand-off to the loop; spend the
        # rest (a fraction of a millisecond at most) waiting in place.
        while time.monotonic() < self.deadline:
            pass
        self.cancelled = True
        self.callback()


class ThreadClock:
    """Monotonic time with wake-ups from a timer thread (the clock before the timerfd).

    The thread sleeps to ``deadline - HANDOFF_S`` and hands the wake-up to the event loop,
    which spins out what is left. Kept for platforms without a timerfd and as the
    comparison in ``bench/edge_timing.py``: the spin costs about twice the CPU of asyncio's
    own timers and its p99 lateness varied from 0.4 to 3.5 ms.
    """

    simulated = False
    HANDOFF_S = 0.0004

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Timer]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def now(self) -> float:
        """``time.monotonic()``, the same base as asyncio's loop time."""
        return time.monotonic()

    def wall(self) -> float:
        """``time.time()``."""
        return time.time()

    async def sleep_until(self, deadline: float) -> None:
        """Wait for ``deadline``; cancellable like any awaitable."""
        await _sleep_until(self, deadline)

    def call_at(self, deadline: float, callback: Callable[[], None]) -> Cancellable:
        """Run ``callback`` in the running loop at ``deadline``, from the timer thread."""
        timer = _Timer(asyncio.get_running_loop(), deadline, callback)
        with self._cond:
            heapq.heappush(self._heap, (deadline - self.HANDOFF_S, next(self._seq), timer))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="pc6-clock", daemon=True)
                self._thread.start()
            self._cond.notify()
        return timer

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    # Nothing to wait for: park without a timeout, costing no wake-ups.
                    self._cond.wait()
                    continue
                deadline, _, timer = self._heap[0]
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                heapq.heappop(self._heap)
                timer.fire()


class RealClock:
    """Monotonic time whose wake-ups come from a timerfd watched by the event loop.

    asyncio's own timers wait in ``epoll_wait`` with a timeout rounded up to whole
    milliseconds; a timerfd armed to the absolute deadline (``TFD_TIMER_ABSTIME`` on
    ``CLOCK_MONOTONIC``, the clock of ``time.monotonic()``) makes the same ``epoll_wait``
    return when the kernel's high-resolution timer fires, so a wake-up comes tens of
    microseconds after its deadline, with no thread and no spinning. One timerfd serves
    every deadline: it is armed to the earliest. Where there is no timerfd (not Linux) or
    the loop cannot watch a file descriptor, :class:`ThreadClock` does the job.
    """

    simulated = False

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _LoopTimer]] = []
        self._seq = itertools.count()
        self._fd = -1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._armed = math.inf
        self._fallback: ThreadClock | None = None

    def now(self) -> float:
        """``time.monotonic()``, the same base as asyncio's loop time."""
        return time.monotonic()

    def wall(self) -> float:
        """``time.time()``."""
        return time.time()

    async def sleep_until(self, deadline: float) -> None:
        """Wait for ``deadline``; cancellable like any awaitable."""
        await _sleep_until(self, deadline)

    def call_at(self, deadline: float, callback: Callable[[], None]) -> Cancellable:
        """Run ``callback`` in the running loop at ``deadline``."""
        loop = asyncio.get_running_loop()
        if self._fallback is None and not self._watch(loop):
            self._fallback = ThreadClock()
        if self._fallback is not None:
            return self._fallback.call_at(deadline, callback)
        timer = _LoopTimer(callback)
        heapq.heappush(self._heap, (deadline, next(self._seq), timer))
        if deadline < self._armed:
            self._arm(deadline)
        return timer

    def close(self) -> None:
        """Stop watching the timerfd and close it (a new loop gets a new one)."""
        if self._fd >= 0:
            if self._loop is not None and not self._loop.is_closed():
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(self._fd)
            os.close(self._fd)
        self._fd, self._loop, self._armed = -1, None, math.inf
        self._heap.clear()

    def _watch(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Have ``loop`` watch our timerfd; False when that cannot be done here."""
        if self._loop is loop and self._fd >= 0:
            return True
        self.close()
        fd = timerfd_create()
        if fd < 0:
            return False
        try:
            loop.add_reader(fd, self._expired)
        except (NotImplementedError, RuntimeError, ValueError):
            os.close(fd)
            return False
        self._fd, self._loop = fd, loop
        return True

    def _arm(self, deadline: float) -> None:
        self._armed = deadline
        timerfd_settime_abs(self._fd, max(deadline, 1e-9))

    def _expired(self) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            os.read(self._fd, 8)
        now = time.monotonic()
        heap = self._heap
        due = []
        while heap and (heap[0][0] <= now or heap[0][2].cancelled):
            _, _, timer = heapq.heappop(heap)
            if not timer.cancelled:
                due.append(timer)
        self._armed = math.inf
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        if heap:
            self._arm(heap[0][0])
        for timer in due:
            timer.run()


class _LoopTimer:
    """One deadline of a :class:`RealClock`."""

    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def run(self) -> None:
        self.cancelled = True
        self.callback()


async def _sleep_until(clock: RealClock | ThreadClock, deadline: float) -> None:
    if deadline <= time.monotonic():
        await asyncio.sleep(0)  # late already: still let the other tasks run
        return
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    timer = clock.call_at(deadline, lambda: _resolve(fut))
    try:
        await fut
    finally:
        timer.cancel()


# -- timerfd: os.timerfd_* from Python 3.13, libc through ctypes before ------------------------

_CLOCK_MONOTONIC = 1
_TFD_TIMER_ABSTIME = 1
_TFD_NONBLOCK = 0o4000
_TFD_CLOEXEC = 0o2000000


class _Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


class _Itimerspec(ctypes.Structure):
    _fields_ = (("it_interval", _Timespec), ("it_value", _Timespec))


def _libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.timerfd_create.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.timerfd_settime.argtypes = (
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(_Itimerspec),
            ctypes.c_void_p,
        )
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _libc() if sys.platform.startswith("linux") and not hasattr(os, "timerfd_create") else None


def timerfd_create() -> int:
    """A non-blocking CLOCK_MONOTONIC timerfd, or -1 where there is none."""
    native: Any = os
    if hasattr(native, "timerfd_create"):
        flags = native.TFD_NONBLOCK | native.TFD_CLOEXEC
        return int(native.timerfd_create(time.CLOCK_MONOTONIC, flags=flags))
    if _LIBC is None:
        return -1
    fd = int(_LIBC.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC))
    return fd if fd >= 0 else -1


def timerfd_settime_abs(fd: int, deadline: float) -> None:
    """Arm ``fd`` to fire once at monotonic time ``deadline`` (seconds)."""
    native: Any = os
    if hasattr(native, "timerfd_settime"):
        native.timerfd_settime(fd, flags=native.TFD_TIMER_ABSTIME, initial=deadline)
        return
    if _LIBC is None:
        raise OSError("no timerfd on this platform")
    sec = int(deadline)
    spec = _Itimerspec(_Timespec(0, 0), _Timespec(sec, int((deadline - sec) * 1e9)))
    if _LIBC.timerfd_settime(fd, _TFD_TIMER_ABSTIME, ctypes.byref(spec), None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def resolve_future(fut: asyncio.Future[None]) -> None:
    """Complete ``fut`` unless it is already done (a timer callback)."""
    if not fut.done():
        fut.set_result(None)


_resolve = resolve_future
