"""`pc6 doctor` on the service as installed: the sandbox, the groups, lgpio and SPI."""

from __future__ import annotations

from pathlib import Path

import pytest
from daemon_testlib import write_config

from firmware_host.cli.doctor import FAIL, OK, System, diagnose
from firmware_host.cli.service_plan import Options, Unit, render_unit

# The unit as shipped before issue 9 (the lines the checks look at).
OLD_UNIT = """[Service]
User=pc6band
ExecStopPost=/bin/sh -c 'test -z "$PC6_OFF_ARGS" || exec python -m force_off $PC6_OFF_ARGS'
SystemCallFilter=@system-service
DeviceAllow=/dev/gpiomem rw
DeviceAllow=char-spidev rw
"""


@pytest.fixture
def unit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PC6_SYSTEM_ROOT", str(tmp_path / "sys"))
    path = tmp_path / "sys/etc/systemd/system/pc6band.service"
    path.parent.mkdir(parents=True)
    return path


def _system(groups: str, *, lgpio: bool = True, spi: bool = True) -> System:
    real = System()

    def exists(p: Path) -> bool:
        if str(p) == "/dev/spidev0.0":
            return spi
        return str(p).startswith("/dev/gpiochip") or real.exists(p)

    return System(
        exists=exists,
        access=lambda p, mode: True,
        run=lambda cmd: (0, groups) if cmd[:2] == ["id", "-nG"] else (3, "inactive"),
        clock_synced=lambda: True,
        import_ok=lambda name: lgpio,
    )


def _by_status(checks: list, status: str) -> list[str]:
    return [c.what for c in checks if c.status == status]


def test_an_old_unit_is_named_with_each_defect(tmp_path: Path, unit: Path) -> None:
    unit.write_text(OLD_UNIT)
    config = write_config(tmp_path, '[backend]\nname = "serial"\nport = "/dev/pc6band"\n')
    failed = _by_status(diagnose(config, _system("pc6band dialout")), FAIL)
    assert any("lacks clock_adjtime: its syscall filter kills the daemon" in f for f in failed)
    assert any("lacks WorkingDirectory=" in f for f in failed)
    assert any("lacks DeviceAllow=char-spi: SPI" in f for f in failed)
    assert any("/dev/gpiomem0" in f for f in failed)
    assert any("lacks pc6-gpio-off --config: pins stay on" in f for f in failed)


def test_the_current_unit_passes(tmp_path: Path, unit: Path) -> None:
    unit.write_text(render_unit(Unit("pc6band.service.in", "pc6band.service"), Options()))
    config = write_config(tmp_path, '[backend]\nname = "serial"\nport = "/dev/pc6band"\n')
    checks = diagnose(config, _system("pc6band dialout"))
    assert f"sandbox: {unit} is the current unit" in _by_status(checks, OK)
    assert "service user pc6band in dialout" in _by_status(checks, OK)
    missing = diagnose(config, _system("pc6band"))
    assert "service user pc6band is not in group(s) dialout" in _by_status(missing, FAIL)


def test_gpio_needs_lgpio_spi_and_the_groups(tmp_path: Path, unit: Path) -> None:
    unit.write_text(render_unit(Unit("pc6band.service.in", "pc6band.service"), Options()))
    config = write_config(
        tmp_path, '[backend]\nname = "gpio"\nkind = "pressure"\npin = 18\nsensor_channel = 0\n'
    )
    checks = diagnose(config, _system("pc6band gpio", lgpio=False, spi=False))
    failed = {c.what: c.fix for c in checks if c.status == FAIL}
    assert failed["lgpio is not installed: gpiozero has no pin factory on a Pi"] == (
        "pip install 'pc6band[gpio]' (in the service's venv)"
    )
    assert "do_spi" in failed["SPI is off (no /dev/spidev0.0) but the MCP3008 sensor is configured"]
    assert failed["service user pc6band is not in group(s) spi"].startswith("sudo pc6 service")
    fine = diagnose(config, _system("pc6band gpio spi"))
    assert not _by_status(fine, FAIL)
