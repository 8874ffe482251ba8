"""Who is in control: stop button > manual command > schedule; trips; snooze; clock steps.

All on the virtual clock, through the same protocol handler the socket uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from daemon_testlib import (
    T0,
    ctl,
    local,
    night,
    run_virtual,
    started_at,
    until,
    write_config,
)

from firmware_host.clock import LoopClock
from firmware_host.drive.actuator import ActuatorKind
from firmware_host.record.journal import Journal
from firmware_host.service.daemon import Daemon, default_actuator
from firmware_host.session.config import Config

LONG = """\
name = "long"
description = "Ten minutes of steady vibration."
kinds = ["vibration"]
intent = "other"
[[steps]]
ramp = 0.4
over = "5s"
[[steps]]
hold = "10m"
[[steps]]
ramp = 0.0
over = "5s"
"""


def _events(home: Path, kind: str) -> list[str]:
    with Journal(home / "journal.sqlite") as journal:
        return [d for _, _, k, d in journal.events_between(0, 2e9) if k == kind]


def recording_factory() -> tuple[list[Any], Any]:
    """The daemon's own actuator factory, keeping each actuator it makes for the test."""
    made: list[Any] = []

    def factory(cfg: Config, kind: ActuatorKind) -> Any:
        made.append(default_actuator(cfg, kind))
        return made[-1]

    return made, factory


def test_order_of_authority(home: Path) -> None:
    (home / "profiles" / "long.toml").write_text(LONG)
    config = write_config(
        home,
        """
[[schedule]]
at = "22:00"
profile = "long"
[[schedule]]
at = "22:05"
profile = "short"
[[schedule]]
at = "22:30"
profile = "short"
[limits.vibration]
soft_stop_s = 1
""",
    )
    seen: dict[str, Any] = {}

    async def script(daemon: Daemon, clock: LoopClock) -> None:
        await until(clock, local(22, 1))
        seen["scheduled"] = (await ctl(daemon, "status"))["control"]
        await until(clock, local(22, 2))
        assert (await ctl(daemon, "start", profile="short"))["ok"]  # manual beats schedule
        seen["manual"] = (await ctl(daemon, "status"))["control"]
        await until(clock, local(22, 3))
        assert (await ctl(daemon, "start", profile="long"))["ok"]
        await until(clock, local(22, 6))  # the 22:05 short was skipped: manual runs
        assert daemon.running is not None and daemon.running.profile == "long"
        daemon.stop_button_pressed()  # the button beats everything
        await until(clock, local(22, 7))
        seen["button"] = await ctl(daemon, "status")
        seen["refused"] = await ctl(daemon, "start", profile="short")
        await until(clock, local(22, 31))  # the 22:30 short is held too
        seen["reset"] = await ctl(daemon, "reset")
        seen["after"] = await ctl(daemon, "start", profile="short")

    run_virtual(lambda: night(config, T0, local(22, 40), during=script))

    assert seen["scheduled"] == {"by": "schedule", "why": "schedule[0] at 22:00"}
    assert seen["manual"]["by"] == "manual"
    assert seen["button"]["state"] == "held" and seen["button"]["control"]["by"] == "stop-button"
    assert "stop button pressed at 22:06" in seen["button"]["control"]["why"]
    assert not seen["refused"]["ok"] and "stop button pressed" in seen["refused"]["error"]
    assert "stop button pressed at 22:06" in seen["reset"]["cleared"][0]
    assert seen["after"]["ok"]
    assert [(round(t), p) for t, p in started_at(home)] == [
        (local(22, 0), "long"),
        (local(22, 2), "short"),
        (local(22, 3), "long"),
        (local(22, 31), "short"),
    ]
    skipped = _events(home, "schedule")
    assert any("22:05" in s or "manual session is still running" in s for s in skipped)
    assert any("stop button pressed" in s for s in skipped)
    with Journal(home / "journal.sqlite") as journal:
        rows = list(reversed(journal.recent(10)))
    assert rows[0].reason == "stopped" and "replaced by a manual start" in (rows[0].detail or "")
    assert rows[2].reason == "stopped" and rows[2].detail == "stop button"
    assert [r.origin for r in rows] == ["schedule", "manual", "manual", "manual"]


def test_trip_latches_until_reset(home: Path) -> None:
    config = write_config(home, '[[schedule]]\nat = "22:10"\nprofile = "short"\n')
    made, factory = recording_factory()

    seen: dict[str, Any] = {}

    async def script(daemon: Daemon, clock: LoopClock) -> None:
        await until(clock, local(22, 0))
        assert (await ctl(daemon, "start", profile="short"))["ok"]
        await until(clock, local(22, 0, 10))
        made[-1].fail_next = "motor driver overheated"
        await until(clock, local(22, 1))
        seen["status"] = await ctl(daemon, "status")
        seen["refused"] = await ctl(daemon, "start", profile="short")
        await until(clock, local(22, 11))  # the scheduled session is skipped
        seen["reset"] = await ctl(daemon, "reset")
        seen["again"] = await ctl(daemon, "start", profile="short")

    run_virtual(lambda: night(config, T0, local(22, 20), during=script, actuator_factory=factory))
    status = seen["status"]
    assert status["state"] == "tripped" and status["control"]["by"] == "safety"
    assert "motor driver overheated" in status["trip"]
    assert "safety trip latched" in seen["refused"]["error"]
    assert "motor driver overheated" in seen["reset"]["cleared"][0]
    assert seen["again"]["ok"]
    assert any("safety trip latched" in s for s in _events(home, "schedule"))
    assert any("motor driver overheated" in s for s in _events(home, "trip"))


def test_snooze_skips_scheduled_sessions(home: Path) -> None:
    config = write_config(
        home,
        '[[schedule]]\nat = "22:10"\nprofile = "short"\n'
        '[[schedule]]\nat = "23:00"\nprofile = "short"\n',
    )

    async def script(daemon: Daemon, clock: LoopClock) -> None:
        await until(clock, local(22, 0))
        assert (await ctl(daemon, "snooze", duration="30m"))["ok"]

    run_virtual(lambda: night(config, T0, local(23, 10), during=script))
    assert [round(t) for t, _ in started_at(home)] == [local(23, 0)]
    assert any("snoozed until 22:30" in s for s in _events(home, "schedule"))


def test_wall_clock_steps(home: Path) -> None:
    """Forward over a session: journaled as missed. Backward: nothing runs twice."""
    config = write_config(
        home,
        '[[schedule]]\nat = "22:00"\nprofile = "short"\n'
        '[[schedule]]\nat = "23:00"\nprofile = "short"\n[daemon]\ncheck_every = "1m"\n',
    )

    async def script(daemon: Daemon, clock: LoopClock) -> None:
        await until(clock, local(21, 55))
        clock._epoch += 3600  # NTP steps the clock an hour forward, past 22:00
        await until(clock, local(23, 30))
        clock._epoch -= 3600  # …and back again, before 23:00: it already ran
        await until(clock, local(23, 30))

    run_virtual(lambda: night(config, T0, local(23, 40), during=script))
    assert [round(t) for t, _ in started_at(home)] == [local(23, 0)]
    assert any("missed: due at 22:00" in s for s in _events(home, "schedule"))


def test_waits_for_clock_sync(home: Path) -> None:
    config = write_config(home, '[[schedule]]\nat = "22:00"\nprofile = "short"\n')
    config.write_text(
        config.read_text().replace("require_clock_sync = false", "require_clock_sync = true")
    )
    synced = {"now": False}
    seen: dict[str, Any] = {}

    async def script(daemon: Daemon, clock: LoopClock) -> None:
        await until(clock, local(22, 1))
        seen["waiting"] = (await ctl(daemon, "status"))["control"]["why"]
        synced["now"] = True

    run_virtual(
        lambda: night(config, T0, local(22, 20), during=script, clock_synced=lambda: synced["now"])
    )
    assert seen["waiting"] == "waiting for the system clock to be synchronized"
    ((started, _),) = started_at(home)
    assert local(22, 1) <= started <= local(22, 1, 31)  # within one check once synced


def test_start_in_ten_minutes(home: Path) -> None:
    config = write_config(home, "")
    seen: dict[str, Any] = {}

    async def script(daemon: Daemon, clock: LoopClock) -> None:
        await until(clock, local(22, 0))
        seen["reply"] = await ctl(daemon, "start", profile="short", **{"in": "10m"})
        await until(clock, local(22, 10, 1))
        seen["status"] = await ctl(daemon, "status")

    run_virtual(lambda: night(config, T0, local(22, 20), during=script))
    assert seen["reply"]["at"] == "2026-06-01T22:10:00+02:00"
    assert seen["status"]["control"]["by"] == "manual"
    assert "delayed" in seen["status"]["control"]["why"]
    assert [round(t) for t, _ in started_at(home)] == [local(22, 10)]


def test_profiles_run_relative_to_the_calibration(home: Path) -> None:
    """felt 0.2, comfortable 0.6: the short profile's 0.5 reaches the motor as 0.4."""
    config = write_config(home, "[calibration.vibration]\nfelt = 0.2\ncomfortable = 0.6\n")
    made, factory = recording_factory()

    async def script(daemon: Daemon, clock: LoopClock) -> None:
        assert (await ctl(daemon, "start", profile="short"))["ok"]
        await until(clock, local(21, 50, 20))
        seen.append(made[0].output.level_at(clock.now()))
        seen.append(daemon.status()["session"]["output"])

    seen: list[float] = []
    run_virtual(lambda: night(config, T0, local(21, 52), during=script, actuator_factory=factory))
    assert seen == [pytest.approx(0.4), pytest.approx(0.5)]  # at the motor; in the wearer's


def test_link_loss_is_journaled_and_the_session_goes_on(home: Path) -> None:
    """Through the calibration wrapper, a band's link news reaches the gate and the journal."""
    config = write_config(home, "")
    made, factory = recording_factory()

    async def script(daemon: Daemon, clock: LoopClock) -> None:
        assert (await ctl(daemon, "start", profile="short"))["ok"]
        await until(clock, local(21, 50, 10))
        made[0].report_link(False, "link lost: out of range")
        await until(clock, local(21, 50, 20))
        made[0].report_link(True, "link back")

    run_virtual(lambda: night(config, T0, local(21, 55), during=script, actuator_factory=factory))
    links = _events(home, "link")
    assert links[:2] == ["link lost: out of range", "link back"], links
    with Journal(home / "journal.sqlite") as journal:
        assert journal.recent(1)[0].reason == "completed"


def test_a_restart_keeps_the_trip_latched_and_the_snooze(home: Path) -> None:
    """A crash and systemd's Restart= must not clear what a person has to decide."""
    config = write_config(home, '[[schedule]]\nat = "22:30"\nprofile = "short"\n')
    made, factory = recording_factory()

    async def first_life(daemon: Daemon, clock: LoopClock) -> None:
        await until(clock, local(22, 0))
        assert (await ctl(daemon, "start", profile="short"))["ok"]
        await until(clock, local(22, 0, 10))
        made[-1].fail_next = "motor driver overheated"
        await until(clock, local(22, 1))
        assert (await ctl(daemon, "snooze", duration="8h"))["ok"]

    run_virtual(
        lambda: night(config, T0, local(22, 5), during=first_life, actuator_factory=factory)
    )
    seen: dict[str, Any] = {}

    async def second_life(daemon: Daemon, clock: LoopClock) -> None:
        await until(clock, local(22, 10))
        seen["status"] = await ctl(daemon, "status")
        seen["refused"] = await ctl(daemon, "start", profile="short")

    # The daemon comes back (a new process), and the scheduled 22:30 passes.
    run_virtual(lambda: night(config, local(22, 6), local(22, 40), during=second_life))
    assert seen["status"]["state"] == "tripped"
    assert "motor driver overheated" in seen["status"]["trip"]
    assert "safety trip latched" in seen["refused"]["error"]
    assert [p for _, p in started_at(home)] == ["short"]  # nothing ran after the restart
