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
import heapq
import itertools
import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

from firmware_host.timerfd import Timerfd

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
    milliseconds (CPython's ``EpollSelector.select``: ``math.ceil(timeout * 1e3) * 1e-3``),
    plus the kernel's timer slack; a timerfd armed to the absolute deadline
    (``TFD_TIMER_ABSTIME`` on ``CLOCK_MONOTONIC``, the clock of ``time.monotonic()``)
    makes the same ``epoll_wait`` return when the kernel's high-resolution timer fires,
    with no thread and no spinning. One timerfd serves every deadline: it is armed to the
    earliest. Where there is no timerfd (not Linux) or the loop cannot watch a file
    descriptor, :class:`ThreadClock` does the job.

    Callbacks run in the loop, never before their deadline, in deadline order (ties in the
    order they were scheduled). A callback that raises is reported to the loop's exception
    handler, as asyncio does, and the others still run: one broken callback must not leave
    a lease timer unfired.
    """

    simulated = False

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _LoopTimer]] = []
        self._seq = itertools.count()
        self._timerfd: Timerfd | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._armed = math.inf  # the deadline the timerfd is set to; inf when disarmed
        self._cancelled = 0  # cancelled timers still in the heap
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
        if self._loop is not loop and self._fallback is None and not self._watch(loop):
            self._fallback = ThreadClock()
        if self._fallback is not None:
            return self._fallback.call_at(deadline, callback)
        timer = _LoopTimer(self, callback)
        heapq.heappush(self._heap, (deadline, next(self._seq), timer))
        if deadline < self._armed:
            self._arm(deadline)
        return timer

    @property
    def fileno(self) -> int:
        """The timerfd the loop watches; -1 before the first wake-up and after close."""
        return self._timerfd.fd if self._timerfd is not None else -1

    def close(self) -> None:
        """Stop watching the timerfd and close it; pending wake-ups are dropped.

        Harmless twice; the clock still works afterwards (the next wake-up opens a new
        timerfd), which is also what happens when it is used from a new event loop.
        """
        if self._timerfd is not None:
            if self._loop is not None and not self._loop.is_closed():
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(self._timerfd.fd)
            self._timerfd.close()
        self._timerfd, self._loop, self._armed = None, None, math.inf
        for _, _, timer in self._heap:
            timer.owner = None
        self._heap.clear()
        self._cancelled = 0

    def _watch(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Have ``loop`` watch a new timerfd; False when that cannot be done here."""
        self.close()
        try:
            timerfd = Timerfd()
        except OSError:
            return False
        try:
            loop.add_reader(timerfd.fd, self._expired)
        except (NotImplementedError, RuntimeError, ValueError):
            timerfd.close()
            return False
        self._timerfd, self._loop = timerfd, loop
        return True

    def _arm(self, deadline: float) -> None:
        assert self._timerfd is not None
        self._armed = deadline
        self._timerfd.arm(deadline)

    def _expired(self) -> None:
        """The timerfd fired: run what is due, then arm for what is next."""
        now = time.monotonic()
        heap = self._heap
        due = []
        while heap and heap[0][0] <= now:
            timer = heapq.heappop(heap)[2]
            if timer.cancelled:
                self._cancelled -= 1
            else:
                due.append(timer)
        self._armed = math.inf  # fired: until re-armed, it is readable, not armed
        try:
            for timer in due:
                timer.run(self._loop)
        finally:
            # Re-arming forgets the expiry, so no read is needed; with nothing to wait
            # for, the expiry is read instead (a readable timerfd would spin the loop).
            # A callback may have armed it already, for a deadline after the next one.
            while heap and heap[0][2].cancelled:
                heapq.heappop(heap)
                self._cancelled -= 1
            if heap:
                if heap[0][0] < self._armed:
                    self._arm(heap[0][0])
            elif self._armed == math.inf and self._timerfd is not None:
                self._timerfd.clear()

    def _forget(self) -> None:
        """A timer still in the heap was cancelled; drop them all once they are most of it.

        A daemon that sleeps hours ahead and is woken by every control command would
        otherwise keep each cancelled sleep until its deadline (asyncio does the same).
        """
        self._cancelled += 1
        if self._cancelled > 100 and self._cancelled * 2 > len(self._heap):
            self._heap = [entry for entry in self._heap if not entry[2].cancelled]
            heapq.heapify(self._heap)
            self._cancelled = 0


class _LoopTimer:
    """One deadline of a :class:`RealClock`."""

    __slots__ = ("callback", "cancelled", "owner")

    def __init__(self, owner: RealClock, callback: Callable[[], None]) -> None:
        self.owner: RealClock | None = owner
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            if self.owner is not None:
                self.owner._forget()
            self.owner = None

    def run(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self.cancelled, self.owner = True, None  # out of the heap: cancel() is a no-op now
        try:
            self.callback()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as err:
            if loop is None:
                raise
            loop.call_exception_handler(
                {"message": "Exception in a RealClock callback", "exception": err}
            )


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


def resolve_future(fut: asyncio.Future[None]) -> None:
    """Complete ``fut`` unless it is already done (a timer callback)."""
    if not fut.done():
        fut.set_result(None)


_resolve = resolve_future
