"""The real clock wakes at (never before) its deadlines and can be called off."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from core_testlib import run_virtual

from firmware_host.clock import LoopClock, RealClock, ThreadClock

REAL_CLOCKS = pytest.mark.parametrize("make", [RealClock, ThreadClock], ids=["timerfd", "thread"])


def test_real_clock_never_wakes_early_and_keeps_order() -> None:
    async def scenario() -> list[tuple[int, float, float]]:
        clock = RealClock()
        start = clock.now()
        woke: list[tuple[int, float, float]] = []

        async def sleeper(i: int, deadline: float) -> None:
            await clock.sleep_until(deadline)
            woke.append((i, deadline, time.monotonic()))

        # Scheduled out of order, and one already in the past. Spaced by 50 ms and more: on a
        # loaded 2-core machine the process can be descheduled for 10+ ms between starting
        # two sleepers, and a 10 ms spacing then reordered the wake-ups (the clock was right).
        offsets = [0.3, 0.1, 0.2, -1.0, 0.15]
        await asyncio.gather(*(sleeper(i, start + o) for i, o in enumerate(offsets)))
        return woke

    woke = asyncio.run(scenario())
    assert all(actual >= deadline for _, deadline, actual in woke)
    assert [i for i, _, _ in woke] == [3, 1, 4, 2, 0]


@REAL_CLOCKS
def test_cancelled_timer_never_fires(make: type[RealClock]) -> None:
    async def scenario() -> list[str]:
        clock = make()
        fired: list[str] = []
        now = clock.now()
        handle = clock.call_at(now + 0.01, lambda: fired.append("cancelled one"))
        clock.call_at(now + 0.02, lambda: fired.append("kept"))
        handle.cancel()
        await clock.sleep_until(now + 0.03)
        return fired

    assert asyncio.run(scenario()) == ["kept"]


def test_virtual_clock_jumps_and_anchors_wall_time() -> None:
    async def scenario() -> tuple[float, float]:
        clock = LoopClock(epoch=1_000_000.0)
        wall0 = clock.wall()
        t0 = clock.now()
        await clock.sleep_until(t0 + 8 * 3600)
        return clock.now() - t0, clock.wall() - wall0

    elapsed, wall = run_virtual(scenario)
    assert elapsed == 8 * 3600 and wall == 8 * 3600


def test_real_clock_needs_no_thread_and_survives_a_new_event_loop() -> None:
    clock = RealClock()

    async def nap() -> int:
        await clock.sleep_until(clock.now() + 0.005)
        return threading.active_count()

    before = threading.active_count()
    assert asyncio.run(nap()) == before  # a timerfd in the loop, no timer thread
    assert asyncio.run(nap()) == before  # the next loop gets its own timerfd
    clock.close()
