"""The options of the band backends (``serial``, ``ble``), as a config file or ``pc6 run``
gives them: each backend's own schema, which the registry hands to whoever asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from firmware_host.drive.actuator import Device
from firmware_host.drive.options import POSITIVE, schema

#: Link timings both bands take (seconds, above 0); see ``drive/band/link.py``.
LINK_TIMINGS = (
    "ping_interval_s",
    "link_timeout_s",
    "reply_timeout_s",
    "backoff_initial_s",
    "backoff_max_s",
    "resume_ramp_s",
)

check_serial_options = schema(
    "serial",
    {"port": str, "baudrate": int, "key_file": str, **dict.fromkeys(LINK_TIMINGS, POSITIVE)},
    required=("port",),
)
check_ble_options = schema(
    "ble",
    {
        "address": str,
        "key_file": str,
        "connect_timeout_s": POSITIVE,
        **dict.fromkeys(LINK_TIMINGS, POSITIVE),
    },
    required=("address",),
)


def serial_devices(options: Mapping[str, Any]) -> tuple[Device, ...]:
    """The band's serial port (the udev rule's ``/dev/pc6band`` by default)."""
    return (Device(str(options.get("port", "/dev/pc6band")), "dialout"),)
