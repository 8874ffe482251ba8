"""The band's brain, free of hardware: leases, clamps, the PLAY queue, authentication, counters.

Runs unchanged on the band (MicroPython), in the MicroPython unix port in CI, and under
CPython in the simulator. Time comes in as integer milliseconds from the board layer; the
output goes out as a 0–65535 level through ``board.set_output``.

Safety rules enforced here, whatever the host says:
  * outputs start off;
  * every level is clamped to the band's own ceiling, every lease to the band's maximum;
  * a non-zero output (or a pending PLAY queue) without a fresh lease is cut to 0;
  * only messages with a valid tag and a counter above the last accepted one move anything;
    STOP is honoured from anyone, since off is the safe state.
"""

# MicroPython has no contextlib.
# ruff: noqa: SIM105

try:
    from pc6_device import protocol as p
except ImportError:  # on the band the files sit side by side in the root of the filesystem
    import protocol as p  # type: ignore[no-redef]

try:  # for type checkers only; MicroPython has no typing module
    from typing import Any  # noqa: F401
except ImportError:
    pass

QUEUE_MAX = p.QUEUE_MAX
LEASE_MS_BY_KIND = {p.KIND_VIBRATION: 5000, p.KIND_PRESSURE: 3000}
FW_VERSION = (0, 2, 0)
ZERO_KEY = bytes(p.KEY_LEN)
NEVER = -1


class BandCore:
    """One band: feed it messages with :meth:`handle` and time with :meth:`tick`.

    ``board`` provides ``set_output(level_u16)``, ``urandom(n)``, ``band_id()`` (8 bytes),
    ``load_key()``, ``save_key(key)``, ``battery_mv()`` and ``temp_c10()``.
    ``on_breakpoint(t_ms, level)`` (optional) sees every breakpoint of the output, the output
    being linear between them; ``on_segment(t_ms, target, duration_ms)`` (optional) sees every
    new linear segment (a plant model follows these).
    """

    def __init__(
        self,
        board,
        kind,
        now_ms,
        ceiling=p.LEVEL_MAX,
        max_lease_ms=0,
        reset_cause=p.RESET_POWER_ON,
        on_breakpoint=None,
    ):
        # type: (Any, int, int, int, int, int, Any) -> None
        self.board = board
        self.kind = kind
        self.ceiling = min(max(ceiling, 0), p.LEVEL_MAX)
        hard = LEASE_MS_BY_KIND.get(kind, 3000)
        self.max_lease_ms = min(max_lease_ms, hard) if max_lease_ms > 0 else hard
        self.reset_cause = reset_cause
        self.on_breakpoint = on_breakpoint
        self.on_segment = None  # type: Any
        self.nonce = board.urandom(p.NONCE_LEN)
        self.band_id = board.band_id()
        self.key = board.load_key()
        self.last_counter = 0
        self.boot_ms = now_ms
        self.outbox = []  # type: list
        self.accepted = 0
        self.rejected = 0
        self.replays = 0
        self.malformed = 0
        self.corrupt = 0
        self.expiries = 0
        self.clamps = 0
        self.stops = 0
        self._t0 = now_ms
        self._v0 = 0
        self._t1 = NEVER
        self._v1 = 0
        self._queue = []  # type: list
        self._lease_end = NEVER
        self._last_row = None  # type: object
        self._out = 0
        self._start_ms = now_ms  # where the last accepted message's first step starts
        self._row(now_ms, 0)
        board.set_output(0)

    # -- output trajectory -----------------------------------------------------------------

    def level_at(self, t):  # type: (int) -> int
        """The output level (0–65535) the trajectory gives at ``t``."""
        if self._t1 == NEVER or t >= self._t1 or self._t1 == self._t0:
            return self._v1
        if t <= self._t0:
            return self._v0
        return self._v0 + (self._v1 - self._v0) * (t - self._t0) // (self._t1 - self._t0)

    def _row(self, t, v):  # type: (int, int) -> None
        row = (t, v)
        if row == self._last_row:
            return
        self._last_row = row
        if self.on_breakpoint is not None:
            self.on_breakpoint(t, v)

    def _begin(self, t, v_from, v_to, duration):  # type: (int, int, int, int) -> None
        end = NEVER if duration == NEVER else t + duration
        steady = self._t1 == NEVER or self._v0 == self._v1
        if v_from == v_to and steady and v_from == self._v1:
            self._t0, self._v0, self._t1, self._v1 = t, v_to, end, v_to  # nothing changes
            return
        if self.on_segment is not None:
            self.on_segment(t, v_to, max(duration, 0))
        self._row(t, v_from)
        if duration == 0:
            self._row(t, v_to)
            v_from = v_to
        self._t0, self._v0, self._t1, self._v1 = t, v_from, end, v_to

    def _advance(self, now):  # type: (int) -> None
        while self._t1 != NEVER and now >= self._t1:
            t, v = self._t1, self._v1
            if self._queue:
                duration, level = self._queue.pop(0)
                self._begin(t, v, level, duration)
            else:
                self._begin(t, v, v, NEVER)

    def _clamp(self, level):  # type: (int) -> int
        if level > self.ceiling:
            self.clamps += 1
            return self.ceiling
        return level

    def _start(self, now, steps, append):  # type: (int, list, bool) -> None
        self._advance(now)
        self._start_ms = now
        if append and self._t1 != NEVER:
            # Edge to edge: the new steps start where the queue ends, not on arrival.
            self._start_ms = self._t1
            for d, _v in self._queue:
                self._start_ms += d
            self._queue.extend(steps)
            return
        v = self.level_at(now)
        self._queue = list(steps[1:])
        self._begin(now, v, steps[0][1], steps[0][0])
        self._advance(now)

    def cut(self, now):  # type: (int) -> None
        """Output to 0 now and forget the queue and the lease."""
        self._advance(now)
        self._queue = []
        self._begin(now, self.level_at(now), 0, 0)
        self._advance(now)
        self._lease_end = NEVER

    @property
    def busy(self):  # type: () -> bool
        """True while the output is non-zero or something is still to play."""
        return self._v1 != 0 or self._v0 != 0 or bool(self._queue)

    def output(self):  # type: () -> int
        """The level last sent to the board."""
        return self._out

    # -- time ----------------------------------------------------------------------------------

    def tick(self, now):  # type: (int) -> list
        """Advance to ``now``: play the queue, expire the lease, drive the board.

        Returns the notifications to send to the host (FAULT on lease expiry).
        """
        self._advance(now)
        if self._lease_end != NEVER and now >= self._lease_end:
            if self.busy:
                self.expiries += 1
                self.cut(now)
                self.outbox.append(p.encode_fault(p.F_LEASE_EXPIRED, self.expiries))
            self._lease_end = NEVER
        level = self.level_at(now)
        if level != self._out:
            self._out = level
            self.board.set_output(level)
        out = self.outbox
        self.outbox = []
        return out

    def next_deadline(self):  # type: () -> int
        """When :meth:`tick` must run next (ms): the end of the current segment or of the
        lease, whichever is first; NEVER when idle. Ramps in between are the board's job."""
        deadline = self._lease_end
        if self._t1 != NEVER and (deadline == NEVER or self._t1 < deadline):
            deadline = self._t1
        return deadline

    def ramping(self, now):  # type: (int) -> bool
        """True while the output is moving, so the board must keep updating its PWM."""
        return self._t1 != NEVER and self._v0 != self._v1 and now < self._t1

    # -- messages ------------------------------------------------------------------------

    def handle(self, message, now, transport="usb"):  # type: (bytes, int, str) -> list
        """Act on one message from the host; return the replies (already encoded), after
        any notification that time up to ``now`` brought (a lease that ran out meanwhile)."""
        notes = self.tick(now)  # first: a FAULT from it used to be dropped here
        return notes + self._handle(message, now, transport)

    def _handle(self, message, now, transport):  # type: (bytes, int, str) -> list
        try:
            m = p.decode(message)
        except p.ProtocolError:
            self.malformed += 1
            return []
        if m.type == p.HELLO:
            return [self._caps()]
        if m.type == p.PING:
            return [self._status(m.token, now)]
        if m.type == p.STOP:
            return [self._stop(m, message, now)]
        if m.type not in p.AUTHENTICATED:
            self.malformed += 1
            return []
        result = self._authenticate(m, message, transport)
        self._start_ms = now
        if result != p.OK:
            self.rejected += 1
            return [self._ack(m.counter, result, now)]
        result = self._apply(m, now)
        self.tick(now)
        replies = [self._ack(m.counter, result, now)]
        replies.extend(self.tick(now))
        return replies

    def _ack(self, counter, result, now):  # type: (int, int, int) -> bytes
        boot = self.boot_ms
        return p.encode_ack(
            counter, result, self._out, now - boot, self._start_ms - boot, len(self._queue)
        )

    def _authenticate(self, m, message, transport):  # type: (p.Message, bytes, str) -> int
        key = self.key
        if m.type == p.PAIR:
            if transport != "usb":
                return p.E_NOT_HERE
            if key is None:
                key = ZERO_KEY
        elif key is None:
            return p.E_UNPAIRED
        if not p.verify(key, self.nonce, message):
            return p.E_UNAUTH
        if m.counter <= self.last_counter:
            self.replays += 1
            return p.E_REPLAY
        self.last_counter = m.counter
        return p.OK

    def _lease(self, lease_ms, now):  # type: (int, int) -> bool
        if lease_ms <= 0:
            return False
        self._lease_end = now + min(lease_ms, self.max_lease_ms)
        return True

    def _apply(self, m, now):  # type: (p.Message, int) -> int
        if m.type == p.PAIR:
            self.key = bytes(m.key)
            self.board.save_key(self.key)
            self.cut(now)
            return p.OK
        off_now = m.type == p.SET and m.level == 0 and m.ramp_ms == 0
        if m.type == p.PLAY and m.append and len(self._queue) + len(m.steps) > QUEUE_MAX:
            return p.E_BAD_ARG  # before the lease: a refused message changes nothing
        if off_now and m.lease_ms == 0:
            self._lease_end = NEVER  # a step to 0 needs no lease; anything that moves does
        elif not self._lease(m.lease_ms, now):
            return p.E_BAD_ARG
        if m.type == p.KEEP:
            return p.OK
        if m.type == p.SET:
            steps = [(m.ramp_ms, self._clamp(m.level))]
            self._start(now, steps, False)
        else:
            self._start(now, [(d, self._clamp(v)) for d, v in m.steps], m.append)
        self.accepted += 1
        return p.OK

    def _stop(self, m, message, now):  # type: (p.Message, bytes, int) -> bytes
        if (
            self.key is not None
            and m.counter > self.last_counter
            and p.verify(self.key, self.nonce, message)
        ):
            self.last_counter = m.counter
        self.stops += 1
        self.cut(now)
        self.tick(now)
        self._start_ms = now
        return self._ack(m.counter, p.OK, now)

    def _caps(self):  # type: () -> bytes
        return p.encode_caps(
            self.kind,
            FW_VERSION,
            self.ceiling,
            self.max_lease_ms,
            self.key is not None,
            self.nonce,
            self.last_counter,
            self.reset_cause,
            self.band_id,
        )

    def _status(self, token, now):  # type: (int, int) -> bytes
        lease_left = 0
        if self._lease_end != NEVER:
            lease_left = max(0, self._lease_end - now)
        flags = (1 if self.key is not None else 0) | (2 if self._lease_end != NEVER else 0)
        return p.encode_status(
            token,
            self._out,
            self._v1,
            lease_left,
            len(self._queue),
            flags,
            self.expiries,
            self.rejected,
            self.corrupt + self.malformed,
            self.replays,
            self.board.battery_mv(),
            self.board.temp_c10(),
            self.reset_cause,
            self.last_counter,
            now - self.boot_ms,
        )

    def counters(self):  # type: () -> dict
        """Every counter, for STATUS, tests and logs."""
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "replays": self.replays,
            "malformed": self.malformed,
            "corrupt": self.corrupt,
            "expiries": self.expiries,
            "clamps": self.clamps,
            "stops": self.stops,
        }
