"""``pc6`` as a fresh process: the console script, and code run the way its start-up runs.

(A plain module: ``tests/conftest.py`` puts ``tests/helpers`` on ``sys.path``.)

``python -S`` skips ``site``, so neither the editable-install finder of a development venv
nor any ``.pth`` file imports modules first: whatever appears in ``sys.modules`` beyond the
interpreter's own start-up, the code under test imported. ``firmware_host`` is found through
``PYTHONPATH`` (the source tree, or site-packages for a plain install).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import firmware_host


def pc6(*argv: str) -> subprocess.CompletedProcess[str]:
    """``pc6 ARGV...`` as a person types it (the venv's console script), its output as text."""
    command = [str(Path(sys.executable).parent / "pc6"), *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def bare_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh ``python -S`` that imports ``firmware_host`` from where we do."""
    root = Path(firmware_host.__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
