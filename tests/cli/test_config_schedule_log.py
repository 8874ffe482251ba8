"""The command line: pc6 config, pc6 schedule, pc6 sim night, pc6 log --night/--plot/--csv."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest
from daemon_testlib import write_config

from firmware_host.cli.main import main
from firmware_host.session.config import example_config_text, parse_config

NIGHT = """
[[schedule]]
at = "22:30"
profile = "short"
[[schedule]]
between = "23:00"
until = "01:00"
every = "30m"
profile = "short"
"""


def pc6(*argv: str) -> tuple[int, str, str]:
    """Run ``pc6`` in-process with captured output."""
    import contextlib

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_example_config_is_valid_and_documented() -> None:
    text = example_config_text()
    config = parse_config(text, source="example")
    assert config.backend == "sim" and len(config.schedule) == 2
    for key in (
        "timezone",
        "require_clock_sync",
        "[calibration.vibration]",
        "[[schedule]]",
        "between",
        "once",
        "[stop_button]",
        "group",
        "not a medical device",
    ):
        assert key in text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[backend]\nname = "gpoi"\n',
            "backend.name: must be one of ble, gpio, gpio-sim, serial, sim, got 'gpoi'; "
            "did you mean 'gpio'?",
        ),
        ("[limits.vibration]\nlease_s = 60\n", "limits.vibration.lease_s: must be at most 5"),
        (
            "[calibration.vibration]\nfelt = 0.9\ncomfortable = 0.5\n",
            "calibration.vibration.felt: must be below comfortable (0.5), got 0.9",
        ),
        (
            '[[schedule]]\nat = "22:30"\nprofile = "short"\ndays = ["mon", "fun"]\n',
            "schedule[0].days: unknown day 'fun'",
        ),
        ('[[schedule]]\nbetween = "23:00"\nprofile = "short"\n', "schedule[0].until: required"),
        ('[[schedule]]\nat = "22:30"\nprofile = "nope"\n', "schedule[0].profile: "),
        ("top:shedule = 1\n", "shedule: unknown key; did you mean 'schedule'?"),
        ('[daemon]\ngrace = "soon"\n', "daemon.grace: cannot read duration 'soon'"),
        ("[backend]\nfoo = 1\n", "backend.foo: not an option of the sim backend"),
        (
            '[backend]\nname = "serial"\nprot = "/dev/ttyACM0"\n',
            "backend.prot: not an option of the serial backend; did you mean 'port'?",
        ),
        (
            '[backend]\nname = "serial"\nport = "/dev/ttyACM0"\nbaudrate = "fast"\n',
            "backend.baudrate: wrong type, got 'fast'",
        ),
        ('[backend]\nname = "ble"\n', "backend.address: the ble backend needs it"),
        ("[daemon]\ngrace = 1e308\n", "daemon.grace: duration must be finite and at most"),
    ],
)
def test_config_check_names_the_key(home: Path, body: str, message: str) -> None:
    path = write_config(home, body)
    code, _out, err = pc6("config", "check", str(path))
    assert code == 2 and message in err, err
    assert f"{path}:" in err


def test_unknown_time_zone(home: Path) -> None:
    code, _, err = pc6("config", "check", str(write_config(home, "", tz="Mars/Olympus")))
    assert code == 2 and "pc6band.toml:1: timezone: unknown time zone 'Mars/Olympus'" in err


def test_config_check_and_show(home: Path) -> None:
    path = write_config(home, NIGHT)
    code, out, _ = pc6("config", "check", str(path))
    assert code == 0 and "ok" in out and "SIMULATED" in out
    code, out, _ = pc6("config", "show", str(path))
    assert code == 0 and 'name = "sim"' in out and "nightly_budget_s = 14400" in out
    assert "between 23:00 and 01:00 every 30 min every day: short" in out


def test_schedule_preview(home: Path) -> None:
    code, out, _ = pc6("schedule", "--config", str(write_config(home, NIGHT)), "-n", "5")
    assert code == 0 and "schedule[1]  between 23:00 and 01:00" in out
    assert len([line for line in out.splitlines() if line.startswith("  ")]) == 5


def test_sim_night_and_morning_report(home: Path, tmp_path: Path) -> None:
    path = write_config(home, NIGHT)
    code, out, _ = pc6("sim", "night", "--config", str(path), "--date", "2026-03-28")
    assert code == 0, out
    assert "SIMULATED" in out and "Night of 2026-03-28" in out
    assert "sessions: 5" in out and "ok: no trip" in out
    assert out.count("completed") == 5


def test_sim_night_exit_codes(home: Path) -> None:
    bad = write_config(home, '[[schedule]]\nat = "22:30"\nprofile = "short"\nevery = "1h"\n')
    code, _, err = pc6("sim", "night", "--config", str(bad))
    assert code == 2 and "schedule[0].every" in err
    # A budget smaller than the night needs: the gate ends a session at the limit.
    tight = write_config(home, NIGHT + "[limits.vibration]\nnightly_budget_s = 60\n")
    code, out, _ = pc6("sim", "night", "--config", str(tight), "--date", "2026-03-28")
    assert code == 1 and "SAFETY LIMIT reached: nightly budget (60 s) used up" in out


def test_log_night_plot_csv(home: Path, tmp_path: Path) -> None:
    import datetime as dt

    from firmware_host.plan.schedule import night_bounds
    from firmware_host.record.journal import Journal
    from firmware_host.service.night import run_daemon_virtually, twin_factory
    from firmware_host.session.config import load_config

    path = write_config(home, NIGHT)
    config = load_config(path)
    start, end = night_bounds(dt.date(2026, 3, 28), config.tz)
    with Journal(config.journal) as journal:
        run_daemon_virtually(config, journal, start, end, twin_factory(config))
    code, out, _ = pc6("log", "--config", str(path))
    assert code == 0 and "night of 2026-03-28" in out and out.count("short") == 5
    code, out, _ = pc6("log", "--config", str(path), "--night", "2026-03-28")
    assert "sessions: 5" in out and "stimulation: vibration" in out and "dose:" in out
    code, out, _ = pc6(
        "log", "--config", str(path), "--night", "last", "--plot", str(tmp_path / "night.png")
    )
    assert code == 0 and (tmp_path / "night.png").read_bytes()[:4] == b"\x89PNG"
    code, out, _ = pc6("log", "--config", str(path), "--csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][:4] == ["id", "started_at", "ended_at", "profile"] and len(rows) == 6
    code, out, _ = pc6("log", "--config", str(path), "--csv", "--events")
    assert "daemon" in out
    code, _, err = pc6("log", "--config", str(path), "--night", "yesterday")
    assert code == 2 and "--night: must be a date" in err


def test_cli_import_is_cheap() -> None:
    code = (
        "import sys, firmware_host.cli.main as c; c.build_parser(); "
        "heavy = {'numpy', 'bleak', 'gpiozero', 'matplotlib', 'async_solipsism'} & "
        "set(sys.modules); print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_sim_night_on_the_gpio_twin(home: Path) -> None:
    path = write_config(
        home,
        '[backend]\nname = "gpio"\nkind = "pressure"\npin = 18\n'
        '[[schedule]]\nat = "22:30"\nprofile = "fitting-test"\n',
    )
    code, out, err = pc6("sim", "night", "--config", str(path), "--date", "2026-10-24")
    assert code == 0, err
    assert "pressure" in out and "completed" in out and "SIMULATED" in out


def test_morning_report_says_the_clocks_changed(home: Path) -> None:
    path = write_config(home, NIGHT)
    code, out, _ = pc6("sim", "night", "--config", str(path), "--date", "2026-10-24")
    assert code == 0 and "clocks went back 1 h this night (CEST → CET)" in out
    code, out, _ = pc6("sim", "night", "--config", str(path), "--date", "2026-03-28")
    assert "clocks went forward 1 h this night (CET → CEST)" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["ctl", "snooze", "banana"],
        ["ctl", "level", "7"],
        ["ctl", "start", "x", "--in", "5x"],
        ["log", "--csv", "/nonexistent/dir/x.csv"],
    ],
)
def test_bad_input_exits_2_with_a_message(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from firmware_host.cli.main import main

    monkeypatch.setenv("PC6_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PC6_CONFIG_DIR", str(tmp_path / "cfg"))
    if argv[0] == "log":
        from firmware_host.record.journal import Journal

        Journal(tmp_path / "state" / "journal.sqlite").close()
    assert main(argv) == 2
    assert "pc6: error:" in capsys.readouterr().err


@pytest.mark.parametrize("latency", ["none", "ble"])
def test_sim_night_with_a_band_backend_plays_through_the_band_core(
    home: Path, latency: str
) -> None:
    # It used to play the plain simulator and say nothing about it.
    path = write_config(home, '[backend]\nname = "ble"\naddress = "AA:BB:CC:DD:EE:FF"\n' + NIGHT)
    code, out, err = pc6(
        "sim", "night", "--config", str(path), "--date", "2026-03-28", "--link-latency", latency
    )
    assert code == 0, out + err
    assert "twin: the ble band's twin: host link, codec and band firmware core" in out
    assert f"in-memory link ({latency}" in out
    assert "sessions: 5" in out and out.count("completed") == 5 and "ok: no trip" in out
