"""The randomization test, its inverted interval and a paired-t interval, for many runs at once.

Everything here takes arrays shaped ``(runs, blocks, block_size)``: one run is a wearer's
experiment, and the simulator hands in hundreds at once, so ``pc6 experiment analyze`` and
``pc6 sim experiment`` share this code exactly.

The test: under the sharp null "each night's outcome would have been the same on the other
arm, shifted by δ", every arrangement the randomization could have produced is equally
likely. The statistic is the mean within-block difference (active − control). Re-randomizing
within blocks gives its null distribution: exactly, by enumeration, when there are at most
65,536 arrangements, else from random draws (the observed one counted in, so the p-value is
never 0). The 95 % interval is every δ that test does not reject at 5 %. This holds whatever
the night-to-night correlation, because it leans only on the randomization, not on a model.

numpy is imported by the functions (``import numpy`` costs about 0.1 s; the CLI stays fast).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from firmware_host.experiment.design import ACTIVE, arrangements
from firmware_host.experiment.tdist import t_quantile

if TYPE_CHECKING:
    import numpy as np

EXACT_LIMIT = 65_536
DRAWS = 9_999
ALPHA = 0.05
MIN_PAIRS = 6  # 2/2^k: with 5 pairs the smallest possible p is 0.0625


@dataclass
class Batch:
    """Results for each run (arrays of shape ``(runs,)``)."""

    estimate: np.ndarray  # mean within-block difference, active − control
    p: np.ndarray  # randomization p-value for "no effect"
    low: np.ndarray  # interval by inverting the test
    high: np.ndarray
    t_low: np.ndarray  # paired-t interval on the block differences
    t_high: np.ndarray
    sd_diff: np.ndarray  # SD of the block differences
    exact: bool
    arrangements: int
    blocks: int


def _contrasts(block: int) -> tuple[np.ndarray, list[str]]:
    import numpy as np

    orders = arrangements(block)
    half = block // 2
    c = np.array([[1 / half if x == ACTIVE else -1 / half for x in o] for o in orders])
    return c, orders


def arrangement_matrix(blocks: int, options: int, *, seed: int) -> tuple[np.ndarray, bool]:
    """Every arrangement (``exact``) or :data:`DRAWS` random ones, as one-hot weights.

    Returns the ``(n, blocks * options)`` matrix whose row dotted with a run's per-block
    projections gives the statistic under that arrangement, and whether it is exhaustive.
    """
    import numpy as np

    exact = options**blocks <= EXACT_LIMIT
    if exact:
        grids = np.meshgrid(*[np.arange(options)] * blocks, indexing="ij")
        choice = np.stack([g.ravel() for g in grids], axis=1)
    else:
        choice = np.random.default_rng(seed).integers(0, options, size=(DRAWS, blocks))
    onehot = np.zeros((choice.shape[0], blocks * options))
    rows = np.repeat(np.arange(choice.shape[0]), blocks)
    cols = (np.arange(blocks) * options + choice).ravel()
    onehot[rows, cols] = 1.0 / blocks
    return onehot, exact


def analyse_batch(y: Any, a: Any, *, alpha: float = ALPHA, seed: int = 0) -> Batch:
    """Analyse ``runs`` experiments of complete blocks at once.

    Args:
        y: outcomes, shape ``(runs, blocks, block_size)``.
        a: 1 where the night was active, 0 where control, same shape.
        alpha: 0.05 for 95 % intervals.
        seed: for the random arrangements when enumeration is too large.
    """
    import numpy as np

    y = np.asarray(y, dtype=float)
    a = np.asarray(a, dtype=float)
    runs, k, size = y.shape
    c, _ = _contrasts(size)
    proj_y = np.einsum("rbj,mj->rbm", y, c).reshape(runs, -1)
    proj_a = np.einsum("rbj,mj->rbm", a, c).reshape(runs, -1)
    weights, exact = arrangement_matrix(k, c.shape[0], seed=seed)
    t0 = proj_y @ weights.T  # (runs, n): the statistic under each arrangement, δ = 0
    s = proj_a @ weights.T  # how much of a shift δ each arrangement picks up
    diffs = (y * _observed(a, size)).sum(axis=2)  # each block: mean(active) − mean(control)
    estimate = diffs.mean(axis=1)
    extra = 0 if exact else 1

    def pvalue(delta: np.ndarray) -> np.ndarray:
        obs = np.abs(estimate - delta)[:, None]
        stat = np.abs(t0 - delta[:, None] * s)
        hits = (stat >= obs - 1e-9 * (1 + obs)).sum(axis=1)
        return (hits + extra) / (t0.shape[1] + extra)

    p = pvalue(np.zeros(runs))
    sd = diffs.std(axis=1, ddof=1) if k > 1 else np.full(runs, np.nan)
    low, high = _invert(pvalue, estimate, diffs, alpha)
    tq = t_quantile(1 - alpha / 2, k - 1) if k > 1 else math.nan
    half = tq * sd / math.sqrt(k)
    return Batch(
        estimate, p, low, high, estimate - half, estimate + half, sd, exact, t0.shape[1], k
    )


def _observed(a: np.ndarray, size: int) -> np.ndarray:
    """The observed contrast per night: +1/half on active nights, −1/half on control."""
    half = size // 2
    return (2 * a - 1) / half


def _invert(pvalue: Any, estimate: Any, diffs: Any, alpha: float) -> tuple[Any, Any]:
    """The interval of shifts the test does not reject, by bisection on each side."""
    import numpy as np

    span = 4 * (np.abs(diffs).max(axis=1) + diffs.std(axis=1)) + 1.0
    for _ in range(20):  # widen until the far ends are rejected (they are, for k ≥ 6 pairs)
        far = (pvalue(estimate - span) >= alpha) | (pvalue(estimate + span) >= alpha)
        if not far.any():
            break
        span = np.where(far, span * 2, span)
    bounds = []
    for side in (-1.0, 1.0):
        inside, outside = estimate.copy(), estimate + side * span
        for _ in range(26):  # span / 2^26: far below a minute or a percent
            mid = (inside + outside) / 2
            ok = pvalue(mid) >= alpha
            inside = np.where(ok, mid, inside)
            outside = np.where(ok, outside, mid)
        bounds.append((inside + outside) / 2)
    return bounds[0], bounds[1]
