"""``pc6`` as a person uses it: signals, help, plots, the journal."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

PC6 = [sys.executable, "-m", "firmware_host.cli.main"]


def _env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "PC6_STATE_DIR": str(tmp / "state"), "PYTHONUNBUFFERED": "1"}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_session_ramps_down_journals_and_exits_0(sig: int, tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    proc = subprocess.Popen(
        [*PC6, "run", "sleep-onset", "--trace", str(trace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
    )
    assert proc.stdout is not None
    assert "SIMULATED" in proc.stdout.readline()
    assert proc.stdout.readline().startswith("profile sleep-onset")  # the session is running
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "session stopped" in out
    with trace.open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["t_s", "level"] and float(rows[-1][1]) == 0.0
    db = sqlite3.connect(tmp_path / "state" / "journal.sqlite")
    reason, detail = db.execute("SELECT reason, detail FROM sessions").fetchone()
    assert reason == "stopped" and signal.Signals(sig).name in detail
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_help_does_not_import_heavy_libraries(tmp_path: Path) -> None:
    code = (
        "import sys; from firmware_host.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('numpy', 'bleak', 'gpiozero', 'matplotlib', 'serial', 'bumble')"
        " if m in sys.modules]\nprint('HEAVY', heavy)"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(tmp_path), timeout=60
    )
    assert "HEAVY []" in run.stdout


def test_profile_show_prints_figures_and_a_plot(tmp_path: Path) -> None:
    run = subprocess.run(
        [*PC6, "profile", "show", "evening-pc6"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
    )
    assert run.returncode == 0
    for word in ("duration", "on-time", "duty", "dose", "peak", "longest on", "└"):
        assert word in run.stdout


def test_profile_plot_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "night.png"
    run = subprocess.run(
        [*PC6, "profile", "plot", "night-gentle", "-o", str(out)],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_profile_list_names_the_library(tmp_path: Path) -> None:
    run = subprocess.run(
        [*PC6, "profile", "list"], capture_output=True, text=True, env=_env(tmp_path), timeout=60
    )
    assert run.returncode == 0
    assert "night-gentle" in run.stdout and "breathing-press" in run.stdout


def test_unknown_backend_is_invalid_input(tmp_path: Path) -> None:
    run = subprocess.run(
        [*PC6, "run", "fitting-test", "--backend", "telepathy"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
    )
    assert run.returncode == 2 and "known backends" in run.stderr


def test_a_spent_nightly_budget_refuses_to_start(tmp_path: Path) -> None:
    import time

    from firmware_host.record.journal import Journal

    state = tmp_path / "state"
    state.mkdir()  # an explicit journal path's folder must exist
    with Journal(state / "journal.sqlite") as journal:
        sid = journal.start_session(
            at=time.time() - 60,
            profile="earlier",
            sha256="-",
            source="-",
            backend="sim",
            kind="vibration",
            simulated=True,
        )
        journal.end_session(
            sid,
            at=time.time(),
            reason="completed",
            detail="",
            duration_s=1,
            dose=0,
            peak=0,
            max_lateness_ms=0,
            on_s=4 * 3600,
        )
    run = subprocess.run(
        [*PC6, "run", "fitting-test", "--kind", "vibration"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
    )
    assert run.returncode == 1
    assert "budget" in run.stderr and "renews at noon" in run.stderr
    assert "SIMULATED" in run.stdout and "session" not in run.stdout  # nothing played
