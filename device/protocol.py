"""pc6band wire protocol: one codec for the band firmware (MicroPython) and the host (CPython).

Written in the subset of Python both run: no dataclasses, no typing at runtime, only
``struct``, ``hashlib.sha256`` and bytes. ``device/PROTOCOL.md`` describes every byte; the
golden vectors in ``tests/device/test_protocol.py`` pin them down.

A *message* is ``version(1) type(1) body``. Actuating messages (SET, PLAY, KEEP, PAIR and
authenticated STOP) carry ``counter(4)`` after the type and end in an 8-byte truncated
HMAC-SHA256 tag over ``band_nonce + message_without_tag``. Over BLE one message is one GATT
write or notification; over serial each message travels in a frame:
``COBS(seq(1) len(1) message crc16(2)) 0x00``.
"""

# MicroPython: %-formatting is its cheapest, and it has no contextlib.
# ruff: noqa: UP031, SIM105, SIM108

import hashlib
import struct

try:  # for type checkers only; MicroPython has no typing module
    from typing import Any  # noqa: F401
except ImportError:
    pass

VERSION = 1

# Host -> band
HELLO = 0x01
PING = 0x02
SET = 0x10
PLAY = 0x11
KEEP = 0x12
STOP = 0x13
PAIR = 0x20
# Band -> host
CAPS = 0x81
STATUS = 0x82
FAULT = 0x83
ACK = 0x84

AUTHENTICATED = (SET, PLAY, KEEP, PAIR)
TAG_LEN = 8
KEY_LEN = 32
NONCE_LEN = 8
LEVEL_MAX = 0xFFFF
PLAY_MAX_STEPS = 8
QUEUE_MAX = 32  # ramps a band queues at most (PLAY beyond it is refused)
PLAY_APPEND = 0x01
MAX_MESSAGE = 96
MAX_FRAME = MAX_MESSAGE + 4

KIND_VIBRATION = 1
KIND_PRESSURE = 2
KIND_NAMES = {KIND_VIBRATION: "vibration", KIND_PRESSURE: "pressure"}

# ACK results
OK = 0
E_UNAUTH = 1
E_REPLAY = 2
E_UNPAIRED = 3
E_BAD_ARG = 4
E_NOT_HERE = 5
E_MALFORMED = 6
RESULT_NAMES = {
    OK: "ok",
    E_UNAUTH: "bad tag",
    E_REPLAY: "replayed or reordered counter",
    E_UNPAIRED: "band not paired",
    E_BAD_ARG: "bad argument",
    E_NOT_HERE: "not allowed over this transport",
    E_MALFORMED: "malformed",
}

# FAULT codes
F_LEASE_EXPIRED = 1
F_REJECTED = 2
F_CLAMPED = 3
F_WATCHDOG = 4
F_LOW_BATTERY = 5
FAULT_NAMES = {
    F_LEASE_EXPIRED: "lease expired",
    F_REJECTED: "message rejected",
    F_CLAMPED: "level clamped to band ceiling",
    F_WATCHDOG: "watchdog reset",
    F_LOW_BATTERY: "low battery",
}

# Reset causes (reported in CAPS and STATUS)
RESET_POWER_ON = 1
RESET_HARD = 2
RESET_WATCHDOG = 3
RESET_DEEPSLEEP = 4
RESET_SOFT = 5
RESET_UNKNOWN = 0
RESET_NAMES = {
    RESET_UNKNOWN: "unknown",
    RESET_POWER_ON: "power on",
    RESET_HARD: "hard reset",
    RESET_WATCHDOG: "watchdog",
    RESET_DEEPSLEEP: "deep sleep wake",
    RESET_SOFT: "soft reset",
}

BATTERY_UNKNOWN = 0xFFFF
TEMP_UNKNOWN = 0x7FFF

_CAPS_FMT = ">BBBBBHHBB8sIB8s"
_STATUS_FMT = ">HHHHBBHHHHHhBII"
_ACK_FMT = ">IBH"
_ACK_TIMING_FMT = ">IIB"  # optional tail: band time of the message, of its first step, queue
_FAULT_FMT = ">BH"


class ProtocolError(ValueError):
    """A message or frame that does not decode; it is dropped and counted."""


class Message:
    """A decoded message: ``type`` plus the fields its type defines (see PROTOCOL.md)."""

    def __init__(self, mtype, fields):  # type: (int, dict) -> None
        self.type = mtype
        self.counter = 0
        self.tag = b""
        for name in fields:
            setattr(self, name, fields[name])

    def __getattr__(self, name):  # type: (str) -> Any
        raise AttributeError(name)

    def __repr__(self):  # type: () -> str
        return "Message(0x%02x %r)" % (self.type, self.__dict__)


# -- integrity and authentication ------------------------------------------------------


def crc16(data, crc=0xFFFF):  # type: (bytes, int) -> int
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF); ``b"123456789"`` gives 0x29B1."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            if crc & 0x8000:
                crc = ((crc << 1) ^ 0x1021) & 0xFFFF
            else:
                crc = (crc << 1) & 0xFFFF
    return crc


def _xor(key, pad):  # type: (bytes, int) -> bytes
    out = bytearray(64)
    for i in range(64):
        out[i] = (key[i] if i < len(key) else 0) ^ pad
    return bytes(out)


def hmac_sha256(key, data):  # type: (bytes, bytes) -> bytes
    """HMAC-SHA256 (RFC 2104) on ``hashlib.sha256`` alone: MicroPython has no ``hmac``."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    inner = hashlib.sha256(_xor(key, 0x36) + data).digest()
    return hashlib.sha256(_xor(key, 0x5C) + inner).digest()


def tag_for(key, nonce, body):  # type: (bytes, bytes, bytes) -> bytes
    """The 8-byte tag over ``nonce + body`` (body = the message without its tag)."""
    return hmac_sha256(key, nonce + body)[:TAG_LEN]


def tags_equal(a, b):  # type: (bytes, bytes) -> bool
    """Compare in time independent of where the first difference is."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


def verify(key, nonce, message):  # type: (bytes, bytes, bytes) -> bool
    """True if ``message`` ends in the right tag for ``key`` and ``nonce``."""
    if len(message) < 2 + 4 + TAG_LEN:
        return False
    body = message[:-TAG_LEN]
    return tags_equal(tag_for(key, nonce, body), message[-TAG_LEN:])


# -- levels -------------------------------------------------------------------------------


def level_to_u16(level):  # type: (float) -> int
    """0–1 to 0–65535, clamped; NaN is 0."""
    if not level > 0:
        return 0
    if level >= 1:
        return LEVEL_MAX
    return int(level * LEVEL_MAX + 0.5)


def u16_to_level(value):  # type: (int) -> float
    """0–65535 to 0–1."""
    return value / LEVEL_MAX


# -- host -> band ---------------------------------------------------------------------------


def _head(mtype):  # type: (int) -> bytes
    return bytes((VERSION, mtype))


def _signed(key, nonce, body):  # type: (bytes, bytes, bytes) -> bytes
    return body + tag_for(key, nonce, body)


def encode_hello():  # type: () -> bytes
    """HELLO: ask for capabilities, the band's boot nonce and its last accepted counter."""
    return _head(HELLO)


def encode_ping(token):  # type: (int) -> bytes
    """PING: the band answers with STATUS echoing ``token``."""
    return _head(PING) + struct.pack(">H", token & 0xFFFF)


def encode_set(key, nonce, counter, level, lease_ms, ramp_ms=0):
    # type: (bytes, bytes, int, int, int, int) -> bytes
    """SET: ramp linearly to ``level`` (u16) over ``ramp_ms``; holds for ``lease_ms``."""
    body = _head(SET) + struct.pack(">IHHH", counter, level, lease_ms, ramp_ms)
    return _signed(key, nonce, body)


def encode_play(key, nonce, counter, lease_ms, steps, append=False):
    # type: (bytes, bytes, int, int, list, bool) -> bytes
    """PLAY: a queue of ``(duration_ms, level)`` ramps the band plays on its own clock."""
    if not 1 <= len(steps) <= PLAY_MAX_STEPS:
        raise ProtocolError("PLAY takes 1 to %d steps" % PLAY_MAX_STEPS)
    flags = PLAY_APPEND if append else 0
    body = _head(PLAY) + struct.pack(">IHBB", counter, lease_ms, flags, len(steps))
    for duration_ms, level in steps:
        body += struct.pack(">HH", duration_ms, level)
    return _signed(key, nonce, body)


def encode_keep(key, nonce, counter, lease_ms):  # type: (bytes, bytes, int, int) -> bytes
    """KEEP: renew the lease of whatever the band is doing, change nothing else."""
    return _signed(key, nonce, _head(KEEP) + struct.pack(">IH", counter, lease_ms))


def encode_stop(key=None, nonce=b"", counter=0):  # type: (object, bytes, int) -> bytes
    """STOP: outputs off now. Honoured even unauthenticated, since off is the safe state."""
    body = _head(STOP) + struct.pack(">I", counter)
    if key is None:
        return body + bytes(TAG_LEN)
    return _signed(key, nonce, body)  # type: ignore[arg-type]


def encode_pair(old_key, nonce, counter, new_key):  # type: (bytes, bytes, int, bytes) -> bytes
    """PAIR: provision ``new_key``; tagged with the old key (all zeros when unpaired)."""
    if len(new_key) != KEY_LEN:
        raise ProtocolError("key must be %d bytes" % KEY_LEN)
    return _signed(old_key, nonce, _head(PAIR) + struct.pack(">I", counter) + new_key)


# -- band -> host ---------------------------------------------------------------------------


def encode_caps(
    kind,
    fw,
    ceiling,
    max_lease_ms,
    paired,
    nonce,
    last_counter,
    reset_cause,
    band_id,
    max_steps=PLAY_MAX_STEPS,
):
    # type: (int, tuple, int, int, bool, bytes, int, int, bytes, int) -> bytes
    """CAPS: the answer to HELLO."""
    return _head(CAPS) + struct.pack(
        _CAPS_FMT,
        VERSION,
        kind,
        fw[0],
        fw[1],
        fw[2],
        ceiling,
        max_lease_ms,
        max_steps,
        1 if paired else 0,
        nonce,
        last_counter,
        reset_cause,
        band_id,
    )


def encode_status(
    token,
    level,
    target,
    lease_left_ms,
    queue_len,
    flags,
    expiries,
    rejected,
    corrupt,
    replays,
    battery_mv,
    temp_c10,
    reset_cause,
    last_counter,
    uptime_ms,
):
    # type: (int, int, int, int, int, int, int, int, int, int, int, int, int, int, int) -> bytes
    """STATUS: the answer to PING (and sent unasked after a fault)."""
    return _head(STATUS) + struct.pack(
        _STATUS_FMT,
        token & 0xFFFF,
        level,
        target,
        min(lease_left_ms, 0xFFFF),
        queue_len,
        flags,
        expiries & 0xFFFF,
        rejected & 0xFFFF,
        corrupt & 0xFFFF,
        replays & 0xFFFF,
        battery_mv,
        temp_c10,
        reset_cause,
        last_counter,
        uptime_ms & 0xFFFFFFFF,
    )


def encode_fault(code, detail=0):  # type: (int, int) -> bytes
    """FAULT: something happened on the band (lease expiry, a rejected message, a clamp)."""
    return _head(FAULT) + struct.pack(_FAULT_FMT, code, detail & 0xFFFF)


def encode_ack(counter, result, level, at_ms=-1, start_ms=0, queue_len=0):
    # type: (int, int, int, int, int, int) -> bytes
    """ACK: the result of an actuating message and the output level right after it.

    With ``at_ms`` (the band's uptime when it handled the message) the ACK also carries
    ``start_ms``, the band time at which the message's first step starts (a PLAY appended
    to a busy queue starts where the queue ends), and the queue length after it.
    """
    head = _head(ACK) + struct.pack(_ACK_FMT, counter, result, level)
    if at_ms < 0:
        return head
    return head + struct.pack(
        _ACK_TIMING_FMT, at_ms & 0xFFFFFFFF, start_ms & 0xFFFFFFFF, min(queue_len, 255)
    )


# -- decoding ----------------------------------------------------------------------------------


def _need(message, size):  # type: (bytes, int) -> None
    if len(message) != size:
        raise ProtocolError("length %d, expected %d" % (len(message), size))


def _decode_play(message):  # type: (bytes) -> Message
    if len(message) < 10 + TAG_LEN:
        raise ProtocolError("PLAY too short")
    counter, lease_ms, flags, count = struct.unpack_from(">IHBB", message, 2)
    if not 1 <= count <= PLAY_MAX_STEPS:
        raise ProtocolError("PLAY step count %d" % count)
    _need(message, 10 + 4 * count + TAG_LEN)
    steps = []
    for i in range(count):
        steps.append(struct.unpack_from(">HH", message, 10 + 4 * i))
    return Message(
        PLAY,
        {
            "counter": counter,
            "lease_ms": lease_ms,
            "append": bool(flags & PLAY_APPEND),
            "steps": steps,
            "tag": message[-TAG_LEN:],
        },
    )


def _decode_host(mtype, message):  # type: (int, bytes) -> Message
    if mtype == HELLO:
        _need(message, 2)
        return Message(HELLO, {})
    if mtype == PING:
        _need(message, 4)
        return Message(PING, {"token": struct.unpack_from(">H", message, 2)[0]})
    if mtype == SET:
        _need(message, 12 + TAG_LEN)
        counter, level, lease_ms, ramp_ms = struct.unpack_from(">IHHH", message, 2)
        return Message(
            SET,
            {
                "counter": counter,
                "level": level,
                "lease_ms": lease_ms,
                "ramp_ms": ramp_ms,
                "tag": message[-TAG_LEN:],
            },
        )
    if mtype == PLAY:
        return _decode_play(message)
    if mtype == KEEP:
        _need(message, 8 + TAG_LEN)
        counter, lease_ms = struct.unpack_from(">IH", message, 2)
        return Message(KEEP, {"counter": counter, "lease_ms": lease_ms, "tag": message[-TAG_LEN:]})
    if mtype == STOP:
        _need(message, 6 + TAG_LEN)
        return Message(
            STOP, {"counter": struct.unpack_from(">I", message, 2)[0], "tag": message[-TAG_LEN:]}
        )
    if mtype == PAIR:
        _need(message, 6 + KEY_LEN + TAG_LEN)
        return Message(
            PAIR,
            {
                "counter": struct.unpack_from(">I", message, 2)[0],
                "key": message[6 : 6 + KEY_LEN],
                "tag": message[-TAG_LEN:],
            },
        )
    return _decode_band(mtype, message)


_CAPS_NAMES = (
    "proto",
    "kind",
    "fw_major",
    "fw_minor",
    "fw_patch",
    "ceiling",
    "max_lease_ms",
    "max_steps",
    "paired",
    "nonce",
    "last_counter",
    "reset_cause",
    "band_id",
)
_STATUS_NAMES = (
    "token",
    "level",
    "target",
    "lease_left_ms",
    "queue_len",
    "flags",
    "expiries",
    "rejected",
    "corrupt",
    "replays",
    "battery_mv",
    "temp_c10",
    "reset_cause",
    "last_counter",
    "uptime_ms",
)


def _fields(names, values):  # type: (tuple, tuple) -> dict
    out = {}
    for i in range(len(names)):
        out[names[i]] = values[i]
    return out


def _decode_band(mtype, message):  # type: (int, bytes) -> Message
    if mtype == CAPS:
        _need(message, 2 + struct.calcsize(_CAPS_FMT))
        return Message(CAPS, _fields(_CAPS_NAMES, struct.unpack_from(_CAPS_FMT, message, 2)))
    if mtype == STATUS:
        _need(message, 2 + struct.calcsize(_STATUS_FMT))
        return Message(STATUS, _fields(_STATUS_NAMES, struct.unpack_from(_STATUS_FMT, message, 2)))
    if mtype == FAULT:
        _need(message, 2 + struct.calcsize(_FAULT_FMT))
        code, detail = struct.unpack_from(_FAULT_FMT, message, 2)
        return Message(FAULT, {"code": code, "detail": detail})
    if mtype == ACK:
        short = 2 + struct.calcsize(_ACK_FMT)
        if len(message) != short + struct.calcsize(_ACK_TIMING_FMT):
            _need(message, short)
        counter, result, level = struct.unpack_from(_ACK_FMT, message, 2)
        fields = {"counter": counter, "result": result, "level": level, "at_ms": -1}
        fields["start_ms"] = fields["queue_len"] = 0
        if len(message) >= 2 + struct.calcsize(_ACK_FMT) + struct.calcsize(_ACK_TIMING_FMT):
            at, start, queue = struct.unpack_from(_ACK_TIMING_FMT, message, 9)
            fields["at_ms"], fields["start_ms"], fields["queue_len"] = at, start, queue
        return Message(ACK, fields)
    raise ProtocolError("unknown type 0x%02x" % mtype)


def decode(message):  # type: (bytes) -> Message
    """Decode one message (without its frame). Raises ProtocolError for anything malformed."""
    if len(message) < 2:
        raise ProtocolError("message too short")
    if len(message) > MAX_MESSAGE:
        raise ProtocolError("message too long")
    if message[0] != VERSION:
        raise ProtocolError("unsupported version %d" % message[0])
    return _decode_host(message[1], bytes(message))


# -- serial framing: COBS(seq len message crc16) 0x00 ----------------------------------------


def cobs_encode(data):  # type: (bytes) -> bytes
    """Consistent Overhead Byte Stuffing: the output holds no zero byte."""
    out = bytearray(b"\x00")
    code_at = 0
    code = 1
    for byte in data:
        if byte == 0:
            out[code_at] = code
            code_at = len(out)
            out.append(0)
            code = 1
            continue
        out.append(byte)
        code += 1
        if code == 0xFF:
            out[code_at] = code
            code_at = len(out)
            out.append(0)
            code = 1
    out[code_at] = code
    return bytes(out)


def cobs_decode(data):  # type: (bytes) -> bytes
    """Undo :func:`cobs_encode`. Raises ProtocolError on a malformed block."""
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        if code == 0 or i + code > n:
            raise ProtocolError("bad COBS block")
        out.extend(data[i + 1 : i + code])
        i += code
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


def encode_frame(seq, message):  # type: (int, bytes) -> bytes
    """Frame one message for the serial link."""
    if len(message) > MAX_MESSAGE:
        raise ProtocolError("message too long")
    inner = bytes((seq & 0xFF, len(message))) + message
    return cobs_encode(inner + struct.pack(">H", crc16(inner))) + b"\x00"


def decode_frame(frame):  # type: (bytes) -> tuple
    """``(seq, message)`` from one frame without its 0x00 delimiter. Raises ProtocolError."""
    inner = cobs_decode(frame)
    if len(inner) < 4:
        raise ProtocolError("frame too short")
    body = inner[:-2]
    if crc16(body) != struct.unpack_from(">H", inner, len(inner) - 2)[0]:
        raise ProtocolError("CRC mismatch")
    if body[1] != len(body) - 2:
        raise ProtocolError("length field %d, got %d" % (body[1], len(body) - 2))
    return body[0], bytes(body[2:])


class FrameDecoder:
    """Reassembles frames from a byte stream and counts what it has to throw away.

    ``feed(data)`` returns a list of ``(seq, message)``. Bytes after a bad frame are kept:
    the next 0x00 resynchronises, so one corrupt frame costs one message.
    """

    def __init__(self):  # type: () -> None
        self._buf = bytearray()
        self._dropping = False
        self.frames = 0
        self.corrupt = 0
        self.gaps = 0
        self._last_seq = -1

    def feed(self, data):  # type: (bytes) -> list
        """Add received bytes; return the complete, intact frames among them."""
        out = []  # type: list
        for byte in data:
            if byte != 0:
                if len(self._buf) >= 2 * MAX_FRAME:
                    self._dropping = True
                    self._buf = bytearray()
                self._buf.append(byte)
                continue
            self._end_frame(out)
        return out

    def _end_frame(self, out):  # type: (list) -> None
        frame = bytes(self._buf)
        self._buf = bytearray()
        if self._dropping:
            self._dropping = False
            self.corrupt += 1
            return
        if not frame:
            return
        try:
            seq, message = decode_frame(frame)
        except ProtocolError:
            self.corrupt += 1
            return
        if self._last_seq >= 0 and seq != (self._last_seq + 1) & 0xFF:
            self.gaps += 1
        self._last_seq = seq
        self.frames += 1
        out.append((seq, message))
