"""The firmware core under CPython: leases, clamps, PLAY, authentication, counters."""

from __future__ import annotations

import pytest
from band_testlib import KEY
from pc6_device import band_core
from pc6_device import protocol as p
from pc6_sim.band import SimBoard

HALF = 0x8000


class Band:
    """A core on a SimBoard with its breakpoints recorded."""

    def __init__(
        self, kind: int = p.KIND_VIBRATION, key: bytes | None = KEY, ceiling: int = p.LEVEL_MAX
    ) -> None:
        self.rows: list[tuple[int, int]] = []
        self.board = SimBoard(band_id=b"\x00" * 8, key=key)
        self.core = band_core.BandCore(
            self.board, kind, 0, ceiling, 0, p.RESET_POWER_ON, lambda t, v: self.rows.append((t, v))
        )
        self.counter = 0

    def send(self, message: bytes, now: int, transport: str = "usb") -> p.Message:
        replies = self.core.handle(message, now, transport)
        return p.decode(replies[0])

    def set(self, level: int, lease: int, now: int, ramp: int = 0) -> p.Message:
        self.counter += 1
        return self.send(p.encode_set(KEY, self.core.nonce, self.counter, level, lease, ramp), now)

    def play(
        self, steps: list[tuple[int, int]], lease: int, now: int, append: bool = False
    ) -> p.Message:
        self.counter += 1
        return self.send(
            p.encode_play(KEY, self.core.nonce, self.counter, lease, steps, append), now
        )


def test_starts_off() -> None:
    band = Band()
    assert band.board.level == 0
    assert band.rows == [(0, 0)]


def test_set_holds_for_the_lease_then_cuts_to_zero() -> None:
    band = Band()
    assert band.set(HALF, 2000, 100).result == p.OK
    assert band.board.level == HALF
    band.core.tick(2099)
    assert band.board.level == HALF
    notes = band.core.tick(2100)
    assert band.board.level == 0
    assert [p.decode(n).code for n in notes] == [p.F_LEASE_EXPIRED]
    assert band.core.expiries == 1
    assert band.rows == [(0, 0), (100, 0), (100, HALF), (2100, HALF), (2100, 0)]


def test_keep_renews_the_lease_without_touching_the_ramp() -> None:
    band = Band()
    band.set(HALF, 1000, 0, ramp=2000)
    band.counter += 1
    ack = band.send(p.encode_keep(KEY, band.core.nonce, band.counter, 1000), 900)
    assert ack.result == p.OK
    band.core.tick(1500)
    assert band.core.level_at(1500) == HALF * 1500 // 2000
    band.core.tick(1900)
    assert band.board.level == 0  # the renewed lease ran out at 1900


def test_band_clamps_lease_to_its_own_maximum() -> None:
    band = Band(kind=p.KIND_PRESSURE)
    band.set(HALF, 60000, 0)
    band.core.tick(2999)
    assert band.board.level == HALF
    band.core.tick(3000)
    assert band.board.level == 0


def test_band_clamps_level_to_its_ceiling() -> None:
    band = Band(ceiling=20000)
    ack = band.set(p.LEVEL_MAX, 1000, 0)
    assert ack.level == 20000
    assert band.core.clamps == 1


def test_zero_lease_is_refused() -> None:
    band = Band()
    assert band.set(HALF, 0, 0).result == p.E_BAD_ARG
    assert band.board.level == 0


def test_a_step_to_zero_needs_no_lease() -> None:
    band = Band()
    band.set(HALF, 1000, 0)
    assert band.set(0, 0, 100).result == p.OK
    assert band.board.level == 0
    band.core.tick(5000)
    assert band.core.expiries == 0


def test_a_ramp_down_without_a_lease_is_refused_and_the_old_lease_still_holds() -> None:
    # It used to be accepted: a 65 s ramp down then ran with no lease at all.
    band = Band()
    band.set(HALF, 1000, 0)
    assert band.set(0, 0, 100, ramp=65000).result == p.E_BAD_ARG
    band.core.tick(1000)
    assert band.board.level == 0
    assert band.core.expiries == 1


def test_a_ramp_down_under_a_lease_plays_out() -> None:
    band = Band()
    band.set(HALF, 1000, 0)
    assert band.set(0, 1000, 100, ramp=500).result == p.OK
    band.core.tick(350)
    assert band.board.level == HALF // 2
    band.core.tick(5000)
    assert band.board.level == 0
    assert band.core.expiries == 0


def test_ack_says_where_an_appended_play_lands_on_the_band_clock() -> None:
    band = Band()
    first = band.play([(0, HALF), (300, HALF)], 2000, 50)
    assert (first.at_ms, first.start_ms) == (50, 50)
    late = band.play([(0, 0), (100, 0)], 2000, 120, append=True)
    assert (late.at_ms, late.start_ms, late.queue_len) == (120, 350, 2)
    band.core.tick(1000)
    dry = band.play([(0, HALF)], 2000, 1000, append=True)  # the queue ran dry: starts now
    assert dry.start_ms == 1000


def test_ramp_is_linear_between_breakpoints() -> None:
    band = Band()
    band.set(40000, 5000, 1000, ramp=1000)
    assert band.core.level_at(1500) == 20000
    band.core.tick(2000)
    band.core.tick(2500)
    assert band.rows == [(0, 0), (1000, 0), (2000, 40000)]


def test_play_queue_runs_on_band_clock_with_append() -> None:
    band = Band()
    band.play([(0, 30000), (1000, 30000), (0, 0)], 5000, 0)
    band.play([(500, 60000), (0, 0)], 5000, 300, append=True)
    for t in range(0, 3000, 7):
        band.core.tick(t)
    band.core.tick(3000)
    assert band.rows == [(0, 0), (0, 30000), (1000, 30000), (1000, 0), (1500, 60000), (1500, 0)]


def test_lease_cuts_a_playing_queue() -> None:
    band = Band()
    band.play([(0, 30000), (10000, 30000)], 1000, 0)
    band.core.tick(1000)
    assert band.board.level == 0
    assert band.core.expiries == 1


def test_a_refused_play_does_not_renew_the_lease_of_the_playing_queue() -> None:
    # A PLAY that would overflow the queue used to be refused only after it had renewed
    # the lease: the queue then played (and held its last level) up to 5 s past its lease.
    band = Band()
    window = [(0, 20000)] + [(1000, 20000)] * 7
    band.play(window, 1000, 0)
    for _ in range(3):
        assert band.play(window, 1000, 0, append=True).result == p.OK
    refused = band.play(window, 5000, 900, append=True)
    assert (refused.result, refused.queue_len) == (p.E_BAD_ARG, 30)
    band.core.tick(999)
    assert band.board.level == 20000
    band.core.tick(1000)
    assert band.board.level == 0
    assert band.core.expiries == 1


def test_a_play_that_replaces_a_full_queue_is_accepted() -> None:
    # Only an append can overflow the queue; a replacing PLAY (a stop, a pause, a gate cut
    # sent as a new window) used to be refused while the queue held more than 24 ramps.
    band = Band()
    window = [(0, 20000)] + [(1000, 20000)] * 7
    band.play(window, 5000, 0)
    for _ in range(3):
        band.play(window, 5000, 0, append=True)
    replaced = band.play([(0, 5000)] + [(100, 5000)] * 7, 5000, 10)
    assert (replaced.result, replaced.level, replaced.queue_len) == (p.OK, 5000, 6)
    band.core.tick(710)
    assert band.board.level == 5000
    band.core.tick(4999)
    assert band.board.level == 5000
    band.core.tick(5010)
    assert band.board.level == 0


@pytest.mark.parametrize("transport", ["usb", "ble"])
def test_unpaired_band_refuses_to_actuate(transport: str) -> None:
    band = Band(key=None)
    ack = band.send(p.encode_set(KEY, band.core.nonce, 1, HALF, 1000, 0), 0, transport)
    assert ack.result == p.E_UNPAIRED
    assert band.board.level == 0


def test_pairing_over_usb_then_actuation() -> None:
    band = Band(key=None)
    ack = band.send(p.encode_pair(bytes(32), band.core.nonce, 1, KEY), 0)
    assert ack.result == p.OK
    assert band.board.load_key() == KEY
    band.counter = 1
    assert band.set(HALF, 1000, 10).result == p.OK


def test_pairing_over_ble_is_refused() -> None:
    band = Band(key=None)
    ack = band.send(p.encode_pair(bytes(32), band.core.nonce, 1, KEY), 0, "ble")
    assert ack.result == p.E_NOT_HERE
    assert band.core.key is None


def test_repairing_needs_the_old_key() -> None:
    band = Band()
    other = bytes(range(1, 33))
    assert band.send(p.encode_pair(bytes(32), band.core.nonce, 1, other), 0).result == p.E_UNAUTH
    assert band.send(p.encode_pair(KEY, band.core.nonce, 2, other), 0).result == p.OK
    assert band.core.key == other


def test_replayed_and_reordered_messages_are_refused_and_counted() -> None:
    band = Band()
    first = p.encode_set(KEY, band.core.nonce, 5, HALF, 1000, 0)
    older = p.encode_set(KEY, band.core.nonce, 4, p.LEVEL_MAX, 1000, 0)
    assert band.send(first, 0).result == p.OK
    band.send(p.encode_stop(KEY, band.core.nonce, 6), 1)
    assert band.send(first, 2).result == p.E_REPLAY
    assert band.send(older, 3).result == p.E_REPLAY
    assert band.board.level == 0
    assert band.core.replays == 2


def test_wrong_key_and_wrong_nonce_are_refused() -> None:
    band = Band()
    wrong = bytes(range(100, 132))
    assert band.send(p.encode_set(wrong, band.core.nonce, 1, HALF, 1000, 0), 0).result == p.E_UNAUTH
    assert band.send(p.encode_set(KEY, bytes(8), 1, HALF, 1000, 0), 0).result == p.E_UNAUTH
    assert band.board.level == 0
    assert band.core.rejected == 2


def test_unauthenticated_stop_still_stops() -> None:
    band = Band()
    band.set(HALF, 3000, 0)
    ack = band.send(p.encode_stop(), 10)
    assert ack.result == p.OK
    assert band.board.level == 0


def test_hello_reports_nonce_and_last_counter() -> None:
    band = Band()
    band.counter = 41
    band.set(HALF, 1000, 0)
    caps = p.decode(band.core.handle(p.encode_hello(), 1, "usb")[0])
    assert (caps.nonce, caps.last_counter, caps.paired) == (band.core.nonce, 42, 1)


def test_status_reports_counters() -> None:
    band = Band()
    band.send(p.encode_set(bytes(32), band.core.nonce, 1, HALF, 1000, 0), 0)
    status = p.decode(band.core.handle(p.encode_ping(77), 5, "usb")[0])
    assert (status.token, status.rejected, status.uptime_ms, status.battery_mv) == (77, 1, 5, 3900)


def test_a_lease_that_ran_out_before_a_message_is_reported_with_its_answer() -> None:
    # Under a stream of frames the band often notices a lease end while handling one; the
    # FAULT of that expiry used to be dropped, so the host never heard of it.
    band = Band()
    band.set(HALF, 1000, 0)
    replies = band.core.handle(p.encode_ping(7), 1000, "usb")
    assert [p.decode(r).type for r in replies] == [p.FAULT, p.STATUS]
    assert (p.decode(replies[0]).code, band.board.level) == (p.F_LEASE_EXPIRED, 0)
