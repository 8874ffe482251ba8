"""``pc6 profile show`` and ``plot`` draw duty cycling honestly and say what they wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PC6 = [sys.executable, "-m", "firmware_host.cli.main"]
PNG = b"\x89PNG\r\n\x1a\n"

PULSE_AT_0_1 = """\
name = "tenth"
description = "Pulses at exactly 0.1."
kinds = ["vibration"]
[[steps]]
pulses = 5
level = 0.1
on = "1s"
off = "1s"
"""


def _pc6(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*PC6, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PC6_STATE_DIR": str(cwd / "state"), **(env or {})},
        timeout=120,
    )


def _plot_rows(out: str) -> list[str]:
    return [line[6:] for line in out.splitlines() if line[5:6] == "│"]


def test_separate_presses_are_not_drawn_as_one_solid_block(tmp_path: Path) -> None:
    out = _pc6(tmp_path, "profile", "show", "evening-pc6").stdout
    rows = _plot_rows(out)
    assert len(rows) == 8
    # ~50 presses at 40 a minute: every column holds presses and gaps, so no column is
    # solid from the axis up; the duty strip says about half of each column is on.
    middle = [row[10:60] for row in rows]
    assert all("█" not in row for row in middle), "\n".join(rows)
    assert any("░" in row for row in middle)
    duty = next(line for line in out.splitlines() if line.startswith("duty  "))[6:]
    assert set(duty[10:60]) <= set("3456"), duty


def test_a_steady_hold_is_drawn_solid_with_full_duty(tmp_path: Path) -> None:
    profile = tmp_path / "hold.toml"
    profile.write_text(
        'name = "h"\ndescription = "d"\nkinds = ["vibration"]\n'
        '[[steps]]\nset = 0.5\nfor = "1m"\n[[steps]]\nrest = "1s"\n'
    )
    out = _pc6(tmp_path, "profile", "show", str(profile), "--width", "40").stdout
    rows = _plot_rows(out)
    # (The first column holds the step up from 0, so it shows a range.)
    assert rows[-1][1:38] == "█" * 37 and rows[-4][1:38] == "█" * 37  # 0.5 of 8 rows: 4
    assert rows[-5][:38].strip() == ""
    duty = next(line for line in out.splitlines() if line.startswith("duty  "))[6:]
    assert duty[:39] == "█" * 39


def test_a_pulse_at_exactly_0_1_counts_under_0_1_plus(tmp_path: Path) -> None:
    profile = tmp_path / "tenth.toml"
    profile.write_text(PULSE_AT_0_1)
    out = _pc6(tmp_path, "profile", "show", str(profile)).stdout
    bands = next(line for line in out.splitlines() if "time at level" in line)
    assert bands.split("time at level")[1].split() == ["0.1+:5s"]


def test_plot_into_a_missing_folder_is_one_line_and_exit_2(tmp_path: Path) -> None:
    run = _pc6(tmp_path, "profile", "plot", "evening-pc6", "-o", "missing/dir/x.png")
    assert run.returncode == 2
    assert run.stderr == "pc6: error: -o missing/dir/x.png: folder missing/dir does not exist\n"
    assert not (tmp_path / "missing").exists()


def test_plot_without_an_extension_says_exactly_what_it_wrote(tmp_path: Path) -> None:
    run = _pc6(tmp_path, "profile", "plot", "evening-pc6", "-o", "noext")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("wrote noext.png ")
    assert (tmp_path / "noext.png").read_bytes()[:8] == PNG
    assert not (tmp_path / "noext").exists()
    bad = _pc6(tmp_path, "profile", "plot", "evening-pc6", "-o", "x.txt")
    assert bad.returncode == 2 and "use .png, .svg or .pdf" in bad.stderr


def test_plot_kind_draws_the_delivered_picture(tmp_path: Path) -> None:
    profile = tmp_path / "press.toml"
    profile.write_text(
        'name = "p"\ndescription = "d"\nkinds = ["pressure"]\n'
        '[[steps]]\npulses = 20\nlevel = 0.5\non = "500ms"\noff = "500ms"\n'
    )
    run = _pc6(tmp_path, "profile", "plot", str(profile), "--kind", "pressure", "-o", "p.png")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "p.png").read_bytes()[:8] == PNG


def test_the_matplotlib_hint_names_a_command_that_works_in_this_venv(tmp_path: Path) -> None:
    # A stand-in module that fails to import, as matplotlib does when it is not installed
    # (the quick-start venv has no [plot] extra); no real part can be uninstalled here.
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "matplotlib.py").write_text("raise ImportError('No module named matplotlib')\n")
    run = _pc6(
        tmp_path, "profile", "plot", "evening-pc6", "-o", "x.png", env={"PYTHONPATH": str(blocker)}
    )
    assert run.returncode == 1
    command = f"{sys.executable} -m pip install matplotlib"
    assert run.stderr.strip().endswith(command)
    assert not (tmp_path / "x.png").exists()
    # The named interpreter has pip (the quick-start venv does).
    pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
    assert pip.returncode == 0
