"""``pc6 doctor``: what builders get wrong on the Pi, each problem with its fix.

Every check looks at the system through a small :class:`System` object, so the tests can
present a Pi with a missing group or a stopped BlueZ without having one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from firmware_host.errors import PC6Error
from firmware_host.paths import is_system_config
from firmware_host.session.config import Config, load_config

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    status: str
    what: str
    fix: str = ""


def _run(cmd: list[str]) -> tuple[int, str]:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as err:
        return 127, str(err)
    return done.returncode, done.stdout + done.stderr


@dataclass
class System:
    """The parts of the machine the checks look at (replaceable in tests)."""

    exists: Callable[[Path], bool] = Path.exists
    access: Callable[[Path, int], bool] = os.access
    run: Callable[[list[str]], tuple[int, str]] = _run
    clock_synced: Callable[[], bool] = field(default=lambda: _synced())
    import_ok: Callable[[str], bool] = field(default=lambda name: _importable(name))
    read_text: Callable[[Path], str | None] = field(default=lambda path: _read(path))


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _read(path: Path) -> str | None:
    try:
        return path.read_text("utf-8")
    except OSError:
        return None


def _synced() -> bool:
    from firmware_host.service.clock_sync import clock_synchronized

    return clock_synchronized()


def diagnose(config_path: Path | None, system: System | None = None) -> list[Check]:
    """Every check, in the order a builder should fix them."""
    system = system or System()
    try:
        config = load_config(config_path)
        from firmware_host.plan.store import ProfileStore, check_schedule

        check_schedule(config, ProfileStore(config.profile_dirs))
    except PC6Error as err:
        return [Check(FAIL, f"config: {err}", "fix the key named above; `pc6 config check`")]
    checks = [Check(OK, f"config valid: {config.source}")]
    checks += _backend(config, system)
    checks.append(_journal(config, system))
    checks.append(_clock(config, system))
    checks.append(_group(config, system))
    checks.append(_daemon(config, system))
    checks += _service(config, system)
    return checks


def _backend(config: Config, system: System) -> list[Check]:
    """What the configured backend needs, as the backend itself declares it (the registry)."""
    from firmware_host.drive.actuator import available_backends, load_backend

    try:
        backend = load_backend(config.backend)
    except PC6Error as err:
        return [Check(FAIL, f"backend {config.backend}: {err}", "pip install -e . again")]
    options = config.backend_options
    if backend.simulated(options):
        real = [n for n in available_backends() if not _simulated_by_default(n)]
        names = " or ".join([", ".join(real[:-1]), real[-1]] if len(real) > 1 else real)
        return [
            Check(
                WARN,
                f"backend {config.backend}: SIMULATED, nothing physical moves",
                f"set [backend] name to {names or 'a real backend'} in the config",
            )
        ]
    checks = [_device(Path(d.path), d.group, system) for d in backend.devices(options)]
    if any(d.group == "dialout" for d in backend.devices(options)):
        checks += _modem_manager(system)  # it probes every new serial port
    if "bluetooth" in backend.services:
        checks += _bluez(config, system)
    if config.backend == "gpio":
        checks += _gpio(config, system)
    return checks


def _simulated_by_default(name: str) -> bool:
    from firmware_host.drive.actuator import backend_is_simulated

    return backend_is_simulated(name, {})


def _gpio(config: Config, system: System) -> list[Check]:
    """The gpio backend on a real Pi: gpiozero's pin factory, and SPI for the sensor."""
    options = config.backend_options
    checks = []
    if system.import_ok("lgpio"):
        checks.append(Check(OK, "lgpio installed (gpiozero's pin factory on a Pi)"))
    else:
        checks.append(
            Check(
                FAIL,
                "lgpio is not installed: gpiozero has no pin factory on a Pi",
                "pip install 'pc6band[gpio]' (in the service's venv)",
            )
        )
    if options.get("sensor_channel") is not None or options.get("current_channel") is not None:
        spi = Path("/dev/spidev0.0")
        if system.exists(spi):
            checks.append(_device(spi, "spi", system))
        else:
            checks.append(
                Check(
                    FAIL,
                    "SPI is off (no /dev/spidev0.0) but the MCP3008 sensor is configured",
                    "sudo raspi-config nonint do_spi 0 (or dtparam=spi=on in config.txt), reboot",
                )
            )
    return checks


#: What the installed unit must have, each with the defect its absence causes.
UNIT_NEEDS = (
    ("clock_adjtime", "its syscall filter kills the daemon at the clock check"),
    ("WorkingDirectory=", "lgpio cannot write its files (cwd /, read-only)"),
    ("DeviceAllow=char-spi ", "SPI (the force sensor) is blocked"),
    ("DeviceAllow=/dev/gpiomem0", "a Pi 5's /dev/gpiomem0..4 are blocked"),
    ("pc6-gpio-off --config", "pins stay on after a crash (ExecStopPost= forces nothing)"),
)
BACKEND_GROUPS = {"gpio": ("gpio",), "serial": ("dialout",), "ble": ("bluetooth",)}


def _service(config: Config, system: System) -> list[Check]:
    from firmware_host.paths import system_paths

    unit = system_paths().unit
    text = system.read_text(unit) if system.exists(unit) else None
    if text is None:
        return [Check(WARN, "no system service installed", "sudo pc6 service install")]
    checks = []
    for needle, defect in UNIT_NEEDS:
        if needle not in text:
            checks.append(
                Check(
                    FAIL,
                    f"sandbox: {unit} lacks {needle.strip()}: {defect}",
                    "sudo pc6 service install (rewrites the unit)",
                )
            )
    if not checks:
        checks.append(Check(OK, f"sandbox: {unit} is the current unit"))
    user = next(
        (ln.split("=", 1)[1].strip() for ln in text.splitlines() if ln.startswith("User=")),
        "pc6band",
    )
    code, out = system.run(["id", "-nG", user])
    if code != 0:
        return [
            *checks,
            Check(FAIL, f"service user {user} does not exist", "sudo pc6 service install"),
        ]
    wanted = list(BACKEND_GROUPS.get(config.backend, ()))
    if config.backend == "gpio" and (
        config.backend_options.get("sensor_channel") is not None
        or config.backend_options.get("current_channel") is not None
    ):
        wanted.append("spi")
    missing = [g for g in wanted if g not in out.split()]
    if missing:
        checks.append(
            Check(
                FAIL,
                f"service user {user} is not in group(s) {', '.join(missing)}",
                "sudo pc6 service install (adds the groups this system has)",
            )
        )
    elif wanted:
        checks.append(Check(OK, f"service user {user} in {', '.join(wanted)}"))
    return checks


def _device(path: Path, group: str, system: System) -> Check:
    if not system.exists(path):
        hint = (
            "plug the band in; sudo pc6 service install writes the udev rule for /dev/pc6band"
            if group == "dialout"
            else "enable GPIO: this does not look like a Pi"
        )
        return Check(FAIL, f"{path} does not exist", hint)
    if not system.access(path, os.R_OK | os.W_OK):
        return Check(
            FAIL,
            f"no read/write access to {path}",
            f"sudo usermod -aG {group} $USER (and the pc6band user), then log in again",
        )
    return Check(OK, f"{path} readable and writable")


def _modem_manager(system: System) -> list[Check]:
    code, out = system.run(["systemctl", "is-active", "ModemManager"])
    if code != 0 or out.strip() != "active":
        return []
    rule = Path("/etc/udev/rules.d/99-pc6band.rules")
    if system.exists(rule):
        return [Check(OK, "ModemManager runs, but the udev rule keeps it off the band")]
    return [
        Check(
            FAIL,
            "ModemManager will probe the band's serial port",
            "pair the band, then sudo pc6 service install (writes "
            "/etc/udev/rules.d/99-pc6band.rules for it; or: sudo systemctl disable "
            "--now ModemManager)",
        )
    ]


def _bluez(config: Config, system: System) -> list[Check]:
    code, out = system.run(["systemctl", "is-active", "bluetooth"])
    if code != 0 or out.strip() != "active":
        return [
            Check(
                FAIL,
                "BlueZ (bluetooth.service) is not running",
                "sudo systemctl enable --now bluetooth",
            )
        ]
    checks = [Check(OK, "BlueZ running")]
    address = config.backend_options.get("address")
    if not address:
        return [
            *checks,
            Check(
                FAIL,
                "backend.address is not set",
                'pc6 band scan; then set address = "AA:BB:…" under [backend]',
            ),
        ]
    code, out = system.run(["bluetoothctl", "info", str(address)])
    if "Bonded: yes" in out or "Paired: yes" in out:
        return [*checks, Check(OK, f"band {address} bonded")]
    return [
        *checks,
        Check(
            FAIL,
            f"band {address} is not bonded (no encrypted link)",
            f"bluetoothctl: scan on, pair {address}, trust {address}",
        ),
    ]


def _journal(config: Config, system: System) -> Check:
    path = config.journal
    if config.source != "<defaults>" and is_system_config(Path(config.source)):
        # The service writes it; a builder in the group only reads it (pc6 log).
        if not system.exists(path):
            return Check(OK, f"journal: {path} (the service creates it)")
        if system.access(path, os.R_OK):
            return Check(OK, f"journal readable: {path}")
        return Check(
            FAIL,
            f"journal not readable: {path}",
            "sudo usermod -aG pc6band $USER, then log in again",
        )
    folder = path if system.exists(path) else path.parent
    while not system.exists(folder) and folder != folder.parent:
        folder = folder.parent
    if system.access(folder, os.W_OK):
        return Check(OK, f"journal writable: {path}")
    return Check(
        FAIL,
        f"journal not writable: {path}",
        f"sudo chown -R pc6band:pc6band {path.parent} (or set [journal] path)",
    )


def _clock(config: Config, system: System) -> Check:
    if system.clock_synced():
        return Check(OK, "system clock synchronized")
    fix = "check the network; sudo timedatectl set-ntp true; timedatectl status"
    if config.require_clock_sync:
        return Check(FAIL, "system clock NOT synchronized: scheduled sessions wait for it", fix)
    # The config lets sessions start on an unsynchronized clock: say what that risks instead.
    return Check(
        WARN,
        "system clock NOT synchronized (require_clock_sync = false: scheduled sessions start "
        "anyway, at times a wrong clock may shift)",
        fix,
    )


def _group(config: Config, system: System) -> Check:
    group = config.socket_group
    if group is None:
        return Check(
            WARN,
            "no control.group: only root and the daemon's user may use pc6 ctl",
            'set group = "pc6band" under [control]',
        )
    code, _ = system.run(["getent", "group", group])
    if code != 0:
        return Check(
            FAIL,
            f"control.group {group!r} does not exist",
            f"sudo groupadd {group} && sudo usermod -aG {group} $USER",
        )
    return Check(OK, f"control group {group} exists")


def _daemon(config: Config, system: System) -> Check:
    if not system.exists(config.socket):
        return Check(
            WARN,
            f"daemon not running (no socket at {config.socket})",
            "sudo systemctl enable --now pc6band; journalctl -u pc6band",
        )
    if not system.access(config.socket, os.R_OK | os.W_OK):
        group = config.socket_group or "pc6band"
        return Check(
            FAIL,
            f"no access to the control socket {config.socket}",
            f"sudo usermod -aG {group} $USER, then log in again",
        )
    return Check(OK, f"daemon socket reachable: {config.socket}")


def run_doctor(config_path: str | None, system: System | None = None) -> int:
    """Print the checks; 1 if any failed (2 if the named config does not exist)."""
    if config_path and not Path(config_path).exists():
        from firmware_host.errors import ConfigError

        raise ConfigError(f"{config_path}: no such config file")  # a typo, not a setup fault
    checks = diagnose(Path(config_path) if config_path else None, system)
    for check in checks:
        print(f"[{check.status:>4}] {check.what}")
        if check.fix and check.status != OK:
            print(f"       fix: {check.fix}")
    failed = sum(c.status == FAIL for c in checks)
    print(f"{failed} problem(s)" if failed else "all good", file=sys.stdout)
    return 1 if failed else 0
