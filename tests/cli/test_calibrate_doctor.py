"""Calibration staircase with a simulated wearer; saving to the config; pc6 doctor."""

from __future__ import annotations

from pathlib import Path

import pytest
from daemon_testlib import run_virtual, write_config
from pc6_sim.actuator import SimActuator

from firmware_host.cli.calibrate import Staircase, find_levels, update_calibration
from firmware_host.cli.doctor import FAIL, OK, WARN, System, diagnose, run_doctor
from firmware_host.clock import LoopClock
from firmware_host.drive.actuator import ActuatorKind
from firmware_host.drive.trace import TraceRecorder
from firmware_host.errors import ConfigError
from firmware_host.guard.gate import SafetyGate
from firmware_host.guard.limits import limits_for
from firmware_host.session.config import Calibration, load_config


class SimWearer:
    """Answers at once when what the wrist feels crosses a threshold; else stays silent."""

    def __init__(self, actuator: SimActuator, clock: LoopClock, threshold: float) -> None:
        self.actuator, self.clock, self.threshold = actuator, clock, threshold
        self.part = 1
        self.asked: list[float] = []

    async def wait(self, timeout_s: float) -> bool:
        # Give the motor its spin-up time before the wearer judges.
        await self.clock.sleep_until(self.clock.now() + min(0.5, timeout_s))
        felt = self.actuator.felt()
        self.asked.append(felt)
        if felt >= self.threshold:
            return True
        await self.clock.sleep_until(self.clock.now() + timeout_s - 0.5)
        return False


@pytest.mark.parametrize("kind", ["vibration", "pressure"])
def test_staircase_finds_the_wearers_levels(kind: str) -> None:
    async def go() -> Calibration:
        clock = LoopClock()
        actuator = SimActuator(kind, now=clock.now)
        gate = SafetyGate(actuator, clock, limits_for(ActuatorKind(kind)), max_level=1.0)
        await gate.open(TraceRecorder(clock.now(), keep_rows=True))
        wearer = SimWearer(actuator, clock, threshold=0.23)
        said: list[str] = []

        class TwoParts:
            async def wait(self, timeout_s: float) -> bool:
                if wearer.part == 2:
                    wearer.threshold = 0.71
                return await wearer.wait(timeout_s)

        def say(text: str) -> None:
            said.append(text)
            if text.startswith("Part 2"):
                wearer.part = 2

        try:
            return await find_levels(gate, clock, TwoParts(), Staircase(), say)
        finally:
            await gate.close()

    levels = run_virtual(go)
    assert 0.18 <= levels.felt <= 0.26, levels
    assert 0.6 <= levels.comfortable <= 0.71, levels


def test_update_calibration_keeps_comments(home: Path) -> None:
    path = write_config(
        home,
        "# my notes\n[calibration.vibration]\n# measured in May\n"
        'felt = 0.1\ncomfortable = 0.9\n[daemon]\ngrace = "5m"\n',
    )
    config = update_calibration(path, ActuatorKind.VIBRATION, Calibration(0.22, 0.66))
    assert config.calibration_for(ActuatorKind.VIBRATION) == Calibration(0.22, 0.66)
    text = path.read_text()
    assert "# my notes" in text and "# measured in May" in text and 'grace = "5m"' in text
    assert text.count("felt =") == 1
    update_calibration(path, ActuatorKind.PRESSURE, Calibration(0.3, 0.5))
    loaded = load_config(path)
    assert loaded.calibration_for(ActuatorKind.PRESSURE) == Calibration(0.3, 0.5)
    assert loaded.calibration_for(ActuatorKind.VIBRATION) == Calibration(0.22, 0.66)
    before = path.read_text()
    with pytest.raises(ConfigError, match="felt: must be below comfortable"):
        update_calibration(path, ActuatorKind.PRESSURE, Calibration(0.6, 0.5))
    assert path.read_text() == before  # an invalid result is never written


def _fake(**overrides: object) -> System:
    runs = {
        "systemctl is-active bluetooth": (0, "active\n"),
        "systemctl is-active ModemManager": (0, "active\n"),
        "bluetoothctl info C0:FF:EE:00:00:01": (0, "Paired: no\nBonded: no\n"),
        "getent group pc6band": (0, "pc6band:x:990:\n"),
    }
    runs.update(overrides.pop("runs", {}))  # type: ignore[arg-type]
    missing = set(overrides.pop("missing", ()))  # type: ignore[call-overload]
    denied = set(overrides.pop("denied", ()))  # type: ignore[call-overload]
    return System(
        exists=lambda p: (
            str(p) not in missing
            and (not str(p).startswith("/") or str(p).startswith(("/dev", "/etc", "/tmp")))
        ),
        access=lambda p, mode: str(p) not in denied,
        run=lambda cmd: runs.get(" ".join(cmd), (3, "inactive")),
        clock_synced=lambda: bool(overrides.get("synced", True)),
    )


def test_doctor_serial(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The first body line lands in write_config's [control] table.
    path = write_config(
        home, 'group = "pc6band"\n[backend]\nname = "serial"\nport = "/dev/pc6band"\n'
    )
    checks = diagnose(
        path, _fake(denied={"/dev/pc6band"}, missing={"/etc/udev/rules.d/99-pc6band.rules"})
    )
    text = {c.what: (c.status, c.fix) for c in checks}
    assert text["no read/write access to /dev/pc6band"] == (
        FAIL,
        "sudo usermod -aG dialout $USER (and the pc6band user), then log in again",
    )
    status, fix = text["ModemManager will probe the band's serial port"]
    assert status == FAIL and "99-pc6band.rules" in fix
    assert text["control group pc6band exists"][0] == OK
    assert run_doctor(str(path), _fake()) == 0  # the same Pi, fixed
    no_group = _fake(runs={"getent group pc6band": (2, "")})
    assert any(c.what == "control.group 'pc6band' does not exist" for c in diagnose(path, no_group))
    capsys.readouterr()


def test_doctor_ble_and_clock(home: Path) -> None:
    path = write_config(
        home,
        'top:require_clock_sync = true\n[backend]\nname = "ble"\naddress = "C0:FF:EE:00:00:01"\n',
    )
    path.write_text(path.read_text().replace("require_clock_sync = false\n", ""))
    checks = {c.what: c for c in diagnose(path, _fake(synced=False))}
    assert checks["band C0:FF:EE:00:00:01 is not bonded (no encrypted link)"].status == FAIL
    assert checks["system clock NOT synchronized: scheduled sessions wait for it"].status == FAIL
    stopped = diagnose(path, _fake(runs={"systemctl is-active bluetooth": (3, "inactive")}))
    assert any(
        c.what.startswith("BlueZ")
        and c.status == FAIL
        and c.fix == "sudo systemctl enable --now bluetooth"
        for c in stopped
    )
    # With the requirement off, sessions do not wait: the warning must not say they do.
    relaxed = write_config(home, "")  # require_clock_sync = false
    clock = [c for c in diagnose(relaxed, _fake(synced=False)) if c.what.startswith("system clock")]
    assert len(clock) == 1 and clock[0].status == WARN, clock
    assert "wait" not in clock[0].what and "start anyway" in clock[0].what, clock


def test_doctor_sim_and_bad_config(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_config(home, "")
    checks = diagnose(good, _fake())
    assert checks[0].status == OK and any(
        c.status == WARN and "SIMULATED" in c.what for c in checks
    )
    assert run_doctor(str(good), _fake()) == 0
    bad = write_config(home, "[backend]\nname = 3\n")
    assert run_doctor(str(bad), _fake()) == 1
    out = capsys.readouterr().out
    assert "[FAIL] config:" in out and "backend.name" in out and "fix:" in out


def test_update_calibration_follows_a_symlink_and_keeps_the_mode(home: Path) -> None:
    import os
    import stat

    real = write_config(home, "[calibration.vibration]\nfelt = 0.1\ncomfortable = 0.9\n")
    real.chmod(0o600)
    link = home / "linked.toml"
    link.symlink_to(real)
    update_calibration(link, ActuatorKind.VIBRATION, Calibration(0.2, 0.7))
    assert link.is_symlink()  # the link still points at the real file ...
    assert load_config(real).calibration_for(ActuatorKind.VIBRATION) == Calibration(0.2, 0.7)
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o600  # ... which kept its mode
    assert [p.name for p in home.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_end_of_input_is_not_an_answer() -> None:
    import asyncio
    import io
    import sys

    from firmware_host.cli.calibrate import KeyboardAnswers
    from firmware_host.errors import InvalidInput

    async def scenario() -> None:
        old, sys.stdin = sys.stdin, io.StringIO("")  # a closed stdin: readline gives ""
        try:
            with pytest.raises(InvalidInput, match="stdin closed"):
                await KeyboardAnswers().wait(5.0)
        finally:
            sys.stdin = old

    asyncio.run(scenario())
