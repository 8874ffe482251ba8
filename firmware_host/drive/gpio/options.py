"""Options of the ``gpio`` backend, validated the moment they are read.

Every error names the option (``gpio.min_duty``), the bound and the value; an unknown key
gets the likely intended one. Pins the Pi pulls high at boot are refused for outputs: the
motor would run, or the pad press, from power-on until pc6 starts.
"""

from __future__ import annotations

import difflib
import logging
import math
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar

from firmware_host.drive.actuator import ActuatorKind
from firmware_host.drive.gpio.pressure import ControlSettings, PadCalibration, SensorCalibration
from firmware_host.errors import ConfigError

logger = logging.getLogger(__name__)

#: GPIO 0–8 have pull-ups at boot; 14/15 are the UART, whose TX idles high.
BOOT_HIGH_PINS = frozenset(range(9)) | {14, 15}
#: The pins the PWM peripheral can drive; steady servo pulses need one of them.
HARDWARE_PWM_PINS = frozenset({12, 13, 18, 19})
#: SPI0 (the MCP3008): SCLK, MOSI, MISO, CE0.
SPI0_PINS = frozenset({8, 9, 10, 11})


def _opt(
    default: Any, low: float | None = None, high: float | None = None, *, open_low: bool = False
) -> Any:
    return field(default=default, metadata={"low": low, "high": high, "open_low": open_low})


@dataclass(frozen=True)
class VibrationConfig:
    """An ERM motor on a PWM pin (see ``docs/gpio-wiring.md``)."""

    pin: int = _opt(13, 0, 27)
    frequency: float = _opt(1000.0, 1, 40000)
    min_duty: float = _opt(0.25, 0, 1, open_low=True)
    max_duty: float = _opt(1.0, 0, 1, open_low=True)
    enable_pin: int | None = _opt(None, 0, 27)
    active_high: bool = _opt(True)
    overdrive_s: float = _opt(0.0, 0, 0.2)
    overdrive_duty: float = _opt(1.0, 0, 1, open_low=True)
    resolution: int = _opt(1000, 1, 100000)
    current_channel: int | None = _opt(None, 0, 7)
    current_zero: float = _opt(0.05, 0, 1)
    current_stall: float = _opt(0.8, 0, 1, open_low=True)
    stall_ratio: float = _opt(0.6, 0, 1, open_low=True)
    stall_s: float = _opt(0.08, 0, 5, open_low=True)
    stall_rate_hz: float = _opt(50.0, 1, 1000)

    # The tables of the shared rules (see _check_ordered and _check_outputs).
    ORDERED: ClassVar[tuple[tuple[str, str, bool], ...]] = (("min_duty", "max_duty", False),)
    OUTPUTS: ClassVar[tuple[str, ...]] = ("pin", "enable_pin")
    SPI_USER: ClassVar[str] = "current_channel"

    def check(self) -> None:
        """Cross-option rules."""
        if not self.active_high:
            # The force-off command, the boot pull-down and a floating pin all mean "low";
            # with an active-low driver each of them would mean full power.
            raise ConfigError(
                "gpio.active_high: must be true; wire the driver so that a low pin is off "
                "(see docs/gpio-wiring.md)"
            )
        _check_ordered(self)
        _check_outputs(self)


@dataclass(frozen=True)
class PressureConfig:
    """A servo pressing a pad, optionally with a force sensor on an MCP3008."""

    pin: int = _opt(18, 0, 27)
    min_pulse_ms: float = _opt(1.0, 0.3, 3.0)
    max_pulse_ms: float = _opt(2.0, 0.3, 3.0)
    release: float = _opt(0.0, 0, 1)
    contact: float = _opt(0.3, 0, 1)
    maximum: float = _opt(1.0, 0, 1)
    stiffness_exponent: float = _opt(1.5, 0.5, 4)
    resolution: int = _opt(200, 1, 100000)
    release_s: float = _opt(0.3, 0, 3)
    deadman_pin: int | None = _opt(None, 0, 27)
    heartbeat_hz: float = _opt(50.0, 5, 1000)
    sensor_channel: int | None = _opt(None, 0, 7)
    sensor_zero: float = _opt(0.1, 0, 1)
    sensor_full: float = _opt(0.7, 0, 1)
    sensor_rail: float = _opt(0.02, 0, 0.2)
    ceiling: float = _opt(1.25, 1, 2)
    rate_hz: float = _opt(200.0, 20, 1000)
    ki: float = _opt(12.0, 0, 200)
    ki_down: float = _opt(40.0, 0, 1000)
    approach: float = _opt(0.9, 0.5, 1)
    trim_limit: float = _opt(0.15, 0, 0.5)
    servo_slew: float = _opt(6.0, 0.1, 100, open_low=True)
    stuck_samples: int = _opt(12, 2, 1000)
    no_contact_s: float = _opt(0.03, 0, 1, open_low=True)

    # The tables of the shared rules (see _check_ordered and _check_outputs).
    ORDERED: ClassVar[tuple[tuple[str, str, bool], ...]] = (("min_pulse_ms", "max_pulse_ms", True),)
    OUTPUTS: ClassVar[tuple[str, ...]] = ("pin", "deadman_pin")
    SPI_USER: ClassVar[str] = "sensor_channel"

    def check(self) -> None:
        """Cross-option rules."""
        _check_ordered(self)
        lo, mid, hi = self.release, self.contact, self.maximum
        if not (lo < mid < hi or lo > mid > hi):
            raise ConfigError(
                f"gpio.contact: must lie strictly between gpio.release "
                f"({lo:g}) and gpio.maximum ({hi:g}), got {mid:g}"
            )
        if not self.sensor_rail < self.sensor_zero < self.sensor_full < 1 - self.sensor_rail:
            raise ConfigError(
                f"gpio.sensor_full: need sensor_rail < sensor_zero < "
                f"sensor_full < 1 - sensor_rail, got {self.sensor_rail:g}, "
                f"{self.sensor_zero:g}, {self.sensor_full:g}"
            )
        _check_outputs(self)
        if self.pin not in HARDWARE_PWM_PINS:
            logger.warning(
                "gpio.pin: GPIO %d has no hardware PWM; servo pulses may jitter "
                "(use 12, 13, 18 or 19)",
                self.pin,
            )

    @property
    def pad(self) -> PadCalibration:
        """The pad calibration for the controller."""
        return PadCalibration(self.release, self.contact, self.maximum, self.stiffness_exponent)

    @property
    def sensor(self) -> SensorCalibration:
        """The force-sensor calibration."""
        return SensorCalibration(self.sensor_zero, self.sensor_full, self.sensor_rail)

    @property
    def control(self) -> ControlSettings:
        """Controller gains and fault thresholds."""
        return ControlSettings(
            rate_hz=self.rate_hz,
            ki=self.ki,
            ki_down=self.ki_down,
            approach=self.approach,
            trim_limit=self.trim_limit,
            slew_per_s=self.servo_slew,
            ceiling=self.ceiling,
            stuck_samples=self.stuck_samples,
            no_contact_s=self.no_contact_s,
        )


GpioConfig = VibrationConfig | PressureConfig


def parse_options(kind: ActuatorKind, options: dict[str, Any]) -> GpioConfig:
    """The config for ``kind`` from backend options.

    Raises:
        ConfigError: an unknown option (with a suggestion), a wrong type, a value out of
            range, or options that contradict each other.
    """
    cls: type[VibrationConfig] | type[PressureConfig] = (
        VibrationConfig if kind is ActuatorKind.VIBRATION else PressureConfig
    )
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, raw in options.items():
        if key not in known:
            hint = difflib.get_close_matches(key, known, n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(f"gpio.{key}: unknown option for {kind}{extra}")
        values[key] = _value(known[key], raw)
    config = cls(**values)
    config.check()
    return config


def _value(f: Any, raw: Any) -> Any:
    name = f"gpio.{f.name}"
    default = f.default if f.default is not MISSING else None
    if raw is None and default is None:
        return None
    if isinstance(default, bool):
        if not isinstance(raw, bool):
            raise ConfigError(f"{name}: must be true or false, got {raw!r}")
        return raw
    wants_int = f.type in ("int", "int | None")
    if (
        isinstance(raw, bool)
        or not isinstance(raw, int | float)
        or (wants_int and not float(raw).is_integer())
    ):
        kind = "a whole number" if wants_int else "a number"
        raise ConfigError(f"{name}: must be {kind}, got {raw!r}")
    value = int(raw) if wants_int else float(raw)
    low, high = f.metadata.get("low"), f.metadata.get("high")
    if math.isnan(value) or (
        low is not None and (value < low or (f.metadata["open_low"] and value == low))
    ):
        bound = "above" if f.metadata.get("open_low") else "at least"
        raise ConfigError(f"{name}: must be {bound} {low:g}, got {raw!r}")
    if high is not None and value > high:
        raise ConfigError(f"{name}: must be at most {high:g}, got {raw!r}")
    return value


def _check_ordered(config: GpioConfig) -> None:
    """The class's ``ORDERED`` pairs of options are in order: (lower, upper, strictly)."""
    for lower, upper, strictly in config.ORDERED:
        low, high = getattr(config, lower), getattr(config, upper)
        if low > high or (strictly and low == high):
            bound = "below" if strictly else "at most"
            raise ConfigError(f"gpio.{lower}: must be {bound} gpio.{upper} ({high:g}), got {low:g}")


def _check_outputs(config: GpioConfig) -> None:
    """The output pins are low at boot, distinct, and off SPI0 while the MCP3008 is used.

    The class's ``OUTPUTS`` name them (None: not wired); its option ``SPI_USER``, when set,
    means the MCP3008 is wired.
    """
    pins: dict[str, int | None] = {name: getattr(config, name) for name in config.OUTPUTS}
    seen: dict[int, str] = {}
    uses_spi = getattr(config, config.SPI_USER) is not None
    for option, pin in pins.items():
        if pin is not None and pin in BOOT_HIGH_PINS:
            raise ConfigError(
                f"gpio.{option}: GPIO {pin} is pulled high at boot (or is the "
                "UART), so the output would be on until pc6 starts; use a pin "
                "pulled low at boot such as 12, 13, 18, 19, 23 or 24"
            )
    for option, pin in pins.items():
        if pin is None:
            continue
        if pin in seen:
            raise ConfigError(f"gpio.{option}: GPIO {pin} is already gpio.{seen[pin]}")
        if uses_spi and pin in SPI0_PINS:
            raise ConfigError(f"gpio.{option}: GPIO {pin} is an SPI0 line, used by the MCP3008")
        seen[pin] = option


def check_options(kind: ActuatorKind, options: Mapping[str, Any]) -> dict[str, Any]:
    """The gpio backend's options as a config file or ``pc6 run`` gives them.

    ``sim_pins = true`` selects the simulator's mock pins (the ``gpio-sim`` backend); every
    other key is a pin or calibration setting of :class:`VibrationConfig` or
    :class:`PressureConfig`.

    Raises:
        ConfigError: ``"KEY: reason"`` for the first option refused.
    """
    values = dict(options)
    sim_pins = values.pop("sim_pins", False)
    if not isinstance(sim_pins, bool):
        raise ConfigError(f"sim_pins: must be true or false, got {sim_pins!r}")
    try:
        parse_options(kind, values)
    except ConfigError as err:
        raise ConfigError(str(err).removeprefix("gpio.")) from None
    return dict(options)
