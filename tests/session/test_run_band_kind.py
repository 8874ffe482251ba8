"""Without ``--kind``, ``pc6 run --backend serial`` uses what the band says it drives.

Before, it took the profile's first kind, the band refused it, and the session was journaled
as a safety *trip* ("band drives vibration, configured pressure" — nothing was configured):
2 of the 6 library profiles failed so on a vibration band, 4 of 6 on a pressure band. A
profile that is not written for the band's kind is now a clear refusal (exit 2), not a trip.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PC6 = [sys.executable, "-m", "firmware_host.cli.main"]
BOTH = """name = "both"
description = "written for either kind"
kinds = ["vibration", "pressure"]
[[steps]]
ramp = 0.5
over = "300ms"
[[steps]]
ramp = 0
over = "300ms"
"""
VIBRATION_ONLY = BOTH.replace('["vibration", "pressure"]', '["vibration"]').replace(
    '"both"', '"buzz"'
)


def _env(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PC6_STATE_DIR": str(tmp / "state"),
        "PC6_CONFIG_DIR": str(tmp / "cfg"),
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def pressure_band(tmp_path: Path) -> Iterator[str]:
    band = subprocess.Popen(
        [*PC6, "sim", "band", "--serial", "--kind", "pressure"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
    )
    try:
        assert band.stdout is not None
        port = band.stdout.readline().strip()
        pair = subprocess.run(
            [*PC6, "band", "pair", "--port", port],
            capture_output=True,
            text=True,
            env=_env(tmp_path),
            timeout=60,
        )
        assert pair.returncode == 0, pair.stderr
        yield port
    finally:
        band.send_signal(signal.SIGTERM)
        band.wait(timeout=20)


def _run(tmp: Path, port: str, profile: str) -> subprocess.CompletedProcess[str]:
    path = tmp / "p.toml"
    path.write_text(profile)
    return subprocess.run(
        [*PC6, "run", str(path), "--backend", "serial", "--port", port],
        capture_output=True,
        text=True,
        env=_env(tmp),
        timeout=60,
    )


def _journal(tmp: Path) -> list[tuple[str, str | None]]:
    db = sqlite3.connect(tmp / "state" / "journal.sqlite")
    return db.execute("SELECT kind, reason FROM sessions ORDER BY id").fetchall()


@pytest.mark.realtime
def test_without_kind_the_band_says_what_it_drives(tmp_path: Path, pressure_band: str) -> None:
    run = _run(tmp_path, pressure_band, BOTH)
    assert run.returncode == 0, run.stderr
    assert "session completed" in run.stdout
    assert _journal(tmp_path) == [("pressure", "completed")]


@pytest.mark.realtime
def test_a_profile_not_for_the_bands_kind_is_refused_not_tripped(
    tmp_path: Path, pressure_band: str
) -> None:
    run = _run(tmp_path, pressure_band, VIBRATION_ONLY)
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "profile 'buzz' is meant for vibration, not pressure" in run.stderr
    journal = tmp_path / "state" / "journal.sqlite"
    assert not journal.exists() or all(reason != "tripped" for _, reason in _journal(tmp_path))
