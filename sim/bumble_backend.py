"""A bleak backend over bumble's in-process radio, with simulated bands as BLE peripherals.

CI has no D-Bus and no radio, yet the host's BLE code must run unmodified. bleak accepts a
backend class (``BleakClient(..., backend=...)``, ``BleakScanner(..., backend=...)``), so a
:class:`BumbleWorld` makes one: a bumble ``LocalLink`` (the air), a central device for the
host, and one :class:`SimBlePeripheral` per band, each running the firmware core through
:class:`sim.band.VirtualBand`. The central pairs and encrypts on connect, as BlueZ does with a
bonded band, unless the world is made with ``encrypt=False`` (to test the refusal).

bumble only uses ``call_soon``/``call_later``, so the whole radio runs on a virtual clock too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bleak.uuids import normalize_uuid_str
from bumble import att, gatt, hci
from bumble.controller import Controller
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device, Peer
from bumble.host import Host
from bumble.link import LocalLink
from bumble.pairing import PairingConfig
from bumble.transport.common import AsyncPipeSink
from pc6_sim.band import VirtualBand

from firmware_host.drive.band.ble import RX_UUID, SERVICE_UUID, TX_UUID

logger = logging.getLogger(__name__)

MTU = 128
_ADV_INTERVAL_MS = 20


def _uuid(u: UUID) -> str:
    return normalize_uuid_str(u.to_hex_str())


def _adv_data(name: str) -> bytes:
    encoded = name.encode()
    uuid = bytes(UUID(SERVICE_UUID))
    return (
        b"\x02\x01\x06"
        + bytes((len(encoded) + 1, 0x09))
        + encoded
        + bytes((len(uuid) + 1, 0x07))
        + uuid
    )


class BumbleWorld:
    """One simulated radio neighbourhood: the host's central plus any number of bands."""

    def __init__(self, *, encrypt: bool = True) -> None:
        self.link = LocalLink()
        self.encrypt = encrypt
        self.bands: dict[str, SimBlePeripheral] = {}
        self._central: Device | None = None
        self._next = 1
        world = self

        class _Client(BumbleClient):
            pass

        class _Scanner(BumbleScanner):
            pass

        _Client.world = world
        _Scanner.world = world
        self.client_backend: type[BumbleClient] = _Client
        self.scanner_backend: type[BumbleScanner] = _Scanner

    def _device(self, name: str) -> Device:
        address = ":".join([f"{0xC0 + self._next:02X}"] + ["5E"] * 5)
        self._next += 1
        controller = Controller(name, link=self.link, public_address=address)
        device = Device(
            name=name,
            address=hci.Address(address),
            host=Host(controller, AsyncPipeSink(controller)),
        )
        device.pairing_config_factory = lambda _c: PairingConfig(sc=True, mitm=False, bonding=True)
        return device

    async def central(self) -> Device:
        """The host's radio, powered on first use."""
        if self._central is None:
            self._central = self._device("pi")
            await self._central.power_on()
        return self._central

    async def add_band(self, band: VirtualBand, *, name: str = "pc6band") -> SimBlePeripheral:
        """Power a band on and start advertising; its address is ``.address``."""
        peripheral = SimBlePeripheral(self, band, self._device(name), name)
        await peripheral.power_on()
        self.bands[peripheral.address] = peripheral
        return peripheral


class SimBlePeripheral:
    """A band on BLE: the pc6band GATT service in front of a :class:`VirtualBand`."""

    def __init__(self, world: BumbleWorld, band: VirtualBand, device: Device, name: str) -> None:
        self.world = world
        self.band = band
        self.device = device
        self.name = name
        self.connection: Connection | None = None
        self.writes = 0
        rx_perms = att.Attribute.WRITEABLE
        if world.encrypt:
            rx_perms |= att.Attribute.WRITE_REQUIRES_ENCRYPTION
        value: Any = gatt.CharacteristicValue(write=self._on_write)
        self.rx: gatt.Characteristic[Any] = gatt.Characteristic(
            RX_UUID, gatt.Characteristic.Properties.WRITE, rx_perms, value
        )
        self.tx = gatt.Characteristic(
            TX_UUID, gatt.Characteristic.Properties.NOTIFY, att.Attribute.READABLE, b""
        )
        device.add_service(gatt.Service(SERVICE_UUID, [self.rx, self.tx]))
        device.on(device.EVENT_CONNECTION, self._on_connection)
        band.notify = self._notify

    @property
    def address(self) -> str:
        """The address a central connects to (the device's random static address)."""
        return str(self.device.random_address).split("/")[0]

    async def power_on(self) -> None:
        """Boot the band (outputs off) and advertise."""
        await self.device.power_on()
        if self.band.core is None:
            self.band.start()
        await self._advertise()

    async def _advertise(self) -> None:
        await self.device.start_advertising(
            advertising_data=_adv_data(self.name),
            advertising_interval_min=_ADV_INTERVAL_MS,
            advertising_interval_max=_ADV_INTERVAL_MS,
        )

    def _on_connection(self, connection: Connection) -> None:
        self.connection = connection
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)

    def _on_disconnection(self, *_: Any) -> None:
        self.connection = None
        task = asyncio.get_running_loop().create_task(self._advertise())
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)

    def _on_write(self, connection: Connection, value: bytes) -> None:
        self.writes += 1
        for reply in self.band.handle(bytes(value), "ble"):
            self._notify(reply)

    def _notify(self, message: bytes) -> None:
        connection = self.connection
        if connection is None:
            return
        task = asyncio.get_running_loop().create_task(
            self.device.notify_subscriber(connection, self.tx, message)
        )
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)

    async def drop(self) -> None:
        """The band goes out of range: the link drops (the band keeps running on its lease)."""
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await self.connection.disconnect()


_tasks: set[asyncio.Task[Any]] = set()


class BumbleClient(BaseBleakClient):
    """bleak client backend on a :class:`BumbleWorld` (use ``world.client_backend``)."""

    world: BumbleWorld

    def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
        super().__init__(
            address_or_ble_device,
            disconnected_callback=kwargs.pop("disconnected_callback", None),
            timeout=kwargs.pop("timeout", 10.0),
        )
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._subscriptions: dict[int, Callable[[bytes], None]] = {}

    @property
    def mtu_size(self) -> int:
        """The negotiated ATT MTU."""
        return self._connection.att_mtu if self._connection else att.ATT_DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        """True while the link is up."""
        return self._connection is not None

    @property
    def is_encrypted(self) -> bool:
        """True when the link is encrypted (the security check of the BLE backend asks)."""
        return bool(self._connection is not None and self._connection.is_encrypted)

    async def connect(self, pair: bool = False, **kwargs: Any) -> None:
        """Connect, encrypt (unless the world says not to), raise the MTU, discover."""
        central = await self.world.central()
        try:
            connection = await asyncio.wait_for(central.connect(self.address), self._timeout)
        except (TimeoutError, hci.HCI_Error, Exception) as err:
            raise BleakError(f"cannot connect to {self.address}: {err}") from err
        self._connection = connection
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        if self.world.encrypt or pair:
            await connection.pair()
        peer = Peer(connection)
        self._peer = peer
        await peer.request_mtu(MTU)
        await peer.discover_services()
        for service in peer.services:
            await service.discover_characteristics()
        self.services = self._collect(peer)

    def _collect(self, peer: Peer) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        for service in peer.services:
            bleak_service = BleakGATTService(service, service.handle, _uuid(service.uuid))
            collection.add_service(bleak_service)
            for char in service.characteristics:
                props = [
                    name.lower().replace("_", "-")
                    for name in ("READ", "WRITE_WITHOUT_RESPONSE", "WRITE", "NOTIFY", "INDICATE")
                    if char.properties & gatt.Characteristic.Properties[name]
                ]
                collection.add_characteristic(
                    BleakGATTCharacteristic(
                        char,
                        char.handle,
                        _uuid(char.uuid),
                        props,  # type: ignore[arg-type]
                        lambda: self.mtu_size - 3,
                        bleak_service,
                    )
                )
        return collection

    def _on_disconnection(self, *_: Any) -> None:
        self._connection = None
        self._peer = None
        callback = self._disconnected_callback
        if callback is not None:
            callback()

    async def disconnect(self) -> None:
        """Disconnect (a no-op when already gone)."""
        connection = self._connection
        if connection is None:
            return
        self._disconnected_callback = None  # only unsolicited disconnects are reported
        with contextlib.suppress(Exception):
            await connection.disconnect()
        self._connection = None

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Pair and encrypt now."""
        if self._connection is None:
            raise BleakError("not connected")
        await self._connection.pair()

    async def unpair(self) -> None:
        """Nothing kept between runs."""

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, **kwargs: Any
    ) -> bytearray:
        """Read a value."""
        return bytearray(await characteristic.obj.read_value())

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, **kwargs: Any
    ) -> bytearray:
        """Not used by pc6band."""
        raise BleakError("descriptors are not simulated")

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        """Write a value; an ATT error becomes a BleakError as on real stacks."""
        if self._connection is None:
            raise BleakError("not connected")
        try:
            await characteristic.obj.write_value(bytes(data), with_response=response)
        except att.ATT_Error as err:
            raise BleakError(f"write refused: {err}") from err

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        """Not used by pc6band."""
        raise BleakError("descriptors are not simulated")

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Subscribe to notifications."""

        def on_value(value: bytes) -> None:
            callback(bytearray(value))

        self._subscriptions[characteristic.handle] = on_value
        await characteristic.obj.subscribe(on_value)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Unsubscribe."""
        on_value = self._subscriptions.pop(characteristic.handle, None)
        if on_value is not None and self._connection is not None:
            await characteristic.obj.unsubscribe(on_value)


class BumbleScanner(BaseBleakScanner):
    """bleak scanner backend on a :class:`BumbleWorld` (use ``world.scanner_backend``)."""

    world: BumbleWorld

    def __init__(
        self,
        detection_callback: Any,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._device: Device | None = None

    async def start(self) -> None:
        """Scan on the world's central."""
        self.seen_devices = {}
        device = await self.world.central()
        self._device = device
        device.on(device.EVENT_ADVERTISEMENT, self._on_advertisement)
        await device.start_scanning(filter_duplicates=False)

    async def stop(self) -> None:
        """Stop scanning."""
        device = self._device
        if device is not None:
            device.remove_listener(device.EVENT_ADVERTISEMENT, self._on_advertisement)
            await device.stop_scanning()

    def _on_advertisement(self, advertisement: Any) -> None:
        data = advertisement.data
        name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME)
        uuids = [
            _uuid(u)
            for u in data.get(AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS) or []
        ]
        if not self.is_allowed_uuid(uuids):
            return
        address = str(advertisement.address).split("/")[0]
        adv = AdvertisementData(
            local_name=name,
            manufacturer_data={},
            service_data={},
            service_uuids=uuids,
            tx_power=None,
            rssi=advertisement.rssi,
            platform_data=(advertisement,),
        )
        device = self.create_or_update_device(address, address, name, advertisement, adv)
        self.call_detection_callbacks(device, adv)


def bumble_security_check(client: Any) -> str | None:
    """The BLE backend's security check for this backend: is the link encrypted?"""
    backend = getattr(client, "_backend", None)
    if isinstance(backend, BumbleClient) and backend.is_encrypted:
        return None
    return "the link is not encrypted"
