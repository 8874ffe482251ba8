"""`pc6-gpio-off --config`: the unit's ExecStopPost= turns the config's pins off by default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

OFF = str(Path(sys.executable).parent / "pc6-gpio-off")


def _run(tmp_path: Path, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    environ = {**os.environ, "PC6_SIM_PINS_LOG": str(tmp_path / "pins.log"), **(env or {})}
    done = subprocess.run([OFF, *argv], capture_output=True, text=True, env=environ, timeout=60)
    return done.returncode, done.stdout, done.stderr


def _last_levels(tmp_path: Path) -> dict[str, float]:
    last: dict[str, float] = {}
    for line in (tmp_path / "pins.log").read_text().splitlines():
        _, name, value, _ = line.split()
        last[name] = float(value)
    return last


def test_vibration_pins_from_the_config(tmp_path: Path) -> None:
    config = tmp_path / "pc6band.toml"
    config.write_text('[backend]\nname = "gpio"\npin = 12\nenable_pin = 23\nsim_pins = true\n')
    code, _, err = _run(tmp_path, "--config", str(config))
    assert (code, err) == (0, "")
    assert _last_levels(tmp_path) == {"GPIO12": 0.0, "GPIO23": 0.0}


def test_pressure_servo_released_then_low(tmp_path: Path) -> None:
    config = tmp_path / "pc6band.toml"
    config.write_text(
        '[backend]\nname = "gpio"\nkind = "pressure"\npin = 18\ndeadman_pin = 24\nsim_pins = true\n'
    )
    code, _, err = _run(tmp_path, "--config", str(config), "--release-s", "0.05")
    assert (code, err) == (0, "")
    assert _last_levels(tmp_path) == {"GPIO18": 0.0, "GPIO24": 0.0}
    servo = [
        float(x.split()[2])
        for x in (tmp_path / "pins.log").read_text().splitlines()
        if " GPIO18 " in x
    ]
    assert any(v == pytest.approx(1.0 / 20) for v in servo)  # release pulse (1 ms of 20 ms)


def test_no_pins_given_means_the_default_config(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "pc6band.toml").write_text(
        '[backend]\nname = "gpio"\npin = 13\nsim_pins = true\n'
    )
    code, _, err = _run(tmp_path, env={"PC6_CONFIG_DIR": str(tmp_path / "conf")})
    assert (code, err) == (0, "")
    assert _last_levels(tmp_path) == {"GPIO13": 0.0}


def test_a_band_backend_has_nothing_to_force(tmp_path: Path) -> None:
    config = tmp_path / "pc6band.toml"
    config.write_text('[backend]\nname = "serial"\nport = "/dev/pc6band"\n')
    code, out, err = _run(tmp_path, "--config", str(config))
    assert (code, err) == (0, "")
    assert "backend serial drives no GPIO pins" in out
    assert not (tmp_path / "pins.log").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[backend\n", "cannot read the pins"),
        ('[backend]\nname = "gpio"\npin = 4\n', "gpio.pin: GPIO 4 is pulled high at boot"),
        ('[backend]\nname = "gpio"\nkind = "heat"\n', "backend.kind"),
    ],
)
def test_a_bad_config_is_named_and_fails(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "pc6band.toml"
    config.write_text(text)
    code, _, err = _run(tmp_path, "--config", str(config))
    assert code == 1
    assert str(config) in err and message in err
    assert "Traceback" not in err


def test_missing_named_config_fails(tmp_path: Path) -> None:
    code, _, err = _run(tmp_path, "--config", str(tmp_path / "nope.toml"))
    assert code == 1 and "no such config file" in err
