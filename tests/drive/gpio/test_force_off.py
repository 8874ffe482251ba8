"""The ExecStopPost= force-off command."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_host.drive.gpio.force_off import main


def test_forces_every_pin_low_on_mock_pins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "pins.log"
    monkeypatch.setenv("PC6_SIM_PINS_LOG", str(log))
    assert (
        main(["--sim-pins", "--pin", "13", "--pin", "23", "--servo-pin", "18", "--release-s", "0"])
        == 0
    )
    last: dict[str, float] = {}
    for line in log.read_text().splitlines():
        _, name, value, _ = line.split()
        last[name] = float(value)
    assert last == {"GPIO13": 0.0, "GPIO23": 0.0, "GPIO18": 0.0}


def test_servo_gets_release_pulses_before_going_low(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "pins.log"
    monkeypatch.setenv("PC6_SIM_PINS_LOG", str(log))
    monkeypatch.setattr("firmware_host.drive.gpio.force_off.time.sleep", lambda s: None)
    assert main(["--sim-pins", "--servo-pin", "18", "--release", "0.1"]) == 0
    values = [float(line.split()[2]) for line in log.read_text().splitlines()]
    pulse = (1.0 + 0.1) / 20  # 1.1 ms pulse in a 20 ms frame
    first = next(i for i, v in enumerate(values) if v == pytest.approx(pulse))
    assert values[-1] == 0.0 and all(v == 0.0 for v in values[first + 1 :])


@pytest.mark.parametrize(
    "argv", [["--pin", "13", "--release", "2"], ["--pin", "13", "--release-s", "-1"]]
)
def test_bad_arguments(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--sim-pins", *argv]) == 2
    assert "pc6-gpio-off" in capsys.readouterr().err


def test_a_failing_pin_does_not_stop_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "pins.log"
    monkeypatch.setenv("PC6_SIM_PINS_LOG", str(log))
    assert main(["--sim-pins", "--pin", "99", "--pin", "13"]) == 1
    assert "GPIO13 0.000000" in log.read_text()
