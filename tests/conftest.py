"""Shared set-up for the whole suite.

The test folders mirror the packages of ``firmware_host`` (``tests/plan``, ``tests/drive/gpio``
...), and the modules every folder shares live in ``tests/helpers`` (``core_testlib``,
``daemon_testlib``, ``band_testlib``, ``gpio_testlib``). That folder goes on ``sys.path``
here, before any test module is imported, so the helpers are imported by plain name from
anywhere in the tree. Test modules themselves are imported by pytest's ``importlib`` mode
(see ``pyproject.toml``), so two folders may each hold a ``test_cli.py``.

Folders whose async tests run on async-solipsism's virtual clock say so in their own
``conftest.py`` with the ``pytest_asyncio_loop_factories`` hook.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HELPERS = Path(__file__).resolve().parent / "helpers"
if str(HELPERS) not in sys.path:
    sys.path.insert(0, str(HELPERS))

from daemon_testlib import SHORT_PROFILE  # noqa: E402  (needs HELPERS on sys.path)


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh config directory per test (band keys, configs): never the user's own."""
    path = tmp_path / "config"
    monkeypatch.setenv("PC6_CONFIG_DIR", str(path))
    return path


@pytest.fixture(autouse=True)
def _no_pins_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """A PC6_SIM_PINS_LOG from the environment must not collect the tests' pins."""
    monkeypatch.delenv("PC6_SIM_PINS_LOG", raising=False)


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private XDG state directory, so tests never touch the user's journal."""
    monkeypatch.setenv("PC6_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private state and config directory with the short profile in ``profiles/``."""
    monkeypatch.setenv("PC6_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PC6_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "short.toml").write_text(SHORT_PROFILE)
    return tmp_path
