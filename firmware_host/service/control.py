"""The control API: JSON lines on a Unix socket, for ``pc6 ctl`` and scripts.

One request per line, one reply per line::

    → {"cmd": "level", "value": 0.6, "id": 7}
    ← {"ok": true, "cmd": "level", "id": 7, "level": 0.6, "ceiling": 1.0}
    ← {"ok": false, "error": "level: must be a number, got 'loud'"}

The socket is mode 0660 in the configured group, and each peer's credentials are read with
``SO_PEERCRED``: root, the daemon's own user and members of the group are let in. There is
no TCP listener. A malformed, oversized or unauthorised message gets an error reply and
changes nothing; an oversized one also ends that connection (the rest of its line cannot be
told apart from the next request). The daemon keeps serving everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import grp
import json
import logging
import os
import pwd
import socket
import stat
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware_host.errors import ConfigError, PC6Error
from firmware_host.service.commands import COMMANDS, BadRequest
from firmware_host.service.daemon import Daemon
from firmware_host.service.framing import MAX_LINE, MalformedRequest, parse_request

logger = logging.getLogger(__name__)

MAX_CLIENTS = 32
IDLE_TIMEOUT_S = 10.0  # `pc6 ctl` sends its request at once; a script has ten seconds
SEND_TIMEOUT_S = 5.0
REFUSED_READ_S = 1.0
BACKLOG = 128
ACCEPT_RETRY_S = 0.1
OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


@dataclass(frozen=True)
class Peer:
    """Who is on the other end of a connection (``SO_PEERCRED``)."""

    pid: int
    uid: int
    gid: int

    @property
    def name(self) -> str:
        """The peer's user name, for the journal."""
        try:
            return f"{pwd.getpwuid(self.uid).pw_name} (uid {self.uid})"
        except KeyError:
            return f"uid {self.uid}"


def peer_credentials(sock: socket.socket) -> Peer:
    """The credentials the kernel recorded when the peer connected."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    return Peer(pid, uid, gid)


class GroupPolicy:
    """Root, our own user, and members of ``group`` (when one is configured)."""

    def __init__(self, group: str | None) -> None:
        self.group = group
        self.gid = _gid(group)

    def __call__(self, peer: Peer) -> bool:
        """Whether ``peer`` may use the API."""
        if peer.uid in (0, os.getuid()):
            return True
        if self.gid is None:
            return False
        if peer.gid == self.gid:
            return True
        try:
            user = pwd.getpwuid(peer.uid)
        except KeyError:
            return False
        return self.gid in os.getgrouplist(user.pw_name, user.pw_gid)


def _gid(group: str | None) -> int | None:
    """The group's id; a missing group is logged and lets in only root and our own user."""
    if not group:
        return None
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        logger.error(
            "control.group %r does not exist: only root and this user may use the socket "
            "(fix: sudo groupadd %s)",
            group,
            group,
        )
        return None


class ControlServer:
    """Serves the daemon's commands on a Unix socket.

    The transport is bounded so that no client, or crowd of clients, can keep the stop
    command out: at most ``max_clients`` connections are open at once, and when one more
    arrives the connection that has been idle longest (connected, no request in progress)
    is told why and closed to make room. A connection that sends nothing for
    ``idle_timeout_s`` is closed; a reply the client does not read within ``send_timeout_s``
    ends its connection. When the process runs out of file descriptors anyway, accept
    errors are logged at most once a minute (with a count) and an idle connection is closed
    to free one.

    ``authorize`` and ``credentials`` are injectable so a test can present a peer with a
    uid that is not allowed, without a second user account.
    """

    def __init__(
        self,
        daemon: Daemon,
        path: Path,
        *,
        group: str | None = None,
        authorize: Callable[[Peer], bool] | None = None,
        credentials: Callable[[socket.socket], Peer] = peer_credentials,
        max_clients: int = MAX_CLIENTS,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        send_timeout_s: float = SEND_TIMEOUT_S,
    ) -> None:
        self.daemon = daemon
        self.path = Path(path)
        self.group = group
        self.authorize = authorize or GroupPolicy(group)
        self.credentials = credentials
        self.max_clients = max_clients
        self.idle_timeout_s = idle_timeout_s
        self.send_timeout_s = send_timeout_s
        self._listener: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._clients: dict[asyncio.Task[None], _Connection] = {}
        self._accept_errors = RateLimitedLog(logger, "control API: cannot accept a connection")

    @property
    def connections(self) -> int:
        """How many client connections are open now."""
        return len(self._clients)

    async def start(self) -> None:
        """Bind the socket (0660, in the group) and start accepting.

        Raises:
            PC6Error: another daemon already answers on the socket.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(self.path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(self.path))
            listener.listen(BACKLOG)
        except OSError:
            listener.close()
            raise
        listener.setblocking(False)
        self._listener = listener
        os.chmod(self.path, 0o660)
        gid = _gid(self.group)
        if gid is not None:
            os.chown(self.path, -1, gid)
        self._accepting = asyncio.get_running_loop().create_task(self._accept_loop())
        logger.info("control API on %s", self.path)

    async def close(self) -> None:
        """Stop accepting, end open connections and remove the socket file."""
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
            self._accepting = None
        clients = list(self._clients)
        for task in clients:
            task.cancel()
        if clients:
            await asyncio.gather(*clients, return_exceptions=True)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self.path.unlink(missing_ok=True)

    async def _accept_loop(self) -> None:
        assert self._listener is not None
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(self._listener)
            except OSError as err:
                self._accept_errors.note(loop.time(), err)
                # Out of descriptors: an idle client's is the one to give back. Otherwise
                # wait a little rather than spin on an error that repeats at once.
                if not (err.errno in OUT_OF_RESOURCES and await self._evict("out of resources")):
                    await asyncio.sleep(ACCEPT_RETRY_S)
                continue
            if len(self._clients) >= self.max_clients and not await self._evict(
                f"too many connections (at most {self.max_clients}); the idlest is closed first"
            ):
                _refuse(conn, f"busy: {self.max_clients} requests in progress, try again")
                continue
            await self._begin(conn)

    async def _begin(self, conn: socket.socket) -> None:
        try:
            peer = self.credentials(conn)
            reader, writer = await asyncio.open_unix_connection(sock=conn, limit=MAX_LINE)
        except OSError as err:
            logger.debug("control API: a client left before it was served: %s", err)
            conn.close()
            return
        state = _Connection(writer, asyncio.get_running_loop().time())
        task = asyncio.get_running_loop().create_task(self._client(reader, state, peer))
        self._clients[task] = state

    async def _evict(self, why: str) -> bool:
        """Close the connection idle longest (none with a request in progress)."""
        idle = [(state.since, task) for task, state in self._clients.items() if not state.busy]
        if not idle:
            return False
        _, task = min(idle, key=lambda item: item[0])
        self._clients[task].evicted = why
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return True

    async def _client(self, reader: asyncio.StreamReader, state: _Connection, peer: Peer) -> None:
        writer = state.writer
        try:
            if not self.authorize(peer):
                logger.warning("control API: refused %s", peer)
                # Read the request first: closing with it unread would reset the connection
                # under the client, which might then never see why.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(reader.readline(), REFUSED_READ_S)
                await self._send(writer, _error(f"not authorised: uid {peer.uid} is not allowed"))
                return
            await self._serve(reader, state, peer)
        except asyncio.CancelledError:
            if state.evicted:
                with contextlib.suppress(Exception):
                    writer.write(_line(_error(f"connection closed: {state.evicted}")))
        except (ConnectionError, TimeoutError):
            pass
        except Exception:  # one client's surprise must not reach the accept loop
            logger.exception("control API: connection from %s failed", peer)
        finally:
            self._clients.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, state: _Connection, peer: Peer) -> None:
        loop = asyncio.get_running_loop()
        while True:
            state.busy, state.since = False, loop.time()
            try:
                line = await asyncio.wait_for(reader.readuntil(b"\n"), self.idle_timeout_s)
            except TimeoutError:
                await self._send(
                    state.writer,
                    _error(f"idle for {self.idle_timeout_s:g} s: connection closed"),
                )
                return
            except asyncio.LimitOverrunError:
                await self._send(
                    state.writer, _error(f"message too long (at most {MAX_LINE} bytes)")
                )
                return
            except asyncio.IncompleteReadError:
                return
            state.busy = True
            await self._send(state.writer, await handle_line(self.daemon, line, peer))

    async def _send(self, writer: asyncio.StreamWriter, reply: dict[str, Any]) -> None:
        writer.write(_line(reply))
        try:
            await asyncio.wait_for(writer.drain(), self.send_timeout_s)
        except TimeoutError:
            logger.warning("control API: a client did not read its reply; connection closed")
            writer.transport.abort()
            raise


@dataclass
class _Connection:
    """What the accept loop needs to know about an open connection."""

    writer: asyncio.StreamWriter
    since: float
    busy: bool = False
    evicted: str = ""


class RateLimitedLog:
    """Logs a repeating error once, then at most once per ``every_s`` with a count."""

    def __init__(self, log: logging.Logger, what: str, every_s: float = 60.0) -> None:
        self.log, self.what, self.every_s = log, what, every_s
        self._last: float | None = None
        self._suppressed = 0

    def note(self, now: float, err: BaseException) -> None:
        """Record one occurrence at ``now`` (seconds on any monotonic clock)."""
        if self._last is not None and now - self._last < self.every_s:
            self._suppressed += 1
            return
        more = ""
        if self._suppressed:
            more = f" ({self._suppressed} more in the last {self.every_s:g} s)"
        self.log.error("%s: %s%s", self.what, err, more)
        self._last, self._suppressed = now, 0


def _line(reply: dict[str, Any]) -> bytes:
    return json.dumps(reply, separators=(",", ":")).encode() + b"\n"


def _refuse(conn: socket.socket, message: str) -> None:
    """Tell a client we cannot serve it, without waiting for it (the socket is ours)."""
    with contextlib.suppress(OSError):
        conn.send(_line(_error(message)))
    conn.close()


def _error(message: str, request_id: Any = None) -> dict[str, Any]:
    reply: dict[str, Any] = {"ok": False, "error": message}
    if request_id is not None:
        reply["id"] = request_id
    return reply


def _remove_stale(path: Path) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ConfigError(f"control.socket: {path} exists and is not a socket; choose another path")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink(missing_ok=True)  # left behind by a daemon that died
        return
    finally:
        probe.close()
    raise PC6Error(f"another pc6 daemon is already serving {path}")


# -- the protocol -------------------------------------------------------------------------


async def handle_line(daemon: Daemon, line: bytes, peer: Peer) -> dict[str, Any]:
    """Parse one request line, run it, and return the reply (never raises)."""
    try:
        request = parse_request(line)
    except MalformedRequest as err:
        return _error(str(err))
    request_id = request.get("id")
    try:
        reply = await handle(daemon, request, peer)
    except PC6Error as err:
        return _error(str(err), request_id)
    except Exception as err:  # a bug must not take the control API down
        logger.exception("control command failed: %r", request)
        return _error(f"internal error: {err}", request_id)
    reply = {"ok": True, "cmd": request["cmd"], **reply}
    if request_id is not None:
        reply["id"] = request_id
    return reply


def client_name(raw: Any) -> str:
    """The ``client`` field: a short printable name, like ``pc6 web: phone (3fa2c1)``."""
    if not isinstance(raw, str) or not 0 < len(raw) <= 80 or not raw.isprintable():
        raise BadRequest("client: must be a short printable name, like 'pc6 web: phone'")
    return raw


async def handle(daemon: Daemon, request: dict[str, Any], peer: Peer) -> dict[str, Any]:
    """Run a parsed request through the command table (``service/commands.py``).

    Raises:
        BadRequest: unknown command or field, or a value of the wrong kind.
        PC6Error: the daemon refused (its message says why).
    """
    cmd = request.get("cmd")
    command = COMMANDS.get(cmd) if isinstance(cmd, str) else None
    if command is None:
        raise BadRequest(f"cmd: unknown command {cmd!r}; commands: {', '.join(COMMANDS)}")
    # `client` names who the peer acts for (pc6 web names the paired device) in the journal.
    client = client_name(request.get("client", "pc6 ctl"))
    fields = {k: v for k, v in request.items() if k != "client"}
    result = command.run(daemon, command.checked(fields), f"{peer.name} via {client}")
    return await result if isinstance(result, Awaitable) else result
