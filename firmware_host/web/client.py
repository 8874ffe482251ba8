"""The page's way to the daemon: one JSON-lines request per connection, like ``pc6 ctl``.

Every action the page offers becomes a control request, so it passes the daemon's authority
order and safety gate exactly as ``pc6 ctl`` does; nothing here touches an actuator.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

STATUS_TIMEOUT_S = 5.0
ACTION_TIMEOUT_S = 120.0  # `stop` answers once the soft ramp down has finished
MAX_REPLY = 1 << 20


class DaemonUnreachable(ConnectionError):
    """The daemon's socket did not answer (not running, or no permission)."""


class DaemonClient:
    """Sends requests to the daemon at ``path``, naming the page as the client."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    async def call(
        self, request: dict[str, Any], *, client: str | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """One request, one reply.

        Raises:
            DaemonUnreachable: no daemon, no permission, no reply in time or not JSON.
        """
        if client:
            request = {**request, "client": client}
        wait = timeout or (
            STATUS_TIMEOUT_S if request["cmd"] in ("status", "report") else ACTION_TIMEOUT_S
        )
        try:
            return await asyncio.wait_for(self._exchange(request), wait)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as err:
            raise DaemonUnreachable(f"daemon at {self.path}: {err or type(err).__name__}") from err

    async def _exchange(self, request: dict[str, Any]) -> dict[str, Any]:
        reader, writer = await asyncio.open_unix_connection(str(self.path), limit=MAX_REPLY)
        try:
            writer.write(json.dumps(request).encode() + b"\n")
            await writer.drain()
            line = await reader.readuntil(b"\n")
        finally:
            writer.close()
        reply = json.loads(line)
        if not isinstance(reply, dict):
            raise ValueError("reply is not a JSON object")
        return reply
