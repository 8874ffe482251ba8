"""``pc6 daemon`` on the real clock: signals, the control socket and the stop button.

SIGTERM, SIGINT, SIGQUIT, SIGUSR1 and SIGUSR2 stop the service (the running session ramps
down first), SIGHUP reloads the config. systemd's ``ExecStopPost=`` forces the outputs off
again afterwards, whatever happened here.
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
    if daemon.settings.error:
        _say(f"pc6 daemon: config invalid, no session will start: {daemon.settings.error}", True)
    elif config is not None and backend_is_simulated(config.backend, config.backend_options):
        # The backend's own answer, as in `ctl status` and every session's banner.
        _say(f"pc6 daemon: SIMULATED — backend {config.backend}, nothing physical moves")
    socket = config.socket if config else default_socket_path()
    server = ControlServer(daemon, socket, group=config.socket_group if config else None)
    await server.start()
    loop = asyncio.get_running_loop()
    # Every signal whose default would kill the process with an output on stops the
    # service the soft way instead; SIGHUP is the daemon's "read the config again".
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        loop.add_signal_handler(sig, daemon.request_stop)
    loop.add_signal_handler(signal.SIGHUP, daemon.reload)
    # A closed stdout (the banner's reader went away) must not kill it either.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    detach = _attach_button(daemon, config.stop_button if config else None)
    code = 0
    try:
        await daemon.run()
    except Exception:  # a bug in the loop: the daemon said so and tripped the output off
        code = 1  # for systemd's Restart=on-failure; the latched trip survives the restart
    finally:
        detach()
        await server.close()
        daemon.journal.close()
    return code


def _say(text: str, error: bool = False) -> None:
    """A banner line; a reader that went away is no reason to stop."""
    try:
        print(text, file=sys.stderr if error else sys.stdout, flush=True)
    except (BrokenPipeError, OSError, ValueError):
        logger.warning("banner not shown (output closed): %s", text)


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
