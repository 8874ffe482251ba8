"""The host's copy of what a band has queued: one stream of PLAY windows.

A stream starts with a PLAY that replaces the band's queue; the band starts it when it
arrives, so link latency moves that first edge only. Every later window is appended and
continues edge to edge on the band's own clock. The host keeps the planned output as
breakpoints on its own clock (``t`` seconds, level u16, linear in between) so that

* the real-time commands of the safety gate can be checked against it: a command the band
  is already playing sends nothing, anything else replaces the queue at once;
* the band's queue length can be bounded from above before appending (the band refuses a
  PLAY that would overflow it);
* the durations sent follow the band's measured clock rate, anchored at the stream's start,
  so edges stay on the host's timeline however far the crystal drifts.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

from pc6_device import protocol as p

#: Levels (u16) within this of each other are the same level to the consistency check.
LEVEL_TOLERANCE = 656  # 1 % of full scale
#: A step the gate sends this late still counts as the planned one.
STEP_LATE_S = (0.0, 0.02, 0.05)
#: Times this close are the same moment (float clocks round; virtual ones count µs).
SAME_TIME_S = 1e-5
#: How late a band's timer may start a queued ramp.
BAND_TICK_SLACK_S = 0.05
#: Host points older than this are forgotten (the band has long played them).
KEEP_PAST_S = 2.0


@dataclass
class BandPlan:
    """One stream: see the module docstring. Times are host seconds, levels u16."""

    host_anchor: float
    start_level: int
    ts: list[float] = field(default_factory=list)
    vs: list[int] = field(default_factory=list)
    band_ms: int = 0  # band time of the tail, ms after the stream's first step began
    band_anchor_ms: int | None = None  # band uptime when the first step began (its ACK)
    rtt0: float = 0.0  # round trip of the first PLAY: the band runs at most this far behind
    starts: list[float] = field(default_factory=list)  # host start time of each step sent

    def __post_init__(self) -> None:
        if not self.ts:
            self.ts, self.vs = [self.host_anchor], [self.start_level]

    @property
    def tail(self) -> float:
        """Host time at which the queued content ends."""
        return self.ts[-1]

    @property
    def tail_level(self) -> int:
        """The level the queued content ends at."""
        return self.vs[-1]

    def value(self, t: float) -> int:
        """The planned level at host time ``t`` (the tail level after the tail)."""
        ts = self.ts
        i = bisect.bisect_right(ts, t)
        if i == 0:
            return self.vs[0]
        if i >= len(ts):
            return self.vs[-1]
        t0, t1 = ts[i - 1], ts[i]
        v0, v1 = self.vs[i - 1], self.vs[i]
        if t1 <= t0:
            return v1
        return round(v0 + (v1 - v0) * (t - t0) / (t1 - t0))

    def steps(self, points: Sequence[tuple[float, int]], rate: float) -> list[tuple[int, int]]:
        """The band ramps ``(duration_ms, level)`` that continue the plan through ``points``.

        Each point's band time is its host time since the stream began times ``rate``
        (band ms per host ms), rounded once, so rounding never accumulates and a better
        rate estimate corrects the whole stream, not only what follows.
        """
        out: list[tuple[int, int]] = []
        band = self.band_ms
        for t, v in points:
            at = max(band, round((t - self.host_anchor) * 1000 * rate))
            duration = at - band
            while duration > 0xFFFF:  # only a hold can be this long within one lease
                out.append((0xFFFF, self.vs[-1] if not out else out[-1][1]))
                duration -= 0xFFFF
            out.append((duration, v))
            band = at
        return out

    def commit(self, points: Sequence[tuple[float, int]], steps: Sequence[tuple[int, int]]) -> None:
        """The band accepted ``steps`` for ``points``: they are part of the plan now."""
        for (t, v), _step in zip(points, steps, strict=False):
            self.starts.append(self.ts[-1])
            self.ts.append(t)
            self.vs.append(v)
        self.band_ms += sum(d for d, _v in steps)

    def queued(self, now: float) -> int:
        """At most how many ramps the band still has queued at host time ``now``."""
        # The band runs at most rtt0 behind the host (plus its own timer's lateness):
        # count every step not certainly begun by then.
        begun = now - self.rtt0 - BAND_TICK_SLACK_S
        return len(self.starts) - bisect.bisect_right(self.starts, begun)

    def forget_before(self, now: float) -> None:
        """Drop what the band has certainly played, so a night's plan stays small."""
        cut = bisect.bisect_left(self.ts, now - KEEP_PAST_S - self.rtt0) - 1
        if cut > 0:
            del self.ts[:cut], self.vs[:cut]
        gone = bisect.bisect_left(self.starts, now - KEEP_PAST_S - self.rtt0)
        if gone > 0:
            del self.starts[:gone]

    def agrees(self, now: float, level: int, ramp_s: float) -> bool:
        """True when "go to ``level`` over ``ramp_s`` from ``now``" is what the band plays."""
        if now > self.tail + 0.001:
            return False
        if ramp_s <= 0:
            return any(
                abs(self.value(now + SAME_TIME_S - late) - level) <= LEVEL_TOLERANCE
                for late in STEP_LATE_S
            )
        start = self.value(now)
        end_t = min(now + ramp_s, self.tail)
        frac = (end_t - now) / ramp_s
        for f in (0.5, 1.0):
            t = now + (end_t - now) * f
            line = start + (level - start) * frac * f
            if abs(self.value(t) - line) > LEVEL_TOLERANCE:
                return False
        return True


def to_u16(points: Sequence[tuple[float, float]]) -> list[tuple[float, int]]:
    """Host points with levels 0–1 as levels on the wire."""
    return [(t, p.level_to_u16(v)) for t, v in points]
