"""How late the engine issued its commands, summed as they come (memory does not grow).

The maximum is exact; the 99th percentile comes from a histogram of logarithmic bins (ten
per decade from 1 µs to 100 s), so it is within about 12 % of the true value — plenty for
"how far off were the edges".
"""

from __future__ import annotations

import math

_BINS_PER_DECADE = 10
_FLOOR_S = 1e-6
_DECADES = 8


class LatenessStats:
    """Count, maximum and percentiles of lateness values (seconds; early counts as 0)."""

    def __init__(self) -> None:
        self.count = 0
        self.max_s = 0.0
        self._bins = [0] * (_BINS_PER_DECADE * _DECADES + 1)

    def add(self, late_s: float) -> None:
        """Count one command that was ``late_s`` seconds late."""
        self.count += 1
        if late_s > self.max_s:
            self.max_s = late_s
        self._bins[_bin(late_s)] += 1

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0–100), as the upper edge of its bin, at most the max."""
        if self.count == 0:
            return 0.0
        rank = math.ceil(q / 100 * self.count)
        seen = 0
        for i, n in enumerate(self._bins):
            seen += n
            if seen >= rank:
                return min(self.max_s, _upper(i))
        return self.max_s


def _bin(late_s: float) -> int:
    if late_s <= _FLOOR_S:
        return 0
    i = 1 + int(math.log10(late_s / _FLOOR_S) * _BINS_PER_DECADE)
    return min(i, _BINS_PER_DECADE * _DECADES)


def _upper(i: int) -> float:
    if i == 0:
        return _FLOOR_S
    return _FLOOR_S * 10 ** (i / _BINS_PER_DECADE)
