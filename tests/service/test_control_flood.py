"""1,030 clients that connect and never write, against `pc6 daemon` as a process.

The daemon runs with a descriptor limit of 40 (a Pi's default is 1024; the lower figure
makes running out reachable with a bounded number of test sockets), so both defences are
exercised: the connection limit and, beyond it, giving back an idle client's descriptor
when accept() fails. Through all of it `pc6 ctl stop` must answer at once, and the daemon's
log must stay a few lines, not thousands a second.
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_testlib import write_config

PC6 = str(Path(sys.executable).parent / "pc6")
CLIENTS = 1030


def _limit_fds() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))


@pytest.fixture
def enough_fds() -> Iterator[None]:
    """This process needs more than the usual 1024 descriptors for its idle clients."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = CLIENTS + 200
    if hard != resource.RLIM_INFINITY and hard < want:
        pytest.fail(f"the test needs {want} file descriptors; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_idle_flood_cannot_block_stop_or_flood_the_log(home: Path, enough_fds: None) -> None:
    config = write_config(home, "")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(home / "notify.sock"))
    notify.settimeout(60)
    daemon = subprocess.Popen(
        [PC6, "daemon", "--config", str(config)],
        env={**os.environ, "NOTIFY_SOCKET": str(home / "notify.sock")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_limit_fds,
    )
    crowd: list[socket.socket] = []
    try:
        assert notify.recv(4096).startswith(b"READY=1")
        path = str(home / "ctl.sock")
        for _ in range(CLIENTS):
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            # Blocking: a full backlog makes connect() wait in the kernel for the daemon to
            # accept, up to SO_SNDTIMEO (a bound: a daemon that stops accepting fails this).
            client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 30, 0))
            client.connect(path)
            crowd.append(client)
        start = time.monotonic()
        stop = subprocess.run(
            [PC6, "ctl", "--socket", path, "stop"], capture_output=True, text=True, timeout=60
        )
        took = time.monotonic() - start
        assert (stop.returncode, stop.stderr) == (0, ""), stop.stderr
        assert stop.stdout.startswith("stop: ok")
        assert took < 10, f"pc6 ctl stop took {took:.1f} s under the flood"
    finally:
        for client in crowd:
            client.close()
        daemon.send_signal(signal.SIGTERM)
        _, log = daemon.communicate(timeout=60)
        notify.close()
    assert daemon.returncode == 0, log[-2000:]
    assert "Traceback" not in log
    accept_lines = [line for line in log.splitlines() if "cannot accept" in line]
    assert len(accept_lines) <= 3, log[-2000:]
