"""The morning report (`pc6 log --night`): killed sessions, one count per interruption, DST."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from daemon_testlib import utc, write_config

from firmware_host.record.journal import Journal

PC6 = str(Path(sys.executable).parent / "pc6")


def _session(journal: Journal, at: float, *, end: str | None, events: tuple[str, ...] = ()) -> int:
    sid = journal.start_session(
        at=at, profile="short", sha256="0", source="test", backend="sim", kind="vibration",
        simulated=True, origin="schedule",
    )  # fmt: skip
    for i, kind in enumerate(events):
        journal.event(sid, at=at + 60 + i, kind=kind, detail=f"{kind} in session {sid}")
    if end is not None:
        journal.end_session(
            sid, at=at + 600, reason=end, detail="", duration_s=600, dose=12.5, peak=0.5,
            max_lateness_ms=1.0, on_s=300,
        )  # fmt: skip
    return sid


def _report(home: Path, night: str) -> str:
    run = subprocess.run(
        [PC6, "log", "--config", str(home / "pc6band.toml"), "--night", night],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_a_session_ended_at_a_limit_is_one_interruption(home: Path) -> None:
    write_config(home, "")
    with Journal(home / "journal.sqlite") as journal:
        _session(journal, utc(2026, 5, 4, 20), end="limit", events=("limit",))
        _session(journal, utc(2026, 5, 4, 21), end="limit", events=("limit",))
        _session(journal, utc(2026, 5, 4, 22), end="completed", events=("paused",))
    report = _report(home, "2026-05-04")
    assert "interruptions: 3" in report  # two limits and a pause, each once
    assert report.count("limit in session") == 0  # the cause is the session's own line


def test_a_killed_session_is_labelled_and_counted(home: Path) -> None:
    write_config(home, "")
    with Journal(home / "journal.sqlite") as journal:
        _session(journal, utc(2026, 5, 4, 20), end=None)  # the process died mid-session
        _session(journal, utc(2026, 5, 4, 22), end="completed")
    report = _report(home, "2026-05-04")
    assert "interruptions: 1" in report
    lines = [line for line in report.splitlines() if "killed" in line]
    assert lines and all("running or killed" not in line for line in lines), report


def test_the_repeated_hour_of_a_fall_back_night_shows_its_offset(home: Path) -> None:
    write_config(home, "", tz="Europe/Berlin")  # 2026-10-25 03:00 CEST -> 02:00 CET
    with Journal(home / "journal.sqlite") as journal:
        _session(journal, utc(2026, 10, 25, 0, 30), end="completed")  # 02:30 CEST
        _session(journal, utc(2026, 10, 25, 1, 30), end="completed")  # 02:30 CET
        _session(journal, utc(2026, 10, 24, 20, 0), end="completed")  # 22:00, unambiguous
    report = _report(home, "2026-10-24")
    assert "02:30+02:00–02:40+02:00" in report
    assert "02:30+01:00–02:40+01:00" in report
    assert "22:00–22:10" in report
