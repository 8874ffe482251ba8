"""BLE side of the band firmware: one custom GATT service, one message per write or notify.

RX (host -> band) is write-with-response and requires an encrypted, bonded link; TX
(band -> host) notifies. Every message still needs its HMAC tag: encryption keeps
eavesdroppers out, the tag keeps strangers from moving anything even if bonding is weak.
Only for boards with MicroPython's ``bluetooth`` module (the unix port has none).
"""

# MicroPython: %-formatting is its cheapest, and it has no contextlib.
# ruff: noqa: SIM105

import bluetooth
from micropython import const

SERVICE_UUID = bluetooth.UUID("6d1c0001-3a4b-4f0e-9a52-70c6b0a1e5c6")
RX_UUID = bluetooth.UUID("6d1c0002-3a4b-4f0e-9a52-70c6b0a1e5c6")
TX_UUID = bluetooth.UUID("6d1c0003-3a4b-4f0e-9a52-70c6b0a1e5c6")

_IRQ_CENTRAL_CONNECT = const(1)
_IRQ_CENTRAL_DISCONNECT = const(2)
_IRQ_GATTS_WRITE = const(3)
_IRQ_ENCRYPTION_UPDATE = const(28)
_IRQ_GET_SECRET = const(29)
_IRQ_SET_SECRET = const(30)
_FLAG_WRITE = const(0x0008)
_FLAG_NOTIFY = const(0x0010)
_FLAG_WRITE_ENCRYPTED = const(0x1000)
_ADV_INTERVAL_US = 100000
_MTU = 128
_NAME = b"pc6band"


def _adv_payload():  # type: () -> bytes
    payload = bytearray(b"\x02\x01\x06")
    payload += bytes((len(_NAME) + 1, 0x09)) + _NAME
    uuid = bytes(SERVICE_UUID)
    payload += bytes((len(uuid) + 1, 0x07)) + uuid
    return bytes(payload)


class BlePeripheral:
    """Advertises the pc6band service and hands every write to the core.

    Bonding secrets are kept in flash (written atomically through the board), so the
    bond survives a reset — the band's own watchdog, a brown-out — and the Pi's BlueZ
    finds the band it bonded with; if they are lost anyway, the host bonds again by itself.
    """

    def __init__(self, core, board):  # type: (object, object) -> None
        self.core = core
        self.board = board
        self.conn = None
        self.encrypted = False
        self.secrets = board.load_bonds()
        self.ble = bluetooth.BLE()
        self.ble.active(True)
        self.ble.config(mtu=_MTU, bond=True, le_secure=True, mitm=False, io=0)
        self.ble.irq(self._irq)
        rx = (RX_UUID, _FLAG_WRITE | _FLAG_WRITE_ENCRYPTED)
        tx = (TX_UUID, _FLAG_NOTIFY)
        ((self.rx_handle, self.tx_handle),) = self.ble.gatts_register_services(
            ((SERVICE_UUID, (rx, tx)),)
        )
        self.ble.gatts_set_buffer(self.rx_handle, _MTU)
        self._advertise()

    def _advertise(self):  # type: () -> None
        self.ble.gap_advertise(_ADV_INTERVAL_US, adv_data=_adv_payload())

    def _irq(self, event, data):  # type: (int, tuple) -> object
        if event == _IRQ_CENTRAL_CONNECT:
            self.conn = data[0]
            self.encrypted = False
        elif event == _IRQ_CENTRAL_DISCONNECT:
            self.conn = None
            self.encrypted = False
            self._advertise()
        elif event == _IRQ_ENCRYPTION_UPDATE:
            self.encrypted = bool(data[1])
        elif event == _IRQ_GATTS_WRITE and data[1] == self.rx_handle:
            self._on_write(data[0])
        elif event == _IRQ_SET_SECRET:
            return self._set_secret(data)
        elif event == _IRQ_GET_SECRET:
            return self._get_secret(data)
        return None

    def _set_secret(self, data):  # type: (tuple) -> bool
        sec_type, key, value = data
        if value is None:
            self.secrets.pop((sec_type, bytes(key)), None)
        else:
            self.secrets[(sec_type, bytes(key))] = bytes(value)
        try:
            self.board.save_bonds(self.secrets)
        except OSError:
            return False  # flash full or failing: the stack keeps the bond for this boot
        return True

    def _get_secret(self, data):  # type: (tuple) -> object
        sec_type, index, key = data
        if key is not None:
            return self.secrets.get((sec_type, bytes(key)))
        found = [v for (t, _k), v in self.secrets.items() if t == sec_type]
        return found[index] if index < len(found) else None

    def _on_write(self, conn):  # type: (int) -> None
        message = self.ble.gatts_read(self.rx_handle)
        if not self.encrypted:
            return  # the stack refuses unencrypted writes already; never act on one
        for reply in self.core.handle(message, self.board.now_ms(), "ble"):
            self.ble.gatts_notify(conn, self.tx_handle, reply)

    def notify(self, message):  # type: (bytes) -> None
        """Send an unsolicited message (a FAULT) to the connected host, if any."""
        if self.conn is not None:
            try:
                self.ble.gatts_notify(self.conn, self.tx_handle, message)
            except OSError:
                pass
