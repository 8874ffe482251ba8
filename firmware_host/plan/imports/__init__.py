"""Haptic patterns from phones, imported as profiles: Apple AHAP, Android, Lofelt."""

from firmware_host.plan.imports.ahap import import_ahap
from firmware_host.plan.imports.android import import_android
from firmware_host.plan.imports.lofelt import import_lofelt
from firmware_host.plan.imports.shape import Shape
from firmware_host.plan.imports.source import import_pattern

__all__ = ["Shape", "import_ahap", "import_android", "import_lofelt", "import_pattern"]
