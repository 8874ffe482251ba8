"""A host process for the SIGKILL tests: drives a band at full level until it is killed.

Usage: python host_session.py PORT KEY_HEX LEASE_S
Prints "on" once the band has acknowledged the first SET, "refreshed" after each refresh.
"""

from __future__ import annotations

import asyncio
import sys

from firmware_host.drive.band.serial import SerialLink


async def drive(port: str, key_hex: str, lease_s: float) -> None:
    async with SerialLink(port, key=key_hex) as link:
        await link.set_level(1.0, lease_s=lease_s)
        print("on", flush=True)
        while True:
            await asyncio.sleep(lease_s * 0.75)
            await link.set_level(1.0, lease_s=lease_s)
            print("refreshed", flush=True)


if __name__ == "__main__":
    asyncio.run(drive(sys.argv[1], sys.argv[2], float(sys.argv[3])))
