"""Property tests: random, mutated, replayed and wrongly keyed messages never move anything.

At least 10,000 generated messages go through the CPython band core (both as bare BLE
messages and through the serial frame decoder) and through the host's receive path; a
smaller batch goes to the real MicroPython firmware over its pty.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from band_testlib import KEY, MicroBand
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pc6_device import band_core
from pc6_device import protocol as p
from pc6_sim.band import SimBoard

from firmware_host.drive.band.serial import SerialLink

MIN_MESSAGES = 10_000
OTHER_KEYS = st.binary(min_size=32, max_size=32).filter(lambda k: k != KEY)


def legit_session(core: band_core.BandCore) -> list[bytes]:
    """A real host's messages (accepted once), then a STOP: the replay material."""
    sent = []
    for counter, level in enumerate([1000, 30000, 65535, 20], start=1):
        msg = p.encode_set(KEY, core.nonce, counter, level, 2000, 100)
        sent.append(msg)
        core.handle(msg, counter, "usb")
    sent.append(p.encode_play(KEY, core.nonce, 5, 2000, [(10, 5000), (0, 0)], False))
    core.handle(sent[-1], 5, "usb")
    sent.append(p.encode_keep(KEY, core.nonce, 6, 2000))
    core.handle(sent[-1], 6, "usb")
    core.handle(p.encode_stop(KEY, core.nonce, 7), 7, "usb")
    return sent


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    match rng.randrange(5):
        case 0:  # flip bits
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(buf))
                buf[i] ^= 1 << rng.randrange(8)
        case 1:  # truncate
            del buf[rng.randrange(len(buf)) :]
        case 2:  # extend
            buf += bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        case 3:  # swap the tag for another
            buf[-8:] = bytes(rng.randrange(256) for _ in range(8))
        case _:  # change the counter to something higher (the tag no longer fits)
            if len(buf) >= 6:
                buf[2:6] = rng.randrange(1 << 32).to_bytes(4, "big")
    return bytes(buf)


@st.composite
def hostile(draw: st.DrawFn, nonce: bytes, legit: list[bytes]) -> bytes:
    """One hostile message."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.binary(max_size=120))
    if kind == 1:
        return draw(st.sampled_from(legit))  # replay
    rng = random.Random(draw(st.integers(0, 2**32)))
    if kind == 2:
        return mutate(draw(st.sampled_from(legit)), rng)
    key = draw(OTHER_KEYS)
    counter = draw(st.integers(1, 2**32 - 1))
    level = draw(st.integers(1, p.LEVEL_MAX))
    if kind == 3:
        return p.encode_set(key, nonce, counter, level, 2000, 0)
    if kind == 4:
        return p.encode_play(key, nonce, counter, 2000, [(0, level)], False)
    return p.encode_set(KEY, bytes(8), counter, level, 2000, 0)  # right key, wrong boot


def fresh_core() -> tuple[band_core.BandCore, SimBoard, list[bytes]]:
    board = SimBoard(band_id=bytes(8), key=KEY, rng=random.Random(1))
    core = band_core.BandCore(board, p.KIND_VIBRATION, 0)
    return core, board, legit_session(core)


def test_core_never_actuates_on_hostile_messages() -> None:
    core, board, legit = fresh_core()
    accepted_before = core.accepted
    seen = [0]
    decoder = p.FrameDecoder()

    @settings(
        max_examples=400,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.lists(hostile(core.nonce, legit), min_size=25, max_size=40),
        st.sampled_from(["usb", "ble"]),
    )
    def run(batch: list[bytes], transport: str) -> None:
        for i, message in enumerate(batch):
            now = 100 + seen[0] + i
            core.handle(message, now, transport)
            framed = p.encode_frame(i, message) if len(message) <= p.MAX_MESSAGE else message
            for _seq, inner in decoder.feed(mutate(framed, random.Random(i)) if i % 2 else framed):
                core.handle(inner, now, transport)
            core.tick(now)
            assert board.level == 0
        seen[0] += len(batch)

    run()
    assert seen[0] >= MIN_MESSAGES
    assert core.accepted == accepted_before
    assert core.rejected + core.replays + core.malformed > MIN_MESSAGES // 2
    assert core.replays > 0


def test_host_receive_path_survives_garbage() -> None:
    seen = [0]

    async def feed(batch: list[bytes]) -> None:
        link = SerialLink("/dev/null")
        for message in batch:
            link._received(message)
            link._feed(message)
        seen[0] += len(batch)

    @settings(max_examples=100, deadline=None, database=None, derandomize=True)
    @given(st.lists(st.binary(max_size=100), min_size=10, max_size=30))
    def run(batch: list[bytes]) -> None:
        asyncio.run(feed(batch))

    run()
    assert seen[0] >= 1000


async def test_micropython_firmware_never_actuates_on_hostile_frames(tmp_path: Path) -> None:
    band = MicroBand(tmp_path)
    try:
        sent: list[bytes] = []
        async with SerialLink(band.path, key=KEY) as link:
            original = link._send

            async def record(message: bytes) -> None:
                sent.append(message)
                await original(message)

            link._send = record  # type: ignore[method-assign]
            await link.set_level(0.5, lease_s=2.0)
            await link.set_level(0.9, lease_s=2.0, ramp_s=0.05)
            await link.keep(lease_s=2.0)
            nonce = link.info.nonce if link.info else b""
        legit = [m for m in sent if p.decode(m).type in p.AUTHENTICATED]
        after_legit = len(band.rows())
        rng = random.Random(7)
        stream = bytearray()
        for i in range(1500):
            choice = i % 5
            if choice == 0:
                message = legit[rng.randrange(len(legit))]
            elif choice == 1:
                message = mutate(legit[rng.randrange(len(legit))], rng)
            elif choice == 2:
                message = p.encode_set(bytes(32), nonce, 10**6 + i, 65535, 2000, 0)
            elif choice == 3:
                message = bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
            else:
                message = p.encode_play(KEY, bytes(8), 10**6 + i, 2000, [(0, 65535)], False)
            frame = p.encode_frame(i, message[: p.MAX_MESSAGE])
            stream += mutate(frame, rng) if i % 7 == 0 else frame
        async with SerialLink(band.path, key=KEY) as link:
            port = link._serial
            assert port is not None
            loop = asyncio.get_running_loop()
            for i in range(0, len(stream), 512):  # the firmware reads as fast as it can
                await loop.run_in_executor(None, port.write, bytes(stream[i : i + 512]))
            try:
                status = await link.status()
            except Exception:
                raise AssertionError(f"firmware gone: rc={band.proc.poll()}") from None
            assert band.proc.poll() is None
        assert all(duty == 0 for _, duty in band.rows()[after_legit:])
        assert status.replays >= 200
        assert status.rejected >= 600
        assert status.corrupt > 0
    finally:
        band.close()


#: The window the PLAY fuzz plays: four PLAYs (one replacing, three appended) fill the
#: band's queue with 6.2 s of steps, holds and ramps; the lease of the last PLAY (5 s after
#: it) cuts it short, as it would when the host stops.
PLAYING = [(0, 20000), (400, 20000), (300, 50000), (0, 10000), (500, 10000), (0, 0)] * 5 + [
    (200, 30000),
    (0, 10000),
]
PLAY_LEASE_MS = 5000


def start_window(core: band_core.BandCore, now: int) -> list[bytes]:
    """Queue :data:`PLAYING` as a host streams it; return the messages (to replay)."""
    sent = []
    for i in range(0, len(PLAYING), p.PLAY_MAX_STEPS):
        counter = core.last_counter + 1
        steps = PLAYING[i : i + p.PLAY_MAX_STEPS]
        sent.append(p.encode_play(KEY, core.nonce, counter, PLAY_LEASE_MS, steps, i > 0))
        replies = core.handle(sent[-1], now, "usb")
        assert p.decode(replies[0]).result == p.OK
    return sent


def queued(core: band_core.BandCore, now: int) -> int:
    """The ramps the band has queued, as its STATUS says."""
    (status,) = [m for m in map(p.decode, core.handle(p.encode_ping(1), now)) if m.type == p.STATUS]
    return int(status.queue_len)


def refused_argument(core: band_core.BandCore, i: int, queue_len: int) -> bytes:
    """A message with the right key and a fresh counter that the band must refuse (E_BAD_ARG):
    what a buggy host, not an attacker, could send while a window plays."""
    nonce, counter = core.nonce, core.last_counter + 1
    full = queue_len + p.PLAY_MAX_STEPS > p.QUEUE_MAX
    match i % 4 if full else i % 3:
        case 0:  # a ramp down without a lease
            return p.encode_set(KEY, nonce, counter, 0, 0, 1 + i % 5000)
        case 1:
            return p.encode_play(KEY, nonce, counter, 0, [(0, 65535)], False)
        case 2:
            return p.encode_keep(KEY, nonce, counter, 0)
        case _:  # the queue has no room for eight more ramps
            return p.encode_play(KEY, nonce, counter, 65535, [(9999, 65535)] * 8, True)


def test_core_never_changes_a_playing_window_on_hostile_messages() -> None:
    # A legit PLAY window is playing; hostile messages (replays of it included), over BLE
    # and through the serial frame decoder, must leave the output exactly where a band that
    # heard only the window puts it: the same breakpoints, and the same cut at its lease end.
    core, board, legit = fresh_core()
    reference, ref_board, _ = fresh_core()
    rows: list[tuple[int, int]] = []
    ref_rows: list[tuple[int, int]] = []
    core.on_breakpoint = lambda t, v: rows.append((t, v))
    reference.on_breakpoint = lambda t, v: ref_rows.append((t, v))
    legit += start_window(core, 100)
    start_window(reference, 100)
    lease_end = 100 + PLAY_LEASE_MS
    decoder = p.FrameDecoder()
    seen, refused = [0], [0]
    levels: set[int] = set()

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(hostile(core.nonce, legit), min_size=30, max_size=40), st.booleans())
    def run(batch: list[bytes], over_ble: bool) -> None:
        for i, message in enumerate(batch):
            now = 100 + seen[0] * 6 // 10  # on through the window, its lease and beyond
            seen[0] += 1
            if over_ble:
                core.handle(message, now, "ble")
            else:
                framed = p.encode_frame(i, message[: p.MAX_MESSAGE])
                for _seq, inner in decoder.feed(
                    mutate(framed, random.Random(i)) if i % 3 else framed
                ):
                    core.handle(inner, now, "usb")
            if i % 4 == 0:
                bad = refused_argument(core, seen[0] // 4, queued(core, now))
                replies = core.handle(bad, now, "usb")  # after a FAULT if the lease ran out
                assert p.decode(replies[-1]).result == p.E_BAD_ARG
                refused[0] += 1
            core.tick(now)
            reference.tick(now)
            assert board.level == ref_board.level
            levels.add(board.level)

    run()
    assert seen[0] >= MIN_MESSAGES
    assert 100 + seen[0] * 6 // 10 > lease_end + 500
    assert rows == ref_rows
    assert {0, 10000, 20000} <= levels and 45000 < max(levels) <= 50000  # the window played
    assert (core.expiries, board.level) == (1, 0)
    assert refused[0] > MIN_MESSAGES // 5
    assert core.rejected + core.replays + core.malformed + decoder.corrupt > MIN_MESSAGES // 2
