"""Device tokens and pairing codes on disk; ``pc6 web`` refusing bad input (exit 2)."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
from web_testlib import PC6

from firmware_host.service.last_night import thin
from firmware_host.web.tokens import CODE_TTL_S, TokenFileError, TokenStore


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def test_a_code_is_single_use_and_expires(tmp_path: Path) -> None:
    clock = Clock()
    store = TokenStore(tmp_path / "t.json", now=clock)
    code = store.new_code()
    assert len(code) == 8 and code.isdigit()
    paired = store.redeem(code, "phone")
    assert paired is not None
    device, token = paired
    assert store.check(token) == device
    assert store.redeem(code, "again") is None
    late = store.new_code()
    clock.t += CODE_TTL_S + 1
    assert store.redeem(late, "late") is None
    assert [d.name for d in store.devices()] == ["phone"]


def test_only_hashes_are_kept_and_the_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    store = TokenStore(path)
    code = store.new_code()
    paired = store.redeem(code, "phone\x1b[31m")  # terminal escapes are dropped from names
    assert paired is not None
    text = path.read_text()
    assert paired[1] not in text and code not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert paired[0].name == "phone[31m"


def test_a_revoke_from_another_process_counts_at_once(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    server = TokenStore(path)
    paired = server.redeem(server.new_code(), "phone")
    assert paired is not None
    assert server.check(paired[1]) is not None
    assert TokenStore(path).revoke(paired[0].id) is not None  # as `pc6 web revoke` does
    assert server.check(paired[1]) is None


def test_a_damaged_token_file_lets_nobody_in(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    store = TokenStore(path)
    paired = store.redeem(store.new_code(), "phone")
    assert paired is not None
    path.write_text("{not json")
    with pytest.raises(TokenFileError, match="remove it and pair again"):
        store.check(paired[1])


def test_thinning_keeps_short_pulses() -> None:
    points = [(float(t), 0.0) for t in range(10_000)]
    points[5001] = (5001.0, 0.8)  # one short pulse in a long night
    thinned = thin(points, 240)
    assert len(thinned) <= 241
    assert max(v for _, v in thinned) == 0.8


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "localhost"], "--listen: must be ADDRESS:PORT"),
        (["--listen", "127.0.0.1:99999"], "--listen: must be ADDRESS:PORT"),
        (["--tls-cert", "/nonexistent.pem"], "--tls-cert and --tls-key go together"),
        (["--tls-cert", "/nonexistent.pem", "--tls-key", "/x.key"], "no such file"),
        (["revoke", "nope"], "no paired device 'nope'"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    out = subprocess.run(
        [PC6, "web", "--tokens", str(tmp_path / "t.json"), *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2, out
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
