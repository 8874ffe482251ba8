"""The ``ble`` backend: a band over Bluetooth LE through bleak.

One pc6band message per GATT write (RX, write with response) or notification (TX). The
session, leases, pings and reconnects are shared with serial in :mod:`.band_link`.

Security: before anything moves, :func:`bluez_security_check` bonds with the band through
bleak's public ``pair()`` (a no-op for a band that is bonded already; a re-bond for one that
lost its bond), and the link refuses to actuate if that fails; the band's RX characteristic
also requires encryption. A test backend may pass its own check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakError

from firmware_host.drive.actuator import Backend
from firmware_host.drive.band.link import BandLink, create_options
from firmware_host.drive.band.options import check_ble_options
from firmware_host.errors import InvalidInput, LinkError

logger = logging.getLogger(__name__)

SERVICE_UUID = "6d1c0001-3a4b-4f0e-9a52-70c6b0a1e5c6"
RX_UUID = "6d1c0002-3a4b-4f0e-9a52-70c6b0a1e5c6"
TX_UUID = "6d1c0003-3a4b-4f0e-9a52-70c6b0a1e5c6"

#: Returns None when the link is safe to actuate over, else the reason it is not.
SecurityCheck = Callable[[BleakClient], "str | Awaitable[str | None] | None"]

BOND_HINT = (
    "bond the band once: bluetoothctl, then 'scan on', 'pair ADDRESS', "
    "'trust ADDRESS' (see device/PAIRING.md)"
)


async def bluez_security_check(client: BleakClient) -> str | None:
    """None once the link is paired and bonded, else why it is not.

    Uses bleak's public :meth:`BleakClient.pair`: on BlueZ it returns at once for a band
    that is bonded already, and bonds (re-bonds, after the band lost its bond in a reset)
    one that is not; the band accepts no write before the link is encrypted. Re-bonding
    on its own is safe here: the address is the one configured, pairing moves nothing, and
    every actuating message still needs the band's HMAC key.
    """
    try:
        await client.pair()
    except NotImplementedError:
        return "this platform cannot pair from the host (bond the band by hand)"
    except (BleakError, OSError, TimeoutError) as err:
        return f"could not bond with the band: {err}"
    return None


class BleLink(BandLink):
    """A band over BLE; see :class:`~.band_link.BandLink` for the behaviour.

    Args:
        address: the band's Bluetooth address (``pc6 band scan`` lists them).
        backend: a bleak client backend class (tests pass the bumble one).
        security_check: replaces :func:`bluez_security_check`.
        connect_timeout_s: how long a connection attempt may take.
        **options: the :class:`BandLink` options (``key``, ``key_file``, ``kind``, timings).
    """

    def __init__(
        self,
        address: str,
        *,
        backend: type[Any] | None = None,
        security_check: SecurityCheck | None = None,
        connect_timeout_s: float = 10.0,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.address = address
        self._backend = backend
        self._security_check = security_check or bluez_security_check
        self.connect_timeout_s = connect_timeout_s
        self._client: BleakClient | None = None

    @property
    def where(self) -> str:
        """The Bluetooth address."""
        return self.address

    async def _connect(self) -> None:
        client = BleakClient(
            self.address,
            disconnected_callback=self._on_disconnect,
            timeout=self.connect_timeout_s,
            backend=self._backend,
        )
        try:
            await client.connect()
        except (BleakError, OSError, TimeoutError) as err:
            raise LinkError(f"cannot connect to {self.address}: {err}") from err
        try:
            verdict = self._security_check(client)
            reason = await verdict if asyncio.iscoroutine(verdict) else verdict
            if reason:
                raise LinkError(
                    f"{self.address}: refusing to drive the band: {reason}; {BOND_HINT}"
                )
            await client.start_notify(TX_UUID, self._on_notify)
        except BaseException:
            with contextlib.suppress(Exception):
                await client.disconnect()
            raise
        self._client = client

    def _on_disconnect(self, client: BleakClient) -> None:
        if client is self._client:
            self._lost(f"{self.address}: BLE link disconnected")

    def _on_notify(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        self._received(bytes(data))

    async def _send(self, message: bytes) -> None:
        client = self._client
        if client is None:
            raise LinkError(f"{self.address}: not connected")
        try:
            await client.write_gatt_char(RX_UUID, message, response=True)
        except (BleakError, OSError) as err:
            self._lost(f"{self.address}: {err}")
            raise LinkError(f"{self.address}: write failed: {err}") from err

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.disconnect()


async def scan_bands(
    *, timeout_s: float = 5.0, backend: type[Any] | None = None
) -> list[tuple[str, str | None, int]]:
    """Bands advertising the pc6band service: ``(address, name, rssi)``, strongest first."""
    extra: dict[str, Any] = {} if backend is None else {"backend": backend}
    found = await BleakScanner.discover(
        timeout=timeout_s, service_uuids=[SERVICE_UUID], return_adv=True, **extra
    )
    bands = [
        (device.address, adv.local_name or device.name, adv.rssi) for device, adv in found.values()
    ]
    return sorted(bands, key=lambda band: -band[2])


def create(**options: Any) -> BleLink:
    """Entry point ``ble``: ``create(address=..., key_file=..., kind=...)``.

    Raises:
        InvalidInput: no ``address`` given, or an unknown option.
    """
    common = create_options(options)
    address = options.pop("address", None)
    if not address:
        raise InvalidInput("the ble backend needs the band's address (pc6 band scan finds it)")
    backend = options.pop("backend", None)
    security_check = options.pop("security_check", None)
    timeout = float(options.pop("connect_timeout_s", 10.0))
    if options:
        raise InvalidInput(f"ble backend: unknown option(s) {', '.join(sorted(options))}")
    return BleLink(
        str(address),
        backend=backend,
        security_check=security_check,
        connect_timeout_s=timeout,
        **common,
    )


#: What the ``ble`` entry point names; the option schema lives in ``band/options.py``.
BACKEND = Backend(
    create=create,
    check_options=check_ble_options,
    services=("bluetooth",),
    learns_kind=True,  # no kind given: the band says what it drives
    summary="a band over Bluetooth LE (BlueZ; bonded, encrypted)",
)
