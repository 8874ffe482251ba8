"""``pc6 calibrate``: find the wearer's lowest felt level and highest comfortable level.

A staircase on the raw actuator output, through a safety gate with the configured limits:

1. Felt: the level rises in steps; each is held for a few seconds and the wearer answers
   (Enter, or the stop button) as soon as they feel it. Then it comes down in half steps
   until they no longer do. The threshold is the mean of the two turning points.
2. Comfortable: from there it rises again; the wearer answers when a level stops being
   comfortable, and the one below is kept.

Between levels the output rests (as long as the press, for pressure). The two levels are
saved to ``[calibration.<kind>]`` in the config, keeping its comments, and only after the
edited file passes validation — never from a simulated backend, whose levels say nothing
about a wrist.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import stat
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from firmware_host.clock import Clock
from firmware_host.drive.actuator import ActuatorKind
from firmware_host.errors import ConfigError, InvalidInput
from firmware_host.guard.gate import SafetyGate
from firmware_host.session.config import Calibration, Config, parse_config

logger = logging.getLogger(__name__)


class Answers(Protocol):
    """The wearer's answer: True when they pressed within ``timeout_s``."""

    async def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for Enter or the stop button."""
        ...


@dataclass(frozen=True)
class Staircase:
    """Steps and timings of the procedure."""

    start: float = 0.05
    step: float = 0.05
    hold_s: float = 3.0
    rest_s: float = 2.0


async def find_levels(
    gate: SafetyGate,
    clock: Clock,
    answers: Answers,
    stairs: Staircase = Staircase(),
    say: Callable[[str], None] = print,
) -> Calibration:
    """Run both staircases on an open gate; returns the wearer's levels."""
    say("Part 1: press Enter (or the stop button) as soon as you FEEL it.")
    up = await _ascend(gate, clock, answers, stairs, stairs.start, say)
    if up is None:
        raise ConfigError("calibration: nothing was felt even at full output; check the fit")
    down = up
    level = up - stairs.step / 2
    while level > 0:
        if not await _probe(gate, clock, answers, stairs, level, say):
            break
        down = level
        level -= stairs.step / 2
    felt = round((up + max(level, 0.0)) / 2 if level > 0 else down / 2, 3)
    say(f"You feel it from about {felt:.2f}.")
    say("Part 2: press Enter (or the button) when it stops being COMFORTABLE.")
    too_much = await _ascend(gate, clock, answers, stairs, felt + stairs.step, say)
    comfortable = 1.0 if too_much is None else round(too_much - stairs.step, 3)
    comfortable = max(comfortable, round(felt + stairs.step / 2, 3))
    say(f"Comfortable up to {comfortable:.2f}.")
    return Calibration(felt=felt, comfortable=min(1.0, comfortable))


async def _ascend(
    gate: SafetyGate,
    clock: Clock,
    answers: Answers,
    stairs: Staircase,
    level: float,
    say: Callable[[str], None],
) -> float | None:
    while level <= 1.0 + 1e-9:
        if await _probe(gate, clock, answers, stairs, min(level, 1.0), say):
            return round(min(level, 1.0), 3)
        level += stairs.step
    return None


async def _probe(
    gate: SafetyGate,
    clock: Clock,
    answers: Answers,
    stairs: Staircase,
    level: float,
    say: Callable[[str], None],
) -> bool:
    say(f"  level {level:.3f} …")
    await gate.command(level)
    answered = await answers.wait(stairs.hold_s)
    await gate.command(0.0)
    rest = stairs.rest_s
    if gate.actuator.kind is ActuatorKind.PRESSURE:
        rest = max(rest, stairs.hold_s * gate.limits.rest_ratio)
    await clock.sleep_until(clock.now() + rest)
    await gate.poll()
    return answered


class KeyboardAnswers:
    """Enter on the terminal, read as the event loop sees it arrive.

    No thread waits in ``readline``: such a thread kept the process alive after every way
    out until somebody pressed Enter. A line typed while the output rests counts for the
    next level, as a person pressing a little late would expect.
    """

    def __init__(self, fd: int | None = None) -> None:
        self._fd = sys.stdin.fileno() if fd is None else fd
        self._lines = 0  # Enters not yet taken
        self._partial = False  # something typed, no Enter yet
        self._ended = False
        self._arrived = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pollable = True

    async def wait(self, timeout_s: float) -> bool:
        """True when Enter came within ``timeout_s``.

        Raises:
            InvalidInput: stdin ended: nobody is there to answer.
        """
        if self._loop is None:
            self._watch()
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not self._lines and not self._ended:
            if not self._pollable:
                self._read()  # a file, or /dev/null: reading it never blocks
                continue
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            self._arrived.clear()
            # asyncio.timeout, not wait_for: on 3.11 wait_for loses a cancellation (a
            # way out) that comes together with the line it was waiting for.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._arrived.wait()
        if self._lines:
            self._lines -= 1
            return True
        # End of input is nobody answering: never save levels no one confirmed.
        raise InvalidInput("calibration needs answers on a terminal (stdin closed)")

    def close(self) -> None:
        """Stop watching stdin."""
        if self._loop is not None and self._pollable and not self._ended:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._fd)
        self._loop = None

    def _watch(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            self._loop.add_reader(self._fd, self._read)
        except (PermissionError, OSError, ValueError, NotImplementedError):
            self._pollable = False  # epoll refuses regular files and /dev/null

    def _read(self) -> None:
        try:
            chunk = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._ended = True
            self._lines += self._partial  # a last line without its newline still answers
            self.close()
        else:
            self._lines += chunk.count(b"\n")
            self._partial = not chunk.endswith(b"\n")
        self._arrived.set()


def update_calibration(path: Path, kind: ActuatorKind, levels: Calibration) -> Config:
    """Write ``levels`` into ``calibration.<kind>`` of the file, keeping everything else.

    Comments, order and the form of every table (headers, dotted keys) are kept: the file
    is edited with tomlkit, and the result must read back as the old config with only
    these two values changed before it replaces the file.

    Raises:
        ConfigError: the edit cannot be made safely, or the result would not be valid
            (then nothing is written).
        OSError: the file cannot be written.
    """
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    edited = edited_config_text(text, kind, levels, source=str(path))
    config = parse_config(edited, source=str(path), base=path.parent)  # validate first
    _write_atomically(path.resolve(), edited)
    return config


def edited_config_text(text: str, kind: ActuatorKind, levels: Calibration, *, source: str) -> str:
    """``text`` with ``calibration.<kind>`` set to ``levels``.

    Raises:
        ConfigError: ``text`` is not TOML, or no edit reads back as intended.
    """
    import tomllib

    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    values = {"felt": float(f"{levels.felt:g}"), "comfortable": float(f"{levels.comfortable:g}")}
    try:
        before = tomllib.loads(text)
        doc = tomlkit.parse(text)
    except (tomllib.TOMLDecodeError, TOMLKitError) as err:
        raise ConfigError(f"{source}: not valid TOML: {err}") from err
    table = doc.get("calibration")
    if isinstance(table, Mapping) and isinstance(table.get(kind.value), Mapping):
        entry = table[kind.value]
        for key, value in values.items():
            entry[key] = value
        edited = tomlkit.dumps(doc)
    else:
        # A new table at the end is valid beside any form the rest of the file takes.
        edited = (
            text.rstrip("\n") + ("\n\n" if text.strip() else "") + calibration_lines(kind, levels)
        )
    expected = dict(before)
    expected["calibration"] = {**before.get("calibration", {})}
    expected["calibration"][kind.value] = {
        **before.get("calibration", {}).get(kind.value, {}),
        **values,
    }
    try:
        after = tomllib.loads(edited)
    except tomllib.TOMLDecodeError:
        after = None
    if after != expected:
        raise ConfigError(
            f"{source}: calibration.{kind.value}: cannot be edited automatically in this file"
        )
    return edited


def calibration_lines(kind: ActuatorKind, levels: Calibration) -> str:
    """The TOML table of ``levels``, as a person would add it to a config."""
    return (
        f"[calibration.{kind.value}]\nfelt = {levels.felt:g}\n"
        f"comfortable = {levels.comfortable:g}\n"
    )


def cannot_save(path: Path, kind: ActuatorKind) -> str | None:
    """Why the levels could not be saved to ``path`` (None when they can), asked up front."""
    target = path.resolve()
    folder = target.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"{folder} is not writable by you, so {path} cannot be replaced"
    if target.exists() and not os.access(target, os.R_OK):
        return f"{path} is not readable by you"
    try:
        text = target.read_text(encoding="utf-8") if target.exists() else ""
        edited_config_text(text, kind, Calibration(0.1, 0.2), source=str(path))
    except (OSError, ConfigError) as err:
        return str(err)
    return None


def save_levels(path: Path, kind: ActuatorKind, levels: Calibration) -> int:
    """Save the levels, or print them with what to do by hand; never lose them."""
    try:
        update_calibration(path, kind, levels)
    except (OSError, ConfigError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        print(f"pc6 calibrate: could not save to {path}: {reason}", file=sys.stderr)
        print(f"Your levels: felt = {levels.felt:g}, comfortable = {levels.comfortable:g}")
        print(f"Add these lines to {path} (replacing any calibration.{kind.value} there):")
        print()
        print(calibration_lines(kind, levels), end="")
        print()
        print(f"e.g. with: sudoedit {path}")
        return 1
    print(f"saved to [calibration.{kind.value}] in {path}")
    return 0


def _write_atomically(target: Path, text: str) -> None:
    """Replace ``target`` (a symlink's destination) so that a crash leaves old or new, whole.

    The new file keeps the old one's mode, and reaches the disk before it replaces it.
    """
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def run_calibration(config_path: str | None, *, kind: str | None, dry_run: bool) -> int:
    """The interactive command.

    Every way out Python can catch — SIGINT (once or twice), SIGTERM, SIGHUP (an SSH
    drop), SIGQUIT, SIGUSR1/2, the reader of stdout going away — ends the procedure at
    once: the output off, one line said, nothing saved, exit 1. The end of stdin is bad
    input (exit 2), with the output off as well.
    """
    from firmware_host.clock import RealClock
    from firmware_host.session.assembly import Overrides, raw_gate, resolve
    from firmware_host.session.config import default_config_path, load_config
    from firmware_host.session.ways_out import (
        STOP_SIGNALS,
        Output,
        signal_why,
        stop_signals,
        watch_reader,
    )

    path = Path(config_path) if config_path else default_config_path()
    config = load_config(path)
    which = ActuatorKind(kind) if kind else config.kind
    setup = resolve(config, Overrides(kind=which.value))
    out = Output(sys.stdout)
    stopped: list[str] = []  # why the procedure was cut short, when it was

    async def procedure() -> tuple[Calibration, bool]:
        clock = RealClock()
        gate = raw_gate(setup, clock)  # the session assembly, on the raw output
        simulated = gate.actuator.capabilities.simulated
        if simulated:
            # Simulated levels say nothing about a wrist: they must never replace real ones.
            out.say(
                "SIMULATED — nothing physical moves; this only shows the procedure "
                "(the levels will not be saved)"
            )
        elif not dry_run and (problem := cannot_save(path, which)):
            # Said before the wearer spends minutes on the procedure, not after.
            out.say(
                f"note: the levels cannot be saved: {problem}. They will be printed at the end "
                f"with the lines to add (or run this as the config's owner, e.g. sudo)."
            )
        answers = KeyboardAnswers()
        try:
            await gate.open()
            return await find_levels(gate, clock, answers, say=out.say), simulated
        finally:
            answers.close()
            await gate.close()  # also when cancelled by a way out: output off first

    async def main() -> tuple[Calibration, bool] | None:
        task = asyncio.current_task()
        assert task is not None

        def stop(why: str) -> None:
            if not stopped:  # a second signal: the output is already on its way off
                stopped.append(why)
                task.cancel()

        out.on_closed = stop
        with stop_signals(lambda sig: stop(signal_why(sig))), watch_reader(out):
            try:
                result: tuple[Calibration, bool] | None = await procedure()
            except (asyncio.CancelledError, Exception):
                if not stopped:
                    raise
                # Cut short: whatever else came up on the way out, the stop is the reason.
                logger.debug("calibration stopped (%s)", stopped[0], exc_info=True)
                result = None
        if stopped:
            for sig in STOP_SIGNALS:  # on the way out: a late second Ctrl-C changes nothing
                signal.signal(sig, signal.SIG_IGN)
        return result

    result = asyncio.run(main())
    if result is None or stopped:
        why = stopped[0] if stopped else "stopped"
        Output(sys.stderr).say(
            f"pc6 calibrate: stopped: {why}; the output is off and nothing was saved"
        )
        return 1
    levels, simulated = result
    out.say(f"felt = {levels.felt:g}, comfortable = {levels.comfortable:g}")
    if simulated:
        out.say(f"(simulated backend: not saved, {path} was not changed)")
        return 0
    if dry_run:
        out.say("(dry run: the config was not changed)")
        return 0
    return save_levels(path, which, levels)
