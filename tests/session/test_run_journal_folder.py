"""Only the default journal location may create its folders (``pc6 run --journal``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PC6 = str(Path(sys.executable).parent / "pc6")


def _run(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(tmp_path), "PC6_STATE_DIR": str(tmp_path / "state")}
    return subprocess.run(
        [PC6, "run", "fitting-test", "--fast", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )


def test_a_journal_in_a_missing_folder_is_refused_before_anything_moves(tmp_path: Path) -> None:
    journal = tmp_path / "typo" / "deeper" / "j.sqlite"
    run = _run(tmp_path, "--journal", str(journal))
    assert run.returncode == 2, run.stderr
    assert run.stderr == (
        f"pc6: error: cannot open journal {journal}: no such folder {journal.parent}"
        " (only the default journal location is created)\n"
    )
    assert run.stdout == ""  # nothing played
    assert not (tmp_path / "typo").exists()  # and nothing was left behind


def test_the_default_journal_location_is_still_created(tmp_path: Path) -> None:
    run = _run(tmp_path)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "state" / "journal.sqlite").is_file()
