"""The README says what the software does: its profile table and pictures match the code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from firmware_host.durations import format_duration
from firmware_host.plan.library import library_names, load_builtin
from firmware_host.plan.timeline import compile_profile

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_profile_table_lists_the_library_with_the_lengths_profile_list_prints() -> None:
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| ([^|]+) \|", README, re.M)
    table = {name: length.strip() for name, length in rows if name in library_names()}
    assert sorted(table) == library_names()
    for name, length in table.items():
        duration = compile_profile(load_builtin(name)).stats().duration_ms
        assert length == format_duration(duration), name


def test_the_pictures_it_shows_exist_and_it_says_pc6_is_not_on_path() -> None:
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert {"docs/night-dst.png", "docs/profile-night-gentle.png"} <= set(images)
    for image in images:
        assert (ROOT / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", image
    quick = README[README.index("## Quick start") : README.index("## What a run looks like")]
    assert "not on your `PATH`" in quick and ". .venv/bin/activate" in quick
    assert "pip install '.[plot]'" not in README  # fails in the quick-start venv


def test_the_gate_example_quotes_what_pc6_profile_show_prints() -> None:
    # The README's worked example of the gate reshaping a breathing pattern: its two doses
    # are what a builder sees when they run the command on the linked file.
    asked, gets = re.search(
        r"asked for as dose ([\d.]+) but gets ([\d.]+) on pressure", README
    ).groups()  # type: ignore[union-attr]
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "firmware_host.cli.main",
            "profile",
            "show",
            "docs/examples/inhale-4-press-6.toml",
            "--kind",
            "pressure",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    dose = re.search(r"^\s*dose\s+([\d.]+) level·s\s+([\d.]+) level·s", shown, re.M)
    assert dose is not None, shown
    assert (float(asked), float(gets)) == (float(dose[1]), float(dose[2]))
