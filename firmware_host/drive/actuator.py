"""The actuator interface every backend implements, and the backend registry.

Levels are 0–1 of the wearer's comfortable maximum; each backend maps them onto PWM duty,
servo travel or a band command through its own calibration. The engine and the safety gate
only ever see this interface, so the simulator, GPIO, serial and BLE backends are
interchangeable.
"""

from __future__ import annotations

import abc
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from firmware_host.errors import BackendUnavailable, InvalidInput

logger = logging.getLogger(__name__)

BACKEND_GROUP = "pc6band.backends"


class ActuatorKind(enum.StrEnum):
    """What the actuator does to the wrist."""

    VIBRATION = "vibration"
    PRESSURE = "pressure"


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do by itself.

    Attributes:
        kind: vibration or pressure.
        can_ramp: the backend moves linearly to a new level over a given time on its own
            clock (the simulator, a band playing ramps). Without it the engine steps ramps.
        resolution: distinct non-zero output steps over 0–1; the engine wakes only when the
            quantised output changes.
        max_lease_s: the longest lease the far end honours.
        simulated: nothing physical moves; every run says so.
        max_ramp_s: the longest single ramp the far end can play (a band's wire format
            holds 65.5 s); the engine splits longer ramps.
    """

    kind: ActuatorKind
    can_ramp: bool = False
    resolution: int = 1000
    max_lease_s: float = 5.0
    simulated: bool = False
    max_ramp_s: float = float("inf")


FaultListener = Callable[[str], None]
LinkListener = Callable[[bool, str], None]


class Actuator(abc.ABC):
    """One output on the wrist.

    ``off()`` and ``close()`` are idempotent and never raise: they are called on every way
    out, including after the backend itself has failed.
    """

    capabilities: Capabilities

    def __init__(self) -> None:
        self._fault_listeners: list[FaultListener] = []
        self._link_listeners: list[LinkListener] = []

    @property
    def kind(self) -> ActuatorKind:
        """Vibration or pressure."""
        return self.capabilities.kind

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and force the output off before anything else happens."""

    @abc.abstractmethod
    async def set_level(self, level: float, *, lease_s: float, ramp_s: float = 0.0) -> None:
        """Move to ``level``; linearly over ``ramp_s`` if the backend can ramp.

        A non-zero level holds only for ``lease_s`` seconds unless refreshed by another
        call; backends with a far end (a band) enforce the lease there.

        Raises:
            ActuatorError: the output could not be set; the caller trips.
        """

    @abc.abstractmethod
    async def off(self) -> None:
        """Output to zero (pad released) now. Idempotent; never raises."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Turn off and release the hardware. Idempotent; never raises."""

    def on_fault(self, listener: FaultListener) -> Callable[[], None]:
        """Call ``listener(reason)`` when the backend detects a fault by itself.

        Returns a callable that removes the listener.
        """
        self._fault_listeners.append(listener)
        return lambda: self._fault_listeners.remove(listener)

    def report_fault(self, reason: str) -> None:
        """Tell every fault listener (the safety gate) that something went wrong."""
        logger.warning("actuator fault: %s", reason)
        for listener in list(self._fault_listeners):
            try:
                listener(reason)
            except Exception:  # one broken listener must not hide the fault from the rest
                logger.exception("fault listener failed")

    def on_link(self, listener: LinkListener) -> Callable[[], None]:
        """Call ``listener(up, reason)`` when the link to a band drops or comes back.

        A dropped link is not a fault of the wearer's session: the band turns itself off
        when its lease runs out, and the engine holds until the link is back, then resumes
        with a ramp. Backends without a link never call it. Returns an undo callable.
        """
        self._link_listeners.append(listener)
        return lambda: self._link_listeners.remove(listener)

    def report_link(self, up: bool, reason: str) -> None:
        """Tell every link listener that the link went down (``up=False``) or came back."""
        for listener in list(self._link_listeners):
            try:
                listener(up, reason)
            except Exception:  # one broken listener must not hide the news from the rest
                logger.exception("link listener failed")

    async def __aenter__(self) -> Actuator:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


BackendFactory = Callable[..., Actuator]


def available_backends() -> list[str]:
    """Names of the backends registered under the ``pc6band.backends`` entry-point group."""
    return sorted(ep.name for ep in entry_points(group=BACKEND_GROUP))


def create_backend(name: str, **options: Any) -> Actuator:
    """Create the backend registered as ``name`` with its options.

    The backend module (and its vendor library) is imported only now, so a missing library
    fails here with a clear message, not in the middle of a session.

    Raises:
        InvalidInput: no backend of that name.
        BackendUnavailable: its library cannot be imported.
    """
    found = [ep for ep in entry_points(group=BACKEND_GROUP) if ep.name == name]
    if not found:
        known = ", ".join(available_backends()) or "none"
        raise InvalidInput(f"unknown backend {name!r}; known backends: {known}")
    try:
        factory: BackendFactory = found[0].load()
    except ImportError as err:
        raise BackendUnavailable(
            f"backend {name!r} cannot be loaded: {err}; install pc6band with its dependencies"
        ) from err
    return factory(**options)
