"""A host process for the SIGKILL tests: drives a band at full level until it is killed.

Usage: python band_host_session.py PORT KEY_HEX LEASE_S [stream]

Plain: SETs and refreshes; prints "on" once the band acknowledged the first SET, then
"refreshed" after each refresh. ``stream``: the engine plays a profile that never goes to 0
(ramps between 1.0 and 0.9 every 40 ms) as PLAY windows, so a full window is queued on the
band when the host dies; prints "on" after the first window and "refreshed" after each.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys

from firmware_host.clock import RealClock
from firmware_host.drive.band.serial import SerialLink
from firmware_host.guard.gate import SafetyGate
from firmware_host.guard.limits import limits_for
from firmware_host.plan.profile import parse_profile
from firmware_host.plan.timeline import compile_profile
from firmware_host.play.engine import Engine

WAVES = """name = "waves"
description = "never off"
kinds = ["vibration"]
[[steps]]
ramp = 1.0
over = "40ms"
[[steps]]
repeat = 5000
[[steps.steps]]
ramp = 0.9
over = "40ms"
[[steps.steps]]
ramp = 1.0
over = "40ms"
[[steps]]
ramp = 0
over = "40ms"
"""


async def drive(port: str, key_hex: str, lease_s: float) -> None:
    async with SerialLink(port, key=key_hex) as link:
        await link.set_level(1.0, lease_s=lease_s)
        print("on", flush=True)
        while True:
            await asyncio.sleep(lease_s * 0.75)
            await link.set_level(1.0, lease_s=lease_s)
            print("refreshed", flush=True)


async def stream(port: str, key_hex: str, lease_s: float) -> None:
    clock = RealClock()
    link = SerialLink(port, key=key_hex)
    limits = dataclasses.replace(limits_for(link.kind), lease_s=lease_s)
    gate = SafetyGate(link, clock, limits)
    await gate.open()
    engine = Engine(compile_profile(parse_profile(WAVES)), gate, clock)
    play = asyncio.get_running_loop().create_task(engine.run())
    seen = 0
    while True:
        await asyncio.sleep(0.01)
        windows = engine._stream.windows if engine._stream else 0
        if windows > seen and link.window is not None and link.window.queued(clock.now()) > 8:
            print("on" if seen == 0 else "refreshed", flush=True)
            seen = windows
        if play.done():
            play.result()


if __name__ == "__main__":
    mode = drive if sys.argv[4:] != ["stream"] else stream
    asyncio.run(mode(sys.argv[1], sys.argv[2], float(sys.argv[3])))
