"""The daemon refuses continuous stimulation beyond the hard ceiling, like pc6 run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daemon_testlib import T0, ctl, local, night, run_virtual, started_at, until, write_config

from firmware_host.clock import LoopClock
from firmware_host.service.daemon import Daemon

HOLD = (
    'name = "hold-9h"\ndescription = "A 9-hour press."\nkinds = ["pressure"]\n'
    '[[steps]]\nramp = 0.5\nover = "2s"\n[[steps]]\nhold = "9h"\n[[steps]]\nramp = 0\nover = "2s"\n'
)


def test_a_start_of_a_nine_hour_press_is_refused_and_nothing_runs(home: Path) -> None:
    (home / "profiles").mkdir(exist_ok=True)
    (home / "profiles" / "hold-9h.toml").write_text(HOLD)
    config = write_config(home, '[backend]\nname = "sim"\nkind = "pressure"\n')
    seen: dict[str, Any] = {}

    async def script(daemon: Daemon, clock: LoopClock) -> None:
        await until(clock, local(22, 0))
        seen["reply"] = await ctl(daemon, "start", profile="hold-9h")

    run_virtual(lambda: night(config, T0, local(22, 5), during=script))
    reply = seen["reply"]
    assert reply.get("ok") is False, reply
    assert "steps[1]" in str(reply) and "hard ceiling of 5m" in str(reply)
    assert started_at(home) == []
