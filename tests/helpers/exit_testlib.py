"""Watching a ``pc6 run`` child from outside: pins through a FIFO, a band's trace through a FIFO.

(A plain module: ``tests/conftest.py`` puts ``tests/helpers`` on ``sys.path``.)

The child writes every change the moment it happens (``PC6_SIM_PINS_LOG`` for mock pins,
``pc6 sim band --trace`` for a band), so a test waits on the pipe, never on a sleep.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

#: The real command line, as a child process.
PC6 = [sys.executable, "-m", "firmware_host.cli.main"]


def child_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of a child ``pc6``: its own state and config folders under ``tmp``."""
    return {
        **os.environ,
        "PC6_STATE_DIR": str(tmp / "state"),
        "PC6_CONFIG_DIR": str(tmp / "cfg"),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def daemon_child(
    tmp: Path, config: Path, pc6: list[str] = PC6, stdout: int = subprocess.PIPE, **env: str
) -> subprocess.Popen[str]:
    """A real ``pc6 daemon --config CONFIG``, returned once its control socket answers."""
    child = subprocess.Popen(
        [*pc6, "daemon", "--config", str(config)],
        env=child_env(tmp, **env),
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while ctl_child(tmp, config, "status").returncode != 0:  # until its socket answers
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the daemon's socket never answered"
    return child


def ctl_child(tmp: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``pc6 ctl --config CONFIG ARGS...`` as a person types it."""
    return subprocess.run(
        [*PC6, "ctl", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=child_env(tmp),
        timeout=30,
    )


class FifoWatch:
    """Lines from a FIFO the child writes; ``parse(line) -> (name, value)`` or None."""

    def __init__(self, path: Path, parse: Callable[[str], tuple[str, float] | None]) -> None:
        os.mkfifo(path)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.parse = parse
        self.buffer = b""
        self.values: dict[str, list[float]] = {}
        self.lines: list[str] = []  # every whole line, as written

    def read(self, until: float) -> bool:
        """Read what arrives, waiting up to ``until`` (monotonic); False at end of file."""
        ready, _, _ = select.select([self.fd], [], [], max(0.0, until - time.monotonic()))
        if not ready:
            raise TimeoutError("nothing from the child in time")
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return True
        self._take(chunk)
        return bool(chunk)

    def drain(self) -> None:
        """Whatever is already in the pipe, without waiting."""
        while select.select([self.fd], [], [], 0)[0]:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                return
            self._take(chunk)

    def _take(self, chunk: bytes) -> None:
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            self.lines.append(line.decode())
            parsed = self.parse(self.lines[-1])
            if parsed is not None:
                self.values.setdefault(parsed[0], []).append(parsed[1])

    def last(self, name: str) -> float:
        return self.values.get(name, [0.0])[-1]

    def wait_for(self, name: str, cond: Callable[[float], bool], timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not cond(self.last(name)):
            if not self.read(deadline):
                raise AssertionError(f"{name}: the child closed the pipe first")

    def close(self) -> None:
        os.close(self.fd)


def pin_line(line: str) -> tuple[str, float] | None:
    """``t pin value frequency`` from the mock pins' log."""
    parts = line.split()
    return (parts[1], float(parts[2])) if len(parts) == 4 else None


def band_line(line: str) -> tuple[str, float] | None:
    """``t_s,level`` from a simulated band's trace (the header is skipped)."""
    if not line or line.startswith("t_s"):
        return None
    return ("band", float(line.split(",")[1]))


def trace_rows(path: Path) -> list[tuple[float, float]]:
    """The rows of a ``t_s,level`` CSV written by ``pc6 run --trace``."""
    return csv_rows(path.read_text().splitlines())


def csv_rows(lines: list[str]) -> list[tuple[float, float]]:
    """The rows of a ``t_s,level`` trace's lines (``pc6 run`` or a simulated band)."""
    assert lines[0] == "t_s,level"
    return [(float(a), float(b)) for a, b in (line.split(",") for line in lines[1:])]


def last_session(journal: Path) -> tuple[str | None, str | None, float | None]:
    """``(reason, detail, ended_at)`` of the newest session in a journal."""
    db = sqlite3.connect(journal)
    try:
        row = db.execute(
            "SELECT reason, detail, ended_at FROM sessions ORDER BY id DESC LIMIT 1"
        ).fetchone()
    finally:
        db.close()
    assert row is not None, "no session was journaled"
    return row


@contextlib.contextmanager
def paired_sim_band(
    tmp: Path, pc6: list[str], env: dict[str, str], kind: str = "vibration"
) -> Iterator[tuple[str, FifoWatch]]:
    """A ``pc6 sim band --serial`` paired with ``pc6 band pair``: its port and its output.

    The band writes its delivered level to a FIFO the moment it changes, so a test watches
    the wrist's side of the link, not what the host meant to send; after the block, the
    watch's ``lines`` hold the band's whole trace.
    """
    watch = FifoWatch(tmp / "band.fifo", band_line)
    proc = subprocess.Popen(
        [*pc6, "sim", "band", "--serial", "--kind", kind, "--trace", str(tmp / "band.fifo")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        pair = subprocess.run(
            [*pc6, "band", "pair", "--port", port],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert pair.returncode == 0, pair.stderr
        yield port, watch
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        watch.drain()  # the rest of what it wrote, up to its exit (FifoWatch.lines)
        watch.close()


def buggy_pc6(python: str, target: str, env_var: str = "PC6_TEST_BUG") -> list[str]:
    """``pc6`` with a bug injected into ``target`` (``module:Class.method``).

    The method raises ``RuntimeError('injected bug')`` each time it is called once the file
    named by ``$env_var`` exists: the test creates it after it has seen the output on, so no
    load can make the bug win the race against the watcher.
    """
    module, _, attr = target.partition(":")
    cls, _, method = attr.partition(".")
    return [
        python,
        "-c",
        "import importlib, os, sys\n"
        f"owner = getattr(importlib.import_module({module!r}), {cls!r})\n"
        f"original = getattr(owner, {method!r})\n"
        "def broken(self, *args, **kwargs):\n"
        "    result = original(self, *args, **kwargs)\n"
        f"    if os.path.exists(os.environ[{env_var!r}]):\n"
        "        raise RuntimeError('injected bug')\n"
        "    return result\n"
        f"setattr(owner, {method!r}, broken)\n"
        "from firmware_host.cli.main import main\n"
        "sys.exit(main())\n",
    ]


def journal_trace(journal: Path, session_id: int) -> list[tuple[float, float]]:
    """The trace the journal kept for a session (what reached the actuator)."""
    from firmware_host.record.journal import Journal

    with Journal(journal) as j:
        found = j.trace(session_id)
    assert found is not None, f"session {session_id} has no trace"
    return found[1]
