"""Board layer for the reference band: Seeed Studio XIAO ESP32-C3 running MicroPython.

Everything that touches hardware lives here, behind the small interface ``BandCore`` uses
(``set_output``, ``urandom``, ``load_key``/``save_key``, ``battery_mv``, ``temp_c10``) plus
the clock and the watchdog that ``main.py`` needs. In CI the same file runs under the
MicroPython unix port with ``device/unix/machine.py`` standing in for ``machine``.

Pins (see WIRING.md):
  GPIO3 (D1)  vibration: 20 kHz PWM into the gate of a logic-level MOSFET / motor driver
  GPIO4 (D2)  pressure: 50 Hz servo pulse, 1.0 ms = pad released, 2.0 ms = full press
  GPIO2 (A0)  battery through a 1:2 divider
  GPIO9       BOOT button: held while the band starts, it forgets the pairing key
"""

# MicroPython: %-formatting is its cheapest, and it has no contextlib.
# ruff: noqa: SIM105

import json
import os
import time

import machine

try:
    from pc6_device import protocol as p
except ImportError:
    import protocol as p  # type: ignore[no-redef]

KEY_FILE = "pc6_key.bin"
BONDS_FILE = "pc6_bonds.json"
CONFIG_FILE = "pc6_config.json"
VIBRATION_PIN = 3
SERVO_PIN = 4
BATTERY_PIN = 2
BUTTON_PIN = 9
WATCHDOG_MS = 2000
SERVO_MIN_NS = 1000000
SERVO_MAX_NS = 2000000

_RESET_CAUSES = {
    getattr(machine, "PWRON_RESET", -1): p.RESET_POWER_ON,
    getattr(machine, "HARD_RESET", -2): p.RESET_HARD,
    getattr(machine, "WDT_RESET", -3): p.RESET_WATCHDOG,
    getattr(machine, "DEEPSLEEP_RESET", -4): p.RESET_DEEPSLEEP,
    getattr(machine, "SOFT_RESET", -5): p.RESET_SOFT,
}


def _read_config():  # type: () -> dict
    try:
        with open(CONFIG_FILE) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


class Board:
    """The XIAO ESP32-C3 wired as in WIRING.md; outputs are forced off before anything else."""

    def __init__(self):  # type: () -> None
        config = _read_config()
        self.kind = p.KIND_PRESSURE if config.get("kind") == "pressure" else p.KIND_VIBRATION
        self.ceiling = p.level_to_u16(float(config.get("ceiling", 1.0)))
        if self.kind == p.KIND_VIBRATION:
            self._pwm = machine.PWM(
                machine.Pin(VIBRATION_PIN, machine.Pin.OUT), freq=20000, duty_u16=0
            )
        else:
            self._pwm = machine.PWM(
                machine.Pin(SERVO_PIN, machine.Pin.OUT), freq=50, duty_ns=SERVO_MIN_NS
            )
        self._adc = machine.ADC(machine.Pin(BATTERY_PIN))
        self._button = machine.Pin(BUTTON_PIN, machine.Pin.IN, machine.Pin.PULL_UP)
        self._wdt = machine.WDT(timeout=WATCHDOG_MS)
        self._ticks = time.ticks_ms()
        self._ms = 0
        if self._button.value() == 0:
            self.forget_key()

    def now_ms(self):  # type: () -> int
        """Milliseconds since boot that never wrap (ticks_ms wraps; this accumulates)."""
        ticks = time.ticks_ms()
        self._ms += time.ticks_diff(ticks, self._ticks)
        self._ticks = ticks
        return self._ms

    def set_output(self, level):  # type: (int) -> None
        """Drive the actuator: 0 is off (motor stopped, pad released)."""
        if self.kind == p.KIND_VIBRATION:
            self._pwm.duty_u16(level)
        else:
            span = SERVO_MAX_NS - SERVO_MIN_NS
            self._pwm.duty_ns(SERVO_MIN_NS + span * level // p.LEVEL_MAX)

    def urandom(self, n):  # type: (int) -> bytes
        """Random bytes from the chip's hardware RNG."""
        return os.urandom(n)

    def band_id(self):  # type: () -> bytes
        """8 bytes naming this band: the chip's unique id (its MAC), zero-padded."""
        uid = bytes(machine.unique_id())[:8]
        return uid + bytes(8 - len(uid))

    def load_key(self):  # type: () -> object
        """The pairing key from flash, or None when unpaired."""
        try:
            with open(KEY_FILE, "rb") as f:
                key = f.read()
        except OSError:
            return None
        return key if len(key) == p.KEY_LEN else None

    def save_key(self, key):  # type: (bytes) -> None
        """Store the pairing key in flash (atomically: a reset mid-write keeps the old one)."""
        write_atomically(KEY_FILE, key)

    def load_bonds(self):  # type: () -> dict
        """The BLE bonding secrets kept in flash: ``{(type, key): value}``."""
        return load_bonds(BONDS_FILE)

    def save_bonds(self, secrets):  # type: (dict) -> None
        """Keep the BLE bonding secrets in flash, so a reset does not lose the bond."""
        save_bonds(BONDS_FILE, secrets)

    def forget_key(self):  # type: () -> None
        """Factory reset of the pairing."""
        try:
            os.remove(KEY_FILE)
        except OSError:
            pass

    def battery_mv(self):  # type: () -> int
        """Battery voltage through the 1:2 divider (ADC full scale about 3.3 V)."""
        try:
            return self._adc.read_u16() * 3300 * 2 // 65535
        except (OSError, AttributeError):
            return p.BATTERY_UNKNOWN

    def temp_c10(self):  # type: () -> int
        """No temperature sensor on the reference band."""
        return p.TEMP_UNKNOWN

    def reset_cause(self):  # type: () -> int
        """Why the chip last started, as a protocol reset cause."""
        return _RESET_CAUSES.get(machine.reset_cause(), p.RESET_UNKNOWN)

    def feed_watchdog(self):  # type: () -> None
        """Tell the hardware watchdog the main loop is alive."""
        self._wdt.feed()

    def idle(self):  # type: () -> None
        """Nothing to do until the next event."""
        machine.idle()


def write_atomically(path, data):  # type: (str, bytes) -> None
    """Write ``data`` to ``path`` so that a reset leaves either the old or the new file."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)  # atomic on littlefs and FAT for one file


def load_bonds(path):  # type: (str) -> dict
    """Bonding secrets from a JSON file of ``[type, key_hex, value_hex]`` rows."""
    try:
        with open(path) as f:
            rows = json.load(f)
        return {(int(t), bytes.fromhex(k)): bytes.fromhex(v) for t, k, v in rows}
    except (OSError, ValueError, TypeError):
        return {}


def save_bonds(path, secrets):  # type: (str, dict) -> None
    """Write bonding secrets as :func:`load_bonds` reads them, atomically."""
    rows = [[t, k.hex(), v.hex()] for (t, k), v in secrets.items()]
    write_atomically(path, json.dumps(rows).encode())
