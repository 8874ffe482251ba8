"""``pc6 run``, the daemon and ``pc6 sim night`` deliver the same trace for the same profile
and config: they all build their session through the one assembly.

The config lowers the ceiling and calibrates, so a path that skipped either would differ.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from daemon_testlib import run_virtual, utc, write_config

from firmware_host.clock import LoopClock
from firmware_host.record.journal import Journal
from firmware_host.service.daemon import Daemon
from firmware_host.service.night import run_daemon_virtually, twin_factory
from firmware_host.service.sdnotify import Notifier
from firmware_host.session.config import load_config

PROFILE = """name = "shape"
description = "ramps, a hold above the ceiling, pulses"
kinds = ["vibration"]
[[steps]]
ramp = 0.9
over = "2s"
[[steps]]
hold = "3s"
[[steps]]
pulses = 4
level = 0.5
on = "700ms"
off = "300ms"
[[steps]]
ramp = 0
over = "1500ms"
"""
BODY = """
[calibration.vibration]
felt = 0.1
comfortable = 0.7
[limits.vibration]
max_level = 0.75
[[schedule]]
at = "22:00"
profile = "shape"
"""


def _rounded(rows: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """As the journal keeps them: ms and 1e-4 of level."""
    return [(round(t, 3), round(v, 4)) for t, v in rows]


def _by_run(home: Path, config: Path) -> list[tuple[float, float]]:
    trace = home / "run.csv"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "firmware_host.cli.main",
            "run",
            str(home / "profiles" / "shape.toml"),
            "--config",
            str(config),
            "--fast",
            "--trace",
            str(trace),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    lines = trace.read_text().splitlines()[1:]
    return _rounded([(float(a), float(b)) for a, b in (line.split(",") for line in lines)])


def _by_daemon(config: Path) -> list[tuple[float, float]]:
    async def scenario() -> list[tuple[float, float]]:
        clock = LoopClock(simulated=True, epoch=utc(2026, 3, 28, 12))
        daemon = Daemon(config, clock=clock, notifier=Notifier(None))
        daemon.reload()
        running = daemon.start_now("shape", origin="manual", why="test")
        assert running.task is not None
        await running.task
        saved = daemon.journal.trace(running.session_id)
        daemon.journal.close()
        assert saved is not None
        return saved[1]

    return run_virtual(scenario)


def _by_sim_night(home: Path, config_path: Path) -> list[tuple[float, float]]:
    from firmware_host.plan.schedule import night_bounds

    config = load_config(config_path)
    start, end = night_bounds(dt.date(2026, 3, 28), config.tz)
    with Journal(home / "night.sqlite") as journal:
        run_daemon_virtually(config, journal, start, end, twin_factory(config))
        (session,) = journal.sessions_between(start, end)
        saved = journal.trace(session.id)
    assert saved is not None
    return saved[1]


def test_run_daemon_and_sim_night_give_the_same_trace(home: Path) -> None:
    (home / "profiles" / "shape.toml").write_text(PROFILE)
    config = write_config(home, BODY)
    by_run = _by_run(home, config)
    by_daemon = _by_daemon(config)
    by_night = _by_sim_night(home, config)
    assert max(v for _, v in by_run) == 0.75  # the config's ceiling applied
    assert by_run == by_daemon == by_night
