"""The real clock wakes at (never before) its deadlines and can be called off."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import tracemalloc

import pytest
from core_testlib import run_virtual

from firmware_host import clock as clock_module
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


def test_the_real_clock_wakes_from_a_timerfd_in_order_and_never_early() -> None:
    # Deadlines spaced 1 ms apart, scheduled in reverse: the order of the wake-ups is the
    # clock's, not the scheduler's, because every callback is registered before the
    # loop runs any of them.
    async def scenario() -> tuple[list[tuple[int, float, float]], int]:
        clock = RealClock()
        woke: list[tuple[int, float, float]] = []
        start = clock.now() + 0.05
        for i in reversed(range(20)):
            deadline = start + i * 0.001
            clock.call_at(deadline, lambda i=i, d=deadline: woke.append((i, d, time.monotonic())))
        fd = clock.fileno
        await clock.sleep_until(start + 0.03)
        clock.close()
        return woke, fd

    woke, fd = asyncio.run(scenario())
    assert fd >= 0  # the timerfd path, not the thread fallback
    assert [i for i, _, _ in woke] == list(range(20))
    assert all(actual >= deadline for _, deadline, actual in woke)


def test_close_stops_watching_and_closes_the_timerfd() -> None:
    async def scenario() -> tuple[int, bool, list[str]]:
        clock = RealClock()
        fired: list[str] = []
        await clock.sleep_until(clock.now() + 0.001)
        fd = clock.fileno
        clock.call_at(clock.now() + 0.005, lambda: fired.append("dropped by close"))
        clock.close()
        clock.close()
        still_watched = asyncio.get_running_loop().remove_reader(fd)
        await asyncio.sleep(0.02)
        return fd, still_watched, fired

    fd, still_watched, fired = asyncio.run(scenario())
    assert not still_watched
    with pytest.raises(OSError):
        os.fstat(fd)
    assert fired == []


def test_a_raising_callback_does_not_stop_the_lease_behind_it() -> None:
    # A lease expiry due at the same moment as a broken callback must still turn the output
    # off; the error goes to the loop's exception handler, as asyncio reports its own.
    async def scenario() -> tuple[list[str], list[str]]:
        loop = asyncio.get_running_loop()
        reported: list[str] = []
        loop.set_exception_handler(lambda _loop, ctx: reported.append(str(ctx["exception"])))
        clock = RealClock()
        fired: list[str] = []

        def broken() -> None:
            raise RuntimeError("broken callback")

        deadline = clock.now() + 0.01
        clock.call_at(deadline, broken)
        clock.call_at(deadline, lambda: fired.append("lease expired: output off"))
        clock.call_at(deadline + 0.01, lambda: fired.append("next wake-up"))
        await clock.sleep_until(deadline + 0.02)
        clock.close()
        return fired, reported

    fired, reported = asyncio.run(scenario())
    assert fired == ["lease expired: output off", "next wake-up"]
    assert reported == ["broken callback"]


def test_a_callback_scheduling_later_keeps_the_earlier_deadline() -> None:
    # The lease timer is due at +20 ms; a callback firing at +10 ms schedules something an
    # hour ahead. The lease must still fire (soon), not an hour later with the other one.
    async def scenario() -> float:
        clock = RealClock()
        t0 = clock.now()
        lease: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        clock.call_at(t0 + 0.02, lambda: lease.set_result(clock.now() - t0))
        clock.call_at(t0 + 0.01, lambda: clock.call_at(t0 + 3600.0, lambda: None))
        try:
            return await asyncio.wait_for(lease, 10.0)  # asyncio's own timer as the referee
        finally:
            clock.close()

    assert asyncio.run(scenario()) >= 0.02


def test_an_idle_loop_does_not_spin_after_the_last_wake_up() -> None:
    # After the last deadline the timerfd must not stay readable, or the loop would wake
    # without end; counted as iterations of the loop's selector while the clock is idle.
    async def scenario() -> int:
        clock = RealClock()
        await clock.sleep_until(clock.now() + 0.002)
        selector = asyncio.get_running_loop()._selector  # type: ignore[attr-defined]
        polls = 0
        select = selector.select

        def counting(timeout: float | None = None) -> list[object]:
            nonlocal polls
            polls += 1
            return select(timeout)  # type: ignore[no-any-return]

        selector.select = counting
        await asyncio.sleep(0.05)
        del selector.select
        clock.close()
        return polls

    assert asyncio.run(scenario()) <= 3


def test_cancelled_far_sleeps_do_not_pile_up() -> None:
    # The daemon sleeps hours ahead and every control command wakes it early: each woken
    # sleep leaves a cancelled timer that must not stay in memory until its deadline.
    async def scenario() -> int:
        clock = RealClock()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(20_000):
            clock.call_at(clock.now() + 3600.0, lambda: None).cancel()
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        clock.close()
        return grown

    assert asyncio.run(scenario()) < 100_000  # about 120 B each would be 2.4 MB


def test_without_a_timerfd_the_real_clock_falls_back_to_a_timer_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Stands in for a platform without timerfd (macOS, BSD): Timerfd() raises there.
    def no_timerfd() -> None:
        raise OSError("no timerfd on this platform")

    monkeypatch.setattr(clock_module, "Timerfd", no_timerfd)

    async def scenario() -> tuple[list[int], int]:
        clock = RealClock()
        woke: list[int] = []
        now = clock.now()
        clock.call_at(now + 0.02, lambda: woke.append(2))
        clock.call_at(now + 0.01, lambda: woke.append(1))
        cancelled = clock.call_at(now + 0.015, lambda: woke.append(99))
        cancelled.cancel()
        await clock.sleep_until(now + 0.03)
        return woke, clock.fileno

    woke, fd = asyncio.run(scenario())
    assert woke == [1, 2]
    assert fd == -1
