"""``pc6 daemon`` on the real clock: signals, the control socket and the stop button.

SIGTERM and SIGINT stop the service (the running session ramps down first), SIGHUP reloads
the config. systemd's ``ExecStopPost=`` forces the outputs off again afterwards, whatever
happened here.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from firmware_host.clock import RealClock
from firmware_host.drive.actuator import backend_is_simulated
from firmware_host.service.control import ControlServer
from firmware_host.service.daemon import Daemon
from firmware_host.service.sdnotify import Notifier
from firmware_host.session.config import StopButtonConfig, default_socket_path

logger = logging.getLogger(__name__)


def serve(config_path: Path) -> int:
    """Run the daemon until SIGTERM; returns the exit code."""
    logging.getLogger().setLevel(logging.INFO)
    return asyncio.run(_serve(config_path))


async def _serve(config_path: Path) -> int:
    daemon = Daemon(config_path, clock=RealClock(), notifier=Notifier.from_env())
    daemon.reload()
    config = daemon.config
    if daemon.config_error:
        print(
            f"pc6 daemon: config invalid, no session will start: {daemon.config_error}",
            file=sys.stderr,
            flush=True,
        )
    elif config is not None and backend_is_simulated(config.backend, config.backend_options):
        # The backend's own answer, as in `ctl status` and every session's banner.
        print(
            f"pc6 daemon: SIMULATED — backend {config.backend}, nothing physical moves",
            flush=True,
        )
    socket = config.socket if config else default_socket_path()
    server = ControlServer(daemon, socket, group=config.socket_group if config else None)
    await server.start()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, daemon.request_stop)
    loop.add_signal_handler(signal.SIGINT, daemon.request_stop)
    loop.add_signal_handler(signal.SIGHUP, daemon.reload)
    detach = _attach_button(daemon, config.stop_button if config else None)
    try:
        await daemon.run()
    finally:
        detach()
        await server.close()
        daemon.journal.close()
    return 0


def _attach_button(daemon: Daemon, button: StopButtonConfig | None) -> Callable[[], None]:
    """Watch the stop button for the daemon's whole life (press: stop; hold: trip)."""
    if button is None:
        return lambda: None
    try:
        from gpiozero import Button
    except ImportError as err:
        logger.error("stop button configured but gpiozero is missing: %s", err)
        return lambda: None
    loop = asyncio.get_running_loop()
    try:
        device = Button(button.pin, pull_up=button.pull_up, hold_time=button.long_press_s)
    except Exception as err:  # no GPIO here (not a Pi, or no permission): say so, go on
        logger.error("stop button on GPIO%d unavailable: %s", button.pin, err)
        return lambda: None
    # gpiozero calls these from its own thread; the daemon lives on the loop.
    device.when_pressed = lambda: loop.call_soon_threadsafe(daemon.stop_button_pressed)
    device.when_held = lambda: loop.call_soon_threadsafe(daemon.stop_button_held)

    def detach() -> None:
        try:
            device.close()
        except Exception:  # leaving anyway; never hide why
            logger.exception("stop button: could not free the pin")

    return detach
