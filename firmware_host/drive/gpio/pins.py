"""Where the gpio backend's pins come from, besides gpiozero's own default (lgpio on a Pi).

Other pin factories are registered under the ``pc6band.gpio_pins`` entry-point group, so
the host reaches the simulator's mock pins (``sim``) without importing the simulator:
``pc6-gpio-off --sim-pins`` uses it. The gpio backend on simulated pins with a simulated
wrist is a backend of its own, ``gpio-sim``, registered by the simulator.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Any

from firmware_host.errors import BackendUnavailable

PIN_FACTORY_GROUP = "pc6band.gpio_pins"


def registered_pin_factory(name: str) -> Any:
    """A new pin factory of the kind registered as ``name`` (e.g. ``"sim"``).

    Raises:
        BackendUnavailable: nothing of that name is registered, or it cannot be loaded.
    """
    found = [ep for ep in entry_points(group=PIN_FACTORY_GROUP) if ep.name == name]
    if not found:
        raise BackendUnavailable(
            f"no {name!r} gpio pins are installed (entry points {PIN_FACTORY_GROUP})"
        )
    try:
        make = found[0].load()
    except ImportError as err:
        raise BackendUnavailable(f"{name!r} gpio pins cannot be loaded: {err}") from err
    return make()


@contextlib.contextmanager
def borrowed_global_factory(factory: Any) -> Iterator[None]:
    """Make ``factory`` gpiozero's global pin factory while the block runs, then restore it.

    gpiozero 2.0.1's ``SPISoftwareBus`` calls ``Device.__init__()`` without the
    ``pin_factory`` it was given, so creating an ``MCP3008(pin_factory=mock)`` with no
    global factory set tries the real ones and raises ``BadPinFactory``. Nothing is left
    behind for the next device or test.
    """
    from gpiozero import Device

    saved = Device.pin_factory
    Device.pin_factory = factory
    try:
        yield
    finally:
        Device.pin_factory = saved
