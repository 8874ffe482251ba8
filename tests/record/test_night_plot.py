"""The night picture: labelled, in local time with its zone, DST and SIMULATED marked."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from firmware_host.record.night_plot import clock_changes, round_ticks

PC6 = [sys.executable, "-m", "firmware_host.cli.main"]
LONDON = ZoneInfo("Europe/London")
DST_NIGHT = Path(__file__).parents[2] / "docs" / "examples" / "dst-night.toml"


def _epoch(y: int, m: int, d: int, h: int, tz: dt.tzinfo = LONDON) -> float:
    return dt.datetime(y, m, d, h, tzinfo=tz).timestamp()


def test_clock_changes_are_found_and_named() -> None:
    spring = clock_changes(_epoch(2026, 3, 28, 22), _epoch(2026, 3, 29, 7), LONDON)
    assert [c.label for c in spring] == ["clocks 01:00 GMT → 02:00 BST"]
    assert spring[0].at == dt.datetime(2026, 3, 29, 1, tzinfo=dt.UTC).timestamp()
    autumn = clock_changes(_epoch(2026, 10, 24, 22), _epoch(2026, 10, 25, 7), LONDON)
    assert [c.label for c in autumn] == ["clocks 02:00 BST → 01:00 GMT"]
    assert clock_changes(_epoch(2026, 6, 1, 22), _epoch(2026, 6, 2, 7), LONDON) == []


def test_ticks_fall_on_round_local_hours_across_the_jump() -> None:
    ticks = round_ticks(_epoch(2026, 3, 28, 22), _epoch(2026, 3, 29, 7), LONDON)
    labels = [dt.datetime.fromtimestamp(t, LONDON).strftime("%H:%M") for t in ticks]
    # 01:00 does not exist that night; every tick is an hour of real time apart.
    assert labels == [
        "22:00",
        "23:00",
        "00:00",
        "02:00",
        "03:00",
        "04:00",
        "05:00",
        "06:00",
        "07:00",
    ]
    assert {b - a for a, b in zip(ticks, ticks[1:], strict=False)} == {3600.0}
    india = ZoneInfo("Asia/Kolkata")  # a half-hour zone: round local hours, not UTC ones
    ticks = round_ticks(_epoch(2026, 3, 28, 22, india), _epoch(2026, 3, 29, 2, india), india)
    assert all(dt.datetime.fromtimestamp(t, india).minute == 0 for t in ticks)


def test_sim_night_plot_of_a_dst_night_is_labelled_and_marked(tmp_path: Path) -> None:
    import dataclasses

    from firmware_host.plan.schedule import night_bounds
    from firmware_host.record import night_plot
    from firmware_host.record.journal import Journal
    from firmware_host.service.night import run_daemon_virtually, twin_factory
    from firmware_host.session.config import load_config

    config = load_config(DST_NIGHT)
    config = dataclasses.replace(config, journal=tmp_path / "j.sqlite", require_clock_sync=False)
    night = dt.date(2026, 3, 28)
    start, end = night_bounds(night, LONDON)
    with Journal(config.journal) as journal:
        run_daemon_virtually(config, journal, start, end, twin_factory(config))
        fig = night_plot.draw_night(journal, night, LONDON)
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("local time (Europe/London, GMT → BST)")
    assert ax.get_ylabel() == "delivered level (0–1 of comfortable max)"
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[0] == "22:00" and "01:00" not in ticks and all(t.endswith(":00") for t in ticks)
    texts = [t.get_text() for t in ax.texts]
    assert "SIMULATED" in texts and ax.get_title().endswith("SIMULATED")
    assert any("clocks 01:00 GMT → 02:00 BST" in t for t in texts)
    assert any("limit: nightly budget (3300 s) used up" in t for t in texts)  # the cut
    notes = [a.get_text() for a in ax.texts if "sleep-onset" in a.get_text()]
    assert "22:30 wind-down-20" in texts and "02:00 sleep-onset" in notes
    assert len(ax.collections) >= 5  # each session's delivered level is drawn


def test_sim_night_plot_through_the_command(tmp_path: Path) -> None:
    env = {**os.environ, "PC6_STATE_DIR": str(tmp_path / "state")}
    cmd = [*PC6, "sim", "night", "--config", str(DST_NIGHT), "--date", "2026-03-28"]
    run = subprocess.run(
        [*cmd, "--plot", "night"], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert run.returncode == 1  # the budget cut the last session: a limit was reached
    assert "wrote night.png (a name without an extension gets .png)" in run.stdout
    assert (tmp_path / "night.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = subprocess.run(
        [*cmd, "--plot", "no/dir/x.png"], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == "pc6: error: --plot no/dir/x.png: folder no/dir does not exist\n"
