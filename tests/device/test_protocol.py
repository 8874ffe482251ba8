"""The wire codec: golden byte vectors, round trips, CRC, HMAC, COBS and framing."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from band_testlib import KEY
from pc6_device import protocol as p

NONCE = bytes.fromhex("0102030405060708")

GOLDEN = {
    "hello": (p.encode_hello, (), "0101"),
    "ping": (p.encode_ping, (0x1234,), "01021234"),
    "set": (
        p.encode_set,
        (KEY, NONCE, 1, 0x8000, 3000, 250),
        "01100000000180000bb800fa9e5e25367bbc81db",
    ),
    "play": (
        p.encode_play,
        (KEY, NONCE, 2, 4000, [(500, 0xFFFF), (0, 0)], True),
        "0111000000020fa0010201f4ffff000000007ecaa166c5fd2fab",
    ),
    "keep": (p.encode_keep, (KEY, NONCE, 3, 2000), "01120000000307d0930c102533f416fa"),
    "stop_auth": (p.encode_stop, (KEY, NONCE, 4), "0113000000040533b52b3114cea8"),
    "stop_anon": (p.encode_stop, (), "0113000000000000000000000000"),
    "pair": (
        p.encode_pair,
        (bytes(32), NONCE, 1, KEY),
        "012000000001" + KEY.hex() + "313835b0f9f578f8",
    ),
    "caps": (
        p.encode_caps,
        (1, (0, 1, 0), 0xFFFF, 5000, True, NONCE, 7, 1, bytes.fromhex("a1a2a3a4a5a6a7a8")),
        "01810101000100ffff1388080101020304050607080000000701a1a2a3a4a5a6a7a8",
    ),
    "status": (
        p.encode_status,
        (9, 100, 200, 1500, 2, 3, 1, 2, 3, 4, 3900, 0x7FFF, 1, 7, 123456),
        "01820009006400c805dc020300010002000300040f3c7fff01000000070001e240",
    ),
    "fault": (p.encode_fault, (1, 5), "0183010005"),
    "ack": (p.encode_ack, (7, 0, 0x8000), "018400000007008000"),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_vectors(name: str) -> None:
    encode, args, expected = GOLDEN[name]
    assert encode(*args).hex() == expected


def test_golden_frame() -> None:
    frame = p.encode_frame(0x2A, p.encode_set(KEY, NONCE, 1, 0x8000, 3000, 250))
    assert frame.hex() == "052a1401100101030180030bb80cfa9e5e25367bbc81dbe0a700"
    assert p.decode_frame(frame[:-1]) == (0x2A, bytes.fromhex(GOLDEN["set"][2]))


def test_crc16_check_value() -> None:
    assert p.crc16(b"123456789") == 0x29B1


@pytest.mark.parametrize("key", [b"", b"key", KEY, bytes(100)])
def test_hmac_matches_stdlib(key: bytes) -> None:
    data = b"The quick brown fox jumps over the lazy dog"
    assert p.hmac_sha256(key, data) == hmac.new(key, data, hashlib.sha256).digest()


def test_tag_is_truncated_hmac_over_nonce_and_body() -> None:
    message = bytes.fromhex(GOLDEN["set"][2])
    body, tag = message[:-8], message[-8:]
    assert tag == hmac.new(KEY, NONCE + body, hashlib.sha256).digest()[:8]
    assert p.verify(KEY, NONCE, message)
    assert not p.verify(KEY, bytes(8), message)
    assert not p.verify(bytes(32), NONCE, message)


def test_round_trips() -> None:
    m = p.decode(p.encode_set(KEY, NONCE, 5, 1234, 2500, 100))
    assert (m.type, m.counter, m.level, m.lease_ms, m.ramp_ms) == (p.SET, 5, 1234, 2500, 100)
    steps = [(i * 10, i * 1000) for i in range(p.PLAY_MAX_STEPS)]
    m = p.decode(p.encode_play(KEY, NONCE, 6, 3000, steps, False))
    assert (m.counter, m.lease_ms, m.append, [tuple(s) for s in m.steps]) == (6, 3000, False, steps)
    m = p.decode(p.encode_caps(2, (1, 2, 3), 40000, 3000, False, NONCE, 9, 3, b"12345678"))
    assert (
        m.kind,
        m.fw_minor,
        m.ceiling,
        m.max_lease_ms,
        m.paired,
        m.nonce,
        m.last_counter,
        m.reset_cause,
        m.band_id,
    ) == (2, 2, 40000, 3000, 0, NONCE, 9, 3, b"12345678")
    m = p.decode(p.encode_status(1, 2, 3, 70000, 4, 5, 6, 7, 8, 9, 10, -11, 2, 12, 13))
    assert (m.token, m.lease_left_ms, m.temp_c10, m.uptime_ms) == (1, 0xFFFF, -11, 13)


@pytest.mark.parametrize(
    "bad", [b"", b"\x01", b"\x02\x01", b"\x01\x7f", b"\x01\x10\x00", b"\x01\x01\x00", bytes(200)]
)
def test_malformed_messages_raise_protocol_error(bad: bytes) -> None:
    with pytest.raises(p.ProtocolError):
        p.decode(bad)


def test_play_step_count_is_bounded() -> None:
    with pytest.raises(p.ProtocolError):
        p.encode_play(KEY, NONCE, 1, 1000, [], False)
    with pytest.raises(p.ProtocolError):
        p.encode_play(KEY, NONCE, 1, 1000, [(1, 1)] * (p.PLAY_MAX_STEPS + 1), False)


@pytest.mark.parametrize("size", [0, 1, 253, 254, 255, 256, 600])
def test_cobs_round_trip_and_no_zero(size: int) -> None:
    data = bytes((i * 7) % 256 for i in range(size))
    encoded = p.cobs_encode(data)
    assert 0 not in encoded
    assert p.cobs_decode(encoded) == data


def test_frame_decoder_resynchronises_after_garbage() -> None:
    good = p.encode_frame(1, p.encode_hello())
    corrupt = bytearray(p.encode_frame(2, p.encode_ping(7)))
    corrupt[3] ^= 0x40
    decoder = p.FrameDecoder()
    out = decoder.feed(b"\x13\x37garbage\x00" + bytes(corrupt) + good)
    assert out == [(1, p.encode_hello())]
    assert decoder.corrupt == 2


def test_frame_decoder_drops_overlong_frames() -> None:
    decoder = p.FrameDecoder()
    assert decoder.feed(b"\x01" * 1000 + b"\x00" + p.encode_frame(0, b"\x01\x01")) == [
        (0, b"\x01\x01")
    ]
    assert decoder.corrupt == 1


def test_frame_decoder_counts_sequence_gaps() -> None:
    decoder = p.FrameDecoder()
    frames = [p.encode_frame(s, p.encode_hello()) for s in (1, 2, 4, 5)]
    decoder.feed(b"".join(frames))
    assert decoder.gaps == 1
    assert decoder.frames == 4


def test_levels() -> None:
    assert p.level_to_u16(0.0) == 0
    assert p.level_to_u16(-1) == 0
    assert p.level_to_u16(float("nan")) == 0
    assert p.level_to_u16(2) == p.LEVEL_MAX
    assert p.u16_to_level(p.level_to_u16(0.5)) == pytest.approx(0.5, abs=1e-5)
