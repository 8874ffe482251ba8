"""The band's clock rate from its answers: where a window's edges land after a whole night.

A window's steps are placed from its stream's anchor with the rate the host has measured
(``window.py``), so an edge ``t`` seconds into the stream lands ``(rate error) * t`` off the
host's timeline. These tests feed :class:`ClockSync` the samples of an 8-hour night and
check that product at every sample. The samples come from a hand-written copy of the
in-memory link's latency model (``pc6_sim.band.MemoryLink``: a fixed latency plus uniform
jitter each way, in order): the same night through the real engine, gate, link and band
core takes ~15 s (``bench/band_drift.py`` runs it; ``tests/play/test_window.py`` runs its
first hour).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from firmware_host.drive.band.clocksync import ClockSync

BLE_MODELS = {"30-130 ms": (0.030, 0.100), "40-65 ms": (0.040, 0.025)}
WINDOW_EVERY_S = 1.6  # a PLAY window's ACK while a stream plays (play/window.py)
PROBE_EVERY_S = 0.2  # the link's clock probes while the rate is not firm (link.py)
LOOKAHEAD_S = 4.5  # a window reaches this far past the moment it is placed


def night(
    sync: ClockSync, latency: tuple[float, float], ppm: float, hours: float, seed: int
) -> Iterator[float]:
    """Feed ``sync`` a night's samples; yield the host time (s) after each one."""
    rng = random.Random(seed)
    due_up = due_down = 0.0
    boot = 12.345  # the band started before the host's first message
    t = next_window = 0.0
    while t < hours * 3600:
        probing = sync.wants_samples()
        t = min(next_window, t + PROBE_EVERY_S) if probing else next_window
        if t >= next_window:
            next_window += WINDOW_EVERY_S
        arrive = due_up = max(due_up, t + latency[0] + rng.uniform(0, latency[1]))
        back = due_down = max(due_down, arrive + latency[0] + rng.uniform(0, latency[1]))
        sync.add(t, back, round((arrive + boot) * 1000 * (1 + ppm * 1e-6)))
        yield back


def edge_errors_ms(
    sync: ClockSync, times: Iterator[float], ppm: float
) -> list[tuple[float, float]]:
    """(host s, ms) how far off the host's timeline the next window's last edge lands,
    after each sample."""
    return [(t, abs(sync.ppm() - ppm) * 1e-6 * (t + LOOKAHEAD_S) * 1000) for t in times]


@pytest.mark.parametrize("model", BLE_MODELS)
@pytest.mark.parametrize("ppm", [50.0, -50.0, 0.0])
def test_edges_stay_on_the_hosts_timeline_from_the_first_window_to_8_hours(
    model: str, ppm: float
) -> None:
    # Before: a rate was used only once it stood 3 standard errors clear of 0, so at
    # ±50 ppm edges drifted ~21 ms in the first 7 minutes.
    sync = ClockSync()
    errors = edge_errors_ms(sync, night(sync, BLE_MODELS[model], ppm, 8.0, seed=3), ppm)
    assert max(e for t, e in errors if t <= 600) <= 10.0  # the first 10 minutes
    assert max(e for _t, e in errors) <= 10.0  # all night
    assert errors[-1][1] <= 1.0  # after 8 hours
    assert sync.ppm() == pytest.approx(ppm, abs=0.05)


def test_a_band_restart_keeps_the_rate_it_had() -> None:
    # A restarted band counts its uptime from 0 again: a new offset, the same crystal.
    sync = ClockSync()
    list(night(sync, BLE_MODELS["30-130 ms"], 50.0, 0.5, seed=4))
    assert sync.ppm() == pytest.approx(50.0, abs=1.0)
    rng = random.Random(6)
    restart = 1800.0
    for i in range(20):  # half a minute of answers from the restarted band
        t = restart + i * WINDOW_EVERY_S
        up, down = 0.03 + rng.uniform(0, 0.1), 0.03 + rng.uniform(0, 0.1)
        sync.add(t, t + up + down, round((t + up - restart + 0.5) * 1000 * (1 + 50e-6)))
        assert sync.ppm() == pytest.approx(50.0, abs=1.0)
