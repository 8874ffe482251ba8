"""Helpers for the daemon tests: virtual nights, private journals and configs.

(A plain module: tests/conftest.py puts tests/helpers on sys.path.)

Nothing here depends on the machine's time zone: every config names its zone, and every
virtual clock starts at an explicit UTC instant.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import async_solipsism

from firmware_host.clock import LoopClock
from firmware_host.record.journal import Journal
from firmware_host.service.control import Peer, handle_line
from firmware_host.service.daemon import Daemon
from firmware_host.service.sdnotify import Notifier

T = TypeVar("T")

#: A 40-second profile: quick to play, long enough to be seen running.
SHORT_PROFILE = """\
name = "short"
description = "A test profile: ramp up, hold, ramp down."
kinds = ["vibration", "pressure"]
intent = "other"

[[steps]]
ramp = 0.5
over = "5s"
[[steps]]
hold = "30s"
[[steps]]
ramp = 0.0
over = "5s"
"""


def run_virtual(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a loop whose clock jumps to the next deadline."""
    loop = async_solipsism.EventLoop()
    try:
        return loop.run_until_complete(make())
    finally:
        loop.close()


def utc(*args: int) -> float:
    """Epoch seconds of a UTC date and time."""
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()  # type: ignore[misc]


def write_config(home: Path, body: str, *, tz: str = "Europe/Berlin") -> Path:
    """A config file in ``home`` with the zone, profile dir and journal filled in.

    Lines of ``body`` that start with ``top:`` go before the first table.
    """
    path = home / "pc6band.toml"
    top = "\n".join(line for line in body.splitlines() if line.startswith("top:"))
    path.write_text(
        f'timezone = "{tz}"\nrequire_clock_sync = false\n'
        + top.replace("top:", "")
        + f'\n[profiles]\ndirs = ["{home / "profiles"}"]\n'
        f'[journal]\npath = "{home / "journal.sqlite"}"\n'
        f'[control]\nsocket = "{home / "ctl.sock"}"\n'
        + "\n".join(line for line in body.splitlines() if not line.startswith("top:"))
        + "\n"
    )
    return path


async def night(
    config: Path,
    start: float,
    end: float,
    *,
    during: Callable[[Daemon, LoopClock], Coroutine[Any, Any, None]] | None = None,
    **options: Any,
) -> Daemon:
    """Run a daemon on virtual time from epoch ``start`` to ``end``; returns it stopped."""
    clock = LoopClock(simulated=True, epoch=start)
    clock.wall()  # anchor the wall clock at the loop's current time
    daemon = Daemon(
        config, clock=clock, notifier=options.pop("notifier", Notifier(None)), **options
    )
    daemon.reload()  # as `pc6 daemon` does before it opens the control socket
    task = asyncio.get_running_loop().create_task(daemon.run())
    if during is not None:
        await during(daemon, clock)
    await clock.sleep_until(clock.now() + (end - clock.wall()))
    daemon.request_stop()
    await task
    return daemon


def started_at(home: Path) -> list[tuple[float, str]]:
    """``(epoch, profile)`` of every journaled session, in order."""
    with Journal(home / "journal.sqlite") as journal:
        return [(r.started_at, r.profile) for r in reversed(journal.recent(10_000))]


#: The peer every in-process control command comes from (pid, uid, gid).
ME = Peer(1, 1000, 1000)

# 1 June 2026 in Berlin is CEST (UTC+2): 22:00 local is 20:00 UTC.
T0 = utc(2026, 6, 1, 19, 50)


def local(hh: int, mm: int, ss: int = 0) -> float:
    """Epoch of a local (CEST) time on the evening of 1 June 2026."""
    return utc(2026, 6, 1, hh - 2, mm, ss)


async def until(clock: LoopClock, when: float) -> None:
    """Sleep on ``clock`` until wall-clock epoch ``when``."""
    await clock.sleep_until(clock.now() + (when - clock.wall()))


async def ctl(daemon: Daemon, cmd: str, **fields: Any) -> dict[str, Any]:
    """One control command through the handler the socket uses; returns the reply."""
    return await handle_line(daemon, json.dumps({"cmd": cmd, **fields}).encode(), ME)
