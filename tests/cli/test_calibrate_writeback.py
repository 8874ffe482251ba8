"""`pc6 calibrate` saves the levels into any valid config, or hands them over; never loses them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from daemon_testlib import write_config
from pwm_testlib import install_example, pwm_chip

from firmware_host.cli.calibrate import update_calibration
from firmware_host.drive.actuator import ActuatorKind
from firmware_host.drive.calibration import Calibration
from firmware_host.session.config import load_config

PC6 = str(Path(sys.executable).parent / "pc6")
DOTTED = """\
# Calibrated in May, left wrist.
calibration.vibration.felt = 0.1      # barely there
calibration.vibration.comfortable = 0.9
"""


def test_a_config_with_dotted_keys_is_edited_in_place(home: Path) -> None:
    path = write_config(home, "")
    path.write_text(DOTTED + path.read_text())
    before = tomllib.loads(path.read_text())
    update_calibration(path, ActuatorKind.VIBRATION, Calibration(0.22, 0.66))
    text = path.read_text()
    assert "calibration.vibration.felt = 0.22      # barely there" in text
    assert "calibration.vibration.comfortable = 0.66" in text
    assert text.startswith("# Calibrated in May, left wrist.\n")
    update_calibration(path, ActuatorKind.PRESSURE, Calibration(0.3, 0.5))
    config = load_config(path)
    assert config.calibration_for(ActuatorKind.VIBRATION) == Calibration(0.22, 0.66)
    assert config.calibration_for(ActuatorKind.PRESSURE) == Calibration(0.3, 0.5)
    after = tomllib.loads(path.read_text())
    assert {k: v for k, v in after.items() if k != "calibration"} == {
        k: v for k, v in before.items() if k != "calibration"
    }


def _in_read_only_folder(
    folder: Path, argv: list[str], stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` where ``folder`` cannot be written (as /etc/pc6band is for pc6band).

    As root (who may write anything) ``folder`` is bind-mounted read-only in a private
    mount namespace; as anyone else its mode does it.
    """
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=120, env=env
        )
    unshare = shutil.which("unshare")
    assert unshare, "unshare (util-linux) is needed to make a read-only mount"
    script = (
        f'mount --bind "{folder}" "{folder}" && mount -o remount,ro,bind "{folder}" && exec "$@"'
    )
    return subprocess.run(
        [unshare, "-m", "sh", "-c", script, "sh", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_an_unwritable_config_is_said_before_the_procedure(home: Path, tmp_path: Path) -> None:
    # A backend that is not simulated (a simulated one never saves, so never warns).
    env = _with_sysfs_pwm(tmp_path)
    etc = tmp_path / "etc-pc6band"
    etc.mkdir()
    path = write_config(home, f'[backend]\nname = "sysfs-pwm"\nroot = "{tmp_path / "pwm"}"\n')
    config = etc / "pc6band.toml"
    config.write_text(path.read_text())
    run = _in_read_only_folder(etc, [PC6, "calibrate", "--config", str(config)], env=env)
    assert "Traceback" not in run.stderr
    note = run.stdout.find("note: the levels cannot be saved")
    assert note != -1, run.stdout
    assert note < run.stdout.find("Part 1"), run.stdout


def test_levels_that_cannot_be_saved_are_printed_with_the_lines_to_add(tmp_path: Path) -> None:
    etc = tmp_path / "etc-pc6band"
    etc.mkdir()
    config = etc / "pc6band.toml"
    config.write_text('timezone = "UTC"\n')
    code = (
        "import sys; from pathlib import Path; "
        "from firmware_host.cli.calibrate import save_levels; "
        "from firmware_host.drive.actuator import ActuatorKind; "
        "from firmware_host.drive.calibration import Calibration; "
        f"sys.exit(save_levels(Path({str(config)!r}), ActuatorKind.VIBRATION, "
        "Calibration(0.25, 0.7)))"
    )
    run = _in_read_only_folder(etc, [sys.executable, "-c", code])
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert f"could not save to {config}" in run.stderr
    assert "felt = 0.25, comfortable = 0.7" in run.stdout
    assert "[calibration.vibration]\nfelt = 0.25\ncomfortable = 0.7\n" in run.stdout
    assert config.read_text() == 'timezone = "UTC"\n'


REAL_LEVELS = "[calibration.vibration]\nfelt = 0.15\ncomfortable = 0.8\n"
# Three Enters: felt at the first level (0.05) and at the half step below it (0.025), then
# "too much" at the first level of part 2 — the run the review saw: felt 0.013,
# comfortable 0.038.
THREE_ENTERS = "\n\n\n"


def _with_sysfs_pwm(tmp: Path) -> dict[str, str]:
    """The environment in which the documented sysfs-pwm backend (not simulated) exists."""
    install_example(tmp / "site")
    pwm_chip(tmp / "pwm")
    return {**os.environ, "PYTHONPATH": str(tmp / "site")}


@pytest.mark.realtime
@pytest.mark.parametrize("backend", ["sim", "gpio-sim"])
def test_a_simulated_backend_never_saves(home: Path, backend: str) -> None:
    # Simulated levels replacing the wearer's real ones: the review's
    # `cp ex.toml cal.toml; printf '\n\n\n' | pc6 calibrate --config cal.toml`.
    table = {"sim": 'name = "sim"', "gpio-sim": 'name = "gpio"\nsim_pins = true'}[backend]
    config = write_config(home, f"[backend]\n{table}\n{REAL_LEVELS}")
    before = config.read_bytes()
    run = subprocess.run(
        [PC6, "calibrate", "--config", str(config)],
        input=THREE_ENTERS,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert "SIMULATED" in run.stdout and "Part 2" in run.stdout  # the whole procedure ran
    assert "felt = 0.013, comfortable = 0.038" in run.stdout
    assert f"(simulated backend: not saved, {config} was not changed)" in run.stdout
    assert "saved to" not in run.stdout
    assert config.read_bytes() == before


@pytest.mark.realtime
def test_a_backend_that_moves_something_saves_the_levels(home: Path, tmp_path: Path) -> None:
    env = _with_sysfs_pwm(tmp_path)
    config = write_config(
        home, f'[backend]\nname = "sysfs-pwm"\nroot = "{tmp_path / "pwm"}"\n{REAL_LEVELS}'
    )
    run = subprocess.run(
        [PC6, "calibrate", "--config", str(config)],
        input=THREE_ENTERS,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert "SIMULATED" not in run.stdout
    assert f"saved to [calibration.vibration] in {config}" in run.stdout
    # (Read as TOML: this process has no sysfs-pwm backend to validate the file against.)
    saved = tomllib.loads(config.read_text())["calibration"]["vibration"]
    assert saved == {"felt": 0.013, "comfortable": 0.038}
    channel = tmp_path / "pwm" / "pwmchip0" / "pwm0"
    assert (channel / "duty_cycle").read_text() == "0\n"  # off at the end
    assert (channel / "enable").read_text() == "0\n"
