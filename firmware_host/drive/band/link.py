"""What the serial and BLE band backends share: session, leases, pings, loss and reconnect.

A :class:`BandLink` is an :class:`~firmware_host.drive.actuator.Actuator` whose far end is a band
running ``device/`` firmware. Subclasses move whole messages (``_connect``, ``_send``,
``_disconnect``) and report what arrives (``_received``) or that the transport died
(``_lost``). Everything else lives here once:

* the session: HELLO gives the band's boot nonce and last accepted counter; every actuating
  message then carries the next counter and an HMAC tag (``device/protocol.py``);
* SET with a lease on every ``set_level``; a repeat of the band's current target only renews
  the lease (KEEP), so a refresh never restarts a ramp;
* a PING every second; no answer for ``link_timeout_s`` (3 s) or a dead transport means the
  link is lost: ``report_link(False, "link lost: …")`` — not a fault: the gate emits a
  :class:`~firmware_host.guard.events.LinkChanged` event and the engine holds — then
  reconnect with bounded backoff and ``report_link(True, …)``;
* after a reconnect the band stays off until the engine calls ``set_level`` again, and the
  first non-zero level comes in over at least ``resume_ramp_s``.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import functools
import itertools
import logging
import math
import os
import stat
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from pc6_device import protocol as p

from firmware_host.drive.actuator import Actuator, ActuatorKind, Capabilities
from firmware_host.drive.band.clocksync import ClockSync
from firmware_host.drive.band.window import BandPlan, to_u16
from firmware_host.errors import ActuatorError, InvalidInput, LinkError
from firmware_host.paths import config_dir

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BandInfo:
    """What a band says about itself in answer to HELLO."""

    kind: ActuatorKind
    firmware: str
    protocol: int
    ceiling: float
    max_lease_s: float
    max_play_steps: int
    paired: bool
    reset_cause: str
    nonce: bytes
    last_counter: int
    band_id: str


@dataclass(frozen=True)
class BandStatus:
    """A band's STATUS: its output and its counters."""

    level: float
    target: float
    lease_left_s: float
    queue_len: int
    paired: bool
    lease_expiries: int
    rejected: int
    corrupt: int
    replays: int
    battery_mv: int | None
    temperature_c: float | None
    reset_cause: str
    uptime_s: float


def read_key(
    key: bytes | str | None = None, key_file: str | os.PathLike[str] | None = None
) -> bytes | None:
    """The band key from ``key`` (bytes or hex) or ``key_file`` (32 raw bytes or hex text).

    Raises:
        InvalidInput: the key is not 32 bytes, or the file cannot be read.
    """
    if key is None and key_file is None:
        return None
    if key is None:
        assert key_file is not None
        raw = _read_key_file(Path(key_file))
        key = raw if len(raw) == p.KEY_LEN else raw.decode("ascii", "replace").strip()
    if isinstance(key, str):
        try:
            key = bytes.fromhex(key)
        except ValueError as err:
            raise InvalidInput("band key must be 64 hex digits") from err
    if len(key) != p.KEY_LEN:
        raise InvalidInput(f"band key must be {p.KEY_LEN} bytes, got {len(key)}")
    return bytes(key)


def key_path(band_id: str) -> Path:
    """Where the key of the band with id ``band_id`` (16 hex digits) is kept."""
    return config_dir() / "bands" / f"{band_id}.key"


def store_key(band_id: str, key: bytes) -> Path:
    """Write a band key where this user's daemon reads it; return its path."""
    path = key_path(band_id)
    write_key_file(path, key)
    return path


def write_key_file(path: Path, key: bytes, *, owner: tuple[int, int] | None = None) -> None:
    """Write ``key`` as hex text: file 0600, folder 0700, both owned by ``owner`` (uid, gid).

    A folder that already exists with access for others (a ``bands/`` of 0777) is
    tightened to 0700, with a warning. The file is replaced whole (written aside, then
    renamed), so a crash never leaves half a key.
    """
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & 0o077:
        logger.warning("band key folder %s was mode %04o; tightened to 0700", folder, mode)
        os.chmod(folder, 0o700)
    if owner is not None:
        os.chown(folder, *owner)
    tmp = folder / f".{path.name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(key.hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        if owner is not None:
            os.chown(tmp, *owner)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _read_key_file(path: Path) -> bytes:
    """The bytes of a key file; warns when others may read or change it."""
    try:
        with open(path, "rb") as f:
            mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
            raw = f.read(4096)
    except OSError as err:
        raise InvalidInput(f"cannot read band key file {path}: {err.strerror}") from err
    if mode & 0o077:
        logger.warning(
            "band key file %s is mode %04o: others on this machine can read it and drive "
            "the band; fix: chmod 600 %s",
            path,
            mode,
            path,
        )
    return raw


def load_stored_key(band_id: str) -> bytes | None:
    """The stored key of a band, or None if it was never paired from this host."""
    path = key_path(band_id)
    return read_key(key_file=path) if path.exists() else None


def _kind(value: ActuatorKind | str | None) -> ActuatorKind | None:
    if value is None:
        return None
    try:
        return ActuatorKind(value)
    except ValueError as err:
        raise InvalidInput(f"kind must be 'vibration' or 'pressure', got {value!r}") from err


def _info(m: p.Message) -> BandInfo:
    kind = ActuatorKind.PRESSURE if m.kind == p.KIND_PRESSURE else ActuatorKind.VIBRATION
    return BandInfo(
        kind=kind,
        firmware=f"{m.fw_major}.{m.fw_minor}.{m.fw_patch}",
        protocol=m.proto,
        ceiling=p.u16_to_level(m.ceiling),
        max_lease_s=m.max_lease_ms / 1000,
        max_play_steps=m.max_steps,
        paired=bool(m.paired),
        reset_cause=p.RESET_NAMES.get(m.reset_cause, "unknown"),
        nonce=bytes(m.nonce),
        last_counter=m.last_counter,
        band_id=bytes(m.band_id).hex(),
    )


def _status(m: p.Message) -> BandStatus:
    return BandStatus(
        level=p.u16_to_level(m.level),
        target=p.u16_to_level(m.target),
        lease_left_s=m.lease_left_ms / 1000,
        queue_len=m.queue_len,
        paired=bool(m.flags & 1),
        lease_expiries=m.expiries,
        rejected=m.rejected,
        corrupt=m.corrupt,
        replays=m.replays,
        battery_mv=None if m.battery_mv == p.BATTERY_UNKNOWN else m.battery_mv,
        temperature_c=None if m.temp_c10 == p.TEMP_UNKNOWN else m.temp_c10 / 10,
        reset_cause=p.RESET_NAMES.get(m.reset_cause, "unknown"),
        uptime_s=m.uptime_ms / 1000,
    )


class BandLink(Actuator, abc.ABC):
    """An actuator on a band at the far end of a link. See the module docstring."""

    def __init__(
        self,
        *,
        key: bytes | str | None = None,
        key_file: str | os.PathLike[str] | None = None,
        kind: ActuatorKind | str | None = None,
        ping_interval_s: float = 1.0,
        link_timeout_s: float = 3.0,
        reply_timeout_s: float = 1.0,
        backoff_initial_s: float = 0.25,
        backoff_max_s: float = 5.0,
        resume_ramp_s: float = 1.0,
    ) -> None:
        super().__init__()
        self._key = read_key(key, key_file)
        self._want_kind = _kind(kind)
        self.capabilities = Capabilities(
            kind=self._want_kind or ActuatorKind.VIBRATION,
            can_ramp=True,
            resolution=p.LEVEL_MAX,
            max_lease_s=5.0,
            max_ramp_s=MAX_RAMP_S,
        )
        self.ping_interval_s = ping_interval_s
        self.link_timeout_s = link_timeout_s
        self.reply_timeout_s = reply_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.resume_ramp_s = resume_ramp_s
        self.info: BandInfo | None = None
        self.reconnects = 0
        self._counter = 0
        self._up = False  # the transport is open
        self._ready = False  # ... and the session is established: actuation allowed
        self._closing = False
        self._loss: asyncio.Future[str] | None = None
        self._last_rx = 0.0
        self._band_target = 0
        self._resume_ramp_due = False
        self._waiters: dict[tuple[int, int], asyncio.Future[p.Message]] = {}
        self._asked: dict[tuple[int, int], float] = {}  # when each waiter's request went out
        self._tokens = itertools.count(1)
        self._supervisor: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._plan: BandPlan | None = None  # the PLAY window stream the band is playing
        self._window_gen = 0  # bumped whenever the stream is dropped
        self._trouble_at = -math.inf  # when the link last failed us (loss, timeout)
        self.clock_sync = ClockSync()
        self._probes: dict[int, float] = {}  # token -> when a clock probe PING went out
        self.edge_error_ms = 0.0  # worst edge error measured on the band's clock
        self.edges_measured = 0
        self.messages = {"sent": 0, "received": 0, "pings": 0}

    # -- what a transport implements ---------------------------------------------------------

    @abc.abstractmethod
    async def _connect(self) -> None:
        """Open the transport. Raises LinkError (or OSError) when the band is not there."""

    @abc.abstractmethod
    async def _send(self, message: bytes) -> None:
        """Send one message. Raises LinkError when the transport has failed."""

    @abc.abstractmethod
    async def _disconnect(self) -> None:
        """Close the transport. Never raises."""

    @property
    @abc.abstractmethod
    def where(self) -> str:
        """The port or address, for messages."""

    def _received(self, message: bytes) -> None:
        """A transport hands every message it receives to this, on the event loop."""
        self._last_rx = asyncio.get_running_loop().time()
        self.messages["received"] += 1
        try:
            m = p.decode(message)
        except p.ProtocolError as err:
            logger.debug("%s: dropped message: %s", self.where, err)
            return
        if m.type == p.FAULT:
            self._on_band_fault(m)
            return
        key = (m.type, m.counter if m.type == p.ACK else getattr(m, "token", 0))
        if m.type == p.STATUS:
            self._probed(m)
        waiter = self._waiters.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(m)

    def _lost(self, reason: str) -> None:
        """A transport calls this (on the event loop) when it sees the link die."""
        if self._loss is not None and not self._loss.done():
            self._loss.set_result(reason)

    # -- public API ----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while a session with the band is up."""
        return self._ready

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def open(self) -> None:
        """Connect, learn the band's session, force its output off, start supervising.

        Raises:
            LinkError: the band cannot be reached or did not answer.
            InvalidInput: the band is of another kind than configured.
        """
        self._closing = False
        await self._establish()
        self._supervisor = asyncio.create_task(self._supervise(), name=f"band {self.where}")

    async def set_level(self, level: float, *, lease_s: float, ramp_s: float = 0.0) -> None:
        """Send SET (or KEEP when the band already heads to ``level``) with a lease.

        Raises:
            LinkError: the link is down or the band did not answer.
            ActuatorError: the band refused (not paired, wrong key, bad value).
        """
        if not (math.isfinite(level) and math.isfinite(lease_s) and math.isfinite(ramp_s)):
            raise ActuatorError(
                f"level, lease and ramp must be finite: {level}, {lease_s}, {ramp_s}"
            )
        target = p.level_to_u16(level)
        if target > 0 and lease_s <= 0:
            raise ActuatorError(f"a non-zero level needs a lease above 0 s, got {lease_s}")
        # A step to 0 needs no lease (lease 0 on the wire); anything that moves needs one.
        lease_ms = max(0, min(round(lease_s * 1000), self._max_lease_ms()))
        ramp_ms = max(0, min(round(ramp_s * 1000), 0xFFFF))
        if target > 0 or ramp_ms > 0:
            lease_ms = max(1, lease_ms) if lease_s > 0 else self._max_lease_ms()
        now = asyncio.get_running_loop().time()
        plan = self._plan
        if plan is not None and self._ready and plan.agrees(now, target, ramp_ms / 1000):
            return  # the band is playing exactly this from its queue
        if plan is not None:
            logger.debug("%s: command leaves the PLAY window; replacing it", self.where)
            self.drop_window()
        async with self._lock:
            if target == self._band_target and target != 0:
                await self._actuate(lambda c: p.encode_keep(self._k(), self._nonce(), c, lease_ms))
                return
            if target > 0 and self._resume_ramp_due:
                ramp_ms = max(ramp_ms, round(self.resume_ramp_s * 1000))
            ack = await self._actuate(
                lambda c: p.encode_set(self._k(), self._nonce(), c, target, lease_ms, ramp_ms)
            )
            self._band_target = target
            if target > 0:
                self._resume_ramp_due = False
            logger.debug(
                "%s: SET %.4f lease %d ms ramp %d ms -> level %d",
                self.where,
                level,
                lease_ms,
                ramp_ms,
                ack.level,
            )

    async def play(
        self, steps: Sequence[tuple[float, float]], *, lease_s: float, append: bool = False
    ) -> None:
        """Queue ramps ``(duration_s, level)`` that the band plays on its own clock.

        With ``append`` they follow what is already queued, edge to edge, so link latency
        moves only the first edge of a session. The lease still applies: renew it with
        :meth:`keep` (or further PLAYs) while the queue plays.
        """
        encoded = [(_duration_ms(d), _level(v)) for d, v in steps]
        lease_ms = _lease_ms(lease_s, self._max_lease_ms())
        if len(encoded) > p.QUEUE_MAX:
            raise ValueError(
                f"a PLAY of {len(encoded)} ramps does not fit the band's queue of "
                f"{p.QUEUE_MAX}; send the rest as the queue plays"
            )
        self.drop_window()
        async with self._lock:
            for i in range(0, len(encoded), p.PLAY_MAX_STEPS):
                chunk = encoded[i : i + p.PLAY_MAX_STEPS]
                await self._actuate(
                    functools.partial(self._play_msg, lease_ms, chunk, append or i > 0)
                )
            if encoded:
                self._band_target = -1  # a queue is playing; the next set_level sends SET

    async def keep(self, *, lease_s: float) -> None:
        """Renew the band's lease without changing what it does."""
        lease_ms = _lease_ms(lease_s, self._max_lease_ms())
        async with self._lock:
            await self._actuate(lambda c: p.encode_keep(self._k(), self._nonce(), c, lease_ms))

    async def off(self) -> None:
        """STOP now. Idempotent; never raises."""
        self._band_target = 0
        self._forget_window()
        if not self._up:
            return
        try:
            counter = self._next_counter()
            key = self._key
            msg = p.encode_stop(key, self._nonce(), counter) if key else p.encode_stop()
            await self._request(msg, (p.ACK, counter if key else 0))
        except Exception as err:  # off() must never raise; the band's lease is the backstop
            logger.warning("%s: STOP not confirmed: %s", self.where, err)

    async def close(self) -> None:
        """Turn off, stop supervising, close the transport. Idempotent; never raises."""
        with contextlib.suppress(Exception):
            await self.off()
        self._closing = True
        self._up = self._ready = False
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(BaseException):
                await self._supervisor
            self._supervisor = None
        self._fail_waiters("link closed")
        with contextlib.suppress(Exception):
            await self._disconnect()

    async def status(self) -> BandStatus:
        """Ask the band for its STATUS (a PING)."""
        token = next(self._tokens) & 0xFFFF
        return _status(await self._request(p.encode_ping(token), (p.STATUS, token)))

    async def pair(self, new_key: bytes) -> None:
        """Provision ``new_key`` (the band accepts this over USB serial only).

        Uses the current key when the band is already paired, the all-zero key otherwise.
        """
        if self.info is None:
            raise LinkError(f"{self.where}: not connected")
        old = self._key if self.info.paired else bytes(p.KEY_LEN)
        if old is None:
            raise ActuatorError(
                f"{self.where}: band is already paired with another key; hold its BOOT "
                "button while it restarts to forget that key, then pair again"
            )
        async with self._lock:
            counter = self._next_counter()
            ack = await self._request(
                p.encode_pair(old, self._nonce(), counter, new_key), (p.ACK, counter)
            )
        if ack.result != p.OK:
            raise ActuatorError(
                f"{self.where}: band refused pairing: {p.RESULT_NAMES.get(ack.result, ack.result)}"
            )
        self._key = bytes(new_key)
        self.info = BandInfo(**{**self.info.__dict__, "paired": True})

    # -- PLAY windows: the engine streams the timeline (firmware_host/play/window.py) ------

    @property
    def window_generation(self) -> int:
        """Changes whenever the window stream is dropped; a stream built on an older one
        is stale and is not sent."""
        return self._window_gen

    @property
    def window(self) -> BandPlan | None:
        """The stream the band is playing, if any."""
        return self._plan

    def drop_window(self) -> None:
        """Forget the stream: the next command goes out as a SET, which replaces the queue."""
        self._forget_window()
        self._band_target = -1

    def _forget_window(self) -> None:
        if self._plan is not None:
            self._plan = None
        self._window_gen += 1

    async def clear_window(self, level: float, *, lease_s: float) -> None:
        """Replace whatever the band has queued with a hold at ``level`` (0 needs no lease).

        The engine calls this on stop, pause, a live level change or a gate cut, before
        the gate's own soft ramp: a queued window never outlives a decision to change it.
        """
        self.drop_window()
        if self._ready:
            await self.set_level(level, lease_s=lease_s if level > 0 else 0.0)

    def queue_window(
        self, points: Sequence[tuple[float, float]], *, lease_s: float, generation: int
    ) -> Coroutine[Any, Any, bool] | None:
        """Plan the output ``points`` (host clock seconds, level 0–1, linear between) on the
        band; returns the coroutine that sends them, or None when there is nothing to send.

        Without a stream, the first point is where the output is now and the PLAY replaces
        the band's queue; with one, the points continue it and are appended edge to edge.
        At most :data:`~pc6_device.protocol.PLAY_MAX_STEPS` ramps per call. The plan is
        taken at once (so commands that follow already find it); the send returns False
        when the stream was dropped since ``generation`` and nothing went out.

        Raises:
            ValueError: more ramps than one PLAY holds, or points not after the plan's tail.
        """
        if generation != self._window_gen or not self._ready or self._resume_ramp_due:
            return None  # after a loss or a restart the first rise is a SET with its ramp
        wire = to_u16(points)
        plan = self._plan
        fresh = plan is None
        if plan is None:
            plan = BandPlan(host_anchor=wire[0][0], start_level=wire[0][1])
            wire = wire[1:]
        if not wire:
            return None
        if wire[0][0] < plan.tail - 1e-9:
            raise ValueError("window points must continue the plan, not rewrite it")
        steps = plan.steps(wire, self.clock_sync.rate())
        if len(steps) > p.PLAY_MAX_STEPS:
            raise ValueError(f"one window holds at most {p.PLAY_MAX_STEPS} ramps")
        expected_ms = plan.band_ms
        plan.commit(wire, steps)  # optimistic: a refusal drops the stream
        self._plan = plan
        self._band_target = -1
        lease_ms = _lease_ms(lease_s, self._max_lease_ms())
        return self._send_window(plan, steps, lease_ms, fresh, expected_ms, generation)

    async def _send_window(
        self,
        plan: BandPlan,
        steps: list[tuple[int, int]],
        lease_ms: int,
        fresh: bool,
        expected_ms: int,
        generation: int,
    ) -> bool:
        loop = asyncio.get_running_loop()
        async with self._lock:
            if generation != self._window_gen:
                return False
            sent = loop.time()
            try:
                ack = await self._actuate(
                    functools.partial(self._play_msg, lease_ms, steps, not fresh)
                )
            except BaseException:
                if self._plan is plan:
                    self.drop_window()
                raise
        if fresh:
            plan.rtt0 = loop.time() - sent
            plan.band_anchor_ms = ack.start_ms if ack.at_ms >= 0 else None
        elif plan.band_anchor_ms is not None and ack.at_ms >= 0:
            # Where the band put this window against where the stream said it goes: 0
            # edge to edge, positive when the queue had run dry before it arrived.
            self._note_edge_error(ack.start_ms - plan.band_anchor_ms - expected_ms)
        plan.forget_before(loop.time())
        return True

    def _note_edge_error(self, error_ms: float) -> None:
        self.edges_measured += 1
        self.edge_error_ms = max(self.edge_error_ms, abs(error_ms))

    # -- session ------------------------------------------------------------------------------

    def _play_msg(
        self, lease_ms: int, steps: list[tuple[int, int]], append: bool, counter: int
    ) -> bytes:
        return p.encode_play(self._k(), self._nonce(), counter, lease_ms, steps, append)

    def _k(self) -> bytes:
        if self._key is None:
            raise ActuatorError(
                f"{self.where}: no band key; pair the band first (pc6 band pair --port PATH)"
            )
        return self._key

    def _nonce(self) -> bytes:
        return self.info.nonce if self.info else b""

    def _next_counter(self) -> int:
        self._counter += 1
        return self._counter

    def _max_lease_ms(self) -> int:
        return round(self.capabilities.max_lease_s * 1000)

    async def _actuate(self, build: Callable[[int], bytes]) -> p.Message:
        if not self._ready:
            raise LinkError(f"{self.where}: link to the band is down")
        for attempt in range(2):
            counter = self._next_counter()
            ack = await self._request(build(counter), (p.ACK, counter))
            if ack.result == p.OK:
                return ack
            if attempt == 0 and ack.result in (p.E_REPLAY, p.E_UNAUTH):
                # The band may have restarted (new nonce) behind our back: learn it again.
                before = self.info.nonce if self.info is not None else None
                await self._hello()
                if before is not None and self.info is not None and self.info.nonce != before:
                    # It did: its output is 0 now. Tell the engine as a link drop and
                    # return, so the session resumes with a ramp, never at the old level.
                    self._band_target = 0
                    self._resume_ramp_due = True
                    self._forget_window()
                    self.report_link(False, "band restarted (output off)")
                    asyncio.get_running_loop().call_soon(
                        self.report_link, True, "band restarted; talking again"
                    )
                    raise LinkError(f"{self.where}: the band restarted (output off)")
                continue
            break
        raise ActuatorError(
            f"{self.where}: band refused the command: {p.RESULT_NAMES.get(ack.result, ack.result)}"
        )

    async def _request(self, message: bytes, key: tuple[int, int]) -> p.Message:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[p.Message] = loop.create_future()
        self._waiters[key] = waiter
        sent = loop.time()
        self._asked[key] = sent
        try:
            # A transport write can hang (a BLE write with response has no timeout of its
            # own); bound it like the reply, so off() and close() always return.
            self.messages["sent"] += 1
            await asyncio.wait_for(self._send(message), self.reply_timeout_s)
            reply = await asyncio.wait_for(waiter, self.reply_timeout_s)
        except TimeoutError as err:
            self._trouble_at = loop.time()
            self._lost(f"no reply from the band within {self.reply_timeout_s:g} s")
            raise LinkError(f"{self.where}: no reply within {self.reply_timeout_s:g} s") from err
        finally:
            self._waiters.pop(key, None)
            self._asked.pop(key, None)
            if waiter.done() and not waiter.cancelled():
                waiter.exception()  # seen here, so never "Future exception was never retrieved"
            else:
                waiter.cancel()
        if reply.type == p.ACK and reply.at_ms >= 0:
            self.clock_sync.add(sent, loop.time(), reply.at_ms)
        return reply

    async def _hello(self) -> BandInfo:
        info = _info(await self._request(p.encode_hello(), (p.CAPS, 0)))
        if info.protocol != p.VERSION:
            raise LinkError(
                f"{self.where}: band speaks protocol {info.protocol}, "
                f"this host {p.VERSION}; flash matching firmware (pc6 band flash)"
            )
        if self._want_kind is not None and info.kind != self._want_kind:
            raise InvalidInput(
                f"{self.where}: band drives {info.kind}, configured {self._want_kind}"
            )
        if self._key is None:
            self._key = load_stored_key(info.band_id)
        same_boot = self.info is not None and self.info.nonce == info.nonce
        self._counter = max(self._counter, info.last_counter) if same_boot else info.last_counter
        self.info = info
        self.capabilities = Capabilities(
            kind=info.kind,
            can_ramp=True,
            resolution=p.LEVEL_MAX,
            max_lease_s=info.max_lease_s,
            max_ramp_s=MAX_RAMP_S,
        )
        return info

    async def _establish(self, *, resumed: bool = False) -> None:
        loop = asyncio.get_running_loop()
        self._loss = loop.create_future()
        try:
            await self._connect()
            self._up = True
            self._last_rx = loop.time()
            await self._hello()
            await self.off()
            self._resume_ramp_due = resumed
            self._ready = True
        except BaseException:
            self._up = False
            with contextlib.suppress(Exception):
                await self._disconnect()
            raise

    # -- supervision ----------------------------------------------------------------------------

    async def _supervise(self) -> None:
        while not self._closing:
            reason = await self._watch()
            if self._closing:
                return
            self._down(reason)
            await self._disconnect()
            await self._reconnect()

    async def _watch(self) -> str:
        """Ping until the link dies; return why."""
        loop = asyncio.get_running_loop()
        assert self._loss is not None
        while True:
            wait = PROBE_INTERVAL_S if self._probing() else self.ping_interval_s
            done, _ = await asyncio.wait({self._loss}, timeout=wait)
            if done:
                return self._loss.result()
            silent = loop.time() - self._last_rx
            if silent > self.link_timeout_s:
                return f"no answer from the band for {silent:.1f} s"
            if self._probing():
                failed = await self._probe()
                if failed is not None:
                    return failed
                continue
            if self._plan is not None and silent < self.link_timeout_s - self.reply_timeout_s:
                continue  # the window stream's acknowledgements prove the link alive
            if self._plan is None and silent < self.ping_interval_s * 0.5:
                continue  # something else was answered just now
            self.messages["pings"] += 1
            self.messages["sent"] += 1
            token = next(self._tokens) & 0xFFFF
            try:
                await asyncio.wait_for(self._send(p.encode_ping(token)), self.reply_timeout_s)
            except TimeoutError:
                return f"a ping could not be sent within {self.reply_timeout_s:g} s"
            except (LinkError, OSError) as err:
                return str(err)

    def _probing(self) -> bool:
        """While windows play and the band's clock rate is not firm yet, PING more often:
        each answer is a clock sample (see clocksync.py), and early samples are the ones
        that keep the first minutes' edges on the host's timeline."""
        return self._plan is not None and self._ready and self.clock_sync.wants_samples()

    async def _probe(self) -> str | None:
        """Send a PING whose STATUS is timed as a clock sample; why the link failed, if it did."""
        loop = asyncio.get_running_loop()
        token = next(self._tokens) & 0xFFFF
        now = loop.time()
        probes = self._probes
        for old in [t for t, sent in probes.items() if now - sent > self.reply_timeout_s]:
            del probes[old]  # never answered: the link's silence check sees to that
        probes[token] = now
        self.messages["pings"] += 1
        self.messages["sent"] += 1
        try:
            await asyncio.wait_for(self._send(p.encode_ping(token)), self.reply_timeout_s)
        except TimeoutError:
            return f"a ping could not be sent within {self.reply_timeout_s:g} s"
        except (LinkError, OSError) as err:
            return str(err)
        return None

    def _probed(self, m: p.Message) -> None:
        sent = self._probes.pop(m.token, None)
        if sent is not None:
            self.clock_sync.add(sent, asyncio.get_running_loop().time(), m.uptime_ms)

    def _down(self, reason: str) -> None:
        self._up = self._ready = False
        self._band_target = 0
        self._trouble_at = asyncio.get_running_loop().time()
        self._forget_window()
        self._fail_waiters(reason)
        # Not a fault: the band goes quiet within its lease by itself, and the engine
        # holds the session until the link is back (or gives up after its grace time).
        self.report_link(False, f"link lost: {reason}")

    async def _reconnect(self) -> None:
        delay = self.backoff_initial_s
        while not self._closing:
            await asyncio.sleep(delay)
            try:
                await self._establish(resumed=True)
            except (LinkError, OSError, InvalidInput) as err:
                logger.info(
                    "%s: reconnect failed (%s); next try in %.2f s",
                    self.where,
                    err,
                    min(delay * 2, self.backoff_max_s),
                )
                delay = min(delay * 2, self.backoff_max_s)
                continue
            self.reconnects += 1
            logger.warning("%s: link back; band held off until the engine resumes", self.where)
            self.report_link(True, "reconnected")
            return

    def _fail_waiters(self, reason: str) -> None:
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(LinkError(f"{self.where}: {reason}"))
        self._waiters.clear()

    def _on_band_fault(self, m: p.Message) -> None:
        name = p.FAULT_NAMES.get(m.code, f"fault {m.code}")
        if m.code == p.F_LEASE_EXPIRED:
            self._band_target = 0
            self._forget_window()
            now = asyncio.get_running_loop().time()
            stalled = any(now - t > self.reply_timeout_s / 2 for t in self._asked.values())
            recent = now - self._trouble_at <= self.capabilities.max_lease_s + self.link_timeout_s
            if stalled or recent:
                # The link failed us within the last lease: the expiry is the backstop
                # doing its job, not a host that forgot to refresh. Hold, then resume.
                logger.warning("%s: band %s after link trouble; holding", self.where, name)
                self._resume_ramp_due = True
                self.report_link(False, f"band {name} while the link was failing")
                loop = asyncio.get_running_loop()
                loop.call_soon(self.report_link, True, "band answering again after its lease")
                return
            self.report_fault(f"band {name} (the host did not refresh in time)")
        else:
            logger.info("%s: band reports %s (%d)", self.where, name, m.detail)


#: How often the host PINGs while the band's clock rate is not firm yet (see _probing).
PROBE_INTERVAL_S = 0.2
#: A SET carries its ramp in 16-bit milliseconds; the engine splits anything longer.
MAX_RAMP_S = 60.0


def _finite(name: str, value: float) -> float:
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if math.isinf(value):
        raise OverflowError(f"{name} must be finite, got {value!r}")
    return value


def _duration_ms(seconds: float) -> int:
    return max(0, min(round(_finite("a PLAY duration", seconds) * 1000), 0xFFFF))


def _level(level: float) -> int:
    return p.level_to_u16(_finite("a PLAY level", level))


def _lease_ms(lease_s: float, ceiling_ms: int) -> int:
    return max(1, min(round(_finite("the lease", lease_s) * 1000), ceiling_ms))


def create_options(options: dict[str, Any]) -> dict[str, Any]:
    """Split the options both links accept from a backend's ``create(**options)``."""
    names = (
        "key",
        "key_file",
        "kind",
        "ping_interval_s",
        "link_timeout_s",
        "reply_timeout_s",
        "backoff_initial_s",
        "backoff_max_s",
        "resume_ramp_s",
    )
    return {n: options.pop(n) for n in names if n in options}
