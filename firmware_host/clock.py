"""Clocks: the only source of time in pc6band.

``RealClock`` is monotonic and wakes tasks well under a millisecond after their deadline:
asyncio's own timers round up to whole milliseconds (epoll), so a helper thread sleeps to
each absolute deadline and hands the wake-up back to the loop. ``LoopClock`` reads the
running event loop's time, which on a virtual-time loop (the simulator's) jumps straight to
the next deadline.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
import time
from typing import Protocol


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
        """The loop's monotonic time."""
        return asyncio.get_running_loop().time()

    def wall(self) -> float:
        """Epoch seconds: the anchor plus the loop time elapsed since first asked."""
        now = self.now()
        if self._origin is None:
            self._origin = now
        return self._epoch + (now - self._origin)

    async def sleep_until(self, deadline: float) -> None:
        """Sleep on the loop's own timers."""
        delay = deadline - self.now()
        if delay > 0:
            await asyncio.sleep(delay)


class RealClock:
    """Monotonic time with sub-millisecond wake-ups from a timer thread."""

    simulated = False

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
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
        if deadline <= time.monotonic():
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._cond:
            heapq.heappush(self._heap, (deadline, next(self._seq), fut))
            self._start_locked()
            self._cond.notify()
        await fut

    def _start_locked(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="pc6-clock", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][2].done():
                    heapq.heappop(self._heap)  # cancelled sleepers
                if not self._heap:
                    # Nothing to wait for: park without a timeout, costing no wake-ups.
                    self._cond.wait()
                    continue
                deadline, _, fut = self._heap[0]
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                heapq.heappop(self._heap)
                _wake(fut)


def _wake(fut: asyncio.Future[None]) -> None:
    loop = fut.get_loop()
    if loop.is_closed():
        return
    loop.call_soon_threadsafe(_resolve, fut)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
