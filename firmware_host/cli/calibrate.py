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
    """Enter on the terminal (read in a thread, so the loop keeps the lease alive)."""

    def __init__(self) -> None:
        self._pending: asyncio.Future[str] | None = None

    async def wait(self, timeout_s: float) -> bool:
        """True when Enter came within ``timeout_s``."""
        loop = asyncio.get_running_loop()
        if self._pending is None:
            self._pending = asyncio.ensure_future(loop.run_in_executor(None, sys.stdin.readline))
        done, _ = await asyncio.wait({self._pending}, timeout=timeout_s)
        if done:
            line = self._pending.result()
            self._pending = None
            if line == "":
                # End of input is nobody answering: never save levels no one confirmed.
                raise InvalidInput("calibration needs answers on a terminal (stdin closed)")
            return True
        return False


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
    """The interactive command."""
    from firmware_host.clock import RealClock
    from firmware_host.session.assembly import Overrides, raw_gate, resolve
    from firmware_host.session.config import default_config_path, load_config

    path = Path(config_path) if config_path else default_config_path()
    config = load_config(path)
    which = ActuatorKind(kind) if kind else config.kind
    setup = resolve(config, Overrides(kind=which.value))

    async def main() -> tuple[Calibration, bool]:
        clock = RealClock()
        gate = raw_gate(setup, clock)  # the session assembly, on the raw output
        simulated = gate.actuator.capabilities.simulated
        if simulated:
            # Simulated levels say nothing about a wrist: they must never replace real ones.
            print(
                "SIMULATED — nothing physical moves; this only shows the procedure "
                "(the levels will not be saved)"
            )
        elif not dry_run and (problem := cannot_save(path, which)):
            # Said before the wearer spends minutes on the procedure, not after.
            print(
                f"note: the levels cannot be saved: {problem}. They will be printed at the end "
                f"with the lines to add (or run this as the config's owner, e.g. sudo)."
            )
        await gate.open()
        try:
            return await find_levels(gate, clock, KeyboardAnswers()), simulated
        finally:
            await gate.close()

    levels, simulated = asyncio.run(main())
    print(f"felt = {levels.felt:g}, comfortable = {levels.comfortable:g}")
    if simulated:
        print(f"(simulated backend: not saved, {path} was not changed)")
        return 0
    if dry_run:
        print("(dry run: the config was not changed)")
        return 0
    return save_levels(path, which, levels)
