"""Timelines: a profile compiled to pure data.

A timeline is a piecewise-linear level over integer milliseconds: breakpoints
``(t_ms, level)`` with non-decreasing times; two breakpoints at the same time are a step.
Integer time keeps every edge on the right side (float ``t % period`` does not), and
everything a wearer wants to know before wearing it is computed from it without running.

The breakpoints are kept in typed arrays (8 bytes a time, 8 a level) rather than tuples of
Python numbers (about 68 bytes a breakpoint): a profile at the 2M-breakpoint cap is then
32 MB of plan, not 136, on a Pi Zero 2 W's 512 MB. Reading them goes through the same
indexing, ``len`` and ``bisect`` as before.
"""

from __future__ import annotations

import bisect
import itertools
import random
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import assert_never

from firmware_host.errors import ProfileError
from firmware_host.plan.profile import (
    MAX_PROFILE_MS,
    Breathe,
    Envelope,
    Hold,
    Modulated,
    Modulation,
    Profile,
    Pulses,
    Ramp,
    Repeat,
    Rest,
    SetLevel,
    Step,
)

MAX_POINTS = 2_000_000
EASE_SEGMENTS = 12


@dataclass(frozen=True)
class Stats:
    """What a wearer wants to know about a timeline before wearing it."""

    duration_ms: int
    on_ms: int
    duty: float
    dose: float  # level·seconds: the integral of level over time
    peak: float
    longest_on_ms: int
    steepest_rise_per_s: float
    time_at_level_ms: tuple[int, ...]  # ms on in (0,.1), [.1,.2), … [.9,1]


def times_array(times: Iterable[int] = ()) -> array[int]:
    """Breakpoint times (ms) as a compact array of 64-bit integers."""
    return array("q", times)


def levels_array(levels: Iterable[float] = ()) -> array[float]:
    """Breakpoint levels as a compact array of doubles."""
    return array("d", levels)


@dataclass(frozen=True)
class Timeline:
    """Breakpoints of a piecewise-linear level; starts and ends at 0.

    ``times_ms`` and ``levels`` may be given as any sequences; they are kept as arrays
    (:func:`times_array`, :func:`levels_array`), which nobody changes once built.
    """

    times_ms: Sequence[int]
    levels: Sequence[float]
    name: str = ""
    source: str = ""
    spans: tuple[tuple[int, int, str], ...] = ()  # (start ms, end ms, field) of each top step

    def __post_init__(self) -> None:
        if not (isinstance(self.times_ms, array) and self.times_ms.typecode == "q"):
            object.__setattr__(self, "times_ms", times_array(self.times_ms))
        if not (isinstance(self.levels, array) and self.levels.typecode == "d"):
            object.__setattr__(self, "levels", levels_array(self.levels))

    def step_at(self, t_ms: int) -> str:
        """The field of the top-level step playing at ``t_ms`` (``steps`` if unknown)."""
        for start, end, path in self.spans:
            if start <= t_ms < end or (start == end == t_ms):
                return path
        return "steps"

    @property
    def duration_ms(self) -> int:
        """Time of the last breakpoint."""
        return self.times_ms[-1]

    def __len__(self) -> int:
        return len(self.times_ms)

    def points(self) -> Iterator[tuple[int, float]]:
        """The breakpoints as ``(t_ms, level)``."""
        return zip(self.times_ms, self.levels, strict=True)

    def level_at(self, t_ms: float) -> float:
        """The level at ``t_ms``; after a step when ``t_ms`` is exactly at the step."""
        times = self.times_ms
        if t_ms <= times[0]:
            return (
                self.levels[bisect.bisect_right(times, times[0]) - 1]
                if t_ms == times[0]
                else self.levels[0]
            )
        k = bisect.bisect_right(times, t_ms) - 1
        if k >= len(times) - 1:
            return self.levels[-1]
        t0, t1 = times[k], times[k + 1]
        v0, v1 = self.levels[k], self.levels[k + 1]
        return v0 + (v1 - v0) * (t_ms - t0) / (t1 - t0)

    def stats(self) -> Stats:
        """Duration, on-time, duty, dose, peak, longest continuous on-time and more."""
        on = dose = 0.0
        longest = run = 0
        steepest = 0.0
        bins = [0.0] * 10
        for (t0, v0), (t1, v1) in itertools.pairwise(self.points()):
            dt = t1 - t0
            if dt == 0:
                if v1 > v0:
                    steepest = float("inf")
                if v0 == 0 or v1 == 0:
                    longest, run = max(longest, run), 0
                continue
            if v1 > v0:
                steepest = max(steepest, (v1 - v0) * 1000 / dt)
            if v0 > 0 or v1 > 0:
                on += dt
                run += dt
                _bin_segment(bins, v0, v1, dt)
            dose += (v0 + v1) / 2 * dt / 1000
            if v1 == 0:
                longest, run = max(longest, run), 0
        longest = max(longest, run)
        duration = self.duration_ms
        return Stats(
            duration_ms=duration,
            on_ms=round(on),
            duty=on / duration if duration else 0.0,
            dose=dose,
            peak=max(self.levels),
            longest_on_ms=longest,
            steepest_rise_per_s=steepest,
            time_at_level_ms=tuple(round(b) for b in bins),
        )


def _bin_segment(bins: list[float], v0: float, v1: float, dt: float) -> None:
    """Spread a segment's time over the level bins [0, .1), [.1, .2) … [.9, 1] (exact for
    linear segments); a level of exactly 0.1 counts in the 0.1+ bin."""
    if v0 == v1:
        bins[min(9, max(0, int(v0 * 10 + 1e-9)))] += dt
        return
    lo, hi = sorted((v0, v1))
    for b in range(10):
        a, c = max(lo, b / 10), min(hi, (b + 1) / 10)
        if c > a:
            bins[b] += dt * (c - a) / (hi - lo)


class _Builder:
    """Appends breakpoints while walking the steps; jitter comes from one seeded RNG."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.rng = random.Random(profile.jitter.seed)
        self.times = times_array([0])
        self.levels = levels_array([0.0])

    @property
    def t(self) -> int:
        return self.times[-1]

    @property
    def level(self) -> float:
        return self.levels[-1]

    def add(self, t: int, level: float) -> None:
        if len(self.times) >= MAX_POINTS:
            raise ProfileError(
                f"compiles to more than {MAX_POINTS} breakpoints; "
                "use fewer repeats or longer steps",
                source=self.profile.source,
                field="steps",
            )
        if t > MAX_PROFILE_MS:
            raise ProfileError(
                "runs longer than a profile may (12h)", source=self.profile.source, field="steps"
            )
        self.times.append(t)
        self.levels.append(level)

    def jit_ms(self, ms: int) -> int:
        amount = self.profile.jitter.time
        if amount == 0 or ms == 0:
            return ms  # an instantaneous step stays instantaneous
        return max(1, round(ms * (1 + self.rng.uniform(-amount, amount))))

    def jit_level(self, level: float) -> float:
        amount = self.profile.jitter.level
        if amount == 0 or level == 0:
            return level
        return min(1.0, max(0.0, level * (1 + self.rng.uniform(-amount, amount))))

    def step_to(self, level: float) -> None:
        if level != self.level:
            self.add(self.t, level)

    def ramp_to(self, level: float, ms: int, ease: str = "linear") -> None:
        start, t0 = self.level, self.t
        if ease == "linear" or level == start:
            self.add(t0 + ms, level)
            return
        segments = max(1, min(EASE_SEGMENTS, ms // 10))
        for i in range(1, segments + 1):
            x = i / segments
            self.add(t0 + round(ms * x), start + (level - start) * _ease(ease, x))

    def hold(self, ms: int) -> None:
        self.add(self.t + ms, self.level)

    def walk(self, steps: tuple[Step, ...]) -> None:
        for step in steps:
            self.one(step)

    def one(self, step: Step) -> None:
        match step:
            case Ramp(to, over, ease):
                self.ramp_to(self.jit_level(to), self.jit_ms(over), ease)
            case Hold(ms):
                self.hold(self.jit_ms(ms))
            case Rest(ms):
                self.step_to(0.0)
                self.hold(self.jit_ms(ms))
            case SetLevel(level, ms):
                self.step_to(self.jit_level(level))
                self.hold(self.jit_ms(ms))
            case Pulses():
                self.pulses(step)
            case Breathe():
                self.breathe(step)
            case Envelope():
                self.envelope(step)
            case Repeat():
                self.repeat(step)
            case Modulated(inner, modulation):
                mark = len(self.times)
                self.one(inner)
                self.modulate(mark, modulation)
            case _:  # a kind the reader knows and the compiler not: never compile to nothing
                assert_never(step)

    def modulate(self, mark: int, m: Modulation) -> None:
        """Reshape the breakpoints from ``mark`` on: the step just walked, whole."""
        start = self.times[mark - 1]
        length = self.t - start
        times, levels = self.times, self.levels

        def position(t: int) -> float:
            return (t - start) / length if length else 0.0

        prev_raw, prev_t, new_t = levels[mark - 1], start, start
        for i in range(mark, len(times)):
            raw, t = levels[i], times[i]
            span = t - prev_t
            new_t += round(span * _curve(m.pace, position(prev_t), m.ease))
            if raw != prev_raw or span == 0:
                levels[i] = raw * _curve(m.level, position(t), m.ease)
            else:
                levels[i] = levels[i - 1]  # a hold keeps the level it was reached at
            prev_raw, prev_t = raw, t
            times[i] = new_t
        if self.t > MAX_PROFILE_MS:
            raise ProfileError(
                "runs longer than a profile may (12h)", source=self.profile.source, field="steps"
            )

    def pulses(self, p: Pulses) -> None:
        start = self.t
        n = 0
        while True:
            if p.count is not None and n >= p.count:
                break
            if p.total_ms is not None and n and self.t - start + p.on_ms + p.off_ms > p.total_ms:
                break
            level = self.jit_level(p.level)
            on, off = self.jit_ms(p.on_ms), self.jit_ms(p.off_ms)
            self.step_to(0.0) if p.rise_ms else None
            if p.rise_ms:
                self.ramp_to(level, min(p.rise_ms, on))
            else:
                self.step_to(level)
            self.hold(max(0, on - p.rise_ms - p.fall_ms)) if on > p.rise_ms + p.fall_ms else None
            if p.fall_ms:
                self.ramp_to(0.0, p.fall_ms)
            else:
                self.step_to(0.0)
            self.hold(off)
            n += 1

    def breathe(self, b: Breathe) -> None:
        start = self.t
        n = 0
        self.step_to(0.0)
        while True:
            if b.cycles is not None and n >= b.cycles:
                break
            if (
                b.total_ms is not None
                and n
                and self.t - start + b.inhale_ms + b.exhale_ms > b.total_ms
            ):
                break
            inhale, exhale = self.jit_ms(b.inhale_ms), self.jit_ms(b.exhale_ms)
            level = self.jit_level(b.level)
            window = exhale if b.press == "exhale" else inhale
            pressed = window if b.press_ms is None else min(window, self.jit_ms(b.press_ms))
            if b.press == "exhale":
                self.hold(inhale)
            self.press(level, pressed, b.rise_ms, b.fall_ms)
            if window > pressed:
                self.hold(window - pressed)
            if b.press == "inhale":
                self.hold(exhale)
            n += 1

    def press(self, level: float, window: int, rise: int, fall: int) -> None:
        rise, fall = min(rise, window // 2), min(fall, window // 2)
        if rise:
            self.ramp_to(level, rise, "in-out")
        else:
            self.step_to(level)
        self.hold(window - rise - fall) if window > rise + fall else None
        if fall:
            self.ramp_to(0.0, fall, "in-out")
        else:
            self.step_to(0.0)

    def envelope(self, e: Envelope) -> None:
        for _ in range(e.repeat):
            base = self.t
            prev_t = 0
            for i, (t, level) in enumerate(e.points):
                value = self.jit_level(level * e.scale)
                if i == 0:
                    self.step_to(value)
                    continue
                span = self.jit_ms(t - prev_t)
                prev_t = t
                if e.interpolate == "step":
                    self.hold(span)
                    self.step_to(value)
                else:
                    ease = "in-out" if e.interpolate == "smooth" else "linear"
                    self.ramp_to(value, span, ease)
            del base

    def repeat(self, r: Repeat) -> None:
        if r.times is not None:
            for _ in range(r.times):
                self.walk(r.steps)
            return
        assert r.total_ms is not None
        start = self.t
        while True:
            mark = len(self.times)
            self.walk(r.steps)
            if self.t - start > r.total_ms and mark > 1 and self.times[mark - 1] > start:
                del self.times[mark:]  # the last pass overshot: drop it whole
                del self.levels[mark:]
                break
            if self.t - start >= r.total_ms:
                break


def _curve(points: tuple[tuple[float, float], ...], x: float, ease: str) -> float:
    """The factor of a modulation curve at position ``x`` (0 … 1)."""
    k = max(0, min(len(points) - 2, bisect.bisect_right([p for p, _ in points], x) - 1))
    (x0, f0), (x1, f1) = points[k], points[k + 1]
    u = min(1.0, max(0.0, (x - x0) / (x1 - x0)))
    return f0 + (f1 - f0) * (u if ease == "linear" else _ease(ease, u))


def _ease(kind: str, x: float) -> float:
    if kind == "in":
        return x * x
    if kind == "out":
        return 1 - (1 - x) * (1 - x)
    return x * x * (3 - 2 * x)  # smoothstep: gentle at both ends


def _normalise(times: array[int], levels: array[float]) -> None:
    """Drop breakpoints that change nothing: duplicates and interior points of straight runs.

    In place: the kept breakpoints never outrun the ones being read, so no second copy of a
    large timeline is ever made.
    """
    n = 0  # breakpoints kept, at the front
    for t, v in zip(times, levels, strict=True):
        if n and times[n - 1] == t and levels[n - 1] == v:
            continue
        if n >= 2:
            t0, v0, t1, v1 = times[n - 2], levels[n - 2], times[n - 1], levels[n - 1]
            same_time = t0 == t1 == t
            straight = t0 < t1 < t and abs((v1 - v0) * (t - t0) - (v - v0) * (t1 - t0)) < 1e-9
            if same_time or straight:
                times[n - 1], levels[n - 1] = t, v
                continue
        times[n], levels[n] = t, v
        n += 1
    del times[n:]
    del levels[n:]


def compile_profile(profile: Profile) -> Timeline:
    """Compile a validated profile into its timeline.

    Raises:
        ProfileError: the profile does not end at level 0, is too long, or too large.
    """
    builder = _Builder(profile)
    spans: list[tuple[int, int, str]] = []
    for i, step in enumerate(profile.steps):
        start = builder.t
        builder.one(step)
        spans.append((start, builder.t, f"steps[{i}]"))
    times, levels = builder.times, builder.levels
    _normalise(times, levels)
    if levels[-1] != 0:
        raise ProfileError(
            f"ends at level {levels[-1]:g}; every profile must end at 0 — add a "
            "ramp or rest to 0 as its last step",
            source=profile.source,
            field=f"steps[{len(profile.steps) - 1}]",
        )
    if times[-1] == 0:
        raise ProfileError("has no duration", source=profile.source, field="steps")
    return Timeline(times, levels, profile.name, profile.source, tuple(spans))
