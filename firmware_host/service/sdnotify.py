"""systemd's notify protocol, without a library.

Each message is one datagram of ``KEY=VALUE`` lines sent to the ``AF_UNIX`` socket named in
``$NOTIFY_SOCKET`` (a leading ``@`` means the abstract namespace). The watchdog is on when
``$WATCHDOG_USEC`` is set and ``$WATCHDOG_PID`` is absent or ours; a ``WATCHDOG=1`` is then
due at least every ``WATCHDOG_USEC`` microseconds, and we send it at half of that. Outside
systemd every call is a no-op, so the daemon runs unchanged from a shell.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

logger = logging.getLogger(__name__)


class Notifier:
    """Talks to the service manager; silent when there is none."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address
        self.watchdog_usec = watchdog_usec
        self._sock: socket.socket | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """Read ``$NOTIFY_SOCKET``, ``$WATCHDOG_USEC`` and ``$WATCHDOG_PID``."""
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        usec: int | None = None
        raw, pid = env.get("WATCHDOG_USEC"), env.get("WATCHDOG_PID")
        if raw and (not pid or pid == str(os.getpid())):
            try:
                usec = int(raw)
            except ValueError:
                logger.warning("ignoring WATCHDOG_USEC=%r: not a number", raw)
            if usec is not None and usec <= 0:
                usec = None
        return cls(address, usec)

    @property
    def enabled(self) -> bool:
        """True under systemd with ``Type=notify``."""
        return self.address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to ping: half of the watchdog timeout; None when there is no watchdog."""
        if self.watchdog_usec is None or not self.enabled:
            return None
        return self.watchdog_usec / 2e6

    def notify(self, **fields: str | int) -> bool:
        """Send ``KEY=VALUE`` lines; True when sent. Never raises."""
        if self.address is None:
            return False
        payload = "\n".join(f"{k}={v}" for k, v in fields.items()).encode()
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                # Never block the loop that drives sessions on a busy manager: drop instead.
                self._sock.setblocking(False)
            self._sock.sendto(payload, target)
        except OSError as err:  # the manager is gone or busy; the watchdog will tell
            logger.warning("sd_notify to %s failed: %s", self.address, err)
            return False
        return True

    def ready(self, status: str = "") -> bool:
        """Startup is done (``READY=1``)."""
        return self.notify(READY=1, **({"STATUS": status} if status else {}))

    def status(self, text: str) -> bool:
        """A one-line status shown by ``systemctl status``."""
        return self.notify(STATUS=text.replace("\n", " "))

    def watchdog(self) -> bool:
        """Keep-alive ping (``WATCHDOG=1``)."""
        return self.notify(WATCHDOG=1)

    def reloading(self) -> bool:
        """Reloading the config."""
        return self.notify(RELOADING=1)

    def stopping(self) -> bool:
        """Shutting down (``STOPPING=1``)."""
        return self.notify(STOPPING=1)

    def close(self) -> None:
        """Close the datagram socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
