"""Force the gpio backend's pins off, even after the process that drove them died.

For systemd's ``ExecStopPost=`` (see ``docs/gpio-wiring.md``)::

    ExecStopPost=/opt/pc6/venv/bin/python -m firmware_host.drive.gpio.force_off --pin 13 --pin 23 \\
        --servo-pin 18

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
from collections.abc import Sequence
from typing import Any

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
    if not args.pin and not args.servo_pin:
        print("pc6-gpio-off: give at least one --pin or --servo-pin", file=sys.stderr)
        return 2
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
