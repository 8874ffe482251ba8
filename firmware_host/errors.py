"""The one exception tree of pc6band.

Each error also inherits the builtin it refines, so callers may catch either.
"""

from __future__ import annotations


class PC6Error(Exception):
    """Base of every error pc6band raises on purpose."""


class InvalidInput(PC6Error, ValueError):
    """Input from a person or a file was rejected; the CLI exits 2 for these."""


class DurationError(InvalidInput):
    """A duration string such as ``"90s"`` could not be read."""


class ProfileError(InvalidInput):
    """A profile file is invalid; the message names the file, field, line and reason."""

    def __init__(
        self,
        reason: str,
        *,
        source: str = "<profile>",
        field: str = "",
        line: int | None = None,
    ) -> None:
        self.reason = reason
        self.source = source
        self.field = field
        self.line = line
        where = source
        if line is not None:
            where += f":{line}"
        if field:
            where += f": {field}"
        super().__init__(f"{where}: {reason}")


class ConfigError(InvalidInput):
    """A configuration value is invalid; the message names the key and the bound."""


class ActuatorError(PC6Error, RuntimeError):
    """An actuator backend failed; the safety gate trips on it."""


class BackendUnavailable(PC6Error, RuntimeError):
    """A backend was asked for by name but cannot be used here (library or hardware missing)."""


class LinkError(ActuatorError, ConnectionError):
    """The link to a band was lost or refused."""


class SafetyTrip(PC6Error, RuntimeError):
    """The safety gate latched outputs off; a person must reset it."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"safety trip: {reason}")
