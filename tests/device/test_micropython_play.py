"""Hostile frames at the real MicroPython firmware while a PLAY window plays.

The firmware (``device/main.py`` under the MicroPython unix port, on a real pty) is given a
legitimate window of 32 ramps, the host's way: one replacing PLAY and three appended ones.
Then hostile frames arrive, one at a time with their answers checked, or as a flood at the
rate the firmware reads. What the wearer would notice is read from the fake ``machine``
module's PWM trace, the pin itself: the output must follow the queued window (every edge
of it, most within the firmware's 10 ms tick and none more than 50 ms off; no level off
the window's path or above it), and go to 0 when the lease of the last legitimate PLAY
runs out.

The firmware runs on the real clock (its unix port has no injectable one), so these tests
are real-time and short: a window lasts about 1.6 s.
"""

from __future__ import annotations

import contextlib
import os
import select
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from band_testlib import KEY, MicroBand, until_sync
from firmware_wire import (
    CHUNKS,
    CORRUPT,
    EDGE_MS,
    LEASE_MS,
    OTHER_KEY,
    REJECTED,
    REPLAYS,
    TICK_MS,
    UART_BYTES_PER_S,
    Window,
    Wire,
    catalogue,
    cut_at,
    flood_for,
    framed,
    hostile_stream,
    pin_errors,
)
from pc6_device import protocol as p

pytestmark = pytest.mark.realtime


@pytest.fixture
def band(tmp_path: Path) -> Iterator[MicroBand]:
    band = MicroBand(tmp_path)
    yield band
    band.close()


def on_time(errors: list[float]) -> bool:
    """Most steps within the firmware's tick (a loaded machine may delay a few)."""
    return sorted(abs(e) for e in errors)[len(errors) // 2] <= TICK_MS


def counts(status: p.Message) -> dict[str, int]:
    """The STATUS counters a hostile frame may raise."""
    return {REJECTED: status.rejected, REPLAYS: status.replays, CORRUPT: status.corrupt}


def test_hostile_frames_during_play_get_their_documented_answer_and_move_nothing(
    band: MicroBand,
) -> None:
    wire = Wire(band.slave)
    window = Window(wire)
    _, status = wire.ping(0)
    for token, (name, frame, result, raised) in enumerate(catalogue(window), start=1):
        wire.write(frame)
        answers, after = wire.ping(token)
        if result is None:
            assert answers == [], f"{name}: answered {answers}"
        else:
            assert [(m.type, m.result) for m in answers] == [(p.ACK, result)], f"{name}: {answers}"
        delta = {k: v - counts(status)[k] for k, v in counts(after).items()}
        assert delta == {k: int(k in raised) for k in delta}, f"{name}: counted {delta}"
        assert after.lease_left_ms > 0, f"{name}: the window's lease ran out mid-catalogue"
        status = after
    notes = wire.until(lambda m: m.type == p.FAULT, "lease expiry", LEASE_MS / 1000 + 2)
    assert [(m.type, m.code) for m in notes] == [(p.FAULT, p.F_LEASE_EXPIRED)]
    assert on_time(pin_errors(window.path, band.rows(), window.start_ms))


def test_a_stop_from_anyone_ends_the_window_and_replays_do_not_restart_it(band: MicroBand) -> None:
    # Off is the safe state: the band honours a STOP without a tag (PROTOCOL.md).
    wire = Wire(band.slave)
    window = Window(wire)
    second = CHUNKS[1][0][1]
    until_sync(lambda: any(d == second for _, d in band.rows()), 2.0, "the second chunk")
    stop = wire.ask(p.encode_stop())
    assert (stop.result, stop.level, stop.queue_len) == (p.OK, 0, 0)
    for message in window.sent:
        assert wire.ask(message).result == p.E_REPLAY
    answers, status = wire.ping(1)
    assert answers == [] and (status.level, status.lease_left_ms, status.flags & 2) == (0, 0, 0)
    assert on_time(pin_errors(cut_at(window.path, stop.at_ms), band.rows(), window.start_ms))


def assert_harmless(stream: bytes, window: Window) -> None:
    """Nothing in ``stream`` is a STOP or a message the band may obey (the test's own check:
    a random frame could pass its CRC)."""
    for _seq, message in p.FrameDecoder().feed(stream):
        with contextlib.suppress(p.ProtocolError):
            m = p.decode(message)
            assert m.type != p.STOP
            if m.type in p.AUTHENTICATED and p.verify(KEY, window.nonce, message):
                assert m.counter <= window.counter or m.lease_ms == 0, m


def test_a_flood_during_play_changes_nothing_and_the_lease_still_cuts_on_time(
    band: MicroBand,
) -> None:
    # Hostile frames at the rate the firmware reads them, from the window's start until
    # after its lease has cut it: the read loop must still play every edge and cut on time.
    wire = Wire(band.slave)
    window = Window(wire)
    stream = hostile_stream(window)
    assert_harmless(stream, window)
    rate = flood_for(wire, stream, (window.lease_end_ms - window.start_ms) / 1000 + 0.3)
    assert rate > UART_BYTES_PER_S, f"the flood ran at {rate:.0f} B/s"
    heard, status = wire.ping(0xF100)
    faults = [(m.code, m.detail) for m in heard if m.type == p.FAULT]
    results = {m.result for m in heard if m.type == p.ACK}
    assert faults == [(p.F_LEASE_EXPIRED, 1)]
    assert results == {p.E_UNAUTH, p.E_REPLAY, p.E_BAD_ARG}
    # Hundreds of each while the window played (how many depends on the machine's load).
    assert min(status.rejected, status.replays, status.corrupt) > 50, status
    errors = pin_errors(window.path, band.rows(), window.start_ms)
    assert on_time(errors)
    assert -TICK_MS <= errors[-1] <= EDGE_MS, f"the lease cut {errors[-1]:.1f} ms late"


def test_a_host_that_never_reads_its_answers_cannot_hold_the_output_on(band: MicroBand) -> None:
    # Rejected frames are answered; a host that floods them and never reads the answers
    # used to fill the pty until the firmware blocked writing one, with the output on: the
    # lease was never enforced (on a board, only the 2 s watchdog would have ended it).
    wire = Wire(band.slave)
    window = Window(wire)
    flood_end = time.monotonic() + LEASE_MS / 1000 + 0.3  # past the lease, on the real clock
    stream = b"".join(
        framed(p.encode_set(OTHER_KEY, window.nonce, i, 65535, 5000)) for i in range(1, 2000)
    )
    written = 0
    while (left := flood_end - time.monotonic()) > 0:  # nothing is read: the answers pile up
        try:
            written += os.write(wire.fd, stream[written % len(stream) :][:512])
        except BlockingIOError:  # the firmware takes its time with a host that does not read
            select.select([], [wire.fd], [], left)
    wire.write(b"\x00")
    heard, status = wire.ping(0xF200)
    assert [m.code for m in heard if m.type == p.FAULT] in ([], [p.F_LEASE_EXPIRED])
    assert status.expiries == 1 and status.rejected > 100, status
    errors = pin_errors(window.path, band.rows(), window.start_ms)
    assert on_time(errors)
    assert -TICK_MS <= errors[-1] <= EDGE_MS, f"the lease cut {errors[-1]:.1f} ms late"
