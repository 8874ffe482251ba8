"""``pc6 band flash --dry-run`` names firmware files that exist, in every kind of install.

The firmware installs as the ``pc6_device`` package (``device/`` in the clone). The command
once looked for ``firmware_host/device/*.py``, which exists in no install: every path it
printed was missing. Here the printed paths are checked in the editable venv the suite runs
in, and in a plain (non-editable) install of a wheel built from this source tree, and the
list is checked against what the firmware's ``main.py`` imports.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pc6_device

from firmware_host.cli import band as band_cli

ROOT = Path(__file__).resolve().parents[2]
PC6 = [sys.executable, "-m", "firmware_host.cli.main"]


def _copied_files(command: str) -> list[Path]:
    """The files ``mpremote … fs cp FILE… : + reset`` copies, from the printed command."""
    words = command.split()
    assert words[:2] == ["mpremote", "connect"] or words[0].endswith("mpremote"), command
    start = words.index("cp") + 1
    return [Path(w) for w in words[start : words.index(":")]]


def _firmware_needs() -> set[str]:
    """The firmware's own modules that ``main.py`` imports, directly or through another."""
    folder = Path(pc6_device.__file__).parent
    own = {p.stem for p in folder.glob("*.py")} - {"__init__"}
    needed: set[str] = set()
    todo = ["main"]
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        tree = ast.parse((folder / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                todo += [a.name for a in node.names if a.name in own]
            elif isinstance(node, ast.ImportFrom) and node.module in own:
                todo.append(node.module)
    return {f"{name}.py" for name in needed}


def _dry_run(env: dict[str, str] | None = None) -> list[Path]:
    run = subprocess.run(
        [*PC6, "band", "flash", "--port", "/dev/ttyACM0", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    return _copied_files(run.stdout.strip())


def test_the_file_list_is_what_main_imports() -> None:
    assert set(band_cli.FIRMWARE_FILES) == _firmware_needs()


def test_every_path_the_dry_run_prints_exists_in_the_editable_install() -> None:
    files = _dry_run()
    assert [f.name for f in files] == [*band_cli.FIRMWARE_FILES, "pc6_config.json"]
    firmware = files[:-1]
    missing = [str(f) for f in firmware if not f.is_file()]
    assert not missing, missing
    assert {f.parent for f in firmware} == {Path(pc6_device.__file__).resolve().parent}


def test_every_path_the_dry_run_prints_exists_in_a_plain_install(tmp_path: Path) -> None:
    # A wheel built from a copy of the source (the build leaves build/ behind, which must not
    # land in the shared tree), installed with pip into a folder of its own, as `pip install .`
    # does into site-packages; the suite's venv provides the dependencies.
    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", "node_modules"
        ),
    )
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    wheels = tmp_path / "wheels"
    subprocess.run(
        [*pip, "wheel", "--no-deps", "-w", str(wheels), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    [wheel] = wheels.glob("pc6band-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    files = _dry_run(env)[:-1]
    assert [f.name for f in files] == list(band_cli.FIRMWARE_FILES)
    missing = [str(f) for f in files if not f.is_file()]
    assert not missing, missing
    # The installed copy, not the clone's device/ through the editable finder.
    assert {f.parent for f in files} == {(site / "pc6_device").resolve()}
