"""How long the experiment analysis takes: one analysis, 400 simulated runs, one end to end.

Prints figures; asserts nothing. ``.venv/bin/python bench/experiment_sim.py``
"""

from __future__ import annotations

import time

import numpy as np

from firmware_host.experiment.simulate import Model, simulate
from firmware_host.experiment.stats import analyse_batch
from firmware_host.service.experiment_sim import run_end_to_end


def best_of(n: int, call: object) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        call()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    for pairs in (12, 28):
        y = rng.normal(30, 20, size=(1, pairs, 2))
        a = np.zeros_like(y)
        a[..., 0] = 1
        s = best_of(5, lambda y=y, a=a: analyse_batch(y, a))
        kind = "exact" if 2**pairs <= 65_536 else "9,999 random arrangements"
        print(f"one analysis, {2 * pairs} nights ({kind}): {1000 * s:.0f} ms")
    for effect, rho in ((0, 0.0), (20, 0.0), (0, 0.3), (20, 0.3)):
        t = time.perf_counter()
        r = simulate(Model(effect=effect, sd=20, autocorr=rho), runs=400, nights=56, seed=1)
        print(
            f"400 runs x 56 nights, effect {effect}, AR(1) {rho}: {time.perf_counter() - t:.1f} s"
            f"  coverage {r.coverage:.3f} rejection {r.rejection:.3f}"
            f" (paired t coverage {r.t_coverage:.3f}, width {r.mean_width:.1f})"
        )
    t = time.perf_counter()
    run_end_to_end(Model(effect=20, sd=20), nights=56, block=2, seed=1)
    print(
        f"end to end, 56 nights through the daemon on virtual time: {time.perf_counter() - t:.1f} s"
    )


if __name__ == "__main__":
    main()
