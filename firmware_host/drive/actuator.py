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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from importlib.metadata import entry_points
from typing import Any

from firmware_host.errors import BackendUnavailable, ConfigError, InvalidInput, PC6Error

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
OptionsCheck = Callable[[ActuatorKind, Mapping[str, Any]], dict[str, Any]]


def _no_options(kind: ActuatorKind, options: Mapping[str, Any]) -> dict[str, Any]:
    if options:
        raise ConfigError(f"{sorted(options)[0]}: this backend takes no options")
    return {}


def _never(options: Mapping[str, Any]) -> bool:
    return False


def _no_devices(options: Mapping[str, Any]) -> tuple[Device, ...]:
    return ()


@dataclass(frozen=True)
class Device:
    """A device node a backend opens, and the group that grants access to it."""

    path: str
    group: str


@dataclass(frozen=True)
class Backend:
    """Everything pc6band asks about one backend: what its entry point names.

    A backend is one module holding one of these (as ``BACKEND``) plus one entry point in
    the ``pc6band.backends`` group; the config file, ``pc6 run``, ``pc6 config check``,
    ``pc6 doctor`` and ``pc6 ctl status`` all ask the registry, never a list of names. Keep
    the module cheap to import: import the vendor library inside ``create``.

    Attributes:
        create: ``create(kind="vibration"|"pressure", **options) -> Actuator``: the options
            as written (checked again there), plus what only code passes (``clock`` ...).
        check_options: validates the options as a config file's ``[backend]`` table or the
            command line gives them (without ``name`` and ``kind``) and returns them;
            raises :class:`~firmware_host.errors.ConfigError` as ``"KEY: reason"``.
        simulated: whether, with these options, nothing physical moves.
        devices: the device nodes it opens with these options (``pc6 doctor`` checks them).
        services: system services it needs running (``pc6 doctor`` checks them).
        summary: one line for help texts.
        learns_kind: the far end says what it drives (a band): without a kind asked for,
            the session opens it first and uses that.
    """

    create: BackendFactory
    check_options: OptionsCheck = _no_options
    simulated: Callable[[Mapping[str, Any]], bool] = _never
    devices: Callable[[Mapping[str, Any]], tuple[Device, ...]] = _no_devices
    services: tuple[str, ...] = ()
    summary: str = ""
    learns_kind: bool = False


#: Backends loaded so far, by name: status asks whether the backend is simulated every tick.
_loaded: dict[str, Backend] = {}


def available_backends() -> list[str]:
    """Names of the backends registered under the ``pc6band.backends`` entry-point group."""
    return sorted({ep.name for ep in entry_points(group=BACKEND_GROUP)})


def load_backend(name: str) -> Backend:
    """The registered backend called ``name``.

    Its module is imported now; its vendor library only when it creates an actuator. An
    entry point naming a bare factory function (the older form) works too: it takes any
    options, and is not simulated.

    Raises:
        InvalidInput: no backend of that name (the message lists the known ones).
        BackendUnavailable: its module cannot be imported.
    """
    if name in _loaded:
        return _loaded[name]
    found = [ep for ep in entry_points(group=BACKEND_GROUP) if ep.name == name]
    if not found:
        known = available_backends()
        hint = get_close_matches(str(name), known, n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else ""
        raise InvalidInput(
            f"unknown backend {name!r}; known backends: {', '.join(known) or 'none'}{extra}"
        )
    try:
        target = found[0].load()
    except ImportError as err:
        raise BackendUnavailable(
            f"backend {name!r} cannot be loaded: {err}; install pc6band with its dependencies"
        ) from err
    if not isinstance(target, Backend):
        target = Backend(create=target, check_options=lambda kind, options: dict(options))
    _loaded[name] = target
    return target


def create_backend(name: str, **options: Any) -> Actuator:
    """Create the backend registered as ``name`` with its options.

    The backend's vendor library is imported only now, so a missing library fails here with
    a clear message, not in the middle of a session.

    Raises:
        InvalidInput: no backend of that name, or an option it refuses.
        BackendUnavailable: its library cannot be imported.
    """
    backend = load_backend(name)
    try:
        return backend.create(**options)
    except ImportError as err:
        raise BackendUnavailable(
            f"backend {name!r} cannot be loaded: {err}; install pc6band with its dependencies"
        ) from err


def check_backend_options(
    name: str, kind: ActuatorKind, options: Mapping[str, Any]
) -> dict[str, Any]:
    """The options for backend ``name`` checked by the backend itself.

    Raises:
        InvalidInput: no backend of that name.
        ConfigError: ``"KEY: reason"`` for the first option it refuses.
    """
    return load_backend(name).check_options(kind, options)


def backend_is_simulated(name: str, options: Mapping[str, Any]) -> bool:
    """Whether backend ``name`` with ``options`` moves nothing physical (False if unknown)."""
    try:
        return load_backend(name).simulated(options)
    except PC6Error:
        return False
