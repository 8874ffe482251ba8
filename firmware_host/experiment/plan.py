"""``pc6 experiment plan``: check both arms, draw the schedule, commit to it, store it.

Both arms must load, suit the configured actuator, and pass the gate preview unchanged (a
night the gate reshapes is not the night that was planned). The control never delivers
more than the active arm: not more dose, on-time or peak. ``off`` is a generated profile
of the same length as the active one at level 0 — the wearer's lowest felt level is a floor
today (a profile level above 0 is at least what the wearer feels), so "below what you can
feel" is not a sham the gate can give yet.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from firmware_host.drive.actuator import ActuatorKind
from firmware_host.errors import InvalidInput, ProfileError
from firmware_host.experiment.design import BLOCK_SIZES, Design, new_seed
from firmware_host.experiment.store import Experiment, Store
from firmware_host.guard.limits import Limits
from firmware_host.guard.preview import gate_warnings
from firmware_host.plan.library import resolve
from firmware_host.plan.profile import Profile, load_profile
from firmware_host.plan.timeline import compile_profile

OUTCOMES = ("sol", "waso", "se", "tst", "quality", "awakenings")
OUTCOME_WORDS = {
    "sol": "minutes to fall asleep",
    "waso": "minutes awake after first falling asleep",
    "se": "sleep efficiency (%)",
    "tst": "total sleep (minutes)",
    "quality": "sleep quality (1–5)",
    "awakenings": "awakenings",
}
NATURAL_BETTER = {
    "sol": "lower",
    "waso": "lower",
    "awakenings": "lower",
    "se": "higher",
    "tst": "higher",
    "quality": "higher",
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class Request:
    """What the wearer asked for on the command line."""

    name: str
    active: str
    control: str
    nights: int
    run_in: int
    block: int
    outcome: str
    better: str
    meaningful: float | None
    blind: bool
    start: dt.date


@dataclass(frozen=True)
class Planned:
    """A stored plan, for printing."""

    experiment: Experiment
    schedule: list[tuple[dt.date, str]]
    notes: list[str]


def load_arm(name: str, dirs: tuple[Path, ...]) -> Profile:
    """A profile from the configured directories, a path, or the library."""
    for folder in dirs:
        path = folder / f"{name}.toml"
        if path.exists():
            return load_profile(path)
    return resolve(name)


def plan(
    request: Request,
    store: Store,
    *,
    kind: ActuatorKind,
    limits: Limits,
    dirs: tuple[Path, ...],
    now: float,
    today: dt.date,
) -> Planned:
    """Check, draw, commit and store an experiment.

    Raises:
        InvalidInput: a bad option, an arm that fails a check, or a name already used.
    """
    _check_request(request, today)
    if store.experiment(request.name) is not None:
        raise InvalidInput(f"experiment {request.name!r} already exists; choose another name")
    running = [
        e.name
        for e in store.experiments()
        if e.state == "planned" and last_night(e) >= request.start  # nights would overlap
    ]
    if running:
        raise InvalidInput(
            f"experiment {running[0]!r} is still running; `pc6 experiment stop {running[0]}`"
        )
    active = _arm("--active", request.active, dirs, kind, limits)
    notes: list[str] = []
    if request.control == "off":
        control_path = write_off_profile(store.path.parent, request.name, active, kind)
        control = _arm("--control", str(control_path), (), kind, limits)
        notes.append(
            "control 'off': a session of the same length at level 0. Not a sham you cannot"
            " feel: the gate's floor is the lowest level you feel, so it cannot give one."
        )
    else:
        control_path = None
        control = _arm("--control", request.control, dirs, kind, limits)
    _control_not_more(active, control)
    a_len, c_len = (compile_profile(p).stats().duration_ms for p in (active, control))
    if a_len != c_len:
        notes.append(
            "the two arms last differently long; anything that shows remaining time hints"
            " at the arm"
        )
    design = Design(
        request.name,
        request.start,
        request.run_in,
        request.nights,
        request.block,
        request.active,
        request.control,
        request.outcome,
        request.better,
    )
    seed = new_seed()
    experiment = Experiment(
        name=request.name,
        created_at=now,
        active=request.active,
        control=request.control,
        control_profile=str(control_path) if control_path else request.control,
        kind=kind.value,
        start=request.start.isoformat(),
        run_in=request.run_in,
        nights=request.nights,
        block=request.block,
        outcome=request.outcome,
        better=request.better,
        meaningful=request.meaningful,
        blind=request.blind,
        seed=seed,
        commitment=design.commitment(seed),
        state="planned",
        ended_at=None,
    )
    schedule = design.schedule(seed)
    store.add_experiment(experiment, schedule)
    return Planned(experiment, schedule, notes)


def last_night(exp: Experiment) -> dt.date:
    """The last night of an experiment's schedule."""
    return dt.date.fromisoformat(exp.start) + dt.timedelta(days=exp.run_in + exp.nights - 1)


def design_of(exp: Experiment) -> Design:
    """The committed part of a stored experiment."""
    return Design(
        exp.name,
        dt.date.fromisoformat(exp.start),
        exp.run_in,
        exp.nights,
        exp.block,
        exp.active,
        exp.control,
        exp.outcome,
        exp.better,
    )


def _check_request(r: Request, today: dt.date) -> None:
    if not _NAME.match(r.name):
        raise InvalidInput(
            f"NAME: letters, digits, '-' and '_' (up to 40, starting with a letter or digit),"
            f" got {r.name!r}"
        )
    if r.block not in BLOCK_SIZES:
        raise InvalidInput(f"--blocks: must be 2 or 4, got {r.block}")
    if r.nights <= 0 or r.nights % r.block:
        raise InvalidInput(f"--nights: must be a positive multiple of {r.block}, got {r.nights}")
    if r.nights > 366:
        raise InvalidInput(f"--nights: at most 366, got {r.nights}")
    if not 0 <= r.run_in <= 60:
        raise InvalidInput(f"--run-in: must be from 0 to 60 nights, got {r.run_in}")
    if r.outcome not in OUTCOMES:
        raise InvalidInput(f"--outcome: must be one of {', '.join(OUTCOMES)}, got {r.outcome!r}")
    if r.better not in ("lower", "higher"):
        raise InvalidInput(f"--better: must be lower or higher, got {r.better!r}")
    if r.meaningful is not None and not r.meaningful > 0:
        raise InvalidInput(f"--meaningful: must be above 0, got {r.meaningful:g}")
    if r.start < today - dt.timedelta(days=1):
        raise InvalidInput(f"--start: {r.start} is in the past")


def _arm(
    option: str, name: str, dirs: tuple[Path, ...], kind: ActuatorKind, limits: Limits
) -> Profile:
    try:
        profile = load_arm(name, dirs)
        timeline = compile_profile(profile)
    except ProfileError as err:
        raise InvalidInput(f"{option}: {err}") from None
    if kind.value not in profile.kinds:
        raise InvalidInput(
            f"{option}: profile {name!r} is for {', '.join(profile.kinds)}, "
            f"but the backend drives {kind.value}"
        )
    warnings = gate_warnings(timeline, kind, limits)
    if warnings:
        raise InvalidInput(
            f"{option}: the gate would reshape {name!r} ({warnings[0]}); fix the profile first"
        )
    return profile


def _control_not_more(active: Profile, control: Profile) -> None:
    a, c = (compile_profile(p).stats() for p in (active, control))
    for what, av, cv in (
        ("dose", a.dose, c.dose),
        ("on-time", a.on_ms, c.on_ms),
        ("peak", a.peak, c.peak),
    ):
        if cv > av + 1e-9:
            raise InvalidInput(
                f"--control: {control.name!r} delivers more {what} than {active.name!r}"
                f" ({cv:g} > {av:g}); the control must never deliver more than the active arm"
            )


def write_off_profile(folder: Path, name: str, active: Profile, kind: ActuatorKind) -> Path:
    """Write (atomically) the level-0 control profile of the same length as ``active``."""
    length = compile_profile(active).stats().duration_ms
    text = (
        f'name = "{name}-off"\n'
        'description = "Experiment control night: level 0, as long as the active profile."\n'
        f'kinds = ["{kind.value}"]\n'
        'intent = "other"\n\n'
        f'[[steps]]\nrest = "{length}ms"\n'
    )
    target = folder / "experiments" / f"{name}-off.toml"
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".off-", suffix=".toml")
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, target)
    return target
