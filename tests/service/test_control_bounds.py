"""The control socket's bounds: nesting, number size, idle time, connection count, refusals.

A real daemon (simulated backend) and a real ControlServer in the test's event loop, real
Unix sockets; `pc6 ctl` runs as the user runs it, a subprocess. Every step awaits an actual
reply or end of connection; the only timers are the server's own (idle timeout) and upper
bounds on waiting (`asyncio.timeout`), never a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import platform
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from daemon_testlib import write_config

from firmware_host.clock import RealClock
from firmware_host.service.control import ControlServer, Peer
from firmware_host.service.daemon import Daemon

PC6 = str(Path(sys.executable).parent / "pc6")
FAST = """
[limits.vibration]
soft_stop_s = 0.2
"""


async def _start(home: Path, **options: Any) -> tuple[Daemon, ControlServer, asyncio.Task[Any]]:
    daemon = Daemon(write_config(home, FAST), clock=RealClock())
    daemon.reload()
    server = ControlServer(daemon, home / "ctl.sock", **options)
    await server.start()
    return daemon, server, asyncio.get_running_loop().create_task(daemon.run())


@pytest.fixture
async def served(home: Path) -> AsyncIterator[ControlServer]:
    """A running daemon whose idle connections close after 0.3 s, at most 4 at once."""
    daemon, server, task = await _start(home, idle_timeout_s=0.3, max_clients=4)
    yield server
    daemon.request_stop()
    await task
    await server.close()


async def _open(path: Path) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_unix_connection(str(path), limit=1 << 20)


async def _ask(path: Path, data: bytes) -> dict[str, Any]:
    reader, writer = await _open(path)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(10):
            return json.loads(await reader.readline())
    finally:
        writer.close()


async def _pc6(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        PC6, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_deep_nesting_gets_a_clear_reply_and_no_traceback(
    served: ControlServer, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    deep = b"[" * 2000 + b"]" * 2000 + b"\n"
    reply = await _ask(home / "ctl.sock", deep)
    assert reply["ok"] is False
    assert "nested 2000 deep (at most 8)" in reply["error"]
    wrapped = b'{"cmd": "status", "x": ' + b"[" * 1900 + b"]" * 1900 + b"}\n"
    assert "nested 1901 deep" in (await _ask(home / "ctl.sock", wrapped))["error"]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert (await _ask(home / "ctl.sock", b'{"cmd": "status"}\n'))["ok"] is True


async def test_a_4000_digit_level_is_a_validation_error(
    served: ControlServer, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    huge = b'{"cmd": "level", "value": ' + b"7" * 4000 + b"}\n"
    reply = await _ask(home / "ctl.sock", huge)
    assert reply == {"ok": False, "error": "value: a number of 4000 characters; at most 32"}
    long_float = b'{"cmd": "level", "value": 0.' + b"5" * 3000 + b"}\n"
    assert (await _ask(home / "ctl.sock", long_float))["error"].startswith("value: a number of")
    nan = await _ask(home / "ctl.sock", b'{"cmd": "level", "value": NaN}\n')
    assert "NaN is not a JSON number" in nan["error"]
    assert "internal error" not in caplog.text


async def test_an_idle_connection_is_told_and_closed(served: ControlServer, home: Path) -> None:
    reader, writer = await _open(home / "ctl.sock")
    try:
        async with asyncio.timeout(10):
            reply = json.loads(await reader.readline())
            assert await reader.read() == b""
    finally:
        writer.close()
    assert reply == {"ok": False, "error": "idle for 0.3 s: connection closed"}


async def test_a_crowd_of_idle_clients_cannot_keep_stop_out(
    served: ControlServer, home: Path
) -> None:
    crowd = [await _open(home / "ctl.sock") for _ in range(40)]
    try:
        code, out, err = await _pc6("ctl", "--socket", str(home / "ctl.sock"), "stop")
        assert (code, err) == (0, ""), err
        assert out.startswith("stop: ok")
        assert served.connections <= 4
        # The oldest were told why they were closed.
        async with asyncio.timeout(10):
            first = json.loads(await crowd[0][0].readline())
        assert first["error"].startswith("connection closed: too many connections (at most 4)")
    finally:
        for _, writer in crowd:
            writer.close()


async def test_every_refusal_is_a_nonzero_exit_with_a_message(home: Path) -> None:
    daemon, server, task = await _start(home, authorize=lambda peer: False)
    try:
        results = [
            await _pc6("ctl", "--socket", str(home / "ctl.sock"), "status") for _ in range(20)
        ]
    finally:
        daemon.request_stop()
        await task
        await server.close()
    for code, out, err in results:
        assert code == 1, (code, out, err)
        assert "not authorised: uid" in err
        assert "Traceback" not in err


async def test_a_refused_peer_with_a_fake_uid_is_named_in_the_reply(home: Path) -> None:
    daemon, server, task = await _start(
        home, credentials=lambda sock: Peer(1, 4242, 4242), authorize=lambda peer: peer.uid != 4242
    )
    try:
        reply = await _ask(home / "ctl.sock", b'{"cmd": "stop"}\n')
    finally:
        daemon.request_stop()
        await task
        await server.close()
    assert reply == {"ok": False, "error": "not authorised: uid 4242 is not allowed"}


# clock_nanosleep: what `time.sleep` calls; `pc6 ctl` sleeps only between connect attempts.
SLEEP_SYSCALL = {"x86_64": 230, "aarch64": 115}


def _retrying_or_done(proc: subprocess.Popen[str]) -> bool:
    """Block until ``proc`` sleeps between connect attempts (True) or exits (False)."""
    deadline = time.monotonic() + 60
    sleep_nr = SLEEP_SYSCALL[platform.machine()]
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(Path(f"/proc/{proc.pid}/syscall").read_text().split()[0]) == sleep_nr:
                return True
    raise AssertionError("pc6 ctl neither retried nor exited within 60 s")


async def test_ctl_waits_out_a_momentarily_full_backlog(home: Path) -> None:
    daemon, server, task = await _start(home)
    path = str(home / "ctl.sock")
    fillers = []
    try:
        # Until this test awaits, the loop cannot accept: the listen backlog fills up.
        while True:
            filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            filler.setblocking(False)
            try:
                filler.connect(path)
            except BlockingIOError:
                filler.close()
                break
            fillers.append(filler)
        proc = subprocess.Popen(
            [PC6, "ctl", "--socket", path, "status"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        retrying = _retrying_or_done(proc)
        out, err = await asyncio.to_thread(proc.communicate, timeout=60)
    finally:
        for filler in fillers:
            filler.close()
        daemon.request_stop()
        await task
        await server.close()
    assert (proc.returncode, err) == (0, ""), err
    assert retrying and out.startswith("SIMULATED")
