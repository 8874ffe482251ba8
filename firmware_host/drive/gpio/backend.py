"""The ``gpio`` backend: a vibration motor or a servo pressure pad on the Pi's own pins.

Registered under ``pc6band.backends`` as ``gpio``; :func:`create` builds it from options.
The same classes run on a Pi (gpiozero's default pin factory, lgpio) and, as the
simulator's ``gpio-sim`` backend (``sim_pins=True`` here), on gpiozero's ``MockFactory``
with the plant models of ``sim/gpio_pins.py`` attached to the pins.

Direct GPIO has no second brain on the wrist, so this backend is its own last barrier:

- outputs are forced off when it opens, and on ``off()``/``close()`` whatever happened;
- a local lease: a non-zero output not refreshed in time goes off and reports a fault;
- it never raises an output on its own: the closed loop only holds the pressure the gate
  last asked for, inside the calibrated span, and every fault it senses releases the pad.

The engine sets levels; gpiozero's ``blink()``/``pulse()`` threads are never used.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from typing import Any

from gpiozero import MCP3008, DigitalOutputDevice, PWMOutputDevice, Servo
from gpiozero.exc import GPIOZeroError

from firmware_host.clock import Cancellable, Clock, LoopClock
from firmware_host.drive.actuator import Actuator, ActuatorKind, Backend, Capabilities, Device
from firmware_host.drive.gpio.options import (
    PressureConfig,
    VibrationConfig,
    check_options,
    parse_options,
)
from firmware_host.drive.gpio.pins import borrowed_global_factory
from firmware_host.drive.gpio.pressure import PressureController, PressureFault
from firmware_host.errors import ActuatorError, BackendUnavailable, ConfigError

logger = logging.getLogger(__name__)

SIMULATED_NOTICE = (
    "gpio backend on SIMULATED pins (gpiozero MockFactory with plant models): "
    "nothing physical moves"
)


def create(
    kind: str = "vibration", sim_pins: bool = False, **options: Any
) -> GpioVibration | GpioPressure:
    """Build the gpio backend for ``kind`` from its options.

    Args:
        kind: ``"vibration"`` or ``"pressure"``.
        sim_pins: run on mock pins with the plant models attached: the ``gpio-sim``
            backend, which the simulator registers (reached by name, not imported).
        **options: pins and calibration (see ``docs/gpio-wiring.md``); also ``clock`` (a
            :class:`~firmware_host.clock.Clock`) and ``pin_factory`` (a gpiozero factory).

    Raises:
        ConfigError: an option is unknown or out of range; the message names it.
        BackendUnavailable: ``sim_pins`` without the simulator installed.
    """
    if sim_pins:
        from firmware_host.drive.actuator import create_backend

        actuator = create_backend("gpio-sim", kind=kind, **options)
        assert isinstance(actuator, GpioVibration | GpioPressure)
        return actuator
    clock: Clock = options.pop("clock", None) or LoopClock()
    pin_factory = options.pop("pin_factory", None)
    config = parse_options(actuator_kind(kind), options)
    return build(config, clock=clock, pin_factory=pin_factory, simulated=_is_mock(pin_factory))


def actuator_kind(kind: str) -> ActuatorKind:
    """``kind`` as an :class:`ActuatorKind`.

    Raises:
        ConfigError: neither vibration nor pressure.
    """
    try:
        return ActuatorKind(kind)
    except ValueError as err:
        raise ConfigError(f"gpio.kind: must be 'vibration' or 'pressure', got {kind!r}") from err


def build(
    config: VibrationConfig | PressureConfig, *, clock: Clock, pin_factory: Any, simulated: bool
) -> GpioVibration | GpioPressure:
    """The actuator for validated ``config`` on ``pin_factory`` (None: gpiozero's default)."""
    if isinstance(config, VibrationConfig):
        return GpioVibration(config, clock=clock, pin_factory=pin_factory, simulated=simulated)
    return GpioPressure(config, clock=clock, pin_factory=pin_factory, simulated=simulated)


def _is_mock(pin_factory: Any) -> bool:
    from gpiozero.pins.mock import MockFactory

    return isinstance(pin_factory, MockFactory)


class _GpioActuator(Actuator):
    """What both gpio actuators share: devices, the local lease, safe shutdown."""

    def __init__(self, *, clock: Clock, pin_factory: Any, simulated: bool) -> None:
        super().__init__()
        self.clock = clock
        self.pin_factory = pin_factory
        # The simulator's wiring (plants, fault injection) when gpio-sim made this; else None.
        self.sim: Any = None
        self.simulated = simulated
        self.level = 0.0
        self.lease_expiries = 0
        self._lease: Cancellable | None = None
        self._devices: list[Any] = []
        self._opened = False

    # -- devices ------------------------------------------------------------------------

    def _device(self, make: Any, *args: Any, **kwargs: Any) -> Any:
        """Create a gpiozero device on our factory, remembered for close()."""
        try:
            if self.pin_factory is not None and make is MCP3008:
                # gpiozero 2.0.1's software SPI ignores pin_factory (see pins.py).
                with borrowed_global_factory(self.pin_factory):
                    device = make(*args, pin_factory=self.pin_factory, **kwargs)
            else:
                device = make(*args, pin_factory=self.pin_factory, **kwargs)
        except (GPIOZeroError, OSError, ImportError, RuntimeError) as err:
            raise BackendUnavailable(
                f"gpio: cannot open {make.__name__} {args}: {err}; on a machine without "
                "GPIO pins use --sim-pins, on a Pi check the wiring doc and that lgpio is "
                "installed"
            ) from err
        self._devices.append(device)
        return device

    def _open_notice(self) -> None:
        if self.simulated:
            logger.warning(SIMULATED_NOTICE)

    async def close(self) -> None:
        """Off, then every device closed, each in its own try. Never raises."""
        await self.off()
        for device in reversed(self._devices):
            try:
                device.close()
            except Exception:  # one stuck device must not keep the others open
                logger.exception("gpio: closing %r failed", device)
        self._devices.clear()
        self._opened = False

    # -- the local lease ---------------------------------------------------------------

    def _check_command(self, level: float, lease_s: float) -> float:
        if not self._opened:
            raise ActuatorError("gpio backend is not open")
        if not math.isfinite(level) or not 0.0 <= level <= 1.0:
            raise ActuatorError(f"level {level!r} out of range 0–1")
        if level > 0 and not lease_s > 0:
            raise ActuatorError("a non-zero level needs a lease")
        return min(lease_s, self.capabilities.max_lease_s)

    def _arm_lease(self, level: float, lease_s: float) -> None:
        self._cancel_lease()
        if level > 0:
            self._lease = self.clock.call_at(self.clock.now() + lease_s, self._lease_expired)

    def _cancel_lease(self) -> None:
        if self._lease is not None:
            self._lease.cancel()
            self._lease = None

    def _lease_expired(self) -> None:
        self._lease = None
        if self.level <= 0:
            return
        self.lease_expiries += 1
        # Nobody refreshed the output: off now, and trip, so that it never comes back
        # without a ramp when the refreshes resume.
        self._force_off()
        self.report_fault("gpio lease expired: the output was not refreshed in time; turned off")

    def _force_off(self) -> None:
        """Synchronous off: usable from timers and fault paths. Never raises."""
        raise NotImplementedError

    async def off(self) -> None:
        """Output off (pad released) now. Idempotent; never raises."""
        self._force_off()


class GpioVibration(_GpioActuator):
    """An ERM motor behind a transistor or driver on a PWM pin, optional enable pin."""

    def __init__(self, config: VibrationConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.capabilities = Capabilities(
            kind=ActuatorKind.VIBRATION,
            can_ramp=False,
            resolution=config.resolution,
            max_lease_s=5.0,
            simulated=self.simulated,
        )
        self._pwm: PWMOutputDevice | None = None
        self._enable: DigitalOutputDevice | None = None
        self._current: MCP3008 | None = None
        self._overdrive: Cancellable | None = None
        self._monitor: asyncio.Task[None] | None = None

    def duty_for(self, level: float) -> float:
        """Calibration: level 0 is 0 duty; above it, the start duty up to the maximum."""
        if level <= 0:
            return 0.0
        c = self.config
        return c.min_duty + (c.max_duty - c.min_duty) * min(level, 1.0)

    async def open(self) -> None:
        """Claim the pins with the motor off (duty 0, enable low) before anything else."""
        if self._opened:
            return
        c = self.config
        try:
            if c.enable_pin is not None:
                self._enable = self._device(DigitalOutputDevice, c.enable_pin, initial_value=False)
            self._pwm = self._device(
                PWMOutputDevice,
                c.pin,
                initial_value=0.0,
                frequency=c.frequency,
                active_high=c.active_high,
            )
            if c.current_channel is not None:
                self._current = self._device(MCP3008, channel=c.current_channel)
        except Exception:
            await self.close()
            raise
        self._opened = True
        self.level = 0.0
        self._open_notice()

    async def set_level(self, level: float, *, lease_s: float, ramp_s: float = 0.0) -> None:
        """Drive the motor at the duty for ``level`` (this backend cannot ramp)."""
        lease = self._check_command(level, lease_s)
        try:
            self._drive(level)
        except Exception as err:
            self._force_off()
            raise ActuatorError(f"gpio: could not set the motor duty: {err}") from err
        self._arm_lease(level, lease)

    def _drive(self, level: float) -> None:
        assert self._pwm is not None
        c = self.config
        starting = self.level <= 0 < level
        self.level = level
        if level <= 0:
            self._force_off()
            return
        duty = self.duty_for(level)
        if starting and c.overdrive_s > 0:
            self._cancel_overdrive()
            self._pwm.value = max(duty, c.overdrive_duty)  # kick the rotor past its friction
            self._overdrive = self.clock.call_at(
                self.clock.now() + c.overdrive_s, self._end_overdrive
            )
        elif self._overdrive is None:
            self._pwm.value = duty
        if self._enable is not None:
            self._enable.on()
        if starting and self._current is not None:
            self._monitor = asyncio.get_running_loop().create_task(self._watch_stall())

    def _end_overdrive(self) -> None:
        self._overdrive = None
        if self._pwm is not None and self.level > 0:
            self._pwm.value = self.duty_for(self.level)

    def _cancel_overdrive(self) -> None:
        if self._overdrive is not None:
            self._overdrive.cancel()
            self._overdrive = None

    def _force_off(self) -> None:
        self.level = 0.0
        self._cancel_lease()
        self._cancel_overdrive()
        if self._monitor is not None:
            self._monitor.cancel()
            self._monitor = None
        # Enable first: with a driver, that stops the motor even if the PWM write fails.
        for device, action in ((self._enable, "off"), (self._pwm, "off")):
            if device is None:
                continue
            try:
                getattr(device, action)()
            except Exception:  # keep going: the other line may still stop the motor
                logger.exception("gpio: could not turn %r off", device)

    async def _watch_stall(self) -> None:
        """Motor current above the stall fraction for ``stall_s`` means a jammed rotor."""
        c = self.config
        period = 1.0 / c.stall_rate_hz
        since: float | None = None
        deadline = self.clock.now()
        while self.level > 0 and self._current is not None:
            deadline += period
            await self.clock.sleep_until(deadline)
            now = self.clock.now()
            if now - deadline > period:
                deadline = now  # behind: skip ticks rather than burst to catch up
            duty = self.duty_for(self.level)
            ratio = (self._current.value - c.current_zero) / (c.current_stall * duty)
            if ratio < c.stall_ratio:
                since = None
            elif since is None:
                since = now
            elif now - since >= c.stall_s - 1e-9:
                self._monitor = None
                self._force_off()
                self.report_fault(
                    f"vibration motor stalled: it drew {ratio:.0%} of stall "
                    f"current for {(now - since) * 1000:.0f} ms (jammed rotor "
                    "or worn motor); turned off"
                )
                return


class GpioPressure(_GpioActuator):
    """A servo pressing a pad, open loop from its calibration or closed on a force sensor."""

    def __init__(self, config: PressureConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.capabilities = Capabilities(
            kind=ActuatorKind.PRESSURE,
            can_ramp=False,
            resolution=config.resolution,
            max_lease_s=3.0,
            simulated=self.simulated,
        )
        self.controller = (
            PressureController(config.pad, config.sensor, config.control)
            if config.sensor_channel is not None
            else None
        )
        self._servo: Servo | None = None
        self._heartbeat: DigitalOutputDevice | None = None
        self._adc: MCP3008 | None = None
        self._task: asyncio.Task[None] | None = None
        self.ticks: list[tuple[float, float]] = []  # (deadline, woke), for the bench
        self.keep_ticks = False

    async def open(self) -> None:
        """Claim the pins with the pad released (no pulses, then the release position)."""
        if self._opened:
            return
        c = self.config
        try:
            self._servo = self._device(
                Servo,
                c.pin,
                initial_value=None,
                min_pulse_width=c.min_pulse_ms / 1000,
                max_pulse_width=c.max_pulse_ms / 1000,
            )
            if c.deadman_pin is not None:
                self._heartbeat = self._device(
                    DigitalOutputDevice, c.deadman_pin, initial_value=False
                )
            if c.sensor_channel is not None:
                self._adc = self._device(MCP3008, channel=c.sensor_channel)
                self._check_sensor_at_rest(self._adc.value)
        except Exception:
            await self.close()
            raise
        self._opened = True
        self._force_off()
        self._open_notice()

    def _check_sensor_at_rest(self, reading: float) -> None:
        s = self.config.sensor
        if reading <= s.rail:
            raise ActuatorError(
                "force sensor reads 0 V at start: unplugged or a broken wire; check its connector"
            )
        if reading >= 1 - s.rail:
            raise ActuatorError(
                "force sensor reads full scale at start: shorted or miswired; check the divider"
            )

    async def set_level(self, level: float, *, lease_s: float, ramp_s: float = 0.0) -> None:
        """Press to ``level`` (closed loop if a sensor is wired); 0 releases the pad."""
        lease = self._check_command(level, lease_s)
        if level <= 0:
            self._force_off()
            return
        try:
            self._press(level)
        except Exception as err:
            self._force_off()
            raise ActuatorError(f"gpio: could not move the servo: {err}") from err
        self._arm_lease(level, lease)

    def _press(self, level: float) -> None:
        self.level = level
        if self.controller is not None:
            self.controller.set_target(level)
        else:
            self._move(self.config.pad.position_for(level))
        if self._task is None or self._task.done():
            if self.controller is not None:
                self.controller.reset(self.clock.now())
                self.controller.set_target(level)
            self._task = asyncio.get_running_loop().create_task(self._pressing())

    def _move(self, position: float) -> None:
        assert self._servo is not None
        self._servo.value = 2.0 * self.config.pad.clamp(position) - 1.0

    async def _pressing(self) -> None:
        """While pressing: the control loop (with a sensor) and the dead-man heartbeat."""
        c = self.config
        period = 1.0 / (c.control.rate_hz if self.controller is not None else c.heartbeat_hz)
        deadline = self.clock.now()
        while self.level > 0:
            deadline += period
            await self.clock.sleep_until(deadline)
            now = self.clock.now()
            if now - deadline > period:
                deadline = now  # a stalled loop skips ticks rather than bursting to catch up
            if self.keep_ticks:
                self.ticks.append((deadline, now))
            try:
                self._tick(now)
            except Exception as err:  # a dead loop must not leave the pad pressing
                logger.exception("gpio: the pressure loop failed")
                self._task = None  # this task ends here; do not cancel ourselves
                self._force_off()
                self.report_fault(f"pressure control loop failed: {err}; pad released")
                return

    def _tick(self, now: float) -> None:
        if self._heartbeat is not None:
            self._heartbeat.toggle()
        if self.controller is not None and self._adc is not None and self.level > 0:
            self._control(now, self._adc.value)

    def _control(self, now: float, reading: float) -> None:
        assert self.controller is not None
        try:
            position = self.controller.step(now, reading)
        except PressureFault as fault:
            self._task = None  # this task ends here; do not cancel ourselves
            self._force_off()
            self.report_fault(str(fault))
            return
        self._move(position)

    def _force_off(self) -> None:
        self.level = 0.0
        self._cancel_lease()
        task, self._task = self._task, None
        if task is not None and task is not _current_task():
            task.cancel()
        if self.controller is not None:
            self.controller.reset(self.clock.now() if self._opened else None)
        if self._heartbeat is not None:
            try:
                self._heartbeat.off()  # a static line: the dead-man cuts the servo's power
            except Exception:
                logger.exception("gpio: could not stop the dead-man heartbeat")
        if self._servo is not None:
            try:
                self._move(self.config.pad.release)
            except Exception:
                logger.exception("gpio: could not drive the servo to release")
                self._detach()

    def _detach(self) -> None:
        try:
            if self._servo is not None:
                self._servo.detach()  # no pulses: the return spring takes the pad off
        except Exception:
            logger.exception("gpio: could not detach the servo")

    async def close(self) -> None:
        """Release, give the servo time to get there, stop its pulses, close. Never raises."""
        self._force_off()
        if self._servo is not None:
            try:
                await self.clock.sleep_until(self.clock.now() + self.config.release_s)
            except BaseException:  # cancelled on the way out: still stop the pulses
                self._detach()
                await super().close()
                raise
            self._detach()
        await super().close()


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def _devices(options: Mapping[str, Any]) -> tuple[Device, ...]:
    return () if options.get("sim_pins") else (Device("/dev/gpiochip0", "gpio"),)


#: What the ``gpio`` entry point names (see :class:`~firmware_host.drive.actuator.Backend`).
BACKEND = Backend(
    create=create,
    check_options=check_options,
    simulated=lambda options: bool(options.get("sim_pins")),
    devices=_devices,
    summary="a vibration motor or a servo pad on the Pi's own pins (sim_pins: mock pins)",
)
