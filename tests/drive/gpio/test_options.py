"""Options are checked when the backend is created; errors name the option and the bound."""

from __future__ import annotations

import pytest

from firmware_host.drive.actuator import ActuatorKind, create_backend
from firmware_host.drive.gpio.backend import GpioPressure, GpioVibration, create
from firmware_host.errors import ConfigError


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("vibration", {"min_duty": 0.9, "max_duty": 0.5}, "gpio.min_duty: must be at most"),
        ("vibration", {"min_duty": 0}, "gpio.min_duty: must be above 0"),
        ("vibration", {"max_duty": 1.5}, "gpio.max_duty: must be at most 1"),
        ("vibration", {"frequency": "fast"}, "gpio.frequency: must be a number"),
        ("vibration", {"pin": 4}, "gpio.pin: GPIO 4 is pulled high at boot"),
        ("vibration", {"pin": 12.5}, "gpio.pin: must be a whole number"),
        (
            "vibration",
            {"pin": 13, "enable_pin": 13},
            "gpio.enable_pin: GPIO 13 is already gpio.pin",
        ),
        ("vibration", {"min_dutty": 0.3}, "did you mean 'min_duty'?"),
        ("vibration", {"overdrive_s": 1.0}, "gpio.overdrive_s: must be at most 0.2"),
        ("pressure", {"contact": 0.0}, "gpio.contact: must lie strictly between"),
        ("pressure", {"min_pulse_ms": 2.0, "max_pulse_ms": 1.0}, "gpio.min_pulse_ms"),
        ("pressure", {"sensor_channel": 9}, "gpio.sensor_channel: must be at most 7"),
        ("pressure", {"sensor_channel": 0, "deadman_pin": 10}, "SPI0 line"),
        ("pressure", {"sensor_zero": 0.8}, "gpio.sensor_full"),
        ("pressure", {"ceiling": 3}, "gpio.ceiling: must be at most 2"),
        ("pressure", {"active_high": True}, "gpio.active_high: unknown option for pressure"),
        ("squeeze", {}, "gpio.kind"),
    ],
)
def test_bad_options_name_the_option(kind: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("?", r"\?").replace("(", r"\(")):
        create(kind, sim_pins=True, **options)


def test_sim_pins_backend_says_simulated() -> None:
    vib = create("vibration", sim_pins=True)
    assert isinstance(vib, GpioVibration)
    assert vib.capabilities.simulated and not vib.capabilities.can_ramp
    assert vib.capabilities.kind is ActuatorKind.VIBRATION
    pad = create("pressure", sim_pins=True, sensor_channel=0)
    assert isinstance(pad, GpioPressure)
    assert pad.capabilities.simulated and pad.capabilities.max_lease_s <= 3.0


def test_registered_as_gpio_backend() -> None:
    """Needs the ``gpio`` entry point in pyproject (and a fresh ``pip install -e``)."""
    actuator = create_backend("gpio", kind="pressure", sim_pins=True)
    assert isinstance(actuator, GpioPressure)


def test_active_low_wiring_is_refused() -> None:
    """pc6-gpio-off, the boot pull-down and a floating pin all drive low: low must be off."""
    with pytest.raises(ConfigError, match=r"gpio\.active_high: must be true"):
        create("vibration", sim_pins=True, active_high=False)
