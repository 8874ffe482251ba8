"""What the safety gate tells its listeners: typed events, one class per kind.

Listeners (the engine, the journal, the daemon) ``match`` on the class; ``kind`` is the word
the journal stores, so what ``pc6 log`` shows stays the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class GateEvent:
    """Something the gate did or saw; ``reason`` says it in words."""

    reason: str
    kind: ClassVar[str] = "event"


@dataclass(frozen=True)
class Tripped(GateEvent):
    """Outputs latched off until a person resets the gate."""

    kind: ClassVar[str] = "trip"


@dataclass(frozen=True)
class Reset(GateEvent):
    """A person cleared a trip (``reason`` is the trip's)."""

    kind: ClassVar[str] = "reset"


@dataclass(frozen=True)
class LimitReached(GateEvent):
    """A safety limit cut the output: a rest, the session length, the nightly budget.

    ``ends_session`` is True when the session cannot go on (length, budget).
    """

    ends_session: bool = False
    kind: ClassVar[str] = "limit"


@dataclass(frozen=True)
class LinkChanged(GateEvent):
    """The link to the band dropped (``up`` False) or came back.

    Not a fault: the band turns itself off when its lease runs out, and the engine holds
    until the link is back, then resumes with a ramp.
    """

    up: bool = False
    kind: ClassVar[str] = "link"


EventSink = Callable[[GateEvent], None]
