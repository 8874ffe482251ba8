"""Haptic patterns from phones, imported as profiles: Apple AHAP, Android, Lofelt.

:func:`firmware_host.plan.imports.source.import_pattern` picks the reader for a file.
"""
