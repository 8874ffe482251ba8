"""Band firmware entry point: USB serial (and BLE where the board has it) into BandCore.

The loop waits for input until the core's next deadline (a ramp step, a PLAY edge, a lease
end), feeds the hardware watchdog at least every 500 ms, and never blocks elsewhere: if it
hangs, the watchdog resets the chip and the band restarts with outputs off.
"""

import gc
import select
import sys

import band_core
import board as board_layer
import protocol as p

RAMP_STEP_MS = 10
IDLE_POLL_MS = 500
HOST_QUIET_MS = 10000
READ_CHECK_BYTES = 16  # look at the clock every this many bytes while reading
TX_WAIT_MS = 100  # the longest wait for a host that does not read, when nothing is due sooner

try:
    import micropython
except ImportError:  # pragma: no cover - every MicroPython has it
    micropython = None


class UsbLink:
    """Framed messages over the USB serial console (stdin/stdout)."""

    def __init__(self):  # type: () -> None
        self.rx = sys.stdin.buffer
        self.tx = sys.stdout.buffer
        self.poller = select.poll()
        self.poller.register(sys.stdin, select.POLLIN)
        self.tx_poller = select.poll()
        self.tx_poller.register(sys.stdout, select.POLLOUT)
        self.unsent = 0
        self.decoder = p.FrameDecoder()
        self.seq = 0
        self.last_rx_ms = -HOST_QUIET_MS
        self.closed = False

    def read(self, timeout_ms, now_ms, until_ms):  # type: (int, object, int) -> list
        """Wait up to ``timeout_ms`` for bytes; return as soon as a frame is complete.

        Returning early keeps the heap small when a flood of frames arrives at once, and
        reading stops at ``until_ms`` (on the ``now_ms()`` clock) even while bytes keep
        coming, so a stream of garbage never delays a lease cut or a PLAY edge.
        """
        frames = []
        events = self.poller.poll(timeout_ms)
        budget = READ_CHECK_BYTES
        while events and not frames:
            budget -= 1
            if budget <= 0:
                if now_ms() >= until_ms:  # type: ignore[operator]
                    return frames
                budget = READ_CHECK_BYTES
            if events[0][1] & (select.POLLHUP | select.POLLERR) and not events[0][1] & 1:
                self.closed = True
                return frames
            data = self.rx.read(1)
            if not data:
                self.closed = True
                return frames
            frames = self.decoder.feed(data)
            events = self.poller.poll(0)
        return frames

    def send(self, message, wait_ms=0):  # type: (bytes, int) -> None
        """Frame and write one message; drop it if the line has no room within ``wait_ms``.

        A host that floods frames and never reads the answers would otherwise fill the
        line until a write blocks, and a blocked loop enforces no lease.
        """
        if not self.tx_poller.poll(min(wait_ms, TX_WAIT_MS)):
            self.unsent += 1
            return
        self.tx.write(p.encode_frame(self.seq, message))
        self.seq = (self.seq + 1) & 0xFF


def _ctrl_c(enabled):  # type: (bool) -> None
    # Frames may hold 0x03; while a host talks to us it must not interrupt the firmware.
    # When the host has been quiet a while, Ctrl-C works again so mpremote can take over.
    if micropython is not None:
        micropython.kbd_intr(3 if enabled else -1)


def _timeout(core, now):  # type: (band_core.BandCore, int) -> int
    deadline = core.next_deadline()
    wait = IDLE_POLL_MS if deadline == band_core.NEVER else max(0, deadline - now)
    if core.ramping(now):  # step the PWM every few ms along the ramp
        wait = min(wait, RAMP_STEP_MS)
    return min(wait, IDLE_POLL_MS)


def _serve(board, core, usb, ble, host_active):
    # type: (board_layer.Board, band_core.BandCore, UsbLink, object, bool) -> bool
    now = board.now_ms()
    wait = _timeout(core, now)
    frames = usb.read(wait, board.now_ms, now + max(wait, 1))
    now = board.now_ms()
    core.corrupt = usb.decoder.corrupt  # before the frames: a STATUS among them counts it
    for _seq, message in frames:
        usb.last_rx_ms = now
        for reply in core.handle(message, now, "usb"):
            usb.send(reply, _timeout(core, board.now_ms()))
    for note in core.tick(board.now_ms()):
        if now - usb.last_rx_ms < HOST_QUIET_MS:
            usb.send(note, _timeout(core, board.now_ms()))
        if ble is not None:
            ble.notify(note)  # type: ignore[attr-defined]
    active = now - usb.last_rx_ms < HOST_QUIET_MS
    if active != host_active:
        _ctrl_c(not active)
    return active


def run():  # type: () -> None
    """Start with outputs off, then serve the host forever."""
    board = board_layer.Board()
    core = band_core.BandCore(
        board, board.kind, board.now_ms(), board.ceiling, 0, board.reset_cause()
    )
    usb = UsbLink()
    ble = None
    try:
        import ble_peripheral

        ble = ble_peripheral.BlePeripheral(core, board)
    except ImportError:
        pass
    host_active = False
    while not usb.closed:
        board.feed_watchdog()
        try:
            host_active = _serve(board, core, usb, ble, host_active)
        except Exception as err:  # a bug or a full heap must not leave the output on
            board.set_output(0)
            core.cut(board.now_ms())
            gc.collect()
            sys.print_exception(err, sys.stderr)
    board.set_output(0)


run()
