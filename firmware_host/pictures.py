"""Picture files: where one may go, and matplotlib on a file-only backend (optional extra).

On the ground floor so that both the profile plots (cli) and the night plot (record) use
the same output rule and the same install hint.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from firmware_host.errors import InvalidInput, PC6Error

PICTURE_FORMATS = (".png", ".svg", ".pdf")


def check_output_path(path: str, option: str = "-o") -> Path:
    """Where a picture goes: an existing folder, and a known picture extension.

    A name without an extension gets ``.png`` (and the caller says so).

    Raises:
        InvalidInput: the folder does not exist, or the extension is not png, svg or pdf.
    """
    out = Path(path)
    if out.suffix == "":
        out = out.with_name(out.name + ".png")
    if out.suffix.lower() not in PICTURE_FORMATS:
        raise InvalidInput(
            f"{option} {path}: cannot draw a {out.suffix} file; use .png, .svg or .pdf"
        )
    if not out.parent.is_dir():
        raise InvalidInput(f"{option} {path}: folder {out.parent} does not exist")
    if out.is_dir():
        raise InvalidInput(f"{option} {path}: is a folder")
    return out


def import_pyplot() -> Any:
    """matplotlib's pyplot on a file-only backend.

    Raises:
        PC6Error: matplotlib is not installed; the message names the command that installs
            it into the Python running this command.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise PC6Error(
            f"plotting needs matplotlib, which is not installed here: "
            f"{sys.executable} -m pip install matplotlib"
        ) from err
    return plt
