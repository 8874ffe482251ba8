"""``pc6 sim experiment``: many simulated experiments with a known effect, analysed as real ones.

Each run draws its own secret seed and allocates its nights with the same
:func:`~firmware_host.experiment.design.derive_arms` a real plan uses; the outcomes come from
a model with a known effect, night-to-night SD and AR(1) correlation; the analysis is the
same :func:`~firmware_host.experiment.stats.analyse_batch` that ``pc6 experiment analyze``
calls. Coverage is the share of 95 % intervals that hold the true effect; rejection the
share of tests with p < 0.05.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from firmware_host.experiment.design import ACTIVE, derive_arms
from firmware_host.experiment.stats import Batch, analyse_batch


@dataclass(frozen=True)
class Model:
    """The truth a simulation draws nights from (in the outcome's units)."""

    effect: float = 0.0  # benefit: how much better an active night is, in the better direction
    sd: float = 20.0  # night-to-night SD of the outcome
    autocorr: float = 0.0  # AR(1) correlation between consecutive nights
    mean: float = 30.0  # a control night's mean (minutes to fall asleep, say)
    better: str = "lower"

    @property
    def difference(self) -> float:
        """The true active − control difference."""
        return -self.effect if self.better == "lower" else self.effect


@dataclass(frozen=True)
class Summary:
    """Coverage and rejection over the runs."""

    runs: int
    coverage: float
    rejection: float
    t_coverage: float
    mean_width: float
    batch: Batch


def noise(rng: Any, runs: int, nights: int, sd: float, rho: float) -> Any:
    """AR(1) noise with marginal SD ``sd`` and lag-one correlation ``rho``."""
    import numpy as np

    z = rng.standard_normal((runs, nights))
    e = np.empty_like(z)
    e[:, 0] = z[:, 0]
    scale = math.sqrt(1 - rho * rho)
    for t in range(1, nights):
        e[:, t] = rho * e[:, t - 1] + scale * z[:, t]
    return e * sd


def allocations(rng: Any, runs: int, nights: int, block: int) -> Any:
    """Each run's allocation from its own fresh seed, as a real plan would draw it."""
    import numpy as np

    seeds = rng.integers(0, 2**63, size=runs)
    letters = [derive_arms(f"{int(s):032x}", "sim", nights, block) for s in seeds]
    return np.array([[x == ACTIVE for x in row] for row in letters], dtype=float)


def simulate(model: Model, *, runs: int, nights: int, block: int = 2, seed: int = 1) -> Summary:
    """Run ``runs`` simulated experiments of ``nights`` randomized nights and analyse them."""
    import numpy as np

    # Independent streams for the allocations, the nights and the test's random
    # arrangements: one generator seeded twice with the same number would correlate them.
    alloc, nights_rng, draws = np.random.SeedSequence(seed).spawn(3)
    a = allocations(np.random.default_rng(alloc), runs, nights, block)
    e = noise(np.random.default_rng(nights_rng), runs, nights, model.sd, model.autocorr)
    y = model.mean + model.difference * a + e
    shape = (runs, nights // block, block)
    test_seed = int(draws.generate_state(1)[0])
    batch = analyse_batch(y.reshape(shape), a.reshape(shape), seed=test_seed)
    truth = model.difference
    covered = (batch.low <= truth) & (truth <= batch.high)
    t_covered = (batch.t_low <= truth) & (truth <= batch.t_high)
    return Summary(
        runs,
        float(covered.mean()),
        float((batch.p < 0.05).mean()),
        float(t_covered.mean()),
        float((batch.high - batch.low).mean()),
        batch,
    )
