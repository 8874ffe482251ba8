"""``pc6 run``: one session of a profile on a backend, from the command line.

It reads the same config as the daemon (backend, calibration, limits; flags can only lower
a limit), validates everything — the trace file included — before anything moves, says
SIMULATED loudly when nothing physical is driven, shows progress, journals the session and
prints a summary. The session itself is built by :mod:`firmware_host.session.assembly`,
like every other session.

Every way out that Python can catch ends with the output at 0, the trace's last row 0 and
the session journaled with its true end: the end of the profile, an exception, SIGINT
(once: soft stop; twice: stop at once), SIGTERM, SIGHUP (the SSH session dropped),
SIGQUIT, SIGUSR1/2, or the reader of stdout going away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import stat
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from firmware_host.clock import Clock, LoopClock, RealClock
from firmware_host.drive.actuator import ActuatorKind
from firmware_host.drive.trace import CsvTraceWriter, RowSink
from firmware_host.durations import format_duration
from firmware_host.errors import InvalidInput
from firmware_host.guard.preview import gate_preview
from firmware_host.plan.profile import Profile
from firmware_host.plan.timeline import Timeline, compile_profile
from firmware_host.play.engine import EndReason, SessionResult
from firmware_host.record.journal import VIRTUAL, Journal
from firmware_host.session.assembly import Journaling, Overrides, Session, Setup, resolve
from firmware_host.session.config import Config, default_config_path, load_config

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: Every signal that would otherwise kill ``pc6 run`` with the outputs on.
STOP_SIGNALS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
SIGNAL_WHY = {signal.SIGHUP: "SIGHUP (the terminal or SSH session went away)"}


@dataclass
class RunOptions:
    """What ``pc6 run`` was asked to do."""

    profile: Profile
    backend: str | None = None  # None: the config's
    kind: str | None = None
    fast: bool = False
    trace: Path | None = None
    max_level: float | None = None
    journal: Path | None = None
    backend_options: dict[str, Any] = field(default_factory=dict)
    stop_button: int | None = None  # GPIO of a push button: press = stop, hold = trip
    limits: dict[str, Any] = field(default_factory=dict)
    config: Path | None = None  # None: the default location (missing there: defaults)
    out: IO[str] = sys.stdout
    err: IO[str] = sys.stderr


def choose_kind(profile: Profile, kind: str | None) -> ActuatorKind:
    """The actuator kind asked for (checked against the profile), else the profile's first.

    Raises:
        InvalidInput: unknown kind, or one the profile is not meant for.
    """
    setup = resolve(Config(), Overrides(kind=kind or profile.kinds[0]), profile)
    assert setup.kind is not None
    return setup.kind


def read_config(path: Path | None) -> Config:
    """The config ``pc6 run`` uses: ``--config FILE`` (must exist) or the default location.

    Raises:
        ConfigError: invalid, or an explicit path that does not exist.
    """
    if path is not None:
        return load_config(path, missing_ok=False)
    return load_config(default_config_path())


def run(options: RunOptions) -> int:
    """Run a session; returns the exit code (0 done or stopped by a person, 1 fault)."""
    out = _Output(options.out)
    err = _Output(options.err)
    config = read_config(options.config)
    setup = resolve(
        config,
        Overrides(
            backend=options.backend,
            kind=options.kind,
            backend_options=options.backend_options,
            max_level=options.max_level,
            limits=options.limits,
        ),
        options.profile,
    )
    timeline = compile_profile(options.profile)
    changes: list[str] = []
    if setup.kind is not None:
        # What the gate will change, told (and journaled) before anything moves; a profile
        # beyond the hard ceilings is refused here (guard/preview.py). Only the words are
        # needed, so the preview keeps no rows: its memory does not grow with the profile.
        limits = setup.limits_for(setup.kind)
        preview = gate_preview(timeline, setup.kind, limits, max_level=setup.max_level)
        changes = preview.summary()
    trace_file = _open_trace(options.trace)
    try:
        journal = Journal(options.journal or config.journal)
        try:
            cli = _RunSession(options, setup, timeline, journal, trace_file, out, err)
            cli.gate_changes = changes
            main = cli.main
            result = _run_virtual(main) if options.fast else asyncio.run(main(RealClock()))
        finally:
            if journal is not None:
                journal.close()
    finally:
        if trace_file is not None:
            with contextlib.suppress(OSError):
                trace_file.close()
    out.close()
    return 0 if result.reason in (EndReason.COMPLETED, EndReason.STOPPED) else 1


def _open_trace(path: Path | None) -> IO[str] | None:
    """Open the trace and write its header now: a bad path fails before anything moves.

    Raises:
        InvalidInput: the file cannot be created or written (missing folder, read-only
            filesystem, a full disk).
    """
    if path is None:
        return None
    try:
        f = open(path, "w", encoding="utf-8")  # noqa: SIM115 — closed by run()
    except OSError as e:
        raise InvalidInput(f"--trace {path}: cannot write: {e.strerror or e}") from None
    try:
        f.write("t_s,level\n")
        f.flush()  # /dev/full and a full disk fail here, not in the middle of the night
    except OSError as e:
        with contextlib.suppress(OSError):
            f.close()
        raise InvalidInput(f"--trace {path}: cannot write: {e.strerror or e}") from None
    return f


def _run_virtual(main: Callable[[Clock], Coroutine[Any, Any, T]]) -> T:
    """Run on an event loop whose clock jumps to the next deadline."""
    import async_solipsism

    loop = async_solipsism.EventLoop()
    try:
        return loop.run_until_complete(main(LoopClock(simulated=True)))
    finally:
        loop.close()


class _Output:
    """A stream whose reader may go away: then writes are dropped and someone is told."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.closed_reason: str | None = None
        self.on_closed: Callable[[str], None] | None = None

    def say(self, text: str = "", *, end: str = "\n") -> None:
        if self.closed_reason is not None:
            return
        try:
            self.stream.write(text + end)
            self.stream.flush()
        except (BrokenPipeError, OSError, ValueError) as e:
            self._closed(f"output closed ({type(e).__name__})")

    def isatty(self) -> bool:
        try:
            return self.stream.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int | None:
        try:
            return self.stream.fileno()
        except (OSError, ValueError, AttributeError):
            return None

    def _closed(self, why: str) -> None:
        if self.closed_reason is not None:
            return
        self.closed_reason = why
        fd = self.fileno()
        if fd is not None:
            # Nobody reads any more: point the descriptor at /dev/null, so that neither a
            # later write nor the interpreter's final flush fails with a traceback.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)
        if self.on_closed is not None:
            self.on_closed(why)

    def close(self) -> None:
        if self.closed_reason is None:
            with contextlib.suppress(BrokenPipeError, OSError, ValueError):
                self.stream.flush()


class _RunSession:
    def __init__(
        self,
        options: RunOptions,
        setup: Setup,
        timeline: Timeline,
        journal: Journal | None,
        trace_file: IO[str] | None,
        out: _Output,
        err: _Output,
    ) -> None:
        self.o = options
        self.setup = setup
        self.timeline = timeline
        self.journal = journal
        self.trace_file = trace_file
        self.out, self.err = out, err
        self.session: Session | None = None
        self.trace_error: str | None = None
        self.clock: Clock = RealClock()
        self._signals_seen = 0
        self._last_why = "stopped"
        self.gate_changes: list[str] = []  # what the safety gate will change, in words

    async def main(self, clock: Clock) -> SessionResult:
        """Announce, play, summarise; signals are caught from the first line on."""
        self.clock = clock
        with self._signals(), self._watch_stdout():
            session = self._build(clock)
            self._announce(session)
            result = await session.run(attach=self._attach)
        self._summary(result, session)
        return result

    def _build(self, clock: Clock) -> Session:
        o = self.o
        sinks: tuple[RowSink, ...] = ()
        if self.trace_file is not None:
            sinks = (CsvTraceWriter(self.trace_file, header=False, on_error=self._trace_failed),)
        journaling = None
        if self.journal is not None:
            # A run on virtual time is journaled at the real time, as a virtual run: never
            # charged, never part of a night (its own clock would stamp it hours ahead).
            journaling = Journaling(
                self.journal,
                origin=VIRTUAL if o.fast else "cli",
                wall=time.time if o.fast else None,
            )
        session = Session(
            self.setup,
            o.profile,
            self.timeline,
            clock=clock,
            journaling=journaling,
            trace_sinks=sinks,
            notes=[("gate change", line) for line in self.gate_changes],
        )
        if o.fast and not session.simulated:
            raise InvalidInput(
                "--fast runs on virtual time and needs a simulated backend "
                "(--backend sim, or --sim-pins)"
            )
        self.session = session
        if self._signals_seen:
            session.stop(self._last_why)
        return session

    def _announce(self, session: Session) -> None:
        o, setup = self.o, self.setup
        kind = str(setup.kind) if setup.kind else "kind from the band"
        if session.simulated:
            self.out.say(f"SIMULATED — nothing physical moves (backend {setup.backend}, {kind})")
        stats = self.timeline.stats()
        self.out.say(
            f"profile {o.profile.name}: {format_duration(stats.duration_ms)}, "
            f"peak {stats.peak:.2f}, {'virtual time' if o.fast else 'real time'}"
        )
        for line in self.gate_changes:
            self.out.say(f"  the safety gate changes it — {line}")
        self.out.say(f"config: {setup.config.source}")
        if o.fast:
            self.out.say("virtual time: journaled as a virtual run, not counted as a night")
        cap = setup.max_level
        if cap is not None and setup.kind is not None:
            config_cap = setup.config.limits_for(setup.kind).max_level
            if cap > config_cap:
                self.out.say(
                    f"--max-level {cap:g} is above the config's limit ({config_cap:g}); "
                    f"the limit stays {config_cap:g}"
                )

    @contextlib.contextmanager
    def _attach(self, session: Session) -> Iterator[None]:
        """Once the session is open: progress and the stop button."""
        with self._progress(session), self._button(session):
            yield

    # -- ways out ---------------------------------------------------------------------

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals_seen += 1
        why = SIGNAL_WHY.get(sig, sig.name)
        session = self.session
        if self._signals_seen == 1:
            self._last_why = f"{why} from user"
            self.err.say(f"\n{sig.name}: stopping with a soft ramp down (again to stop at once)")
            if session is not None:
                session.stop(self._last_why)
        elif session is not None:
            self.err.say(f"\n{sig.name} again: stopping at once")
            session.stop_now(f"{why} twice from user: stopped at once")

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        previous: dict[signal.Signals, Any] = {}
        for sig in STOP_SIGNALS:
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError, OSError):
                # A virtual-time loop has no signal handlers: plain ones, handed to the loop.
                previous[sig] = signal.signal(
                    sig, lambda s, f: loop.call_soon_threadsafe(self._on_signal, signal.Signals(s))
                )
        try:
            yield
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            for sig, old in previous.items():
                signal.signal(sig, old)

    @contextlib.contextmanager
    def _watch_stdout(self) -> Iterator[None]:
        """A reader that closes our stdout pipe is a way out: stop, as for SIGTERM."""
        self.out.on_closed = self._output_closed
        self.err.on_closed = self._output_closed
        fd = self.out.fileno()
        loop = asyncio.get_running_loop()
        watching = False
        if fd is not None and not self.o.fast and _is_pipe(fd):
            try:
                loop.add_reader(fd, self._check_pipe, fd)
                watching = True
            except (NotImplementedError, OSError, ValueError, RuntimeError):
                pass
        try:
            yield
        finally:
            if watching:
                with contextlib.suppress(Exception):
                    loop.remove_reader(fd)  # type: ignore[arg-type]

    def _check_pipe(self, fd: int) -> None:
        import select

        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        events = poller.poll(0)
        if any(ev & (select.POLLERR | select.POLLHUP) for _, ev in events):
            asyncio.get_running_loop().remove_reader(fd)
            self.out._closed("stdout closed by its reader")

    def _output_closed(self, why: str) -> None:
        if self.session is not None:
            self.session.stop(why)

    def _trace_failed(self, error: OSError) -> None:
        self.trace_error = f"{error.strerror or error}"
        logger.error("trace file: %s; the session goes on without it", self.trace_error)

    # -- beside the session -------------------------------------------------------------

    @contextlib.contextmanager
    def _button(self, session: Session) -> Iterator[None]:
        if self.o.stop_button is None or session.engine is None or session.gate is None:
            yield
            return
        from firmware_host.play.stop_button import attach_stop_button

        detach = attach_stop_button(session.engine, session.gate, self.o.stop_button)
        try:
            yield
        finally:
            detach()

    @contextlib.contextmanager
    def _progress(self, session: Session) -> Iterator[None]:
        if self.o.fast:
            yield
            return
        task = asyncio.get_running_loop().create_task(self._show_progress(session))
        try:
            yield
        finally:
            task.cancel()
            if self.err.isatty():
                self.err.say()

    async def _show_progress(self, session: Session) -> None:
        engine = session.engine
        assert engine is not None
        tty = self.err.isatty()
        every = 1.0 if tty else 30.0
        tag = "[SIMULATED] " if session.simulated else ""
        next_at = self.clock.now() + every
        while True:
            await self.clock.sleep_until(next_at)
            next_at += every
            line = (
                f"{tag}{format_duration(engine.elapsed_s * 1000)} elapsed · level "
                f"{engine.gate.output:.2f} · {format_duration(engine.remaining_s * 1000)} "
                f"remaining{' · paused' if engine.paused else ''}"
            )
            self.err.say(f"\r{line:<72}" if tty else line, end="" if tty else "\n")

    def _summary(self, result: SessionResult, session: Session) -> None:
        say = self.out.say
        ended = result.reason.value + (f": {result.detail}" if result.detail else "")
        say(f"session {ended}")
        say(
            f"  duration {format_duration(result.duration_s * 1000)} · dose "
            f"{result.dose:.3f} level·s · peak {result.peak:.2f} · largest timing error "
            f"{result.max_lateness_s * 1000:.3f} ms"
        )
        if session.gate is not None and session.gate.tripped:
            say(f"  SAFETY TRIP latched: {session.gate.tripped}")
        if self.o.trace:
            if self.trace_error:
                say(f"  trace {self.o.trace} is incomplete: {self.trace_error}")
            else:
                say(f"  trace written to {self.o.trace}")


def _is_pipe(fd: int) -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(fd).st_mode)
    except OSError:
        return False
