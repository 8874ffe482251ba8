"""``pc6 sim night``: a whole night exactly as configured, on the virtual clock, in seconds.

The real :class:`~firmware_host.service.daemon.Daemon` runs — schedules, profiles, limits and
calibration from the config — against the simulated twin of the configured backend, with a
private journal, from the noon that starts the night to the noon that ends it. Then it
prints the morning report. A builder runs it in CI before wearing a changed config or
profile: exit 2 for an invalid config, 1 if the night would trip or hit a safety limit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from firmware_host.clock import LoopClock
from firmware_host.drive.actuator import Actuator, ActuatorKind, create_backend
from firmware_host.errors import BackendUnavailable, ConfigError
from firmware_host.plan.schedule import night_bounds, night_of
from firmware_host.plan.store import ProfileStore, check_schedule
from firmware_host.record.journal import Journal
from firmware_host.record.report import morning_report
from firmware_host.service.daemon import Daemon
from firmware_host.service.sdnotify import Notifier
from firmware_host.session.config import Config, load_config

logger = logging.getLogger(__name__)


@dataclass
class NightResult:
    """What a simulated night did."""

    report: str
    sessions: int
    tripped: list[str]
    limits: list[str]
    twin: str = "the simulator"

    @property
    def exit_code(self) -> int:
        """1 when the night tripped or hit a safety limit, else 0."""
        return 1 if self.tripped or self.limits else 0


BAND_BACKENDS = ("serial", "ble")


def twin_name(config: Config, link_latency: str = "none") -> str:
    """Which twin stands in for the configured backend, in words."""
    if config.backend in BAND_BACKENDS:
        return str(_band_twin().describe(config.backend, link_latency))
    if config.backend == "gpio":
        return "the gpio backend on simulated pins and wrist"
    return "the simulator"


def _band_twin() -> Any:
    """The simulator's band twin (entry point ``band`` in ``pc6band.twins``)."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="pc6band.twins"):
        if ep.name == "band":
            return ep.load()
    raise BackendUnavailable("no band twin installed (the simulator, pc6_sim, provides it)")


def twin_factory(config: Config, link_latency: str = "none") -> Any:
    """Makes the simulated twin of the configured backend (the daemon's session assembly
    applies the wearer's calibration and limits on top, as on the real night).

    The gpio backend runs on mock pins with its simulated wrist; a band (serial or BLE) is
    stood in for by its twin (``band-twin``: the real host link, codec and band firmware
    core over an in-memory link, with the ``link_latency`` model).
    """

    def make(cfg: Config, kind: ActuatorKind | None) -> Actuator:
        # A band left to say its kind: the twin stands in for one of the configured kind.
        kind = kind or cfg.kind
        inner: Actuator | None = None
        if cfg.backend in BAND_BACKENDS:
            twin = _band_twin()
            inner = twin.create(kind=kind.value, link=cfg.backend, latency=link_latency)
        if cfg.backend == "gpio":
            try:
                inner = create_backend(
                    "gpio", kind=kind.value, sim_pins=True, **dict(cfg.backend_options)
                )
            except BackendUnavailable as err:
                logger.warning("gpio twin unavailable (%s); using the simulator", err)
        if inner is None:
            inner = create_backend("sim", kind=kind.value)
        return inner

    return make


def simulate_night(
    config_path: Path,
    night: dt.date | None = None,
    *,
    plot: str | None = None,
    link_latency: str = "none",
) -> NightResult:
    """Run the night of ``night`` (default: the current one) and return the report.

    Raises:
        ConfigError: the config or a scheduled profile is invalid.
    """
    config = load_config(config_path, missing_ok=False)
    if plot:
        from firmware_host.pictures import check_output_path

        check_output_path(plot, "--plot")  # refused before the night is run
    store = ProfileStore(config.profile_dirs)
    check_schedule(config, store)
    tz = config.tz
    import time

    night = night or night_of(time.time(), tz)
    start, end = night_bounds(night, tz)
    with tempfile.TemporaryDirectory(prefix="pc6-night-") as tmp:
        journal_path = Path(tmp) / "night.sqlite"
        sim_config = replace(
            config,
            require_clock_sync=False,
            journal=journal_path,
            check_every_s=max(config.check_every_s, 3600.0),
        )
        with Journal(journal_path) as journal:
            run_daemon_virtually(
                sim_config, journal, start, end, twin_factory(config, link_latency)
            )
            report = morning_report(journal, night, tz)
            events = journal.events_between(start, end + 86400)
            sessions = journal.sessions_between(start, end)
            if plot:  # the journal is a temporary one: draw while it exists
                from firmware_host.record.night_plot import write_night_plot

                report += "\n" + write_night_plot(journal, night, tz, plot, simulated=True)
    tripped = [d for _, _, k, d in events if k == "trip"]
    tripped += [f"{s.profile}: {s.detail}" for s in sessions if s.reason == "tripped"]
    limits = [d for _, _, k, d in events if k == "limit"]
    return NightResult(report, len(sessions), tripped, limits, twin_name(config, link_latency))


def run_daemon_virtually(
    config: Config, journal: Journal, start: float, end: float, factory: Any
) -> None:
    """The real daemon on the virtual clock, from ``start`` to ``end`` (wall seconds).

    ``pc6 sim night`` runs one night this way, ``pc6 sim experiment --end-to-end`` a whole
    experiment; ``factory`` makes the actuators (see :func:`twin_factory`).

    Raises:
        ConfigError: the daemon refused the config or a scheduled profile.
    """
    import async_solipsism

    async def main() -> None:
        clock = LoopClock(simulated=True, epoch=start)
        clock.wall()
        daemon = Daemon(
            None,
            clock=clock,
            journal=journal,
            notifier=Notifier(None),
            clock_synced=lambda: True,
            actuator_factory=factory,
            config=config,
        )
        daemon.reload()
        if daemon.settings.error:
            raise ConfigError(daemon.settings.error)
        task = asyncio.get_running_loop().create_task(daemon.run())
        await clock.sleep_until(clock.now() + (end - clock.wall()))
        daemon.request_stop()
        await task

    loop = async_solipsism.EventLoop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()


def print_night(result: NightResult, config_path: Path, out: IO[str]) -> None:
    """The morning report, with the verdict."""
    print(f"SIMULATED — a virtual night of {config_path}; nothing physical moved", file=out)
    print(f"twin: {result.twin}", file=out)
    print(result.report, file=out)
    if result.tripped:
        print(f"SAFETY TRIP: {'; '.join(result.tripped)}", file=out)
    if result.limits:
        print(f"SAFETY LIMIT reached: {'; '.join(result.limits)}", file=out)
    if not result.tripped and not result.limits:
        print("ok: no trip, no safety limit reached", file=out)
