"""Force the gpio backend's pins off, even after the process that drove them died.

For systemd's ``ExecStopPost=`` (the shipped unit does this)::

    ExecStopPost=/opt/pc6band/venv/bin/pc6-gpio-off --config /etc/pc6band/pc6band.toml

With ``--config`` (and by default, with no pins given: the config ``pc6`` would use) it reads
the gpio backend's output pins from the config; for any other backend there is nothing to
force (a band switches itself off when its lease lapses) and it exits 0. ``--pin`` and
``--servo-pin`` name pins by hand.

A process killed with SIGKILL leaves its pins where they were, and the Pi's PWM peripheral
goes on pulsing a hardware-PWM pin by itself. This claims each output pin as a plain GPIO
output driven low (which takes it off the PWM peripheral), optionally first sends the servo
its release position for a moment, and disables any sysfs PWM channels. It tries every pin
even when one fails, and exits 1 if any did.
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import sys
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from firmware_host.drive.actuator import ActuatorKind
from firmware_host.drive.gpio.options import PressureConfig, parse_options
from firmware_host.errors import ConfigError

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The command line of the force-off command."""
    parser = argparse.ArgumentParser(
        prog="pc6-gpio-off",
        description="Force pc6band's GPIO outputs off (motor stopped, "
        "pad released), for ExecStopPost= or after a crash.",
    )
    parser.add_argument(
        "--pin",
        type=int,
        action="append",
        default=[],
        metavar="GPIO",
        help="an output to drive low (motor PWM, enable, dead-man); repeat",
    )
    parser.add_argument(
        "--servo-pin",
        type=int,
        action="append",
        default=[],
        metavar="GPIO",
        help="a servo signal: release pulses first, then low; repeat",
    )
    parser.add_argument(
        "--release",
        type=float,
        default=0.0,
        metavar="POS",
        help="servo release position, 0–1 of its range (default 0)",
    )
    parser.add_argument(
        "--release-s",
        type=float,
        default=0.5,
        metavar="S",
        help="how long to send release pulses before going low (default 0.5)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="take the pins from this config's gpio backend (the default with no pins given)",
    )
    parser.add_argument("--min-pulse-ms", type=float, default=1.0)
    parser.add_argument("--max-pulse-ms", type=float, default=2.0)
    parser.add_argument(
        "--sim-pins",
        action="store_true",
        help="on gpiozero's mock pins (tests); honours PC6_SIM_PINS_LOG",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Force the pins off; 0 if every pin was set, 1 if any failed, 2 for bad arguments."""
    args = build_parser().parse_args(argv)
    if args.config or not (args.pin or args.servo_pin):
        try:
            found = _pins_from_config(args)
        except ConfigError as err:
            print(f"pc6-gpio-off: {err}", file=sys.stderr)
            return 1
        if not found and not (args.pin or args.servo_pin):
            return 0
    if not 0 <= args.release <= 1 or args.release_s < 0:
        print("pc6-gpio-off: --release must be 0–1 and --release-s ≥ 0", file=sys.stderr)
        return 2
    factory = _factory(args.sim_pins)
    failed = 0 if args.sim_pins else _disable_sysfs_pwm()
    for pin in args.servo_pin:
        failed += _release_servo(pin, args, factory)
    for pin in [*args.servo_pin, *args.pin]:
        failed += _drive_low(pin, factory)
    return 1 if failed else 0


def _pins_from_config(args: argparse.Namespace) -> bool:
    """Add the config's gpio output pins to ``args``; False if its backend has none.

    Raises:
        ConfigError: the config cannot be read, or its gpio options are invalid.
    """
    from firmware_host.paths import default_config_path

    path = Path(args.config) if args.config else default_config_path()
    try:
        table = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        if args.config:
            raise ConfigError(f"{path}: no such config file") from None
        table = {}  # no config: the defaults drive the simulator
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the pins: {err}") from err
    raw = table.get("backend") or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: backend: must be a table ([backend])")
    backend = dict(raw)
    name = backend.pop("name", "sim")
    if name != "gpio":
        print(f"pc6-gpio-off: {path}: backend {name} drives no GPIO pins; nothing to force off")
        return False
    try:
        kind = ActuatorKind(backend.pop("kind", "vibration"))
    except ValueError:
        raise ConfigError(f"{path}: backend.kind: must be vibration or pressure") from None
    args.sim_pins = bool(backend.pop("sim_pins", False)) or args.sim_pins
    try:
        options = parse_options(kind, backend)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    if isinstance(options, PressureConfig):
        args.servo_pin.append(options.pin)
        args.release = options.release
        args.min_pulse_ms, args.max_pulse_ms = options.min_pulse_ms, options.max_pulse_ms
        extra = [options.deadman_pin]
    else:
        extra = [options.pin, options.enable_pin]
    args.pin += [pin for pin in extra if pin is not None]
    return True


def _factory(sim: bool) -> Any:
    if not sim:
        return None  # gpiozero's default: lgpio on a Pi
    # The simulator's mock pins, by entry point: the host never imports the simulator.
    from firmware_host.drive.gpio.pins import registered_pin_factory

    return registered_pin_factory("sim")


def _release_servo(pin: int, args: argparse.Namespace, factory: Any) -> int:
    """Hold the release position for a moment so the servo pulls the pad off."""
    from gpiozero import Servo

    if args.release_s <= 0:
        return 0
    try:
        servo = Servo(
            pin,
            initial_value=2 * args.release - 1,
            pin_factory=factory,
            min_pulse_width=args.min_pulse_ms / 1000,
            max_pulse_width=args.max_pulse_ms / 1000,
        )
        time.sleep(args.release_s)  # real time: the servo has to travel, nobody is waiting
        servo.detach()
        servo.close()
        return 0
    except Exception as err:  # go on to drive it low anyway
        print(f"pc6-gpio-off: GPIO {pin}: could not send release pulses: {err}", file=sys.stderr)
        return 1


def _drive_low(pin: int, factory: Any) -> int:
    from gpiozero import DigitalOutputDevice

    try:
        # Not closed on purpose: closing makes it an input again, and the line should stay
        # driven low until the process exits (the external pull-down holds it after that).
        device = DigitalOutputDevice(pin, initial_value=False, pin_factory=factory)
        device.off()
        return 0
    except Exception as err:
        print(f"pc6-gpio-off: GPIO {pin}: could not drive low: {err}", file=sys.stderr)
        return 1


def _disable_sysfs_pwm() -> int:
    """Turn off PWM channels exported through sysfs, which run on without any process."""
    failed = 0
    for enable in glob.glob("/sys/class/pwm/pwmchip*/pwm*/enable"):
        try:
            with open(enable, "w") as f:
                f.write("0")
        except OSError as err:
            print(f"pc6-gpio-off: {os.path.dirname(enable)}: {err}", file=sys.stderr)
            failed += 1
    return failed


if __name__ == "__main__":
    sys.exit(main())
