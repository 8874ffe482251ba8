"""The timerfd under RealClock: the kernel behaviour the clock relies on, per backend.

On CI (Linux x86_64, Python 3.11) the backend is libc through ctypes; on Python ≥ 3.13
``os.timerfd_*`` is tested as well. Nothing here waits on a timer to fire in the future:
deadlines are in the past (fires at once) or far ahead (must not fire).
"""

from __future__ import annotations

import select
import time

import pytest

from firmware_host.timerfd import BACKENDS, Timerfd, deadline_ns

BACKEND = pytest.mark.parametrize("backend", BACKENDS)


def readable(timerfd: Timerfd) -> bool:
    return bool(select.select([timerfd.fd], [], [], 0)[0])


def test_linux_has_a_timerfd() -> None:
    # CI runs Linux: if neither backend loads there, RealClock silently becomes the old
    # thread clock, and this says so instead.
    assert "libc" in BACKENDS


@BACKEND
def test_a_past_deadline_fires_at_once_and_reading_forgets_it(backend: str) -> None:
    timerfd = Timerfd(backend)
    try:
        timerfd.arm(time.monotonic() - 1.0)
        select.select([timerfd.fd], [], [], 5.0)  # returns as soon as it fires
        assert readable(timerfd)
        assert timerfd.clear() == 1
        assert not readable(timerfd)
        assert timerfd.clear() == 0  # nothing more to read, and no exception
    finally:
        timerfd.close()


@BACKEND
def test_re_arming_after_an_expiry_makes_it_unreadable_without_a_read(backend: str) -> None:
    # RealClock re-arms instead of reading after each wake-up: if the kernel kept the old
    # expiry readable, the event loop would spin at 100 % CPU until the next deadline.
    timerfd = Timerfd(backend)
    try:
        timerfd.arm(time.monotonic() - 1.0)
        select.select([timerfd.fd], [], [], 5.0)
        assert readable(timerfd)
        timerfd.arm(time.monotonic() + 3600.0)
        assert not readable(timerfd)
        timerfd.arm(time.monotonic() - 1.0)
        select.select([timerfd.fd], [], [], 5.0)
        timerfd.disarm()
        assert not readable(timerfd)
    finally:
        timerfd.close()


@BACKEND
def test_a_future_deadline_does_not_fire_early(backend: str) -> None:
    timerfd = Timerfd(backend)
    try:
        timerfd.arm(time.monotonic() + 3600.0)
        assert not select.select([timerfd.fd], [], [], 0.02)[0]
    finally:
        timerfd.close()


@pytest.mark.parametrize("deadline", [0.0, 1e-10, 0.1, 0.3, 12345.678901234, 1e7 + 0.1])
def test_deadlines_round_up_to_the_nanosecond(deadline: float) -> None:
    ns = deadline_ns(deadline)
    assert ns >= 1  # 0 would disarm the timer
    assert ns / 1e9 >= deadline
    assert ns - deadline * 1e9 < 2.0 + deadline * 1e9 * 2**-52


@BACKEND
def test_close_closes_the_descriptor_and_is_harmless_twice(backend: str) -> None:
    timerfd = Timerfd(backend)
    fd = timerfd.fd
    timerfd.close()
    timerfd.close()
    assert timerfd.fd == -1
    with pytest.raises(OSError):
        select.select([fd], [], [], 0)


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(OSError, match="not available"):
        Timerfd("nonesuch")
