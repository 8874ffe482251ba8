"""`pc6 log`: --night with --csv, bad dates, --plot without matplotlib, read-only journals."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from daemon_testlib import write_config

from firmware_host.plan.schedule import night_bounds, night_of
from firmware_host.record.journal import Journal
from firmware_host.session.config import load_config

PC6 = str(Path(sys.executable).parent / "pc6")
NIGHTS = (dt.date(2026, 3, 26), dt.date(2026, 3, 27))


def pc6(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``pc6`` as the user runs it."""
    return subprocess.run(
        [PC6, *argv], capture_output=True, text=True, timeout=120, env=env or dict(os.environ)
    )


@pytest.fixture
def two_nights(home: Path) -> Path:
    """A config whose journal holds two nights of five 10-minute sessions each."""
    path = write_config(home, "")
    config = load_config(path)
    with Journal(config.journal) as journal:
        for night in NIGHTS:
            start, _ = night_bounds(night, config.tz)
            for hour in (10, 11, 12, 13, 14):  # 22:00 to 02:00 local
                at = start + hour * 3600
                sid = journal.start_session(
                    at=at,
                    profile="short",
                    sha256="0",
                    source="test",
                    backend="sim",
                    kind="vibration",
                    simulated=True,
                    origin="schedule",
                )
                journal.event(sid, at=at + 60, kind="paused", detail="by test")
                journal.end_session(
                    sid,
                    at=at + 600,
                    reason="completed",
                    detail="",
                    duration_s=600,
                    dose=30.0,
                    peak=0.5,
                    max_lateness_ms=1.0,
                    on_s=500,
                )
    return path


def test_night_and_csv_export_only_that_night(two_nights: Path) -> None:
    tz = load_config(two_nights).tz
    run = pc6("log", "--config", str(two_nights), "--night", "2026-03-27", "--csv")
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    assert len(rows) == 5
    nights = {night_of(dt.datetime.fromisoformat(r["started_at"]).timestamp(), tz) for r in rows}
    assert nights == {dt.date(2026, 3, 27)}
    everything = pc6("log", "--config", str(two_nights), "--csv")
    assert len(list(csv.DictReader(io.StringIO(everything.stdout)))) == 10
    events = pc6("log", "--config", str(two_nights), "--night", "2026-03-26", "--csv", "--events")
    stamps = [r["at"] for r in csv.DictReader(io.StringIO(events.stdout))]
    start, end = night_bounds(NIGHTS[0], tz)
    assert stamps and all(start <= dt.datetime.fromisoformat(t).timestamp() < end for t in stamps)


@pytest.mark.parametrize(
    "extra", [[], ["--csv"], ["--plot", "x.png"]], ids=["report", "csv", "plot"]
)
def test_a_bad_night_is_exit_2_even_without_a_journal(home: Path, extra: list[str]) -> None:
    run = pc6("log", "--night", "2026-02-30", *extra, env={**os.environ, "HOME": str(home)})
    assert run.returncode == 2, run
    assert (
        run.stderr == "pc6: error: --night: must be a date like 2026-03-29 or 'last', "
        "got '2026-02-30'\n"
    )


def test_plot_without_matplotlib_names_the_install_command(two_nights: Path, home: Path) -> None:
    # A None entry in sys.modules is Python's own way to make an import fail: matplotlib
    # stays installed for the other tests, this process behaves as if it were not.
    code = (
        "import sys; sys.modules['matplotlib'] = None; "
        "from firmware_host.cli.main import main; sys.exit(main(sys.argv[1:]))"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "log",
            "--config",
            str(two_nights),
            "--night",
            "last",
            "--plot",
            str(home / "n.png"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert f"{sys.executable} -m pip install 'pc6band[plot]'" in run.stderr
    assert not (home / "n.png").exists()


def _read_only_pc6(folder: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``pc6`` that cannot write ``folder`` or the files in it.

    As root (who may write any file) ``folder`` is bind-mounted read-only in a private mount
    namespace, a real read-only file system; as anyone else the modes do it.
    """
    if os.geteuid() != 0:
        for path in folder.iterdir():
            path.chmod(0o444)
        folder.chmod(0o555)
        return pc6(*argv)
    unshare = shutil.which("unshare")
    assert unshare, "unshare (util-linux) is needed to make a read-only mount"
    script = (
        f'mount --bind "{folder}" "{folder}" && mount -o remount,ro,bind "{folder}" && exec "$@"'
    )
    return subprocess.run(
        [unshare, "-m", "sh", "-c", script, "sh", PC6, *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_reader_who_cannot_write_the_journal_gets_the_report(two_nights: Path) -> None:
    journal = load_config(two_nights).journal
    run = _read_only_pc6(journal.parent, "log", "--config", str(two_nights), "--night", "last")
    assert run.returncode == 0, run.stderr
    assert "sessions: 5" in run.stdout


def test_a_reader_sees_what_the_running_daemon_has_written(two_nights: Path) -> None:
    config = load_config(two_nights)
    # The daemon's handle stays open (its -wal and -shm exist, the newest rows only in -wal).
    with Journal(config.journal) as writer:
        start, _ = night_bounds(dt.date(2026, 3, 28), config.tz)
        sid = writer.start_session(
            at=start + 3600,
            profile="late",
            sha256="0",
            source="test",
            backend="sim",
            kind="vibration",
            simulated=True,
            origin="manual",
        )
        writer.event(sid, at=start + 3601, kind="trip", detail="test trip")
        if os.geteuid() != 0:
            pytest.fail("needs root to hold the journal writable while the reader cannot")
        run = _read_only_pc6(
            config.journal.parent, "log", "--config", str(two_nights), "--night", "2026-03-28"
        )
    assert run.returncode == 0, run.stderr
    assert "late" in run.stdout and "test trip" in run.stdout
