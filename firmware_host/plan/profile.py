"""Profiles: what the wearer feels over time, read from TOML and validated once.

A bad file never reaches the engine: every error names the file, the field, its line where
it can be found, and the reason, and suggests the intended key for a typo.

Format (see ``profiles/*.toml`` for real ones)::

    name = "evening-pc6"
    description = "…"
    kinds = ["pressure", "vibration"]
    intent = "pre-sleep"

    [jitter]            # optional, seeded: the same file always compiles the same way
    time = 0.1          # each duration scaled by a factor in [0.9, 1.1]
    level = 0.05        # each non-zero level scaled by a factor in [0.95, 1.05]
    seed = 7

    [[steps]]
    ramp = 0.5          # to level 0.5 …
    over = "3s"         # … over 3 s, eased with ease = "linear" | "in" | "out" | "in-out"
    [[steps]]
    pulses = 60         # or a total time such as "1m"
    level = 0.6
    on = "500ms"
    off = "500ms"
    [[steps]]
    repeat = 3          # or a total time; the nested steps follow as [[steps.steps]]
    [[steps.steps]]
    hold = "10s"
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from firmware_host.durations import parse_duration_ms
from firmware_host.errors import DurationError, ProfileError
from firmware_host.files import MAX_TEXT_BYTES, read_regular
from firmware_host.tomlpos import field_lines, line_of

KINDS = ("vibration", "pressure")
INTENTS = ("pre-sleep", "breathing", "wind-down", "sleep-onset", "night", "fitting", "other")
EASES = ("linear", "in", "out", "in-out")
INTERPOLATIONS = ("linear", "step", "smooth")
MAX_PROFILE_MS = 12 * 3600 * 1000
MAX_COUNT = 100_000
#: How deep repeats may nest (a repeat inside a repeat is depth 2). Deeper files are
#: refused before parsing, so a hostile file costs milliseconds, not a stack overflow.
MAX_DEPTH = 8
#: Bounds of a modulation's pace factor (durations ×0.25 to ×4).
PACE_RANGE = (0.25, 4.0)

TOP_KEYS = ("name", "description", "kinds", "intent", "basis", "version", "jitter", "steps")
JITTER_KEYS = ("time", "level", "seed")
ACTIONS: dict[str, tuple[str, ...]] = {
    "ramp": ("over", "ease"),
    "hold": (),
    "rest": (),
    "set": ("for",),
    "pulses": ("level", "on", "off", "rise", "fall"),
    "breathe": ("level", "inhale", "exhale", "press", "press_for", "rise", "fall"),
    "envelope": ("times", "interpolate", "scale"),
    "repeat": ("steps",),
}
_COMMON_STEP_KEYS = ("label", "modulate")
MODULATE_KEYS = ("level", "pace", "ease")


@dataclass(frozen=True)
class Ramp:
    """Move from the current level to ``to`` over ``over_ms``."""

    to: float
    over_ms: int
    ease: str = "linear"


@dataclass(frozen=True)
class Hold:
    """Stay at the current level."""

    ms: int


@dataclass(frozen=True)
class Rest:
    """Level 0 for a while."""

    ms: int


@dataclass(frozen=True)
class SetLevel:
    """Step to ``level`` and stay there for ``ms``."""

    level: float
    ms: int


@dataclass(frozen=True)
class Pulses:
    """A pulse train: ``count`` pulses, or as many as fit in ``total_ms``."""

    level: float
    on_ms: int
    off_ms: int
    count: int | None
    total_ms: int | None
    rise_ms: int = 0
    fall_ms: int = 0


@dataclass(frozen=True)
class Breathe:
    """Breathing-paced pressing: press (rise, hold, fall) during the exhale or the inhale."""

    level: float
    inhale_ms: int
    exhale_ms: int
    cycles: int | None
    total_ms: int | None
    press: str = "exhale"
    rise_ms: int = 1000
    fall_ms: int = 1000
    press_ms: int | None = None  # how long of the window is pressed (default: all of it)


@dataclass(frozen=True)
class Envelope:
    """A free curve of (time, level) points, played ``repeat`` times."""

    points: tuple[tuple[int, float], ...]
    repeat: int = 1
    interpolate: str = "linear"
    scale: float = 1.0


@dataclass(frozen=True)
class Repeat:
    """Nested steps, ``times`` over or until ``total_ms`` would be exceeded."""

    steps: tuple[Step, ...]
    times: int | None
    total_ms: int | None


@dataclass(frozen=True)
class Modulation:
    """A curve over a step's whole length: position 0 is its start, 1 its end.

    Attributes:
        level: ``(position, factor)`` points; every level the step reaches is multiplied by
            the factor at the position where it is reached (holds keep it), so the curve
            can only lower what the steps ask for.
        pace: ``(position, factor)`` points; every duration is multiplied by the factor at
            the position where it starts (the step gets longer or shorter).
        ease: how the curve goes from point to point: linear, in, out, in-out.
    """

    level: tuple[tuple[float, float], ...] = ((0.0, 1.0), (1.0, 1.0))
    pace: tuple[tuple[float, float], ...] = ((0.0, 1.0), (1.0, 1.0))
    ease: str = "linear"


@dataclass(frozen=True)
class Modulated:
    """A step (often a repeat or pulse train) shaped by a :class:`Modulation`."""

    step: Step
    modulation: Modulation


Step = Ramp | Hold | Rest | SetLevel | Pulses | Breathe | Envelope | Repeat | Modulated


@dataclass(frozen=True)
class Jitter:
    """Bounded, seeded random variation of timing and level (against habituation)."""

    time: float = 0.0
    level: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class Profile:
    """A validated profile; compile it with :func:`firmware_host.plan.timeline.compile_profile`."""

    name: str
    description: str
    kinds: tuple[str, ...]
    intent: str
    steps: tuple[Step, ...]
    source: str = "<profile>"
    basis: str = ""
    jitter: Jitter = field(default_factory=Jitter)
    sha256: str = ""


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile file.

    Raises:
        ProfileError: unreadable, not TOML, or invalid; the message says where and why.
    """
    source = str(path)
    try:
        data = read_regular(Path(path).expanduser(), limit=MAX_PROFILE_BYTES, what="a profile")
    except (OSError, ValueError, RuntimeError) as err:
        # OSError: missing or unreadable; ValueError: a NUL byte; RuntimeError: ~user unknown.
        reason = getattr(err, "strerror", None) or str(err)
        raise ProfileError(f"cannot read file: {reason}", source=source) from err
    return parse_profile(data, source=source)


MAX_PROFILE_BYTES = MAX_TEXT_BYTES


def parse_profile(data: bytes | str, *, source: str = "<profile>") -> Profile:
    """Validate profile text (TOML) and return a :class:`Profile`."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProfileError("not UTF-8 text", source=source) from err
    if not text.strip():
        raise ProfileError(
            "empty file; a profile needs name, description, kinds and steps", source=source
        )
    _refuse_deep_headers(text, source)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ProfileError(f"not valid TOML: {err}", source=source) from err
    except RecursionError as err:  # deeply nested inline tables or arrays
        raise ProfileError(
            f"nested too deeply (repeats may nest {MAX_DEPTH} deep)", source=source
        ) from err
    reader = _Reader(source, field_lines(text))
    profile = reader.profile(doc)
    return Profile(**{**profile.__dict__, "sha256": hashlib.sha256(raw).hexdigest()})


def _refuse_deep_headers(text: str, source: str) -> None:
    """Refuse table headers nested deeper than :data:`MAX_DEPTH` repeats, before parsing."""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.lstrip()
        depth = line.count("steps") - 1 if line.startswith("[") else 0
        if depth > MAX_DEPTH:
            raise ProfileError(
                f"repeats nested {depth} deep, more than the {MAX_DEPTH} allowed; flatten the file",
                source=source,
                field="steps" + ".steps" * min(depth, 3) + ("…" if depth > 3 else ""),
                line=number,
            )


class _Reader:
    """Walks the parsed document; every error goes through :meth:`fail`."""

    def __init__(self, source: str, lines: dict[str, int]) -> None:
        self.source = source
        self.lines = lines
        self.depth = 0

    def fail(self, path: str, reason: str) -> ProfileError:
        return ProfileError(reason, source=self.source, field=path, line=line_of(self.lines, path))

    def profile(self, doc: Mapping[str, Any]) -> Profile:
        self.known_keys(doc, "", TOP_KEYS)
        for key in ("name", "description", "kinds", "steps"):
            if key not in doc:
                raise self.fail(key, f"missing required key {key!r}")
        version = doc.get("version", 1)
        if version != 1 or isinstance(version, bool):
            raise self.fail("version", f"unsupported profile version {version!r}; this is 1")
        kinds = doc["kinds"]
        if (
            not isinstance(kinds, list)
            or not kinds
            or any(k not in KINDS for k in kinds)
            or len(set(kinds)) != len(kinds)
        ):
            raise self.fail(
                "kinds", f"must be a list of one or both of {list(KINDS)}, got {kinds!r}"
            )
        intent = doc.get("intent", "other")
        if intent not in INTENTS:
            raise self.fail("intent", f"must be one of {list(INTENTS)}, got {intent!r}")
        return Profile(
            name=self.text(doc, "name", ""),
            description=self.text(doc, "description", ""),
            basis=self.text(doc, "basis", "", required=False),
            kinds=tuple(kinds),
            intent=intent,
            jitter=self.jitter(doc.get("jitter", {})),
            steps=self.steps(doc["steps"], "steps"),
            source=self.source,
        )

    def known_keys(self, table: Mapping[str, Any], path: str, allowed: Sequence[str]) -> None:
        for key in table:
            if key not in allowed:
                where = f"{path}.{key}" if path else key
                hint = get_close_matches(key, allowed, n=1, cutoff=0.6)
                extra = f"; did you mean {hint[0]!r}?" if hint else ""
                raise self.fail(where, f"unknown key {key!r}{extra}")

    def text(self, table: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> str:
        where = f"{path}.{key}" if path else key
        value = table.get(key, "")
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.fail(where, f"must be a non-empty string, got {value!r}")
        return value.strip()

    def jitter(self, table: Any) -> Jitter:
        if not isinstance(table, dict):
            raise self.fail("jitter", "must be a table with time, level and seed")
        self.known_keys(table, "jitter", JITTER_KEYS)
        seed = table.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise self.fail("jitter.seed", f"must be a whole number, got {seed!r}")
        return Jitter(
            time=self.number(table, "time", "jitter", low=0.0, high=0.5, default=0.0),
            level=self.number(table, "level", "jitter", low=0.0, high=0.5, default=0.0),
            seed=seed,
        )

    def number(
        self,
        table: Mapping[str, Any],
        key: str,
        path: str,
        *,
        low: float,
        high: float,
        default: float | None = None,
    ) -> float:
        where = f"{path}.{key}"
        if key not in table:
            if default is None:
                raise self.fail(where, f"missing required key {key!r}")
            return default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(where, f"must be a number from {low:g} to {high:g}, got {value!r}")
        if math.isnan(value) or not low <= value <= high:
            raise self.fail(where, f"must be from {low:g} to {high:g}, got {value!r}")
        return float(value)

    def level(
        self, table: Mapping[str, Any], key: str, path: str, default: float | None = None
    ) -> float:
        return self.number(table, key, path, low=0.0, high=1.0, default=default)

    def duration(
        self,
        table: Mapping[str, Any],
        key: str,
        path: str,
        default: int | None = None,
        *,
        allow_zero: bool = False,
    ) -> int:
        where = f"{path}.{key}"
        if key not in table:
            if default is None:
                raise self.fail(where, f"missing required key {key!r}")
            return default
        try:
            ms = parse_duration_ms(table[key], allow_zero=allow_zero)
        except DurationError as err:
            raise self.fail(where, str(err)) from err
        if ms > MAX_PROFILE_MS:
            raise self.fail(where, "longer than a profile may be (12h)")
        return ms

    def count_or_total(
        self, table: Mapping[str, Any], key: str, path: str
    ) -> tuple[int | None, int | None]:
        value = table[key]
        if isinstance(value, int) and not isinstance(value, bool):
            if not 1 <= value <= MAX_COUNT:
                raise self.fail(
                    f"{path}.{key}", f"count must be from 1 to {MAX_COUNT}, got {value}"
                )
            return value, None
        if isinstance(value, str):
            return None, self.duration(table, key, path)
        raise self.fail(
            f"{path}.{key}", f"must be a count (like 10) or a total time (like '5m'), got {value!r}"
        )

    def steps(self, items: Any, path: str) -> tuple[Step, ...]:
        if not isinstance(items, list) or not items:
            raise self.fail(path, "must be a non-empty list of steps ([[steps]] tables)")
        return tuple(self.step(item, f"{path}[{i}]") for i, item in enumerate(items))

    def step(self, item: Any, path: str) -> Step:
        if not isinstance(item, dict):
            raise self.fail(path, "each step must be a table")
        actions = [k for k in item if k in ACTIONS]
        if len(actions) != 1:
            if not actions:
                unknown = [k for k in item if k not in _all_step_keys()]
                if unknown:
                    self.known_keys(item, path, _all_step_keys())
            raise self.fail(
                path,
                f"a step needs exactly one action of {list(ACTIONS)}, found {actions or 'none'}",
            )
        action = actions[0]
        self.known_keys(item, path, (action, *ACTIONS[action], *_COMMON_STEP_KEYS))
        builder: Callable[[dict[str, Any], str], Step] = getattr(self, f"step_{action}")
        step = builder(item, path)
        if "modulate" in item:
            return Modulated(step, self.modulation(item["modulate"], f"{path}.modulate"))
        return step

    def modulation(self, table: Any, path: str) -> Modulation:
        if not isinstance(table, dict):
            raise self.fail(path, "must be a table with level, pace and/or ease")
        self.known_keys(table, path, MODULATE_KEYS)
        if "level" not in table and "pace" not in table:
            raise self.fail(path, "needs a level curve, a pace curve, or both")
        ease = table.get("ease", "linear")
        if ease not in EASES:
            raise self.fail(f"{path}.ease", f"must be one of {list(EASES)}, got {ease!r}")
        flat = ((0.0, 1.0), (1.0, 1.0))
        level = self.curve(table, "level", path, (0.0, 1.0)) if "level" in table else flat
        pace = self.curve(table, "pace", path, PACE_RANGE) if "pace" in table else flat
        return Modulation(level, pace, ease)

    def curve(
        self, table: Mapping[str, Any], key: str, path: str, bounds: tuple[float, float]
    ) -> tuple[tuple[float, float], ...]:
        """``[from, to]`` or ``[[position, factor], …]`` with positions 0 … 1."""
        where = f"{path}.{key}"
        value = table[key]
        usage = (
            f"must be [start, end] factors or [[position, factor], …] points with "
            f"positions from 0 to 1, factors from {bounds[0]:g} to {bounds[1]:g}"
        )
        if not isinstance(value, list) or len(value) < 2:
            raise self.fail(where, f"{usage}, got {value!r}")
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            if len(value) != 2:
                raise self.fail(where, f"{usage}, got {value!r}")
            value = [[0.0, value[0]], [1.0, value[1]]]
        points: list[tuple[float, float]] = []
        for i, point in enumerate(value):
            if not isinstance(point, list) or len(point) != 2:
                raise self.fail(f"{where}[{i}]", f"must be [position, factor], got {point!r}")
            pair = {"position": point[0], "factor": point[1]}
            pos = self.number(pair, "position", f"{where}[{i}]", low=0.0, high=1.0)
            factor = self.number(pair, "factor", f"{where}[{i}]", low=bounds[0], high=bounds[1])
            if points and pos <= points[-1][0]:
                raise self.fail(f"{where}[{i}]", "positions must increase from point to point")
            points.append((pos, factor))
        if points[0][0] != 0 or points[-1][0] != 1:
            raise self.fail(where, "the first point must be at position 0 and the last at 1")
        return tuple(points)

    def step_ramp(self, item: dict[str, Any], path: str) -> Step:
        ease = item.get("ease", "linear")
        if ease not in EASES:
            raise self.fail(f"{path}.ease", f"must be one of {list(EASES)}, got {ease!r}")
        return Ramp(self.level(item, "ramp", path), self.duration(item, "over", path), ease)

    def step_hold(self, item: dict[str, Any], path: str) -> Step:
        return Hold(self.duration(item, "hold", path))

    def step_rest(self, item: dict[str, Any], path: str) -> Step:
        return Rest(self.duration(item, "rest", path))

    def step_set(self, item: dict[str, Any], path: str) -> Step:
        # Without ``for`` a set is an instantaneous step: the next step starts at once.
        return SetLevel(self.level(item, "set", path), self.duration(item, "for", path, 0))

    def step_pulses(self, item: dict[str, Any], path: str) -> Step:
        count, total = self.count_or_total(item, "pulses", path)
        on = self.duration(item, "on", path)
        rise = self.duration(item, "rise", path, 0, allow_zero=True)
        fall = self.duration(item, "fall", path, 0, allow_zero=True)
        if rise + fall > on:
            raise self.fail(
                f"{path}.rise", f"rise + fall ({rise + fall} ms) must fit in on ({on} ms)"
            )
        return Pulses(
            self.level(item, "level", path),
            on,
            self.duration(item, "off", path),
            count,
            total,
            rise,
            fall,
        )

    def step_breathe(self, item: dict[str, Any], path: str) -> Step:
        cycles, total = self.count_or_total(item, "breathe", path)
        press = item.get("press", "exhale")
        if press not in ("exhale", "inhale"):
            raise self.fail(f"{path}.press", f"must be 'exhale' or 'inhale', got {press!r}")
        inhale = self.duration(item, "inhale", path)
        exhale = self.duration(item, "exhale", path)
        rise = self.duration(item, "rise", path, 1000, allow_zero=True)
        fall = self.duration(item, "fall", path, 1000, allow_zero=True)
        window = exhale if press == "exhale" else inhale
        press_ms = self.duration(item, "press_for", path, window)
        if press_ms > window:
            raise self.fail(f"{path}.press_for", f"must fit in the {press} ({window} ms)")
        if rise + fall > press_ms:
            raise self.fail(
                f"{path}.rise",
                f"rise + fall ({rise + fall} ms) must fit in the press ({press_ms} ms)",
            )
        return Breathe(
            self.level(item, "level", path),
            inhale,
            exhale,
            cycles,
            total,
            press,
            rise,
            fall,
            press_ms,
        )

    def step_envelope(self, item: dict[str, Any], path: str) -> Step:
        points = item["envelope"]
        where = f"{path}.envelope"
        if not isinstance(points, list) or len(points) < 2:
            raise self.fail(where, "must be a list of at least two [time, level] points")
        parsed: list[tuple[int, float]] = []
        for i, point in enumerate(points):
            if not isinstance(point, list) or len(point) != 2:
                raise self.fail(f"{where}[{i}]", f"must be [time, level], got {point!r}")
            pair = {"t": point[0], "level": point[1]}
            t = self.duration(pair, "t", f"{where}[{i}]", allow_zero=True)
            if parsed and t <= parsed[-1][0]:
                raise self.fail(f"{where}[{i}]", "times must increase from point to point")
            parsed.append((t, self.level(pair, "level", f"{where}[{i}]")))
        if parsed[0][0] != 0:
            raise self.fail(f"{where}[0]", "the first point must be at time 0")
        repeat = item.get("times", 1)
        if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat <= MAX_COUNT:
            raise self.fail(
                f"{path}.times", f"must be a count from 1 to {MAX_COUNT}, got {repeat!r}"
            )
        interp = item.get("interpolate", "linear")
        if interp not in INTERPOLATIONS:
            raise self.fail(
                f"{path}.interpolate", f"must be one of {list(INTERPOLATIONS)}, got {interp!r}"
            )
        scale = self.number(item, "scale", path, low=0.0, high=1.0, default=1.0)
        return Envelope(tuple(parsed), repeat, interp, scale)

    def step_repeat(self, item: dict[str, Any], path: str) -> Step:
        times, total = self.count_or_total(item, "repeat", path)
        if "steps" not in item:
            raise self.fail(f"{path}.steps", "a repeat needs nested steps ([[steps.steps]])")
        if self.depth >= MAX_DEPTH:
            raise self.fail(path, f"repeats nested more than {MAX_DEPTH} deep; flatten the file")
        self.depth += 1
        try:
            return Repeat(self.steps(item["steps"], f"{path}.steps"), times, total)
        finally:
            self.depth -= 1


def _all_step_keys() -> tuple[str, ...]:
    keys: list[str] = [*_COMMON_STEP_KEYS]
    for action, extra in ACTIONS.items():
        keys.append(action)
        keys.extend(k for k in extra if k not in keys)
    return tuple(keys)
