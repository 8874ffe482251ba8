"""A real night daemon on the simulator and a real ``pc6 web``, both as subprocesses.

(In tests/helpers: on sys.path for every test, see tests/conftest.py.)
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
PC6 = str(BIN / "pc6")
START_TIMEOUT_S = 60.0


def evening_zone(local_hour: int = 20) -> str:
    """A fixed-offset zone where it is about ``local_hour`` o'clock now.

    The daemon runs on the real clock, and what the page shows depends on the local hour
    (the diary comes first in the morning; a diary filled in after midnight is about the
    night still going on, so a 06:45 rising is "in the future"). Putting the daemon in an
    evening zone makes every run see the same evening, whatever the hour of CI.
    """
    offset = (local_hour - time.gmtime().tm_hour + 12) % 24 - 12  # -12 … +11
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-3 is UTC+3


def write_config(home: Path, schedule_at: str = "23:30") -> Path:
    """A simulator config with one scheduled session (so "tonight" has something)."""
    (home / "profiles").mkdir(exist_ok=True)
    path = home / "pc6band.toml"
    path.write_text(
        f'timezone = "{evening_zone()}"\nrequire_clock_sync = false\n'
        f'[profiles]\ndirs = ["{home / "profiles"}"]\n'
        f'[journal]\npath = "{home / "journal.sqlite"}"\n'
        f'[control]\nsocket = "{home / "ctl.sock"}"\n'
        f'[[schedule]]\nat = "{schedule_at}"\nprofile = "sleep-onset"\n'
    )
    return path


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Daemon:
    """``pc6 daemon --config …`` on the simulator."""

    home: Path
    proc: subprocess.Popen[str] | None = None

    @property
    def socket(self) -> Path:
        return self.home / "ctl.sock"

    def start(self) -> None:
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        path = self.home / "notify.sock"
        path.unlink(missing_ok=True)
        notify.bind(str(path))
        notify.settimeout(START_TIMEOUT_S)
        env = {**os.environ, "NOTIFY_SOCKET": str(path)}
        self.proc = subprocess.Popen(
            [PC6, "daemon", "--config", str(self.home / "pc6band.toml")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.home / "daemon.log", "a"),  # noqa: SIM115 - lives with the child
            text=True,
        )
        try:
            while not notify.recv(4096).startswith(b"READY=1"):
                pass
        finally:
            notify.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
        self.proc = None

    def ctl(self, *args: str) -> dict[str, Any]:
        """``pc6 ctl --json …``: the daemon's own view, not the page's."""
        out = subprocess.run(
            [PC6, "ctl", "--socket", str(self.socket), "--json", *args],
            capture_output=True,
            text=True,
            timeout=130,
        )
        return dict(json.loads(out.stdout))


@dataclass
class Web:
    """``pc6 web --socket … --listen 127.0.0.1:PORT`` and its first pairing code."""

    home: Path
    socket: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[str] | None = None
    code: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def tokens(self) -> Path:
        return self.home / "web-tokens.json"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                PC6,
                "web",
                "--socket",
                str(self.socket),
                "--listen",
                f"127.0.0.1:{self.port}",
                "--tokens",
                str(self.tokens),
            ],
            stdout=subprocess.PIPE,
            stderr=open(self.home / "web.log", "a"),  # noqa: SIM115 - lives with the child
            text=True,
        )
        self.code = read_code(self.proc)

    def pair_code(self) -> str:
        """A fresh code, as a person gets one for a running server: ``pc6 web pair``."""
        out = subprocess.run(
            [PC6, "web", "--tokens", str(self.tokens), "pair"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return _code_in(out.stdout)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PC6, "web", "--tokens", str(self.tokens), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )

    def log(self) -> str:
        return (self.home / "web.log").read_text()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None


def read_code(proc: subprocess.Popen[str]) -> str:
    """Read the server's terminal output up to its pairing link; returns the code."""
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    seen = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"pc6 web ended before it printed a code:\n{seen}")
        seen += line
        if "/pair?code=" in line:
            return _code_in(seen)
    raise AssertionError(f"no pairing code within {START_TIMEOUT_S} s:\n{seen}")


def _code_in(text: str) -> str:
    match = re.search(r"/pair\?code=(\d+)", text)
    assert match, text
    spaced = re.search(r"pairing code: (\d{4}) (\d{4})", text)
    assert spaced and spaced.group(1) + spaced.group(2) == match.group(1), text
    return match.group(1)
