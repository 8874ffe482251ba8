"""A running daemon whose config becomes /dev/zero says why, in one line, and keeps the old."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daemon_testlib import T0, ctl, local, night, run_virtual, until, write_config

from firmware_host.clock import LoopClock
from firmware_host.service.daemon import Daemon


def test_config_turned_into_dev_zero_is_refused_with_a_reason(home: Path) -> None:
    config = write_config(home, '[daemon]\ncheck_every = "1m"\n')
    seen: dict[str, Any] = {}

    async def script(daemon: Daemon, clock: LoopClock) -> None:
        await until(clock, local(22, 1))
        config.unlink()
        config.symlink_to("/dev/zero")  # read whole, it would fill memory
        seen["reload"] = await ctl(daemon, "reload")
        seen["status"] = await ctl(daemon, "status")

    run_virtual(lambda: night(config, T0, local(22, 3), during=script))
    error = seen["status"]["config_error"]
    assert error.startswith(f"{config}: cannot read: not a regular file")
    assert "the previous config stays in use" in error
    assert seen["status"]["state"] != "config-invalid"
