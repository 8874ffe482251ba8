"""A physical stop button on a GPIO pin, whatever backend drives the wrist.

One press stops the session with the gate's soft ramp down; holding it for ``long_press_s``
trips the safety gate, which latches every output off until a person resets it.

gpiozero calls button callbacks from its own thread on a Pi (synchronously under the mock
factory); both are handed to the event loop, and the long press is timed on the loop's
clock — not with gpiozero's ``when_held`` thread, which runs on real time only.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from gpiozero import Button

from firmware_host.guard.gate import SafetyGate
from firmware_host.play.engine import Engine

logger = logging.getLogger(__name__)


class StopButton:
    """The button's state machine on the event loop; see :func:`attach_stop_button`."""

    def __init__(
        self, engine: Engine, gate: SafetyGate, button: Button, long_press_s: float
    ) -> None:
        self.engine = engine
        self.gate = gate
        self.button = button
        self.long_press_s = long_press_s
        self.presses = 0
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._held: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        button.when_pressed = lambda: self._to_loop(self._pressed)
        button.when_released = lambda: self._to_loop(self._released)

    def _to_loop(self, callback: Callable[[], None]) -> None:
        if threading.get_ident() == self._loop_thread:
            callback()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(callback)

    def _pressed(self) -> None:
        self.presses += 1
        logger.warning("stop button pressed: stopping the session")
        self.engine.stop("stop button")
        self._cancel_hold()
        self._held = self._loop.call_later(self.long_press_s, self._long_press)

    def _released(self) -> None:
        self._cancel_hold()

    def _long_press(self) -> None:
        self._held = None
        if not self.button.is_pressed:
            return  # a release was still on its way from the button's thread
        task = self._loop.create_task(self.gate.trip("stop button held"))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _cancel_hold(self) -> None:
        if self._held is not None:
            self._held.cancel()
            self._held = None

    def detach(self) -> None:
        """Stop listening and free the pin. Idempotent."""
        self._cancel_hold()
        try:
            self.button.when_pressed = None
            self.button.when_released = None
            self.button.close()
        except Exception:  # detaching runs on the way out; never hide why we are leaving
            logger.exception("stop button: could not close the pin")


def attach_stop_button(
    engine: Engine,
    gate: SafetyGate,
    pin: int | str,
    *,
    pin_factory: Any = None,
    long_press_s: float = 2.0,
    pull_up: bool = True,
    bounce_s: float | None = None,
) -> Callable[[], None]:
    """Watch a push button on ``pin``; call from the event loop that runs the session.

    Args:
        engine: the session to stop on a press.
        gate: the safety gate to trip on a long press.
        pin: the GPIO the button is on (to ground, with the internal pull-up by default).
        pin_factory: a gpiozero factory (tests pass a ``MockFactory``).
        long_press_s: how long a press must be held to trip everything off.
        pull_up: button to ground with the pull-up (True) or to 3V3 with the pull-down.
        bounce_s: debounce time for a mechanical button.

    Returns:
        A callable that detaches the button and frees its pin.
    """
    button = Button(pin, pull_up=pull_up, bounce_time=bounce_s, pin_factory=pin_factory)
    watcher = StopButton(engine, gate, button, long_press_s)
    return watcher.detach
