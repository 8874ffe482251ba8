"""The host end of a pty to the real firmware, raw, and the PLAY window the fuzz tests play.

Shared by ``tests/device/test_micropython_play.py`` (which asserts) and
``bench/firmware_flood.py`` (which prints the figures): a :class:`Wire` sends frames and
reads the firmware's answers with nothing in between, a :class:`Window` queues a known
window of 32 ramps the host's way, :func:`pin_errors` checks the PWM trace against the
window worked out from its steps alone, and :func:`catalogue` / :func:`hostile_stream` are
the hostile frames.
"""

from __future__ import annotations

import os
import random
import select
import threading
import time
from collections.abc import Callable

from band_testlib import KEY
from pc6_device import protocol as p

#: The firmware's tick: it steps a ramp's PWM every 10 ms (``main.RAMP_STEP_MS``), and an
#: edge may land that far from its place on the band's clock and still be on time.
TICK_MS = 10
#: How far any edge may be from its place: the tick, and the time a process on a loaded
#: 2-core machine may wait for a CPU (the issue's bound on a lease cut under a byte stream).
EDGE_MS = TICK_MS + 40
#: The lease every legitimate PLAY carries: the window's 1.4 s, then a hold, then the cut.
LEASE_MS = 1600
#: The window: four chunks of 8 ramps (a step, a hold, a step, a hold, off, a pause, a
#: ramp up, a hold), each chunk on its own levels, 350 ms each.
CHUNKS = [
    [(0, a), (100, a), (0, b), (60, b), (0, 0), (50, 0), (100, c), (40, c)]
    for a, b, c in [
        (20000, 45000, 30000),
        (52000, 8000, 60000),
        (33000, 15000, 40000),
        (10000, 58000, 36000),
    ]
]
TOP = max(level for chunk in CHUNKS for _, level in chunk)
OTHER_KEY = bytes(range(100, 132))
#: What a real band's link can carry at most: USB serial at 115200 8N1.
UART_BYTES_PER_S = 115200 // 10


# -- the host end of the pty, raw: frames out, messages in, nothing in between --------------


class Wire:
    """Frames to the firmware and its answers, read straight off the pty."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_blocking(fd, False)  # a firmware that stops reading fails the test, not hangs
        self.decoder = p.FrameDecoder()
        self.inbox: list[p.Message] = []
        self.seq = 0

    def write(self, data: bytes) -> None:
        """All of ``data`` to the firmware, as fast as it reads."""
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.fd, view) :]
            except BlockingIOError:
                _, room, _ = select.select([], [self.fd], [], 2.0)
                assert room, "the firmware stopped reading for 2 s"

    def send(self, message: bytes, seq: int | None = None) -> None:
        """One message in a correct frame (``seq`` reuses a frame number)."""
        self.write(p.encode_frame(self.seq if seq is None else seq, message))
        self.seq = (self.seq + 1) & 0xFF

    def receive(self, timeout_s: float) -> bool:
        """Read whatever the firmware has sent within ``timeout_s``; False if nothing came."""
        ready, _, _ = select.select([self.fd], [], [], timeout_s)
        if not ready:
            return False
        for _seq, message in self.decoder.feed(os.read(self.fd, 4096)):
            self.inbox.append(p.decode(message))
        return True

    def until(self, done: Callable[[p.Message], bool], what: str, timeout_s: float = 2.0) -> list:
        """The firmware's messages up to and including the first one ``done`` accepts."""
        deadline = time.monotonic() + timeout_s
        while True:
            for i, m in enumerate(self.inbox):
                if done(m):
                    got, self.inbox = self.inbox[: i + 1], self.inbox[i + 1 :]
                    return got
            left = deadline - time.monotonic()
            if left <= 0 or not self.receive(left):
                raise AssertionError(f"no {what} from the firmware within {timeout_s} s")

    def ask(self, message: bytes) -> p.Message:
        """Send an actuating message and return its ACK (nothing else may come first)."""
        self.send(message)
        got = self.until(lambda m: m.type == p.ACK, "ACK")
        assert len(got) == 1, got
        return got[0]

    def ping(self, token: int) -> tuple[list[p.Message], p.Message]:
        """PING; return what came before the STATUS echoing ``token``, and the STATUS."""
        self.send(p.encode_ping(token))
        got = self.until(lambda m: m.type == p.STATUS and m.token == token, f"STATUS {token}")
        return got[:-1], got[-1]


class Window:
    """The legitimate window as the firmware acknowledged it (band clock, ms since boot)."""

    def __init__(self, wire: Wire) -> None:
        wire.send(p.encode_hello())
        (caps,) = wire.until(lambda m: m.type == p.CAPS, "CAPS")
        self.nonce: bytes = caps.nonce
        self.sent: list[bytes] = []
        acks = []
        for i, steps in enumerate(CHUNKS):
            counter = caps.last_counter + 1 + i
            self.sent.append(p.encode_play(KEY, self.nonce, counter, LEASE_MS, steps, i > 0))
            acks.append(wire.ask(self.sent[-1]))
        assert [a.result for a in acks] == [p.OK] * len(CHUNKS)
        self.counter = caps.last_counter + len(CHUNKS)
        self.start_ms = acks[0].start_ms
        self.lease_end_ms = acks[-1].at_ms + LEASE_MS
        self.path = planned_path(self.start_ms, [a.start_ms for a in acks], self.lease_end_ms)
        assert acks[-1].queue_len > 24, "the window must still fill the queue"

    def fresh(self) -> int:
        """A counter the firmware has not seen (for messages with the right key)."""
        self.counter += 1
        return self.counter


def planned_path(start_ms: int, chunk_starts: list[int], lease_end_ms: int) -> list:
    """The window's output as breakpoints ``(band_ms, level)``, linear in between, worked
    out from :data:`CHUNKS` alone: steps are two points at one time, the cut at the end."""
    t, points = start_ms, [(start_ms, 0)]
    for chunk, chunk_start in zip(CHUNKS, chunk_starts, strict=True):
        assert chunk_start == t, "appended chunks continue edge to edge on the band clock"
        for duration, level in chunk:
            t += duration
            points.append((t, level))
    assert lease_end_ms > t, "the window plays out before its lease ends"
    return [*points, (lease_end_ms, points[-1][1]), (lease_end_ms, 0)]


def cut_at(path: list, t: int) -> list:
    """``path`` with the output cut to 0 at band time ``t``."""
    return [(pt, v) for pt, v in path if pt < t] + [(t, level_at(path, t)), (t, 0)]


def level_at(path: list, t: int) -> int:
    """The planned level at band time ``t`` (after any step at ``t``), as the band computes it."""
    before = [i for i, (pt, _) in enumerate(path) if pt <= t]
    if not before:
        return 0
    i = before[-1]
    if i + 1 == len(path):
        return int(path[i][1])
    (t0, v0), (t1, v1) = path[i], path[i + 1]
    return int(v0 + (v1 - v0) * (t - t0) // (t1 - t0))


def pin_errors(path: list, rows: list[tuple[int, int]], start_ms: int) -> list[float]:
    """Check the PWM trace against the planned path; return each step's error on the pin.

    The first edge of the window maps band time to the trace's wall clock. Every PWM write
    must be a level the path takes within :data:`EDGE_MS` of it, and every step of the path
    (the lease cut included) must be on the pin within :data:`EDGE_MS`.
    """
    first = next(i for i, (_, duty) in enumerate(rows) if duty == path[1][1])
    assert all(duty == 0 for _, duty in rows[:first]), "the output moved before the window"
    wall0 = rows[first][0]
    played = [((ns - wall0) / 1e6 + start_ms, duty) for ns, duty in rows[first:]]
    assert max(duty for _, duty in played) <= TOP
    for t, duty in played:
        lo, hi = int(t) - EDGE_MS, int(t) + EDGE_MS + 1
        near = [level_at(path, x) for x in range(lo, hi + 1)]
        near += [v for pt, v in path if lo <= pt <= hi]
        assert min(near) <= duty <= max(near), f"{duty} at {t:.1f} ms is off the window's path"
    pairs = zip(path, path[1:], strict=False)
    steps = [(t0, v1) for (t0, v0), (t1, v1) in pairs if t0 == t1 and v0 != v1]
    assert len({t for t, _ in steps}) == len(steps), "every step of the window is felt"
    errors = []
    for t, level in steps:
        on_pin = [t_pin - t for t_pin, duty in played if duty == level]
        error = min(on_pin, key=abs, default=float("inf"))
        assert abs(error) <= EDGE_MS, (
            f"the step to {level} at {t} ms reached the pin {error} ms off"
        )
        errors.append(error)
    assert played[-1][1] == 0
    return errors


def framed(message: bytes, seq: int = 0, *, raw: bool = False) -> bytes:
    """``message`` in a frame with a correct CRC, whatever its length (``raw``: ``message``
    already starts with the frame's ``seq`` and ``len``)."""
    inner = message if raw else bytes((seq, len(message) & 0xFF)) + message
    return p.cobs_encode(inner + p.crc16(inner).to_bytes(2, "big")) + b"\x00"


def retagged(nonce: bytes, message: bytes) -> bytes:
    """``message`` with the right key's tag (so only the part under test is wrong)."""
    body = message[: -p.TAG_LEN]
    return body + p.tag_for(KEY, nonce, body)


#: STATUS counters a frame may raise: refused with an ACK (a bad tag, an old counter), of
#: those the replays, and dropped without an answer (corrupt frames, undecodable messages).
REJECTED, REPLAYS, CORRUPT = "rejected", "replays", "corrupt"


Hostile = tuple[str, bytes, int | None, tuple[str, ...]]


def catalogue(window: Window) -> list[Hostile]:
    """Every kind of hostile frame: ``(name, bytes on the wire, ACK result or None for no
    answer, the STATUS counters it raises)``. Each would move the output if it were obeyed."""
    n, fresh, other = window.nonce, window.fresh, OTHER_KEY
    full = p.encode_set(KEY, n, fresh(), 65535, 5000, 0)  # valid in every other way
    bad_crc = bytearray(p.encode_frame(1, full))
    bad_crc[-2] ^= 0x01
    cut = p.encode_frame(2, full)
    long_len = bytes((3, len(full) + 1)) + full
    eight = p.encode_play(KEY, n, fresh(), 5000, [(0, 65535)] * 8)
    nine = eight[:9] + b"\x09" + eight[10:-8] + b"\x00\xff\xff\xff" + eight[-8:]
    overflow = p.encode_play(KEY, n, fresh(), 5000, [(900, TOP)] * 8, True)
    bad, replay, corrupt = (REJECTED,), (REJECTED, REPLAYS), (CORRUPT,)
    return [
        # Appending to a queue with no room: refused, and its 5 s lease must not run.
        ("overflowing append", framed(overflow), p.E_BAD_ARG, ()),
        ("bad CRC", bytes(bad_crc), None, corrupt),
        ("truncated frame", cut[: len(cut) // 2] + b"\x00", None, corrupt),
        ("length field too long", framed(long_len, raw=True), None, corrupt),
        ("201 bytes before 0x00", bytes(range(1, 202)) + b"\x00", None, corrupt),
        ("97-byte message", framed(full + bytes(77)), None, corrupt),
        ("empty frames", b"\x00\x00", None, ()),
        ("wrong version", framed(retagged(n, b"\x02" + full[1:])), None, corrupt),
        ("unknown type", framed(retagged(n, full[:1] + b"\x55" + full[2:])), None, corrupt),
        ("band-to-host type", framed(p.encode_ack(fresh(), p.OK, 65535)), None, corrupt),
        ("PLAY of 0 steps", framed(retagged(n, eight[:9] + b"\x00" + eight[-8:])), None, corrupt),
        ("PLAY of 9 steps", framed(retagged(n, nine)), None, corrupt),
        ("SET one byte short", framed(retagged(n, full[:-9] + full[-8:])), None, corrupt),
        ("SET, wrong key", framed(p.encode_set(other, n, fresh(), 65535, 5000)), p.E_UNAUTH, bad),
        (
            "SET, all 0xFFFF",
            framed(p.encode_set(other, n, fresh(), *[0xFFFF] * 3)),
            p.E_UNAUTH,
            bad,
        ),
        (
            "PLAY, wrong key",
            framed(p.encode_play(other, n, fresh(), 5000, [(0, TOP)])),
            p.E_UNAUTH,
            bad,
        ),
        ("KEEP, wrong key", framed(p.encode_keep(other, n, fresh(), 5000)), p.E_UNAUTH, bad),
        ("PAIR, wrong key", framed(p.encode_pair(other, n, fresh(), other)), p.E_UNAUTH, bad),
        ("SET, no tag", framed(full[:-8] + bytes(8)), p.E_UNAUTH, bad),
        ("SET, old boot", framed(p.encode_set(KEY, bytes(8), fresh(), TOP, 5000)), p.E_UNAUTH, bad),
        ("replayed PLAY", framed(window.sent[0]), p.E_REPLAY, replay),
        ("replayed append and frame seq", framed(window.sent[-1], 3), p.E_REPLAY, replay),
        ("counter 0", framed(p.encode_set(KEY, n, 0, 65535, 5000)), p.E_REPLAY, replay),
        # The right key and a fresh counter, but nothing the band may do: refused, not counted.
        ("ramp down, lease 0", framed(p.encode_set(KEY, n, fresh(), 0, 0, 500)), p.E_BAD_ARG, ()),
        ("PLAY, lease 0", framed(p.encode_play(KEY, n, fresh(), 0, [(0, TOP)])), p.E_BAD_ARG, ()),
        ("KEEP, lease 0", framed(p.encode_keep(KEY, n, fresh(), 0)), p.E_BAD_ARG, ()),
    ]


def hostile_stream(window: Window, count: int = 1500) -> bytes:
    """``count`` generated hostile frames (seeded): the catalogue's kinds at random, replays
    and bit-flipped copies of the window, wrong keys with random values, endless garbage."""
    rng = random.Random(10)
    kinds = [frame for name, frame, _, _ in catalogue(window) if name != "overflowing append"]
    n, out = window.nonce, bytearray()
    for i in range(count):
        match i % 6:
            case 0:
                out += rng.choice(kinds)
            case 1:
                out += framed(rng.choice(window.sent), rng.randrange(256))
            case 2:
                frame = bytearray(framed(rng.choice(window.sent), i & 0xFF))
                frame[rng.randrange(len(frame) - 1)] ^= 1 << rng.randrange(8)
                out += frame
            case 3:
                values = [rng.choice([0, 1, TOP, 0xFFFF, rng.randrange(1 << 16)]) for _ in range(3)]
                out += framed(p.encode_set(OTHER_KEY, n, rng.randrange(1 << 32), *values))
            case 4:
                steps = [(rng.randrange(1 << 16), rng.randrange(1 << 16)) for _ in range(8)]
                out += framed(p.encode_play(OTHER_KEY, n, rng.randrange(1 << 32), 5000, steps))
            case _:
                out += bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 300))) + b"\x00"
    return bytes(out)


def flood_for(wire: Wire, stream: bytes, seconds: float) -> float:
    """Write ``stream`` over and over for ``seconds``, as fast as the firmware reads it,
    while reading its answers; return the rate in bytes per second. The answers are
    decoded afterwards into ``wire.inbox``: decoding as they come, this end would fall
    behind the firmware and fill the line (the firmware then drops answers)."""
    stop = threading.Event()
    written, heard = [0], bytearray()

    def flood() -> None:
        while not stop.is_set():
            for i in range(0, len(stream), 512):
                chunk = stream[i : i + 512]
                wire.write(chunk)
                written[0] += len(chunk)
                if stop.is_set():
                    return

    def listen() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([wire.fd], [], [], 0.02)
            if ready:
                heard.extend(os.read(wire.fd, 65536))

    threads = [threading.Thread(target=flood), threading.Thread(target=listen)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        stop.wait(seconds)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    rate = written[0] / (time.monotonic() - began)
    for _seq, message in wire.decoder.feed(bytes(heard)):
        wire.inbox.append(p.decode(message))
    wire.write(b"\x00")  # the flood stopped mid-frame: end it, as a host resynchronises
    return rate
