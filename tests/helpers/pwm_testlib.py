"""The sysfs-pwm backend of docs/adding-a-backend.md, installed beside pc6band for a test.

(A plain module: ``tests/conftest.py`` puts ``tests/helpers`` on ``sys.path``.)

It is the one backend here that drives a *real* output as far as pc6band can tell (not
simulated: no ``SIMULATED``, levels are saved), so a test can take the paths a wearer's
own hardware takes. Its PWM channel is a folder of files standing in for
``/sys/class/pwm/pwmchip0``.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "adding-a-backend.md"


def install_example(site: Path) -> None:
    """The document's module and entry point, as an installed distribution in ``site``.

    "Installed" is a ``.dist-info`` folder next to the module (put ``site`` on
    ``PYTHONPATH``): what ``pip install`` of the example's distribution leaves, and what
    ``importlib.metadata`` reads for the registry.
    """
    text = DOC.read_text()
    [module] = re.findall(r"```python\n(.*?)```", text, re.S)
    [entry] = re.findall(
        r'```toml\n\[project.entry-points."pc6band.backends"\]\n(.*?)```', text, re.S
    )
    name, target = (part.strip().strip('"') for part in entry.split("="))
    site.mkdir()
    (site / "pc6_sysfs_pwm.py").write_text(module)
    info = site / "pc6_sysfs_pwm-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pc6-sysfs-pwm\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[pc6band.backends]\n{name} = {target}\n")


def pwm_chip(root: Path) -> Path:
    """A ``pwmchip0`` with channel 0 exported under ``root``; returns the channel's folder."""
    channel = root / "pwmchip0" / "pwm0"
    channel.mkdir(parents=True)
    for name in ("export", "pwm0/period", "pwm0/enable"):
        (root / "pwmchip0" / name).write_text("")
    return channel
