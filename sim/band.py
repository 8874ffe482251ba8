"""The virtual band: the firmware's own core (``device/band_core.py``) under CPython.

Three ways to reach it, one band:

* :class:`MemoryLink` — a host backend wired straight to a :class:`VirtualBand` in the same
  event loop, with optional latency; runs on a virtual clock, so a night takes seconds.
* :class:`PtyBand` — the band on a real pseudo-terminal, read by the host's unmodified
  serial backend (real time). ``pc6 sim band --serial`` is this.
* ``sim.bumble_backend`` — the band as a BLE peripheral over bumble's in-process link.

Time is the running event loop's clock, in whole milliseconds since the band started.
What the band's actuator does is recorded as breakpoints (``t_s, level``, linear between
rows) and, if given, written to a CSV trace as it happens and fed to a plant model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from pc6_device import band_core
from pc6_device import protocol as p

from firmware_host.drive.actuator import ActuatorKind
from firmware_host.drive.band.link import BandLink
from firmware_host.errors import LinkError

logger = logging.getLogger(__name__)

Notify = Callable[[bytes], None]


class SimBoard:
    """The board layer of a simulated band: outputs recorded, key kept in memory (or a file)."""

    def __init__(
        self,
        *,
        band_id: bytes,
        key: bytes | None = None,
        key_file: Path | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._band_id = band_id
        self._key = key
        self._key_file = key_file
        self._rng = rng or random.Random()
        self.level = 0
        self.writes = 0

    def set_output(self, level: int) -> None:
        """The actuator pin."""
        self.level = level
        self.writes += 1

    def urandom(self, n: int) -> bytes:
        """Random bytes (seeded in tests)."""
        return bytes(self._rng.getrandbits(8) for _ in range(n))

    def band_id(self) -> bytes:
        """This band's id."""
        return self._band_id

    def load_key(self) -> bytes | None:
        """The pairing key, if any."""
        if self._key is None and self._key_file is not None and self._key_file.exists():
            self._key = bytes.fromhex(self._key_file.read_text().strip())
        return self._key

    def save_key(self, key: bytes) -> None:
        """Keep the new pairing key (and write it to the key file if one was given)."""
        self._key = key
        if self._key_file is not None:
            _write_atomically(self._key_file, key.hex() + "\n")

    def battery_mv(self) -> int:
        """A healthy simulated battery."""
        return 3900

    def temp_c10(self) -> int:
        """No temperature sensor."""
        return p.TEMP_UNKNOWN


def _band_id(rng: random.Random, key_file: Path | None) -> bytes:
    """A band's id, kept beside its key file: a real band's chip id never changes, so
    the host finds the same key for it at every start of the simulator."""
    drawn = bytes(rng.getrandbits(8) for _ in range(8))
    if key_file is None:
        return drawn
    path = key_file.with_name(key_file.name + ".id")
    try:
        kept = bytes.fromhex(path.read_text().strip())
        if len(kept) == len(drawn):
            return kept
    except (OSError, ValueError):
        pass
    _write_atomically(path, drawn.hex() + "\n")
    return drawn


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _plant(kind: str) -> Any:
    try:
        from pc6_sim.plants import make_plant  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    try:
        return make_plant(kind)
    except Exception:  # a plant is an extra; the band works without one
        logger.exception("no plant for %s", kind)
        return None


class VirtualBand:
    """A band whose firmware core runs here, on the running event loop's clock.

    Args:
        kind: ``"vibration"`` or ``"pressure"``.
        key: a pairing key to start with (else the band starts unpaired).
        key_file: where the band keeps its key across restarts of the simulator.
        trace: a text file that gets ``t_s,level`` rows as they happen, flushed each time.
        ceiling: the band's own ceiling, 0–1.
        seed: seeds the band's nonce and id, for reproducible tests.
        plant: a plant model (``sim.plants``) fed the band's output; ``"auto"`` makes one
            if ``sim.plants`` exists.
        drift_ppm: how fast the band's crystal runs against the host's clock (+50 = its
            milliseconds are 50 ppm short, so it plays everything that much early).
    """

    def __init__(
        self,
        kind: str = "vibration",
        *,
        key: bytes | None = None,
        key_file: Path | None = None,
        trace: TextIO | None = None,
        ceiling: float = 1.0,
        seed: int | None = None,
        plant: Any = "auto",
        drift_ppm: float = 0.0,
    ) -> None:
        self.kind = ActuatorKind(kind)
        self.rate = 1.0 + drift_ppm * 1e-6  # band ms per host ms
        self._rng = random.Random(seed)
        self.board = SimBoard(
            band_id=_band_id(self._rng, key_file),
            key=key,
            key_file=key_file,
            rng=self._rng,
        )
        self._trace = trace
        self._ceiling = p.level_to_u16(ceiling)
        self.plant = _plant(str(self.kind)) if plant == "auto" else plant
        self.breakpoints: list[tuple[float, float]] = []
        self.notify: Notify | None = None
        self.core: band_core.BandCore | None = None
        self._t0 = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.resets = 0
        if trace is not None:
            trace.write("t_s,level\n")
            trace.flush()

    # -- life cycle ------------------------------------------------------------------------

    def start(self, reset_cause: int = p.RESET_POWER_ON) -> None:
        """Boot the band on the running loop: outputs off, fresh nonce."""
        loop = asyncio.get_running_loop()
        if self.core is None:
            self._t0 = loop.time()
        kind = p.KIND_PRESSURE if self.kind == ActuatorKind.PRESSURE else p.KIND_VIBRATION
        self.core = band_core.BandCore(
            self.board, kind, self.now_ms(), self._ceiling, 0, reset_cause, self._on_breakpoint
        )
        self.core.on_segment = self._on_segment
        self._schedule()

    def reset(self) -> None:
        """A firmware reset (watchdog, brown-out): outputs off, new nonce, queue gone."""
        self.resets += 1
        if self.core is not None:
            self.core.cut(self.now_ms())
        self.start(p.RESET_WATCHDOG)

    def stop(self) -> None:
        """Power off: output 0, no more timers."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.core is not None:
            self.core.cut(self.now_ms())
            self.core.tick(self.now_ms())

    # -- time and output -----------------------------------------------------------------------

    def now_ms(self) -> int:
        """Milliseconds since the band first started."""
        return round((asyncio.get_running_loop().time() - self._t0) * 1000 * self.rate)

    def level(self) -> float:
        """What the actuator outputs now, 0–1."""
        if self.core is None:
            return 0.0
        return p.u16_to_level(self.core.level_at(self.now_ms()))

    def level_at(self, t_s: float) -> float:
        """The output at ``t_s`` (seconds since start), from the recorded breakpoints."""
        before = [bp for bp in self.breakpoints if bp[0] <= t_s]
        if not before:
            return 0.0
        t0, v0 = before[-1]
        after = [bp for bp in self.breakpoints if bp[0] > t_s]
        if not after:
            return v0
        t1, v1 = after[0]
        return v0 + (v1 - v0) * (t_s - t0) / (t1 - t0)

    def felt(self, t_s: float) -> float:
        """What the wearer feels at ``t_s`` (the plant's output), or the output without one."""
        if self.plant is None:
            return self.level_at(t_s)
        return float(self.plant.output(t_s))

    def _on_breakpoint(self, t_ms: int, level: int) -> None:
        # Rows are on the band's own clock (its milliseconds since it first started).
        row = (t_ms / 1000, p.u16_to_level(level))
        self.breakpoints.append(row)
        if self._trace is not None:
            self._trace.write(f"{row[0]:.3f},{row[1]:.5f}\n")
            self._trace.flush()

    def _on_segment(self, t_ms: int, target: int, duration_ms: int) -> None:
        if self.plant is not None:
            self.plant.command(t_ms / 1000, p.u16_to_level(target), duration_ms / 1000)

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.core is None:
            return
        deadline = self.core.next_deadline()
        if deadline != band_core.NEVER:
            loop = asyncio.get_running_loop()
            # ceil to the host's µs: the band's clock must have reached the deadline.
            at = self._t0 + math.ceil(deadline / self.rate * 1000) / 1e6
            self._timer = loop.call_at(at, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self.core is None:
            return
        for note in self.core.tick(self.now_ms()):
            self._notify(note)
        self._schedule()

    def _notify(self, message: bytes) -> None:
        if self.notify is not None:
            self.notify(message)

    # -- messages ------------------------------------------------------------------------------

    def handle(self, message: bytes, transport: str = "usb") -> list[bytes]:
        """One message from the host in; the replies out."""
        if self.core is None:
            return []
        replies = self.core.handle(message, self.now_ms(), transport)
        self._schedule()
        return replies

    def counters(self) -> dict[str, int]:
        """The core's counters (accepted, rejected, replays, expiries...)."""
        return self.core.counters() if self.core else {}


class PtyBand:
    """A virtual band on a real pseudo-terminal, for the host's unmodified serial backend.

    ``path`` is the slave device the host opens. With ``link`` the band also keeps a symlink
    there, so ``unplug()`` then ``replug()`` (a new pty) looks like the same port coming back.
    """

    def __init__(self, band: VirtualBand, *, link: Path | None = None) -> None:
        self.band = band
        self.link = link
        self.path = ""
        self._master = -1
        self._slave = -1
        self._decoder = p.FrameDecoder()
        self._seq = 0
        band.notify = self._send

    def start(self) -> str:
        """Open the pty and serve it on the running loop; return the device path."""
        if self.band.core is None:
            self.band.start()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
            self.link.symlink_to(self.path)
        self._decoder = p.FrameDecoder()
        asyncio.get_running_loop().add_reader(self._master, self._readable)
        return str(self.link) if self.link is not None else self.path

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except BlockingIOError:
            return
        except OSError:
            return
        for _seq, message in self._decoder.feed(data):
            for reply in self.band.handle(message, "usb"):
                self._send(reply)
        if self.band.core is not None:
            self.band.core.corrupt = self._decoder.corrupt

    def _send(self, message: bytes) -> None:
        if self._master < 0:
            return
        frame = p.encode_frame(self._seq, message)
        self._seq = (self._seq + 1) & 0xFF
        with contextlib.suppress(BlockingIOError, OSError):  # nobody reading: the frame is lost
            os.write(self._master, frame)

    def unplug(self) -> None:
        """Pull the cable: the pty goes away (the host's read fails) and the band powers off."""
        if self._master >= 0:
            asyncio.get_running_loop().remove_reader(self._master)
            os.close(self._master)
            os.close(self._slave)
            self._master = self._slave = -1
        self.band.stop()

    def replug(self) -> str:
        """Plug back in: the band boots (outputs off) on a new pty."""
        self.band.start(p.RESET_POWER_ON)
        return self.start()

    def close(self) -> None:
        """Stop serving and remove the symlink."""
        self.unplug()
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()


class MemoryLink(BandLink):
    """A host backend wired to a :class:`VirtualBand` in the same loop (virtual-time friendly).

    ``latency_s`` delays each message each way, plus up to ``jitter_s`` more (uniform,
    seeded by ``seed``); messages stay in order, as on a real link. ``unplug()`` /
    ``replug()`` and ``freeze()`` (messages silently lost) inject link faults.
    """

    def __init__(
        self,
        band: VirtualBand,
        *,
        latency_s: float = 0.0,
        jitter_s: float = 0.0,
        seed: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.band = band
        self.latency_s = latency_s
        self.jitter_s = jitter_s
        self._rng = random.Random(seed)
        self._due = {"up": 0.0, "down": 0.0}
        self.plugged = True
        self.frozen = False
        self._attached = False

    @property
    def where(self) -> str:
        """A name for messages."""
        return "memory band"

    async def _connect(self) -> None:
        if not self.plugged:
            raise LinkError("memory band: unplugged")
        if self.band.core is None:
            self.band.start()
        self.band.notify = self._from_band
        self._attached = True

    async def _send(self, message: bytes) -> None:
        if not self._attached:
            raise LinkError("memory band: not connected")
        if self.frozen:
            return
        self._later("up", self._deliver, message)

    def _later(self, direction: str, fn: Callable[[bytes], None], message: bytes) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + self.latency_s + self._rng.uniform(0, self.jitter_s)
        due = max(due, self._due[direction])  # a link keeps messages in order
        self._due[direction] = due
        loop.call_at(due, fn, message)

    def _deliver(self, message: bytes) -> None:
        if not self._attached or self.frozen:
            return
        for reply in self.band.handle(message, "usb"):
            self._from_band(reply)

    def _from_band(self, message: bytes) -> None:
        if self._attached and not self.frozen:
            self._later("down", self._received, message)

    async def _disconnect(self) -> None:
        self._attached = False

    def unplug(self) -> None:
        """The cable comes out: the band loses power, the host sees the port vanish."""
        self.plugged = False
        self._attached = False
        self.band.stop()
        self._lost("memory band: unplugged")

    def replug(self) -> None:
        """The cable goes back in: the band boots with outputs off."""
        self.plugged = True
        self.band.start(p.RESET_POWER_ON)

    def freeze(self, frozen: bool = True) -> None:
        """Lose every message both ways without telling anyone (a hung link)."""
        self.frozen = frozen
