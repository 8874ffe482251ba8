"""The daemon refuses continuous stimulation beyond the hard ceiling, like pc6 run: at a
start, and in a schedule — which ``pc6 config check`` and a reload refuse alike."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from daemon_testlib import T0, ctl, local, night, run_virtual, started_at, until, write_config
from exit_testlib import PC6, child_env, ctl_child, daemon_child

from firmware_host.clock import LoopClock
from firmware_host.service.daemon import Daemon

HOLD = (
    'name = "hold-9h"\ndescription = "A 9-hour press."\nkinds = ["pressure"]\n'
    '[[steps]]\nramp = 0.5\nover = "2s"\n[[steps]]\nhold = "9h"\n[[steps]]\nramp = 0\nover = "2s"\n'
)


def test_a_start_of_a_nine_hour_press_is_refused_and_nothing_runs(home: Path) -> None:
    (home / "profiles").mkdir(exist_ok=True)
    (home / "profiles" / "hold-9h.toml").write_text(HOLD)
    config = write_config(home, '[backend]\nname = "sim"\nkind = "pressure"\n')
    seen: dict[str, Any] = {}

    async def script(daemon: Daemon, clock: LoopClock) -> None:
        await until(clock, local(22, 0))
        seen["reply"] = await ctl(daemon, "start", profile="hold-9h")

    run_virtual(lambda: night(config, T0, local(22, 5), during=script))
    reply = seen["reply"]
    assert reply.get("ok") is False, reply
    assert "steps[1]" in str(reply) and "hard ceiling of 5m" in str(reply)
    assert started_at(home) == []


# -- a scheduled 9-hour press: refused by `pc6 config check` and by a reload, as at start ----

GOOD = (
    HOLD.replace("hold-9h", "press")
    .replace("A 9-hour press", "A short press")
    .replace('"9h"', '"30s"')
)


def _scheduling(home: Path, profile: str) -> Path:
    """A real config on the simulated pressure pad, scheduling ``profile`` at 22:00."""
    (home / "profiles").mkdir(exist_ok=True)
    (home / "profiles" / "hold-9h.toml").write_text(HOLD)
    (home / "profiles" / "press.toml").write_text(GOOD)
    config = home / "pc6band.toml"
    config.write_text(
        'require_clock_sync = false\n[backend]\nname = "sim"\nkind = "pressure"\n'
        f'[profiles]\ndirs = ["{home / "profiles"}"]\n[journal]\npath = "{home / "j.sqlite"}"\n'
        f'[control]\nsocket = "{home / "ctl.sock"}"\n'
        f'[[schedule]]\nat = "22:00"\nprofile = "{profile}"\n'
    )
    return config


def _names_file_step_and_reason(text: str, home: Path) -> None:
    assert "schedule[0].profile" in text, text
    assert str(home / "profiles" / "hold-9h.toml") in text, text  # the profile's file
    assert "steps[1]" in text and "hard ceiling of 5m" in text, text  # its step, the reason


def test_config_check_refuses_a_scheduled_nine_hour_press(home: Path) -> None:
    config = _scheduling(home, "hold-9h")
    checked = subprocess.run(
        [*PC6, "config", "check", str(config)],
        capture_output=True,
        text=True,
        env=child_env(home),
        timeout=60,
    )
    assert checked.returncode == 2, checked  # before: "ok", and the night refused it later
    assert checked.stdout == "" and "Traceback" not in checked.stderr
    assert len(checked.stderr.splitlines()) == 1, checked.stderr  # one line
    _names_file_step_and_reason(checked.stderr, home)
    assert str(config) in checked.stderr  # and the config that schedules it


def _events(home: Path, kind: str) -> list[str]:
    db = sqlite3.connect(home / "j.sqlite")
    try:
        rows = db.execute("SELECT detail FROM events WHERE kind = ? ORDER BY id", (kind,))
        return [detail for (detail,) in rows.fetchall()]
    finally:
        db.close()


@pytest.mark.realtime
def test_a_reload_refuses_a_scheduled_nine_hour_press_and_keeps_the_old_config(
    home: Path,
) -> None:
    config = _scheduling(home, "press")
    daemon = daemon_child(home, config)
    try:
        good = config.read_text()
        config.write_text(good.replace('profile = "press"', 'profile = "hold-9h"'))
        reload = ctl_child(home, config, "reload")
        assert reload.returncode == 1, reload  # refused, and says why
        _names_file_step_and_reason(reload.stderr, home)
        assert "previous config stays in use" in reload.stderr
        status = ctl_child(home, config, "status", "--json")
        shown = json.loads(status.stdout)
        assert shown["state"] == "idle", shown  # not "config-invalid": the old one runs on
        assert {(n["profile"], n["at"][11:16]) for n in shown["next"]} == {("press", "22:00")}
        _names_file_step_and_reason(shown["config_error"], home)
        # Fixed: the next reload takes it, and the complaint goes.
        config.write_text(good)
        fixed = ctl_child(home, config, "reload")
        assert fixed.returncode == 0, fixed
        status = ctl_child(home, config, "status", "--json")
        assert json.loads(status.stdout)["config_error"] is None
        # SIGHUP (`systemctl reload`) is the same reload: the bad edit again, refused again.
        config.write_text(
            good.replace('at = "22:00"', 'at = "22:30"').replace('"press"', '"hold-9h"')
        )
        daemon.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while len(refused := [d for d in _events(home, "config") if "refused" in d]) < 2:
            assert daemon.poll() is None, daemon.communicate()
            assert time.monotonic() < deadline, _events(home, "config")
            ctl_child(home, config, "status")  # (paces the next look)
        _names_file_step_and_reason(refused[-1], home)
        shown = json.loads(ctl_child(home, config, "status", "--json").stdout)
        assert {(n["profile"], n["at"][11:16]) for n in shown["next"]} == {("press", "22:00")}
        _names_file_step_and_reason(shown["config_error"], home)
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=60)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert daemon.returncode == 0 and "Traceback" not in err, err
