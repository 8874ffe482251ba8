"""The ways out of a command that drives an output: stop signals, and a reader going away.

``pc6 run`` and ``pc6 calibrate`` both catch them here, so both react to the same signals
the same way: each would otherwise end the process at once with the output as it was
(SIGTERM, SIGHUP when the terminal or SSH session goes, SIGQUIT, SIGUSR1/2), or with a
traceback (SIGINT). What a command does when one comes — stop softly, stop at once — is
its own callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import signal
import stat
from collections.abc import Callable, Iterator
from typing import IO, Any

logger = logging.getLogger(__name__)

#: Every signal that would otherwise end the process with the output on.
STOP_SIGNALS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
SIGNAL_WHY = {signal.SIGHUP: "SIGHUP (the terminal or SSH session went away)"}


def signal_why(sig: signal.Signals) -> str:
    """What a signal means, in words for the journal and the one line a person reads."""
    return SIGNAL_WHY.get(sig, sig.name)


class Output:
    """A stream whose reader may go away: then writes are dropped and someone is told."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.closed_reason: str | None = None
        self.on_closed: Callable[[str], None] | None = None

    def say(self, text: str = "", *, end: str = "\n") -> None:
        """Write a line; a reader that went away makes this (and later writes) a no-op."""
        if self.closed_reason is not None:
            return
        try:
            self.stream.write(text + end)
            self.stream.flush()
        except (BrokenPipeError, OSError, ValueError) as e:
            self.closed(f"output closed ({type(e).__name__})")

    def isatty(self) -> bool:
        """Whether the stream is a terminal (False once it cannot be asked)."""
        try:
            return self.stream.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int | None:
        """The stream's descriptor, or None when it has none."""
        try:
            return self.stream.fileno()
        except (OSError, ValueError, AttributeError):
            return None

    def closed(self, why: str) -> None:
        """Nobody reads any more: drop what follows and tell ``on_closed`` (once)."""
        if self.closed_reason is not None:
            return
        self.closed_reason = why
        fd = self.fileno()
        if fd is not None:
            # Point the descriptor at /dev/null, so that neither a later write nor the
            # interpreter's final flush fails with a traceback.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)
        if self.on_closed is not None:
            self.on_closed(why)

    def close(self) -> None:
        """Flush what is left, quietly."""
        if self.closed_reason is None:
            with contextlib.suppress(BrokenPipeError, OSError, ValueError):
                self.stream.flush()


@contextlib.contextmanager
def stop_signals(on_signal: Callable[[signal.Signals], None]) -> Iterator[None]:
    """Call ``on_signal`` on the running loop for each of :data:`STOP_SIGNALS`.

    Installed on entry, the previous handlers back on exit.
    """
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    previous: dict[signal.Signals, Any] = {}
    for sig in STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError, OSError):
            # A virtual-time loop has no signal handlers: plain ones, handed to the loop.
            previous[sig] = signal.signal(
                sig, lambda s, f: loop.call_soon_threadsafe(on_signal, signal.Signals(s))
            )
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def watch_reader(out: Output) -> Iterator[None]:
    """A reader that closes ``out``'s pipe (``… | head -1``) closes ``out`` at once.

    Without this, nobody would notice until the next write, which may be minutes away
    while the output runs. Only for a pipe; anything else is noticed when written to.
    """
    fd = out.fileno()
    if fd is None or not _is_pipe(fd):
        yield
        return
    pipe: int = fd
    loop = asyncio.get_running_loop()

    def check() -> None:
        poller = select.poll()
        poller.register(pipe, select.POLLOUT)
        if any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0)):
            loop.remove_reader(pipe)
            out.closed("stdout closed by its reader")

    watching = False
    with contextlib.suppress(NotImplementedError, OSError, ValueError, RuntimeError):
        loop.add_reader(pipe, check)
        watching = True
    try:
        yield
    finally:
        if watching:
            with contextlib.suppress(Exception):
                loop.remove_reader(pipe)


def _is_pipe(fd: int) -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(fd).st_mode)
    except OSError:
        return False
