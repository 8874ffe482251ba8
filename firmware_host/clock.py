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
from collections.abc import Callable
from typing import Protocol

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


class RealClock:
    """Monotonic time with sub-millisecond wake-ups from a timer thread.

    The thread sleeps to ``deadline - HANDOFF_S`` and hands the wake-up to the event loop,
    which spins out what is left: passing a wake-up from a thread to the loop costs about
    0.25 ms on a small machine, more than the whole error budget of an edge.
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
        if deadline <= time.monotonic():
            await asyncio.sleep(0)  # late already: still let the other tasks run
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        timer = self.call_at(deadline, lambda: _resolve(fut))
        try:
            await fut
        finally:
            timer.cancel()

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


def resolve_future(fut: asyncio.Future[None]) -> None:
    """Complete ``fut`` unless it is already done (a timer callback)."""
    if not fut.done():
        fut.set_result(None)


_resolve = resolve_future
