"""The schedule, its commitment, and the randomization analysis against brute force."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np
import pytest

from firmware_host.experiment.design import Design, arrangements, derive_arms, new_seed
from firmware_host.experiment.stats import analyse_batch
from firmware_host.experiment.tdist import t_quantile

DESIGN = Design("e", dt.date(2026, 3, 1), 3, 12, 2, "evening-pc6", "off", "sol", "lower")


def test_every_block_is_balanced_and_the_schedule_rederives_from_the_seed() -> None:
    seed = new_seed()
    for block in (2, 4):
        arms = derive_arms(seed, "e", 24, block)
        chunks = [arms[i : i + block] for i in range(0, 24, block)]
        assert all(c in arrangements(block) for c in chunks)
        assert derive_arms(seed, "e", 24, block) == arms
    assert [x for _, x in DESIGN.schedule(seed)][:3] == ["R", "R", "R"]
    assert DESIGN.schedule(seed)[-1][0] == dt.date(2026, 3, 15)


def test_the_commitment_binds_the_seed_and_the_plan() -> None:
    seed, other = new_seed(), new_seed()
    assert DESIGN.commitment(seed) == DESIGN.commitment(seed)
    assert DESIGN.commitment(seed) != DESIGN.commitment(other)
    moved = Design("e", dt.date(2026, 3, 2), 3, 12, 2, "evening-pc6", "off", "sol", "lower")
    assert moved.commitment(seed) != DESIGN.commitment(seed)


def test_seeds_spread_over_every_arrangement() -> None:
    firsts = {derive_arms(new_seed(), "e", 4, 4) for _ in range(300)}
    assert firsts == set(arrangements(4))


def _brute_p(d: np.ndarray) -> float:
    obs = abs(d.mean())
    flips = [abs((d * np.array(s)).mean()) for s in itertools.product((1, -1), repeat=len(d))]
    return sum(f >= obs - 1e-12 for f in flips) / len(flips)


def test_exact_p_matches_brute_force_sign_flipping_on_pairs() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(30, 10, size=(5, 8, 2))
    a = np.zeros_like(y)
    a[:, :, 0] = 1
    batch = analyse_batch(y, a)
    assert batch.exact and batch.arrangements == 2**8
    for run in range(5):
        d = y[run, :, 0] - y[run, :, 1]
        assert batch.p[run] == pytest.approx(_brute_p(d))
        assert batch.estimate[run] == pytest.approx(d.mean())
        assert batch.low[run] < d.mean() < batch.high[run]


def test_the_smallest_p_with_k_pairs_is_two_over_two_to_the_k() -> None:
    y = np.stack([np.full(6, 10.0), np.zeros(6)], axis=1)[None]  # every pair: active 10 higher
    a = np.zeros_like(y)
    a[..., 0] = 1
    assert analyse_batch(y, a).p[0] == pytest.approx(2 / 2**6)


def test_the_inverted_interval_is_the_set_the_test_does_not_reject() -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(0, 1, size=(1, 10, 2))
    a = np.zeros_like(y)
    a[..., 1] = 1
    b = analyse_batch(y, a)
    d = y[0, :, 1] - y[0, :, 0]
    # p(δ) is a step function (steps of 2/1024 here), so test just inside each end and
    # clearly outside it.
    margin = 0.2 * (b.high[0] - b.low[0])
    for delta, inside in (
        (b.low[0] + 1e-3, True),
        (b.high[0] - 1e-3, True),
        (b.low[0] - margin, False),
        (b.high[0] + margin, False),
    ):
        assert bool(_brute_p(d - delta) >= 0.05) == inside


def test_blocks_of_four_use_all_six_orders() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(0, 1, size=(2, 5, 4))
    a = np.array([[1, 1, 0, 0]] * 5, dtype=float)[None].repeat(2, axis=0)
    b = analyse_batch(y, a)
    assert b.exact and b.arrangements == 6**5
    assert b.estimate[0] == pytest.approx((y[0, :, :2].mean(1) - y[0, :, 2:].mean(1)).mean())


def test_t_quantiles_match_tables() -> None:
    assert t_quantile(0.975, 5) == pytest.approx(2.570582, abs=1e-5)
    assert t_quantile(0.975, 27) == pytest.approx(2.051831, abs=1e-5)
    assert t_quantile(0.025, 10) == pytest.approx(-2.228139, abs=1e-5)
    assert math.isclose(t_quantile(0.5, 3), 0, abs_tol=1e-9)
