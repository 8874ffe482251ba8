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
import grp
import json
import logging
import math
import os
import pwd
import socket
import stat
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware_host.durations import parse_duration_ms
from firmware_host.errors import ConfigError, DurationError, PC6Error
from firmware_host.service.daemon import Daemon
from firmware_host.service.last_night import last_night

logger = logging.getLogger(__name__)

MAX_LINE = 4096
COMMANDS = (
    "status",
    "start",
    "stop",
    "pause",
    "resume",
    "level",
    "snooze",
    "reset",
    "reload",
    "report",
)
FIELDS: dict[str, tuple[str, ...]] = {
    "start": ("profile", "in"),
    "level": ("value",),
    "snooze": ("duration",),
}


class BadRequest(PC6Error, ValueError):
    """A request that cannot be carried out as written."""


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
    ) -> None:
        self.daemon = daemon
        self.path = Path(path)
        self.group = group
        self.authorize = authorize or GroupPolicy(group)
        self.credentials = credentials
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Bind the socket (0660, in the group) and start accepting.

        Raises:
            PC6Error: another daemon already answers on the socket.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(self.path)
        self._server = await asyncio.start_unix_server(
            self._client, path=str(self.path), limit=MAX_LINE
        )
        os.chmod(self.path, 0o660)
        gid = _gid(self.group)
        if gid is not None:
            os.chown(self.path, -1, gid)
        logger.info("control API on %s", self.path)

    async def close(self) -> None:
        """Stop accepting, end open connections and remove the socket file."""
        if self._server is not None:
            self._server.close()
            for task in list(self._clients):
                task.cancel()
            await self._server.wait_closed()
            self._server = None
        self.path.unlink(missing_ok=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        try:
            peer = self.credentials(writer.get_extra_info("socket"))
            if not self.authorize(peer):
                logger.warning("control API: refused %s", peer)
                await _send(writer, _error(f"not authorised: uid {peer.uid} is not allowed"))
                return
            await self._serve(reader, writer, peer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if task is not None:
                self._clients.discard(task)
            writer.close()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Peer
    ) -> None:
        while True:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.LimitOverrunError:
                await _send(writer, _error(f"message too long (at most {MAX_LINE} bytes)"))
                return
            except asyncio.IncompleteReadError:
                return
            await _send(writer, await handle_line(self.daemon, line, peer))


async def _send(writer: asyncio.StreamWriter, reply: dict[str, Any]) -> None:
    writer.write(json.dumps(reply, separators=(",", ":")).encode() + b"\n")
    await writer.drain()


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
        request = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return _error(f"malformed request: not JSON ({err.msg if hasattr(err, 'msg') else err})")
    if not isinstance(request, dict):
        return _error('malformed request: must be a JSON object like {"cmd": "status"}')
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


async def handle(daemon: Daemon, request: dict[str, Any], peer: Peer) -> dict[str, Any]:
    """Run a parsed request.

    Raises:
        BadRequest: unknown command or field, or a value of the wrong kind.
        PC6Error: the daemon refused (its message says why).
    """
    cmd = request.get("cmd")
    if not isinstance(cmd, str) or cmd not in COMMANDS:
        raise BadRequest(f"cmd: unknown command {cmd!r}; commands: {', '.join(COMMANDS)}")
    allowed = {"cmd", "id", "client", *FIELDS.get(cmd, ())}
    for key in request:
        if key not in allowed:
            raise BadRequest(f"{key}: unknown field for {cmd}")
    by = f"{peer.name} via {_client_name(request.get('client', 'pc6 ctl'))}"
    handler = _HANDLERS[cmd]
    result = handler(daemon, request, by)
    return await result if isinstance(result, Awaitable) else result


def _status(daemon: Daemon, request: dict[str, Any], by: str) -> dict[str, Any]:
    return daemon.status()


async def _start(daemon: Daemon, request: dict[str, Any], by: str) -> dict[str, Any]:
    profile = request.get("profile")
    if not isinstance(profile, str) or not profile.strip():
        raise BadRequest("profile: required, the name of a profile")
    name = profile.strip()
    if "/" in name or "\\" in name or name.startswith(("~", ".")) or name.endswith(".toml"):
        # Over the socket only names: a client must not make the daemon open any file it
        # can read. Put a profile of your own in a folder of `profiles.dirs`.
        raise BadRequest(
            f"profile: give the name of a built-in profile or of one in profiles.dirs, "
            f"not a path, got {name!r}"
        )
    delay = _duration(request.get("in", 0), "in", zero_ok=True)
    return await daemon.start(name, by=by, delay_s=delay)


async def _stop(daemon: Daemon, request: dict[str, Any], by: str) -> dict[str, Any]:
    return await daemon.stop(by=by)


def _level(daemon: Daemon, request: dict[str, Any], by: str) -> dict[str, Any]:
    value = request.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest(f"value: must be a number, got {value!r}")
    return daemon.set_level(float(value), by=by)


def _snooze(daemon: Daemon, request: dict[str, Any], by: str) -> dict[str, Any]:
    raw = request.get("duration")
    seconds = 0.0 if raw in ("off", 0) else _duration(raw, "duration", zero_ok=True)
    return daemon.snooze(seconds, by=by)


def _reload(daemon: Daemon, request: dict[str, Any], by: str) -> dict[str, Any]:
    error = daemon.reload()
    changes = daemon.profiles.refresh()
    return {"config_error": error, "profiles": [f"{n}: {w}" for n, w in changes]}


def _client_name(raw: Any) -> str:
    """Who the peer acts for (``pc6 web`` names the paired device), for the journal."""
    if not isinstance(raw, str) or not 0 < len(raw) <= 80 or not raw.isprintable():
        raise BadRequest("client: must be a short printable name, like 'pc6 web: phone'")
    return raw


MAX_CONTROL_DELAY_S = 24 * 3600.0  # a snooze or a delayed start: within a day


def _duration(raw: Any, name: str, *, zero_ok: bool) -> float:
    if raw is None:
        raise BadRequest(f"{name}: required, a duration like '30m'")
    try:
        seconds = parse_duration_ms(raw, allow_zero=zero_ok) / 1000
    except DurationError as err:
        raise BadRequest(f"{name}: {err}") from None
    if seconds > MAX_CONTROL_DELAY_S:
        raise BadRequest(f"{name}: at most 24h, got {raw!r}")
    return seconds


Handler = Callable[[Daemon, dict[str, Any], str], Any]
_HANDLERS: dict[str, Handler] = {
    "status": _status,
    "start": _start,
    "stop": _stop,
    "pause": lambda d, r, by: d.pause(by=by),
    "resume": lambda d, r, by: d.resume(by=by),
    "level": _level,
    "snooze": _snooze,
    "reset": lambda d, r, by: d.reset(by=by),
    "reload": _reload,
    "report": lambda d, r, by: last_night(d),
}
