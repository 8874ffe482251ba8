"""The daemon learns what a band drives from the band, as ``pc6 run`` does.

A config naming a serial (or BLE) band and no ``kind`` used to get the default, vibration:
a pressure-only profile was refused at ``pc6 ctl start`` ("the backend drives vibration"),
and a profile for both kinds was played as vibration, which the pressure band refused — a
session journaled as a safety *trip* ("band drives pressure, configured vibration") though
nothing was configured. The band says what it drives; the daemon now asks it, and plays
under that kind's limits.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from exit_testlib import PC6, child_env, ctl_child, daemon_child, paired_sim_band

BOTH = """name = "both"
description = "a second at 0.7, for either kind"
kinds = ["vibration", "pressure"]
[[steps]]
set = 0.7
for = "1s"
[[steps]]
set = 0
for = "200ms"
"""
PRESS = BOTH.replace('"both"', '"press"').replace('["vibration", "pressure"]', '["pressure"]')
BUZZ = BOTH.replace('"both"', '"buzz"').replace('["vibration", "pressure"]', '["vibration"]')
# Each kind's ceiling, told apart at the band: 0.7 asked, 0.3 delivered under pressure.
LIMITS = "[limits.pressure]\nmax_level = 0.3\n[limits.vibration]\nmax_level = 0.8\n"


def _home(tmp: Path, port: str) -> Path:
    (tmp / "profiles").mkdir()
    for text in (BOTH, PRESS, BUZZ):
        name = text.split('"')[1]
        (tmp / "profiles" / f"{name}.toml").write_text(text)
    config = tmp / "pc6band.toml"
    config.write_text(  # a serial band, and no kind: the band says
        f'require_clock_sync = false\n[backend]\nname = "serial"\nport = "{port}"\n{LIMITS}'
        f'[profiles]\ndirs = ["{tmp / "profiles"}"]\n[journal]\npath = "{tmp / "j.sqlite"}"\n'
        f'[control]\nsocket = "{tmp / "ctl.sock"}"\n'
    )
    return config


def _sessions(tmp: Path) -> list[tuple[str, str, str | None, str | None]]:
    db = sqlite3.connect(tmp / "j.sqlite")
    try:
        rows = db.execute("SELECT profile, kind, reason, detail FROM sessions ORDER BY id")
        return rows.fetchall()
    finally:
        db.close()


def _events(tmp: Path, kind: str) -> list[str]:
    db = sqlite3.connect(tmp / "j.sqlite")
    try:
        rows = db.execute("SELECT detail FROM events WHERE kind = ? ORDER BY id", (kind,))
        return [detail for (detail,) in rows.fetchall()]
    finally:
        db.close()


def _until_idle(tmp: Path, config: Path) -> dict[str, object]:
    """Ask until no session runs (each question paces the next)."""
    deadline = time.monotonic() + 60
    while (status := json.loads(ctl_child(tmp, config, "status", "--json").stdout))["session"]:
        assert time.monotonic() < deadline, status
    return status


@pytest.mark.realtime
def test_a_pressure_band_with_no_kind_configured_plays_under_pressure_limits(
    tmp_path: Path,
) -> None:
    with paired_sim_band(tmp_path, PC6, child_env(tmp_path), kind="pressure") as (port, watch):
        config = _home(tmp_path, port)
        daemon = daemon_child(tmp_path, config)
        try:
            for name in ("press", "both"):
                start = ctl_child(tmp_path, config, "start", name)
                assert start.returncode == 0, start.stderr  # before: "press" was refused
                watch.wait_for("band", lambda v: v > 0, timeout=30)
                watch.wait_for("band", lambda v: v == 0.0, timeout=30)
                status = _until_idle(tmp_path, config)
                assert status["trip"] is None, status
            # A profile for vibration only: the band drives pressure, so it is refused.
            assert ctl_child(tmp_path, config, "start", "buzz").returncode == 0
            deadline = time.monotonic() + 60
            while not _events(tmp_path, "refused"):
                assert time.monotonic() < deadline, "the vibration profile was not refused"
                status = _until_idle(tmp_path, config)
            assert status["trip"] is None, status  # a refusal latches nothing
            daemon.send_signal(signal.SIGTERM)
            _, err = daemon.communicate(timeout=60)
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
        watch.drain()
    assert daemon.returncode == 0 and "Traceback" not in err, err
    delivered = watch.values["band"]
    # Pressure's ceiling (to the wire's rounding), not vibration's 0.7.
    assert 0.25 < max(delivered) <= 0.3 + 1e-4, delivered
    assert _sessions(tmp_path) == [
        ("press", "pressure", "completed", ""),
        ("both", "pressure", "completed", ""),  # before: a "trip", played as vibration
    ]  # "buzz" never started: no session, and no trip
    refused = _events(tmp_path, "refused")
    assert len(refused) == 1 and "buzz" in refused[0] and "pressure" in refused[0], refused
