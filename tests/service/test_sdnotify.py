"""sd_notify against a socket the test binds, and the watchdog ping from the daemon's loop."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon_testlib import T0, ctl, local, night, run_virtual, until, write_config

from firmware_host.clock import LoopClock
from firmware_host.service.daemon import Daemon
from firmware_host.service.sdnotify import Notifier


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.setblocking(False)
    yield sock
    sock.close()


def received(sock: socket.socket) -> list[str]:
    out = []
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except BlockingIOError:
            return out


def test_from_env() -> None:
    env = {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000"}
    assert Notifier.from_env(env).watchdog_interval_s == 15.0
    assert Notifier.from_env({**env, "WATCHDOG_PID": str(os.getpid())}).watchdog_usec == 30e6
    # The variables were meant for another process (our parent): no watchdog for us.
    assert Notifier.from_env({**env, "WATCHDOG_PID": "1"}).watchdog_interval_s is None
    assert Notifier.from_env({"WATCHDOG_USEC": "30000000"}).watchdog_interval_s is None
    assert Notifier.from_env({**env, "WATCHDOG_USEC": "soon"}).watchdog_usec is None
    assert not Notifier.from_env({}).enabled and not Notifier.from_env({}).ready()


def test_protocol_on_a_bound_socket(notify_socket: socket.socket, tmp_path: Path) -> None:
    notifier = Notifier(str(tmp_path / "notify.sock"))
    assert notifier.ready("idle") and notifier.watchdog() and notifier.status("a\nb")
    assert notifier.stopping()
    notifier.close()
    assert received(notify_socket) == [
        "READY=1\nSTATUS=idle",
        "WATCHDOG=1",
        "STATUS=a b",
        "STOPPING=1",
    ]


def test_abstract_namespace() -> None:
    name = f"pc6band-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.setblocking(False)
        assert Notifier("@" + name).watchdog()
        assert received(sock) == ["WATCHDOG=1"]


def test_send_failure_is_not_fatal(tmp_path: Path) -> None:
    assert Notifier(str(tmp_path / "nobody-listens")).watchdog() is False


def test_daemon_pings_from_its_loop(
    home: Path, notify_socket: socket.socket, tmp_path: Path
) -> None:
    """READY first; a ping every half WATCHDOG_USEC while idle and during a session."""
    config = write_config(home, '[[schedule]]\nat = "22:00"\nprofile = "short"\n')
    notifier = Notifier(str(tmp_path / "notify.sock"), watchdog_usec=20_000_000)
    times: list[float] = []
    messages: list[str] = []
    original = notifier.notify

    def notify(**fields: str | int) -> bool:
        # Read as systemd would, so the socket's small queue never fills up.
        sent = original(**fields)
        messages.extend(received(notify_socket))
        if "WATCHDOG" in fields:
            times.append(asyncio.get_running_loop().time())
        return sent

    notifier.notify = notify  # type: ignore[method-assign]

    async def script(daemon: Daemon, clock: LoopClock) -> None:
        await until(clock, local(22, 0, 20))
        assert (await ctl(daemon, "status"))["state"] == "running"

    run_virtual(lambda: night(config, T0, local(22, 10), during=script, notifier=notifier))
    assert messages[0].startswith("READY=1\nSTATUS=idle")
    assert messages[-1] == "STOPPING=1"
    pings = messages.count("WATCHDOG=1")
    assert pings == len(times) and pings >= 20 * 60 / 10
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert max(gaps) <= 10.0 + 1e-6  # never later than half the timeout, session or not
    assert any("running" in m for m in messages if m.startswith("STATUS="))


async def test_a_hung_loop_stops_the_pings(home: Path, tmp_path: Path) -> None:
    """Real time: a backend call that blocks the loop for 1 s silences the watchdog for 1 s.

    The blocking ``time.sleep`` is the fault under test (a driver hanging the loop), not a
    way to wait for something. Pings are timestamped by a thread as they arrive.
    """
    import threading
    import time

    from firmware_host.clock import RealClock
    from firmware_host.drive.actuator import ActuatorKind
    from firmware_host.service.daemon import default_actuator
    from firmware_host.session.config import Config

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "wd.sock"))
    sock.settimeout(0.05)
    arrivals: list[float] = []
    done = threading.Event()

    def listen() -> None:
        while not done.is_set():
            try:
                if sock.recv(4096) == b"WATCHDOG=1":
                    arrivals.append(time.monotonic())
            except TimeoutError:
                continue

    thread = threading.Thread(target=listen)
    thread.start()
    hung = {"at": 0.0}

    def factory(cfg: Config, kind: ActuatorKind) -> Any:
        actuator = default_actuator(cfg, kind)
        original = actuator.set_level

        async def set_level(level: float, *, lease_s: float, ramp_s: float = 0.0) -> None:
            if level > 0 and not hung["at"]:
                hung["at"] = time.monotonic()
                time.sleep(1.0)  # the fault: a driver call that blocks the event loop
            await original(level, lease_s=lease_s, ramp_s=ramp_s)

        actuator.set_level = set_level  # type: ignore[method-assign]
        return actuator

    config = write_config(home, "[limits.vibration]\nsoft_stop_s = 0.1\n")
    notifier = Notifier(str(tmp_path / "wd.sock"), watchdog_usec=100_000)  # ping every 50 ms
    daemon = Daemon(config, clock=RealClock(), notifier=notifier, actuator_factory=factory)
    daemon.reload()
    task = asyncio.get_running_loop().create_task(daemon.run())
    try:
        running = daemon.start_now("short", origin="manual", why="test")
        while not hung["at"]:
            await asyncio.sleep(0)  # yield until the session has made its first call
        await daemon.stop(by="test")
        assert running.done.is_set()
    finally:
        daemon.request_stop()
        await task
        done.set()
        thread.join()
        sock.close()
    before = [t for t in arrivals if t <= hung["at"] + 0.01]
    after = [t for t in arrivals if t > hung["at"] + 0.01]
    assert before and after
    assert after[0] - hung["at"] >= 0.95  # silent while the loop was stuck
    assert max(b - a for a, b in zip(arrivals, arrivals[1:], strict=False)) >= 0.95
