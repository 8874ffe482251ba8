"""`pc6 service install`: the plan it prints, the unit and rule it writes, what it refuses.

The real install (users, systemctl, a booted systemd) is checked by scripts/system-test.sh;
here the system's places are moved under a temporary root (PC6_SYSTEM_ROOT) and only the
dry run, which changes nothing, runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_host.cli.service_plan import Options, Unit, render_rule, render_unit, usb_serials

PC6 = str(Path(sys.executable).parent / "pc6")


def _pc6(tmp_path: Path, *argv: str, user: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PC6_SYSTEM_ROOT": str(tmp_path / "sys")}
    env.pop("SUDO_USER", None)
    return subprocess.run(
        [PC6, *argv], capture_output=True, text=True, env=env, timeout=60, user=user
    )


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def test_dry_run_prints_every_step_and_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "sys").mkdir()
    done = _pc6(tmp_path, "service", "install", "--dry-run")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("pc6 service install (dry run: nothing changes)")
    root = tmp_path / "sys"
    for expected in (
        f"{root}/etc/pc6band/ root:pc6band 2775",
        f"{root}/etc/pc6band/bands/ pc6band:pc6band 0700",
        f"{root}/var/lib/pc6band/ pc6band:pc6band 0750",
        f"{root}/run/pc6band/ pc6band:pc6band 0750",
        f"{root}/etc/pc6band/pc6band.toml root:pc6band 0664",
        f"{root}/etc/udev/rules.d/99-pc6band.rules root:root 0644",
        f"{root}/etc/systemd/system/pc6band.service root:root 0644",
    ):
        assert expected in out
    assert "step(s) to do" in out.splitlines()[-1]
    assert _tree(root) == []


def test_non_root_is_refused_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # In-process with a patched euid: the test venv's python lives under /root here, which
    # another user cannot run. scripts/system-test.sh runs it as a real login user too.
    from firmware_host.cli.main import main

    monkeypatch.setenv("PC6_SYSTEM_ROOT", str(tmp_path / "sys"))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    for action in ("install", "uninstall"):
        assert main(["service", action]) == 1
        assert capsys.readouterr().err.strip() == (
            f"pc6: service: must run as root to create the user, folders and unit: "
            f"sudo pc6 service {action} (or --dry-run to see what it would do)"
        )
    assert not (tmp_path / "sys").exists()


def test_a_bad_config_is_refused_before_anything(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[backend]\nname = "gpoi"\n')
    done = _pc6(tmp_path, "service", "install", "--config", str(bad), "--dry-run")
    assert done.returncode == 2
    assert f"{bad}:2: backend.name" in done.stderr and "did you mean 'gpio'" in done.stderr
    assert done.stdout == ""


def test_an_existing_config_is_kept_and_said_so(tmp_path: Path) -> None:
    config = tmp_path / "sys/etc/pc6band/pc6band.toml"
    config.parent.mkdir(parents=True)
    config.write_text("# mine\n")
    other = tmp_path / "other.toml"
    other.write_text("")
    out = _pc6(tmp_path, "service", "install", "--config", str(other), "--dry-run").stdout
    assert f"{config} (exists and differs: NOT overwritten" in out
    assert config.read_text() == "# mine\n"


def test_unit_is_filled_in_for_this_install() -> None:
    opts = Options(user="pc6band", bindir=Path("/opt/pc6band/venv/bin"))
    text = render_unit(Unit("pc6band.service.in", "pc6band.service"), opts)
    for key in ("@BINDIR@", "@CONFIG@", "@USER@", "@DATADIR@"):
        assert key not in text
    assert "ExecStart=/opt/pc6band/venv/bin/pc6 daemon --config /etc/pc6band/pc6band.toml" in text
    assert (
        "ExecStopPost=/opt/pc6band/venv/bin/pc6-gpio-off --config /etc/pc6band/pc6band.toml" in text
    )
    assert "User=pc6band\n" in text


def _directives(text: str, key: str) -> list[str]:
    return [ln.split("=", 1)[1] for ln in text.splitlines() if ln.startswith(f"{key}=")]


def test_unit_fixes() -> None:
    text = render_unit(Unit("pc6band.service.in", "pc6band.service"), Options())
    filters = " ".join(_directives(text, "SystemCallFilter")).split()
    # adjtimex() is clock_adjtime; @system-service lacks it on systemd 252 (SIGSYS kill).
    assert "clock_adjtime" in filters and "@system-service" in filters
    assert _directives(text, "SystemCallErrorNumber") == ["EPERM"]
    assert _directives(text, "WorkingDirectory") == ["/var/lib/pc6band"]  # lgpio's .lgd-nfy*
    devices = [d.split()[0] for d in _directives(text, "DeviceAllow")]
    assert "char-spi" in devices and "char-spidev" not in devices
    assert {"/dev/gpiomem", *(f"/dev/gpiomem{i}" for i in range(5))} <= set(devices)
    assert {"char-gpiochip", "char-ttyACM", "char-ttyUSB", "char-ttyAMA"} <= set(devices)
    assert "ProtectClock" not in "".join(_directives(text, "ProtectClock"))
    assert not _directives(text, "SupplementaryGroups")  # a missing group fails the unit
    assert not _directives(text, "EnvironmentFile")  # pins come from the config, not PC6_OFF_ARGS


def test_unit_filter_allows_clock_adjtime_per_systemd() -> None:
    """systemd's own table: the syscall is in @clock, not @system-service, so it must be named."""
    import shutil

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI"):  # scripts/browser-setup.sh installs it: CI must run this
            pytest.fail("systemd-analyze missing on CI: apt-get install systemd")
        pytest.skip("systemd-analyze not installed")
    done = subprocess.run(
        [analyze, "syscall-filter", "@system-service"], capture_output=True, text=True
    )
    listed = {w.strip() for w in done.stdout.split()}
    assert "clock_adjtime" not in listed  # why the unit names it explicitly


@pytest.mark.parametrize(
    ("band_id", "serials"),
    [
        ("348518010203" + "0000", ["34:85:18:01:02:03", "3485180102030000"]),
        ("e6614c311b4a2c2f", ["E6614C311B4A2C2F"]),
    ],
)
def test_usb_serials(band_id: str, serials: list[str]) -> None:
    assert usb_serials(band_id) == serials


def test_rule_matches_only_paired_bands() -> None:
    one = render_rule(["3485180102030000"], "pc6band")
    lines = [ln for ln in one.splitlines() if ln.startswith('SUBSYSTEM=="tty"')]
    assert lines == [
        'SUBSYSTEM=="tty", ATTRS{serial}=="34:85:18:01:02:03|3485180102030000", '
        'ENV{ID_MM_DEVICE_IGNORE}="1", ENV{ID_MM_PORT_IGNORE}="1", GROUP="pc6band", '
        'MODE="0660", SYMLINK+="pc6band-3485180102030000 pc6band"'
    ]
    assert "idVendor" not in one  # never every Espressif / RP2040 board
    two = render_rule(["3485180102030000", "e6614c311b4a2c2f"], "pc6band")
    links = [
        ln.rsplit("SYMLINK+=", 1)[1] for ln in two.splitlines() if ln.startswith('SUBSYSTEM=="tty"')
    ]
    assert links == ['"pc6band-3485180102030000"', '"pc6band-e6614c311b4a2c2f"']  # no race
    none = render_rule([], "pc6band")
    assert 'SUBSYSTEM=="tty"' not in none and "No band paired yet" in none


def test_the_web_unit_only_with_web(tmp_path: Path) -> None:
    (tmp_path / "sys").mkdir()
    unit = f"{tmp_path}/sys/etc/systemd/system/pc6band-web.service root:root 0644"
    plain = _pc6(tmp_path, "service", "install", "--dry-run")
    assert plain.returncode == 0, plain.stderr
    assert "pc6band-web.service" not in plain.stdout  # off by default
    web = _pc6(tmp_path, "service", "install", "--dry-run", "--web")
    assert web.returncode == 0, web.stderr
    assert unit in web.stdout
    text = render_unit(Unit("pc6band-web.service.in", "pc6band-web.service"), Options())
    assert not re.search(r"@[A-Z]+@", text)  # every placeholder filled
    assert "--listen 127.0.0.1:8606" in text and "DynamicUser=yes" in text
    assert "User=pc6band-web" in text and "Group=pc6band\n" in text
