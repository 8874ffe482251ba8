"""A stand-in ``machine`` module for the MicroPython unix port (CI), put first on MICROPYPATH.

The unix port's own ``machine`` has no Pin, PWM, ADC or WDT. This one implements the few
calls ``board.py`` makes, and appends every PWM change to the file named by the environment
variable ``PC6_FAKE_PWM_TRACE`` as ``wall_time_ns,method,value`` so a test can watch the pin.
"""

# MicroPython: %-formatting is its cheapest, and it has no contextlib.
# ruff: noqa: UP031

import os
import time

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

_trace_path = os.getenv("PC6_FAKE_PWM_TRACE")


def _trace(method, value):  # type: (str, int) -> None
    if not _trace_path:
        return
    with open(_trace_path, "a") as f:
        f.write("%d,%s,%d\n" % (time.time_ns(), method, value))


class Pin:
    """A pin that remembers its value; inputs read their pull (so buttons are released)."""

    IN = 0
    OUT = 1
    PULL_UP = 1
    PULL_DOWN = 2

    def __init__(self, pin_id, mode=IN, pull=None, value=None):
        self.id = pin_id
        self._value = 1 if pull == Pin.PULL_UP else 0
        if value is not None:
            self._value = value

    def value(self, v=None):
        if v is None:
            return self._value
        self._value = 1 if v else 0
        return None


class PWM:
    """Records duty changes to the trace file."""

    def __init__(self, pin, freq=1000, duty_u16=None, duty_ns=None):
        self.pin = pin
        self.freq = freq
        if duty_u16 is not None:
            self.duty_u16(duty_u16)
        if duty_ns is not None:
            self.duty_ns(duty_ns)

    def duty_u16(self, value=None):
        if value is not None:
            _trace("duty_u16", value)

    def duty_ns(self, value=None):
        if value is not None:
            _trace("duty_ns", value)

    def deinit(self):
        _trace("duty_u16", 0)


class ADC:
    """A battery at about 3.9 V behind the 1:2 divider."""

    def __init__(self, pin):
        self.pin = pin

    def read_u16(self):
        return 38700


class WDT:
    """Counts feeds; the unix port has no way to reset the process from a timer."""

    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0

    def feed(self):
        self.feeds += 1


def reset_cause():
    return PWRON_RESET


def idle():
    pass


def unique_id():
    return b"unixband"
