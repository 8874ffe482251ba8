"""A pytest plugin (``-p pretend_machine``): ``platform.machine()`` says ``$PRETEND_MACHINE``.

A hand-written stand-in for another computer (a Raspberry Pi, an x86_64 CI runner): the
skip rule reads only this one name from the machine, and no Pi runs here.
"""

from __future__ import annotations

import os
import platform

_machine = os.environ["PRETEND_MACHINE"]
platform.machine = lambda: _machine
