"""The band keeps its BLE bond across a reset (device/ble_peripheral.py + device/board.py).

MicroPython's ``bluetooth`` module exists only on a board with a radio (the unix port has
none), so this test stands in a minimal hand-written ``bluetooth`` for it; the bond files
are written by the firmware's own board functions, as on the band's flash.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from band_testlib import DEVICE

SET_SECRET, GET_SECRET = 30, 29


class FakeBLE:
    """Only what BlePeripheral calls at start-up."""

    def active(self, *_: Any) -> None: ...
    def config(self, **_: Any) -> None: ...
    def irq(self, _handler: Any) -> None: ...
    def gatts_register_services(self, _services: Any) -> Any:
        return ((1, 2),)

    def gatts_set_buffer(self, *_: Any) -> None: ...
    def gap_advertise(self, *_: Any, **__: Any) -> None: ...


@pytest.fixture
def firmware(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    bluetooth = types.ModuleType("bluetooth")
    bluetooth.UUID = lambda text: text.encode()  # type: ignore[attr-defined]
    bluetooth.BLE = FakeBLE  # type: ignore[attr-defined]
    micropython = types.ModuleType("micropython")
    micropython.const = lambda value: value  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bluetooth", bluetooth)
    monkeypatch.setitem(sys.modules, "micropython", micropython)
    monkeypatch.syspath_prepend(str(DEVICE / "unix"))
    monkeypatch.syspath_prepend(str(DEVICE))
    monkeypatch.chdir(tmp_path)  # the band's flash
    for name in ("ble_peripheral", "board"):
        sys.modules.pop(name, None)
    yield importlib.import_module("ble_peripheral"), importlib.import_module("board")
    for name in ("ble_peripheral", "board", "protocol"):
        sys.modules.pop(name, None)


class Flash:
    """The board's bond storage, through the firmware's own functions."""

    def __init__(self, board: Any) -> None:
        self.board = board

    def load_bonds(self) -> dict[tuple[int, bytes], bytes]:
        return self.board.load_bonds(self.board.BONDS_FILE)

    def save_bonds(self, secrets: dict[tuple[int, bytes], bytes]) -> None:
        self.board.save_bonds(self.board.BONDS_FILE, secrets)


def test_a_bond_survives_a_reset(firmware: Any, tmp_path: Path) -> None:
    ble_peripheral, board = firmware
    before = ble_peripheral.BlePeripheral(None, Flash(board))
    assert before._irq(SET_SECRET, (1, b"peer-irk", b"long-term-key")) is True
    after = ble_peripheral.BlePeripheral(None, Flash(board))  # the band restarted
    assert after._irq(GET_SECRET, (1, 0, b"peer-irk")) == b"long-term-key"
    assert after._irq(GET_SECRET, (1, 0, None)) == b"long-term-key"
    assert not list(tmp_path.glob("*.tmp"))  # written through a temporary file, renamed


def test_a_torn_bond_file_is_no_bond_not_a_crash(firmware: Any, tmp_path: Path) -> None:
    ble_peripheral, board = firmware
    (tmp_path / board.BONDS_FILE).write_text('[[1, "00"')
    band = ble_peripheral.BlePeripheral(None, Flash(board))
    assert band._irq(GET_SECRET, (1, 0, None)) is None
