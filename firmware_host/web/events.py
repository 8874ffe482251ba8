"""The live status: one poller asks the daemon, every open page gets the changes (SSE).

However many phones are open, the daemon sees one ``status`` request a second, and none when
no page is open. Each stream re-checks its device token every second, so revoking a device
ends its open page's updates at once, not at its next reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import web

from firmware_host.web.client import DaemonClient, DaemonUnreachable
from firmware_host.web.tokens import TokenFileError, TokenStore

logger = logging.getLogger(__name__)

POLL_S = 1.0
KEEPALIVE_S = 15.0
MAX_STREAMS = 8


class StatusFeed:
    """Polls the daemon while anyone listens and fans the snapshots out."""

    def __init__(self, daemon: DaemonClient, tokens: TokenStore) -> None:
        self.daemon = daemon
        self.tokens = tokens
        self.latest: str | None = None
        self._changed = asyncio.Condition()
        self._poke = asyncio.Event()
        self._listeners = 0
        self._poller: asyncio.Task[None] | None = None
        self._closing = False

    async def fetch(self) -> dict[str, Any]:
        """One snapshot: the daemon's status, or why it cannot be had."""
        try:
            reply = await self.daemon.call({"cmd": "status"})
        except DaemonUnreachable as err:
            logger.debug("%s", err)
            return {"reachable": False, "error": "the daemon does not answer; is pc6band running?"}
        if not reply.get("ok"):
            return {"reachable": False, "error": str(reply.get("error"))}
        status = {k: v for k, v in reply.items() if k not in ("ok", "cmd", "id")}
        return {"reachable": True, "status": status}

    def poke(self) -> None:
        """Ask for a fresh snapshot now (after an action)."""
        self._poke.set()

    async def stream(self, request: web.Request, token: str) -> web.StreamResponse:
        """Serve one page's event stream until it goes away or its token is revoked."""
        if self._listeners >= MAX_STREAMS or self._closing:
            return web.json_response({"ok": False, "error": "too many open pages"}, status=503)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        self._listeners += 1
        self._ensure_poller()
        try:
            await response.write(b"retry: 2000\n\n")
            await self._serve(response, token)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._listeners -= 1
        return response

    async def _serve(self, response: web.StreamResponse, token: str) -> None:
        sent: str | None = None
        idle = 0.0
        while not self._closing:
            if self._still_paired(token) is False:
                await response.write(b"event: revoked\ndata: {}\n\n")
                return
            if self.latest is not None and self.latest != sent:
                sent = self.latest
                await response.write(f"data: {sent}\n\n".encode())
                idle = 0.0
            elif idle >= KEEPALIVE_S:
                await response.write(b": keepalive\n\n")
                idle = 0.0
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), POLL_S)
            idle += POLL_S

    def _still_paired(self, token: str) -> bool:
        try:
            return self.tokens.check(token) is not None
        except TokenFileError:
            return False

    def _ensure_poller(self) -> None:
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        while self._listeners > 0 and not self._closing:
            snapshot = json.dumps(await self.fetch(), separators=(",", ":"), sort_keys=True)
            if snapshot != self.latest:
                self.latest = snapshot
                async with self._changed:
                    self._changed.notify_all()
            self._poke.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), POLL_S)
        self.latest = None  # nobody listens: the next page starts from a fresh snapshot

    async def close(self) -> None:
        """End every stream and the poller (server shutdown)."""
        self._closing = True
        async with self._changed:
            self._changed.notify_all()
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
