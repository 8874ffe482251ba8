"""The ``gpio-sim`` backend: the real gpio backend on mock pins with a simulated wrist.

Registered under ``pc6band.backends``. ``pc6 run --backend gpio --sim-pins`` and a config's
``sim_pins = true`` under a ``gpio`` backend reach it through the registry, so the host
never imports the simulator. The actuator it returns carries the wiring in ``.sim``
(:class:`~pc6_sim.gpio_pins.GpioSim`: the plants, the pins, fault injection).
"""

from __future__ import annotations

from typing import Any

from firmware_host.clock import LoopClock
from firmware_host.drive.actuator import Backend
from firmware_host.drive.gpio.backend import GpioPressure, GpioVibration, actuator_kind, build
from firmware_host.drive.gpio.options import check_options, parse_options

from .gpio_pins import build_sim


def create(kind: str = "vibration", **options: Any) -> GpioVibration | GpioPressure:
    """The gpio backend for ``kind`` on simulated pins, wired as its options say.

    Args:
        kind: ``"vibration"`` or ``"pressure"``.
        **options: the gpio backend's options; also ``clock`` and ``pin_factory`` (a
            :class:`~pc6_sim.gpio_pins.SimPinFactory` to wire the plants onto).

    Raises:
        ConfigError: an option is unknown or out of range; the message names it.
    """
    options.pop("sim_pins", None)  # it is what brought us here
    clock = options.pop("clock", None) or LoopClock(simulated=True)
    pin_factory = options.pop("pin_factory", None)
    config = parse_options(actuator_kind(kind), options)
    sim = build_sim(config, pin_factory)
    actuator = build(config, clock=clock, pin_factory=sim.factory, simulated=True)
    actuator.sim = sim
    return actuator


#: What the ``gpio-sim`` entry point names: the gpio backend's options, always simulated.
BACKEND = Backend(
    create=create,
    check_options=check_options,
    simulated=lambda options: True,
    summary="the gpio backend on mock pins with a simulated wrist; nothing physical moves",
)
