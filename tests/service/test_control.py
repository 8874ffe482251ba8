"""The control API end to end over its Unix socket, on the real clock.

Each test starts a real daemon (simulated backend) and a real ControlServer in the test's
event loop, and talks to it over the socket. Every step awaits the daemon's actual reply;
nothing waits on a timer.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from daemon_testlib import write_config

from firmware_host.cli.ctl import main as ctl_main
from firmware_host.clock import RealClock
from firmware_host.errors import ConfigError
from firmware_host.record.journal import Journal
from firmware_host.service.control import MAX_LINE, ControlServer, Peer
from firmware_host.service.daemon import Daemon

FAST = """
[limits.vibration]
soft_stop_s = 0.2
"""


class Client:
    """One connection to the control socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, path: Path) -> Client:
        return cls(*await asyncio.open_unix_connection(str(path)))

    async def raw(self, data: bytes) -> dict[str, Any]:
        self.writer.write(data)
        await self.writer.drain()
        line = await self.reader.readline()
        return json.loads(line)

    async def __call__(self, cmd: str, **fields: Any) -> dict[str, Any]:
        return await self.raw(json.dumps({"cmd": cmd, **fields}).encode() + b"\n")

    async def closed(self) -> bool:
        """The daemon ended the connection (a reset counts: it closed with our bytes unread)."""
        try:
            return await self.reader.read() == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def served(home: Path) -> AsyncIterator[tuple[Daemon, Path]]:
    """A running daemon with its control socket."""
    config = write_config(home, FAST)
    daemon = Daemon(config, clock=RealClock())
    daemon.reload()
    server = ControlServer(daemon, home / "ctl.sock")
    await server.start()
    task = asyncio.get_running_loop().create_task(daemon.run())
    yield daemon, home / "ctl.sock"
    daemon.request_stop()
    await task
    await server.close()


async def test_every_command(served: tuple[Daemon, Path], home: Path) -> None:
    daemon, path = served
    ctl = await Client.open(path)
    status = await ctl("status")
    assert status["ok"] and status["state"] == "idle" and status["simulated"] is True
    assert status["control"] == {"by": "schedule", "why": "nothing scheduled"}

    reply = await ctl("start", profile="short", id=1)
    assert reply == {"ok": True, "cmd": "start", "profile": "short", "id": 1}
    status = await ctl("status")
    assert status["state"] == "running" and status["session"]["profile"] == "short"
    assert status["control"]["by"] == "manual" and "via pc6 ctl" in status["control"]["why"]

    assert (await ctl("level", value=0.5))["level"] == 0.5
    assert (await ctl("status"))["session"]["level"] == 0.5
    assert (await ctl("pause"))["ok"]
    assert (await ctl("status"))["state"] == "paused"
    assert (await ctl("resume"))["ok"]
    assert (await ctl("status"))["state"] == "running"
    snooze = await ctl("snooze", duration="30m")
    assert snooze["ok"] and snooze["snoozed_until"]
    assert (await ctl("status"))["snoozed_until"] == snooze["snoozed_until"]

    stopped = await ctl("stop")
    assert stopped["stopped"] == "short"
    assert daemon.running is None  # `stop` answers once the output is off
    status = await ctl("status")
    assert status["state"] == "idle" and status["control"]["why"].startswith("snoozed until")
    assert (await ctl("snooze", duration="off"))["snoozed_until"] is None
    assert (await ctl("reset"))["cleared"] == []
    assert (await ctl("reload"))["config_error"] is None
    ctl.close()

    with Journal(home / "journal.sqlite") as journal:
        session = journal.recent(1)[0]
        kinds = [kind for _, kind, _ in journal.events(session.id)]
    assert session.reason == "stopped" and "via pc6 ctl" in (session.detail or "")
    assert session.origin == "manual"
    assert [k for k in kinds if k in ("level", "paused", "resumed")] == [
        "level",
        "paused",
        "resumed",
    ]


async def test_delayed_start_and_refusals(served: tuple[Daemon, Path]) -> None:
    _, path = served
    ctl = await Client.open(path)
    later = await ctl("start", profile="short", **{"in": "10m"})
    assert later["ok"] and later["at"]
    assert (await ctl("status"))["pending"][0]["profile"] == "short"
    assert (await ctl("stop"))["cancelled"] == 1
    for cmd in ("pause", "resume"):
        reply = await ctl(cmd)
        assert not reply["ok"] and reply["error"] == "no session is running"
    assert (await ctl("level", value=0.5))["error"] == "no session is running"
    missing = await ctl("start", profile="no-such-profile")
    assert not missing["ok"] and "no-such-profile" in missing["error"]
    ctl.close()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"{not json\n", "malformed request: not JSON"),
        (b"[1, 2]\n", "must be a JSON object"),
        (b'{"cmd": "dance"}\n', "cmd: unknown command 'dance'"),
        (b'{"nocmd": 1}\n', "cmd: unknown command None"),
        (b'{"cmd": "status", "extra": 1}\n', "extra: unknown field for status"),
        (b'{"cmd": "level", "value": "loud"}\n', "value: must be a number, got 'loud'"),
        (b'{"cmd": "level", "value": 7}\n', "level must be from 0 to 2"),
        (b'{"cmd": "start"}\n', "profile: required"),
        (b'{"cmd": "start", "profile": "/etc/passwd"}\n', "not a path"),
        (b'{"cmd": "snooze", "duration": "25h"}\n', "at most 24h"),
        (b'{"cmd": "snooze", "duration": "1000000000h"}\n', "duration"),
        (b'{"cmd": "start", "profile": "../x.toml"}\n', "not a path"),
        (b'{"cmd": "start", "profile": "~/p.toml"}\n', "not a path"),
        (b'{"cmd": "snooze", "duration": "soon"}\n', "duration: cannot read duration"),
        (b'{"cmd": "start", "profile": "short", "in": -5}\n', "in: duration must not be"),
        (b"\xff\xfe\n", "malformed request"),
    ],
)
async def test_bad_input_changes_nothing(
    served: tuple[Daemon, Path], data: bytes, error: str
) -> None:
    daemon, path = served
    ctl = await Client.open(path)
    before = (await ctl("status"))["state"]
    reply = await ctl.raw(data)
    assert reply["ok"] is False and error in reply["error"], reply
    # The same connection keeps working, and nothing changed.
    assert (await ctl("status"))["state"] == before == "idle"
    assert daemon.running is None and daemon.pending == []
    ctl.close()


async def test_oversized_message(served: tuple[Daemon, Path]) -> None:
    _, path = served
    ctl = await Client.open(path)
    reply = await ctl.raw(b'{"cmd": "start", "profile": "' + b"x" * (MAX_LINE * 2) + b'"}\n')
    assert reply == {"ok": False, "error": f"message too long (at most {MAX_LINE} bytes)"}
    assert await ctl.closed()
    other = await Client.open(path)
    assert (await other("status"))["state"] == "idle"
    other.close()


async def test_wrong_uid_is_refused(home: Path) -> None:
    """A peer whose uid is not allowed gets an error and changes nothing.

    Tests cannot log in as another user, so the credentials function is injected: it
    reports uid 4242 for the (real) connecting peer. The policy is the real one.
    """
    config = write_config(home, FAST)
    daemon = Daemon(config, clock=RealClock())
    daemon.reload()
    server = ControlServer(
        daemon, home / "ctl.sock", credentials=lambda sock: Peer(os.getpid(), 4242, 4242)
    )
    await server.start()
    try:
        ctl = await Client.open(home / "ctl.sock")
        reply = await ctl("start", profile="short")
        assert reply == {"ok": False, "error": "not authorised: uid 4242 is not allowed"}
        assert await ctl.closed()
        assert daemon.running is None
    finally:
        await server.close()


async def test_socket_mode_and_stale_socket(home: Path) -> None:
    config = write_config(home, FAST)
    daemon = Daemon(config, clock=RealClock())
    notes = home / "notes.txt"
    notes.write_text("a person's file, not a socket")
    with pytest.raises(ConfigError, match="not a socket"):
        await ControlServer(daemon, notes).start()
    assert notes.read_text() == "a person's file, not a socket"  # never deleted
    # A socket left behind by a crashed daemon: bound, then abandoned without unlink.
    left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left.bind(str(home / "ctl.sock"))
    left.close()
    server = ControlServer(daemon, home / "ctl.sock")
    await server.start()
    try:
        mode = os.stat(home / "ctl.sock").st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o660
        second = ControlServer(daemon, home / "ctl.sock")
        with pytest.raises(Exception, match="already serving"):
            await second.start()
    finally:
        await server.close()
    assert not (home / "ctl.sock").exists()


async def test_pc6_ctl_client(
    served: tuple[Daemon, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, path = served
    # The client blocks on its socket, so it runs in a thread while the daemon serves.
    assert await asyncio.to_thread(ctl_main, ["--socket", str(path), "status"]) == 0
    out = capsys.readouterr().out
    assert "SIMULATED" in out and "state    idle" in out
    assert (
        await asyncio.to_thread(ctl_main, ["--socket", str(path), "--json", "start", "short"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["profile"] == "short"
    assert await asyncio.to_thread(ctl_main, ["--socket", str(path), "level", "loud"]) == 2
    assert "level: must be a number" in capsys.readouterr().err
    assert await asyncio.to_thread(ctl_main, ["--socket", str(path), "stop"]) == 0
    assert "stopped short" in capsys.readouterr().out
    assert await asyncio.to_thread(ctl_main, ["--socket", str(path), "pause"]) == 1
    assert "no session is running" in capsys.readouterr().err
    assert await asyncio.to_thread(ctl_main, ["--socket", str(path) + ".nope", "status"]) == 1
    assert "cannot reach the daemon" in capsys.readouterr().err


async def test_status_json_after_the_action(
    served: tuple[Daemon, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, path = served
    assert await asyncio.to_thread(ctl_main, ["--socket", str(path), "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "idle"


def test_pc6_daemon_process(home: Path) -> None:
    """The real command: SIMULATED by default, READY to systemd, serves, stops on SIGTERM."""
    import signal
    import socket
    import subprocess
    import sys

    config = write_config(home, FAST)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(home / "notify.sock"))
    notify.settimeout(60)
    env = {**os.environ, "NOTIFY_SOCKET": str(home / "notify.sock")}
    daemon = subprocess.Popen(
        [sys.executable, "-m", "firmware_host.cli.main", "daemon", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert notify.recv(4096).startswith(b"READY=1")
        assert ctl_main(["--socket", str(home / "ctl.sock"), "start", "short"]) == 0
        assert ctl_main(["--socket", str(home / "ctl.sock"), "stop"]) == 0
    finally:
        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=60)
        notify.close()
    assert daemon.returncode == 0, err
    assert "SIMULATED" in out
    assert not (home / "ctl.sock").exists()
    with Journal(home / "journal.sqlite") as journal:
        assert journal.recent(1)[0].reason == "stopped"
        assert journal.last_event("daemon") is not None


def test_group_policy() -> None:
    import grp

    from firmware_host.service.control import GroupPolicy

    me = Peer(1, os.getuid(), os.getgid())
    stranger = Peer(2, 4242, 4242)
    assert GroupPolicy(None)(me) and not GroupPolicy(None)(stranger)
    assert not GroupPolicy("no-such-group-pc6")(stranger)  # logged; nobody else let in
    group = grp.getgrgid(os.getgid()).gr_name
    assert GroupPolicy(group)(Peer(3, 4242, os.getgid()))  # a member by primary group
