"""The ``serial`` backend: a band on USB serial (or a pseudo-terminal), through pyserial.

A reader thread does the blocking reads and hands bytes to the event loop; writes go out
from the loop (a frame is tens of bytes, so they never block for long). The framing and
everything above it is shared with BLE in :mod:`.band_link`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

import serial
from pc6_device import protocol as p

from firmware_host.drive.actuator import Backend
from firmware_host.drive.band.link import BandLink, create_options
from firmware_host.drive.band.options import check_serial_options, serial_devices
from firmware_host.errors import InvalidInput, LinkError

logger = logging.getLogger(__name__)

READ_TIMEOUT_S = 0.2


class SerialLink(BandLink):
    """A band on a serial port; see :class:`~.band_link.BandLink` for the behaviour.

    Args:
        port: the device path, e.g. ``/dev/ttyACM0`` or a pty from ``pc6 sim band``.
        baudrate: ignored by USB CDC and ptys, honoured by real UARTs.
        **options: the :class:`BandLink` options (``key``, ``key_file``, ``kind``, timings).
    """

    def __init__(self, port: str, *, baudrate: int = 115200, **options: Any) -> None:
        super().__init__(**options)
        self.port = port
        self.baudrate = baudrate
        self._serial: serial.Serial | None = None
        self._reader: threading.Thread | None = None
        self._stop_reading = threading.Event()
        self._seq = 0
        self._decoder = p.FrameDecoder()

    @property
    def where(self) -> str:
        """The serial port."""
        return self.port

    async def _connect(self) -> None:
        try:
            port = serial.Serial(
                self.port, self.baudrate, timeout=READ_TIMEOUT_S, write_timeout=1.0, exclusive=True
            )
        except (serial.SerialException, OSError, ValueError) as err:
            raise LinkError(f"cannot open {self.port}: {err}") from err
        self._serial = port
        self._decoder = p.FrameDecoder()
        self._stop_reading = threading.Event()
        loop = asyncio.get_running_loop()
        self._reader = threading.Thread(
            target=self._read_loop,
            args=(port, loop, self._stop_reading),
            name=f"pc6-serial {self.port}",
            daemon=True,
        )
        self._reader.start()

    def _read_loop(
        self, port: serial.Serial, loop: asyncio.AbstractEventLoop, stop: threading.Event
    ) -> None:
        while not stop.is_set():
            try:
                data = port.read(port.in_waiting or 1)
            except (serial.SerialException, OSError, TypeError) as err:
                if not stop.is_set():
                    self._call(loop, self._lost, f"{self.port}: {err}")
                return
            if data:
                self._call(loop, self._feed, data)

    @staticmethod
    def _call(loop: asyncio.AbstractEventLoop, fn: Any, arg: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed under us: nobody to tell
            loop.call_soon_threadsafe(fn, arg)

    def _feed(self, data: bytes) -> None:
        for _seq, message in self._decoder.feed(data):
            self._received(message)

    async def _send(self, message: bytes) -> None:
        port = self._serial
        if port is None:
            raise LinkError(f"{self.port}: not open")
        frame = p.encode_frame(self._seq, message)
        self._seq = (self._seq + 1) & 0xFF
        try:
            port.write(frame)
        except (serial.SerialException, OSError) as err:
            self._lost(f"{self.port}: {err}")
            raise LinkError(f"{self.port}: write failed: {err}") from err

    async def _disconnect(self) -> None:
        port, self._serial = self._serial, None
        self._stop_reading.set()
        if port is not None:
            with contextlib.suppress(Exception):
                port.cancel_read()
        reader, self._reader = self._reader, None
        if reader is not None and reader is not threading.current_thread():
            await asyncio.get_running_loop().run_in_executor(None, reader.join, 1.0)
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()


def create(**options: Any) -> SerialLink:
    """Entry point ``serial``: ``create(port=..., key_file=..., kind=...)``.

    Raises:
        InvalidInput: no ``port`` given, or an unknown option.
    """
    common = create_options(options)
    port = options.pop("port", None)
    if not port:
        raise InvalidInput("the serial backend needs a port, e.g. --port /dev/ttyACM0")
    baudrate = int(options.pop("baudrate", 115200))
    if options:
        raise InvalidInput(f"serial backend: unknown option(s) {', '.join(sorted(options))}")
    return SerialLink(str(port), baudrate=baudrate, **common)


#: What the ``serial`` entry point names; the option schema lives in ``band/options.py``.
BACKEND = Backend(
    create=create,
    check_options=check_serial_options,
    devices=serial_devices,
    learns_kind=True,  # no kind given: the band says what it drives
    summary="a band on USB serial (a pseudo-terminal for `pc6 sim band`)",
)
