"""gpiozero mock pins with the physical models attached, for the ``gpio`` backend.

The same backend code that drives a Pi's pins runs here on gpiozero's ``MockFactory``. The
pins do what the wires would: a PWM duty on the motor pin drives an :class:`ErmPlant`
(gated by its enable pin, if any), a servo pulse train drives a pad whose travel presses the
wrist (:class:`ServoPad`), and a mock-SPI MCP3008 returns the force sensor's voltage with
noise. Faults a builder meets in the night can be injected: sensor unplugged or stuck, pad
slipped off the wrist, motor stalled, the wrist pressed onto the pad.

Time is the running event loop's, so the models follow virtual time in tests and real time
under ``pc6 run --sim-pins``. gpiozero's own ``pin.states`` keeps real-time deltas; every
pin here also keeps ``history``: ``(t, value)`` on the loop's clock, one row per change.

Set ``PC6_SIM_PINS_LOG=/path`` to have every pin change appended (and flushed) to a file as
``t pin value`` lines, so a test can watch the pins of another process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from gpiozero import OutputDevice
from gpiozero.pins import SPI
from gpiozero.pins.mock import (
    MockFactory,
    MockPin,
    MockPWMPin,
    MockSPIDevice,
    MockSPIInterface,
)
from gpiozero.pins.spi import SPISoftwareBus

from .plants import ErmPlant, PadPlant

logger = logging.getLogger(__name__)

LOG_ENV = "PC6_SIM_PINS_LOG"
#: Hardware SPI0 on the Pi: SCLK, MOSI, MISO, CE0. gpiozero's mock bit-bangs these pins.
SPI0_PINS = {"clock": 11, "mosi": 10, "miso": 9, "select": 8}


class _FactorySPIBus(SPISoftwareBus):
    """A software SPI bus shared only within one factory.

    gpiozero shares ``SPISoftwareBus`` instances by pin names alone, across factories: a
    second ``MockFactory`` (the next test) would read the first one's pins while the old
    bus is alive.
    """

    @classmethod
    def _shared_key(
        cls, clock_pin: Any, mosi_pin: Any, miso_pin: Any, *, pin_factory: Any = None
    ) -> tuple[Any, ...]:
        return (id(pin_factory), clock_pin, mosi_pin, miso_pin)


class _FactorySPI(MockSPIInterface):
    """gpiozero's mock software SPI, on a bus of this factory only."""

    def __init__(
        self, clock_pin: Any, mosi_pin: Any, miso_pin: Any, select_pin: Any, *, pin_factory: Any
    ) -> None:
        self._bus = None
        self._select = None
        SPI.__init__(self, pin_factory=pin_factory)
        try:
            self._clock_phase = False
            self._lsb_first = False
            self._bits_per_word = 8
            self._bus = _FactorySPIBus(clock_pin, mosi_pin, miso_pin, pin_factory=pin_factory)
            self._select = OutputDevice(select_pin, active_high=False, pin_factory=pin_factory)
        except BaseException:
            self.close()
            raise


class ServoPad(PadPlant):
    """The pad plant driven by servo travel (0 released … 1 full) instead of by level."""

    def _target(self, level: float) -> float:
        return min(1.0, max(0.0, level))


class PlantPin(MockPWMPin):
    """A mock PWM pin that records its history on the loop clock and drives what is wired."""

    def __init__(self, factory: SimPinFactory, info: Any) -> None:
        self.history: list[tuple[float, float]] = []
        self.listeners: list[Callable[[float], None]] = []
        super().__init__(factory, info)
        self._last_seen: tuple[float, float | None] = (float(self._state), self._frequency)
        self.history.append((factory.now(), float(self._state)))

    def _change_state(self, value: Any) -> bool:
        changed = bool(super()._change_state(value))
        if changed:
            self._notify()
        return changed

    def _set_frequency(self, value: Any) -> None:
        before = self._frequency
        super()._set_frequency(value)
        if before != value:
            self._notify()  # a servo detached (no pulses) is a change the wire sees

    def _set_function(self, value: Any) -> None:
        super()._set_function(value)
        if value == "output":  # claimed: log the level it is driven at, changed or not
            factory: SimPinFactory = self.factory
            factory.log_change(factory.now(), self.info.name, float(self._state), self._frequency)

    def _notify(self) -> None:
        factory: SimPinFactory = self.factory
        t = factory.now()
        value = float(self._state)
        seen = (value, self._frequency)
        if seen == self._last_seen:
            return
        self._last_seen = seen
        if value != self.history[-1][1]:
            self.history.append((t, value))
        factory.log_change(t, self.info.name, value, self._frequency)
        for listener in list(self.listeners):
            listener(t)


class MockMCP3008(MockSPIDevice):
    """The chip side of an MCP3008 on mock SPI: each channel reads a callable (0–1 of Vref)."""

    def __init__(self, factory: SimPinFactory, channels: dict[int, Callable[[], float]]) -> None:
        super().__init__(
            SPI0_PINS["clock"],
            SPI0_PINS["mosi"],
            SPI0_PINS["miso"],
            SPI0_PINS["select"],
            pin_factory=factory,
        )
        self.channels = channels
        self.reads = 0

    def on_start(self) -> None:
        super().on_start()
        self.miso_pin.drive_low()

    def on_bit(self) -> None:
        # Tx: 00000001 SCCCxxxx xxxxxxxx — after the start bit, mode and channel (4 bits),
        # the chip answers a null bit and 10 result bits aligned to the end of byte 3.
        if self.rx_bit == 12:
            word = self.rx_word() & 0xF
            single, channel = word >> 3, word & 0x7
            source = self.channels.get(channel) if single else None
            fraction = source() if source is not None else 0.0
            raw = max(0, min(1023, round(fraction * 1023)))
            self.reads += 1
            self.tx_word(raw, 12)  # null bit plus padding, then the 10 result bits


@dataclass
class ForceSensor:
    """An FSR in a divider, read by the MCP3008 (see docs/gpio-wiring.md).

    A resistor across the FSR keeps the no-force reading off the rail, so "unplugged"
    (0 V) and "shorted" (Vref) are distinguishable from "no force".

    Attributes:
        pad: the plant whose contact pressure is sensed.
        zero: reading (0–1 of Vref) with no force.
        full_kpa: pressure that reads ``zero + span``.
        span: reading added by ``full_kpa``.
        noise: standard deviation of the reading (0–1 of Vref).
        now: the clock.
    """

    pad: PadPlant
    now: Callable[[], float]
    zero: float = 0.1
    full_kpa: float = 8.0
    span: float = 0.8
    noise: float = 0.003
    seed: int = 6
    extra_kpa: float = 0.0  # fault: the wrist pressed onto the pad (by the mattress)
    unplugged: bool = False  # fault: connector off — the pull-down reads 0 V
    stuck_at: float | None = None  # fault: the reading no longer changes
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def pressure_kpa(self) -> float:
        """The true contact pressure now."""
        return self.pad.output(self.now()) * self.pad.max_kpa + self.extra_kpa

    def read(self) -> float:
        """The divider's voltage as a fraction of Vref, as the ADC sees it."""
        if self.unplugged:
            return 0.0
        if self.stuck_at is not None:
            return self.stuck_at
        value = self.zero + self.span * self.pressure_kpa() / self.full_kpa
        return value + self._rng.gauss(0.0, self.noise)

    def stick(self) -> None:
        """Fault: freeze the reading where it is now."""
        self.stuck_at = round(self.read() * 1023) / 1023


@dataclass
class MotorSense:
    """Motor current through a shunt, read by the MCP3008: stall current with no back-EMF.

    Attributes:
        plant: the motor.
        drive: the duty actually reaching the motor (0 when the enable pin is low).
        stall_reading: reading (0–1 of Vref) at full duty with the rotor locked.
    """

    plant: ErmPlant
    drive: Callable[[], float]
    now: Callable[[], float]
    stall_reading: float = 0.8
    friction: float = 0.1
    noise: float = 0.003
    seed: int = 3
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def read(self) -> float:
        """Shunt voltage (0–1 of Vref): high while the rotor lags the drive, low once it spins."""
        speed = self.plant.output(self.now())
        drive = self.drive()
        # Normalised to full speed, back-EMF cancels the drive once the rotor keeps up;
        # what is left is the stall current, plus friction load while spinning.
        current = max(0.0, drive - speed) + self.friction * drive
        return 0.05 + self.stall_reading * current + self._rng.gauss(0.0, self.noise)


class SimPinFactory(MockFactory):
    """A ``MockFactory`` whose pins carry the plants, on the running loop's clock."""

    def __init__(self, now: Callable[[], float] | None = None, log_path: str | None = None) -> None:
        super().__init__(pin_class=PlantPin)
        self._now = now
        self._last_t = 0.0
        self.adc: MockMCP3008 | None = None
        self._adc_channels: dict[int, Callable[[], float]] = {}
        path = log_path if log_path is not None else os.environ.get(LOG_ENV)
        self._log: IO[str] | None = open(path, "a", buffering=1) if path else None  # noqa: SIM115

    def now(self) -> float:
        """Loop time; outside a loop, the last time seen (never a different time base)."""
        if self._now is not None:
            t = self._now()
        else:
            try:
                t = asyncio.get_running_loop().time()
            except RuntimeError:
                t = self._last_t
        self._last_t = max(self._last_t, t)
        return self._last_t

    def pin(self, name: Any, pin_class: Any = None, **kwargs: Any) -> Any:
        """As ``MockFactory.pin``; the SPI0 pins are plain mock pins, unrecorded.

        The SPI lines toggle dozens of times per ADC read: recording them would drown the
        history, and the mock SPI device needs its own (non-PWM) pin classes there.
        """
        if pin_class is None:
            for info in self.pins:
                if info.name == f"GPIO{name}" or info.name == name:
                    return self.pins[info]
            if name in SPI0_PINS.values() or name in {f"GPIO{n}" for n in SPI0_PINS.values()}:
                pin_class = MockPin
        return super().pin(name, pin_class=pin_class, **kwargs)

    def _get_spi_class(self, shared: bool, hardware: bool) -> Any:
        return _FactorySPI

    def sim_pin(self, number: int) -> PlantPin:
        """The mock pin for GPIO ``number``."""
        pin = self.pin(number)
        assert isinstance(pin, PlantPin)
        return pin

    def log_change(self, t: float, name: str, value: float, frequency: float | None) -> None:
        """Append a pin change to the ``PC6_SIM_PINS_LOG`` file, flushed at once."""
        if self._log is not None:
            try:
                self._log.write(f"{t:.6f} {name} {value:.6f} {frequency or 0:g}\n")
                self._log.flush()
            except (OSError, ValueError):  # a full disk must not stop the outputs going off
                logger.warning("could not write the sim pins log")

    # -- wiring the plants --------------------------------------------------------------

    def attach_motor(
        self, pin: int, plant: ErmPlant, *, enable_pin: int | None = None
    ) -> Callable[[], float]:
        """Wire an ERM motor's driver to ``pin`` (and its enable); returns the drive now."""
        pwm = self.sim_pin(pin)
        enable = self.sim_pin(enable_pin) if enable_pin is not None else None

        def drive() -> float:
            if enable is not None and not enable.state:
                return 0.0
            return float(pwm.state) if pwm.frequency else 0.0

        def changed(t: float) -> None:
            plant.command(t, drive())

        pwm.listeners.append(changed)
        if enable is not None:
            enable.listeners.append(changed)
        plant.command(self.now(), drive())
        return drive

    def attach_servo(
        self, pin: int, pad: PadPlant, *, min_pulse_s: float = 1e-3, max_pulse_s: float = 2e-3
    ) -> None:
        """Wire a servo's signal to ``pin``: pulse width maps onto pad travel.

        No pulses (a static pin) lets the return spring pull the pad off: travel 0.
        """
        servo = self.sim_pin(pin)

        def changed(t: float) -> None:
            freq = servo.frequency
            if not freq or not servo.state:
                pad.command(t, 0.0)
                return
            pulse = float(servo.state) / freq
            pad.command(t, (pulse - min_pulse_s) / (max_pulse_s - min_pulse_s))

        servo.listeners.append(changed)
        pad.command(self.now(), 0.0)

    def attach_adc(self, channel: int, source: Callable[[], float]) -> MockMCP3008:
        """Wire ``source`` (0–1 of Vref) to an MCP3008 channel on SPI0."""
        self._adc_channels[channel] = source
        if self.adc is None:
            self.adc = MockMCP3008(self, self._adc_channels)
        return self.adc

    def close_log(self) -> None:
        """Close the pins log (the pins stay readable)."""
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class GpioSim:
    """Everything simulated behind the ``gpio`` backend's pins, for tests and fault injection.

    Attributes:
        factory: pass it as ``pin_factory=`` to every gpiozero device.
        motor: the ERM plant, if a vibration motor is wired.
        pad: the pad plant, if a servo is wired.
        sensor: the force sensor, if one is wired.
        current: the motor current sense, if wired.
    """

    factory: SimPinFactory
    motor: ErmPlant | None = None
    pad: ServoPad | None = None
    sensor: ForceSensor | None = None
    current: MotorSense | None = None

    def pin(self, number: int) -> PlantPin:
        """The mock pin for GPIO ``number``."""
        return self.factory.sim_pin(number)

    # -- fault injection ----------------------------------------------------------------

    def unplug_sensor(self) -> None:
        """The force sensor's connector comes off."""
        self._need_sensor().unplugged = True

    def stick_sensor(self) -> None:
        """The force sensor's reading freezes."""
        self._need_sensor().stick()

    def slip_pad(self) -> None:
        """The band slides: the pad presses on nothing."""
        if self.pad is None:
            raise RuntimeError("no pad is wired")
        self.pad.output(self.factory.now())  # the travel so far is unaffected
        self.pad.slipped = True

    def press_wrist(self, extra_kpa: float) -> None:
        """The wrist is pushed onto the pad (a pillow, a mattress) adding ``extra_kpa``."""
        self._need_sensor().extra_kpa = extra_kpa

    def stall_motor(self) -> None:
        """The motor's rotor jams: drive goes on, no vibration, stall current flows."""
        if self.motor is None:
            raise RuntimeError("no motor is wired")
        t = self.factory.now()
        drive = self.motor._input.at(t)  # what the motor was being driven to, still driven
        self.motor.output(t)
        self.motor._y = 0.0  # a jammed rotor stops at once; it does not coast down
        self.motor.stalled = True
        self.motor.command(t, drive)

    def _need_sensor(self) -> ForceSensor:
        if self.sensor is None:
            raise RuntimeError("no force sensor is wired")
        return self.sensor


def build_sim(config: Any, pin_factory: SimPinFactory | None = None) -> GpioSim:
    """Mock pins with the plants wired as ``config`` (a gpio backend config) describes.

    The vibration motor starts only above ``min_duty`` × 0.8 (so the calibrated start duty
    does start it); the servo's pulse range is the configured one; a force sensor or a
    motor-current shunt sits on the configured MCP3008 channel.
    """
    from firmware_host.drive.gpio.options import VibrationConfig

    factory = pin_factory or SimPinFactory()
    sim = GpioSim(factory)
    if isinstance(config, VibrationConfig):
        sim.motor = ErmPlant(start_level=0.8 * config.min_duty)
        drive = factory.attach_motor(config.pin, sim.motor, enable_pin=config.enable_pin)
        if config.current_channel is not None:
            sim.current = MotorSense(sim.motor, drive, factory.now)
            factory.attach_adc(config.current_channel, sim.current.read)
        return sim
    sim.pad = ServoPad()
    factory.attach_servo(
        config.pin,
        sim.pad,
        min_pulse_s=config.min_pulse_ms / 1000,
        max_pulse_s=config.max_pulse_ms / 1000,
    )
    if config.sensor_channel is not None:
        sim.sensor = ForceSensor(sim.pad, factory.now)
        factory.attach_adc(config.sensor_channel, sim.sensor.read)
    return sim
