"""``pc6 run --backend serial`` against ``pc6 sim band``: the builder's whole path, by CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from exit_testlib import csv_rows, paired_sim_band

PC6 = [sys.executable, "-m", "firmware_host.cli.main"]
PROFILE = """name = "short"
description = "a short real-time profile for the serial path"
kinds = ["vibration"]
[[steps]]
ramp = 0.6
over = "500ms"
[[steps]]
hold = "500ms"
[[steps]]
set = 0.3
for = "400ms"
[[steps]]
ramp = 0
over = "300ms"
"""


@pytest.mark.realtime
def test_run_over_serial_plays_the_profile_on_the_band(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PC6_CONFIG_DIR": str(tmp_path / "cfg"),
        "PC6_STATE_DIR": str(tmp_path / "state"),
    }
    with paired_sim_band(tmp_path, PC6, env) as (port, watch):
        profile = tmp_path / "short.toml"
        profile.write_text(PROFILE)
        run = subprocess.run(
            [
                *PC6,
                "run",
                str(profile),
                "--backend",
                "serial",
                "--port",
                port,
                "--trace",
                str(tmp_path / "host.csv"),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        assert "session completed" in run.stdout
    rows = csv_rows(watch.lines)  # all the band wrote, up to its exit
    peak = max(v for _, v in rows)
    assert peak == pytest.approx(0.6, abs=1e-3)
    assert rows[-1][1] == 0
    # The band's own output follows the profile's shape: up over 0.5 s, hold, step, ramp out.
    first_on = next(i for i, (_, v) in enumerate(rows) if v > 0)
    start = rows[first_on - 1][0]  # the ramp's first breakpoint, still at 0
    rel = [(t - start, v) for t, v in rows[first_on - 1 :]]
    assert rel[1] == pytest.approx((0.5, 0.6), abs=0.01)  # ramped, not stepped
    holds = [t for t, v in rel if v == pytest.approx(0.3, abs=1e-3)]
    assert holds and holds[0] == pytest.approx(1.0, abs=0.05)
    assert rel[-1][0] == pytest.approx(1.7, abs=0.05)
