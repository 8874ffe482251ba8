"""Which importer reads a file: by extension, else by the keys it holds."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from firmware_host.errors import ProfileError
from firmware_host.plan.imports.ahap import import_ahap
from firmware_host.plan.imports.android import import_android
from firmware_host.plan.imports.lofelt import import_lofelt
from firmware_host.plan.imports.shape import Shape, read_json
from firmware_host.plan.profile import parse_profile
from firmware_host.plan.timeline import compile_profile


def import_pattern(path: str | Path, *, name: str | None = None) -> tuple[str, Shape]:
    """Read a haptic pattern file; returns the TOML of a profile that validates, and the shape.

    Raises:
        ProfileError: unknown format, malformed file (naming the field), or a result that
            does not make a valid profile.
    """
    file = Path(path)
    shape = _reader(file)(file)
    profile_name = name or re.sub(r"[^A-Za-z0-9_-]+", "-", file.stem).strip("-") or "imported"
    text = shape.to_toml(profile_name)
    compile_profile(parse_profile(text, source=f"{file.stem}.toml"))  # it must validate
    return text, shape


def _reader(file: Path) -> Callable[[Path], Shape]:
    suffix = file.suffix.lower()
    if suffix == ".ahap":
        return import_ahap
    if suffix == ".haptic":
        return import_lofelt
    doc = read_json(file)
    if isinstance(doc, dict):
        if "Pattern" in doc:
            return import_ahap
        if "signals" in doc:
            return import_lofelt
        if "timings" in doc:
            return import_android
    raise ProfileError(
        "not a known haptic format: expected an .ahap (Pattern), a .haptic clip (signals) "
        "or Android waveform JSON (timings)",
        source=str(file),
    )
