"""The band twin for ``pc6 sim night`` (entry point ``band`` in ``pc6band.twins``).

The real host link (:class:`~firmware_host.drive.band.link.BandLink`: session, HMAC, leases,
PLAY windows, pings), the real codec and the band's own firmware core
(``device/band_core.py``), joined by the in-memory link on the loop's (virtual) clock, with
an optional latency model. What a serial or BLE night would do, minus the radio.
"""

from __future__ import annotations

import os
from typing import Any

from .band import MemoryLink, VirtualBand

#: Link latency models: (fixed, uniform jitter) seconds per message each way.
LATENCY = {
    "none": (0.0, 0.0),
    "usb": (0.0005, 0.0005),
    "ble": (0.030, 0.100),  # a Pi's BlueZ: 30–130 ms per write with response
    "ble-fast": (0.040, 0.025),  # a tighter connection interval: 40–65 ms
}


def describe(link: str, latency: str) -> str:
    """The twin in words, for the night's report."""
    fixed, jitter = LATENCY[latency]
    timing = (
        "no latency"
        if fixed == jitter == 0
        else f"{fixed * 1000:g}–{(fixed + jitter) * 1000:g} ms per message each way"
    )
    return (
        f"the {link} band's twin: host link, codec and band firmware core over an "
        f"in-memory link ({latency}: {timing})"
    )


def create(
    kind: str = "vibration", link: str = "serial", latency: str = "none", **options: Any
) -> MemoryLink:
    """A band core and the host's link to it, on the running loop's clock."""
    if latency not in LATENCY:
        raise ValueError(f"link latency must be one of {', '.join(LATENCY)}, got {latency!r}")
    key = os.urandom(32)
    band = VirtualBand(kind, key=key, plant="auto")
    fixed, jitter = LATENCY[latency]
    return MemoryLink(band, key=key, kind=kind, latency_s=fixed, jitter_s=jitter)
