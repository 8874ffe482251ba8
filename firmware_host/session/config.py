"""The daemon's config: one TOML file, validated the moment it is read.

Every error names the key (``schedule[1].at``), its line where it can be found, and the
bound; an unknown key gets the likely intended one. A missing file is not an error: the
defaults drive the simulator, which says SIMULATED. The commented example shipped with the
package (``firmware_host/data/pc6band.example.toml``) documents every key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from firmware_host.drive.actuator import ActuatorKind, available_backends, check_backend_options
from firmware_host.drive.calibration import Calibration
from firmware_host.durations import parse_duration_ms
from firmware_host.errors import BackendUnavailable, ConfigError, DurationError
from firmware_host.files import read_regular, reason
from firmware_host.guard.limits import Limits, limits_for
from firmware_host.paths import default_config_path, default_journal_path, default_socket_path
from firmware_host.plan.schedule import Entry, parse_entries, zone
from firmware_host.tomlpos import field_lines, line_of

TOP_KEYS = (
    "timezone",
    "require_clock_sync",
    "backend",
    "calibration",
    "limits",
    "schedule",
    "journal",
    "control",
    "profiles",
    "stop_button",
    "daemon",
)
SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "journal": ("path",),
    "control": ("socket", "group"),
    "profiles": ("dirs",),
    "stop_button": ("pin", "long_press_s", "pull_up"),
    "daemon": ("grace", "check_every"),
}
KINDS = tuple(k.value for k in ActuatorKind)


@dataclass(frozen=True)
class StopButtonConfig:
    """A push button on a GPIO pin: press stops, hold trips."""

    pin: int
    long_press_s: float = 2.0
    pull_up: bool = True


@dataclass(frozen=True)
class Config:
    """The effective config, defaults filled in."""

    source: str = "<defaults>"
    sha256: str = ""
    backend: str = "sim"
    kind: ActuatorKind = ActuatorKind.VIBRATION
    kind_given: bool = False  # [backend] kind written in the file (else a band may say)
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    timezone: str | None = None
    require_clock_sync: bool = True
    calibration: Mapping[ActuatorKind, Calibration] = field(default_factory=dict)
    limits: Mapping[ActuatorKind, Limits] = field(default_factory=dict)
    schedule: tuple[Entry, ...] = ()
    journal: Path = field(default_factory=default_journal_path)
    socket: Path = field(default_factory=lambda: default_socket_path())
    socket_group: str | None = None
    profile_dirs: tuple[Path, ...] = ()
    stop_button: StopButtonConfig | None = None
    grace_s: float = 600.0
    check_every_s: float = 30.0

    @property
    def tz(self) -> dt.tzinfo:
        """The schedule's time zone."""
        return zone(self.timezone)

    def calibration_for(self, kind: ActuatorKind) -> Calibration:
        """The wearer's levels for ``kind`` (the full range when not calibrated)."""
        return self.calibration.get(kind, Calibration())

    def limits_for(self, kind: ActuatorKind) -> Limits:
        """The safety limits for ``kind``."""
        return self.limits.get(kind) or limits_for(kind)


def example_config_text() -> str:
    """The commented example config shipped with the package."""
    from importlib.resources import files

    return (files("firmware_host") / "data" / "pc6band.example.toml").read_text("utf-8")


def load_config(path: str | Path | None = None, *, missing_ok: bool = True) -> Config:
    """Read and validate the config file.

    Only the default location may be missing (then the defaults apply, if ``missing_ok``):
    a path a person named that does not exist is a typo, and an error everywhere.

    Raises:
        ConfigError: no such file (an explicit path), unreadable, not TOML, or an invalid
            value — naming the file, the line and the key.
    """
    default = default_config_path()
    path = Path(path) if path is not None else default
    try:
        raw = read_regular(path, what="a config file")  # never a FIFO or /dev/zero
    except FileNotFoundError:
        if missing_ok and path == default:
            return Config(source=f"{path} (not found: defaults)")
        raise ConfigError(f"{path}: no such config file") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {reason(err)}") from err
    return parse_config(raw, source=str(path), base=path.parent, origin=path)


def parse_config(
    raw: bytes | str,
    *,
    source: str = "<config>",
    base: Path | None = None,
    origin: Path | None = None,
) -> Config:
    """Validate config text; relative paths are taken from ``base``.

    ``origin`` is the file it came from: the system service's config gets the service's
    journal and socket as defaults (see :mod:`firmware_host.paths`).

    Raises:
        ConfigError: with ``source:line: key: reason``.
    """
    data = raw.encode() if isinstance(raw, str) else raw
    try:
        text = data.decode("utf-8")
        table = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"{source}: not valid TOML: {err}") from err
    try:
        config = _build(table, source, base or Path.cwd(), origin)
    except ConfigError as err:
        message = str(err)
        key = message.split(":", 1)[0]
        line = line_of(field_lines(text), key)
        where = f"{source}:{line}" if line else source
        raise ConfigError(f"{where}: {message}") from None
    return _replace(config, sha256=hashlib.sha256(data).hexdigest())


def _replace(config: Config, **changes: Any) -> Config:
    from dataclasses import replace

    return replace(config, **changes)


def _build(table: Mapping[str, Any], source: str, base: Path, origin: Path | None) -> Config:
    _known(table, TOP_KEYS, "")
    for name, keys in SECTION_KEYS.items():
        _known(_table(table, name), keys, name)
    backend, kind, options = _backend(_table(table, "backend"))
    kind_given = "kind" in _table(table, "backend")
    timezone = table.get("timezone")
    if timezone is not None:
        if not isinstance(timezone, str):
            raise ConfigError('timezone: must be an IANA name like "Europe/London"')
        zone(timezone)
    control = _table(table, "control")
    daemon = _table(table, "daemon")
    journal = _table(table, "journal")
    profiles = _table(table, "profiles")
    return Config(
        source=source,
        backend=backend,
        kind=kind,
        kind_given=kind_given,
        backend_options=options,
        timezone=timezone,
        require_clock_sync=_bool(table.get("require_clock_sync", True), "require_clock_sync"),
        calibration=_calibrations(_table(table, "calibration")),
        limits=_limits(_table(table, "limits")),
        schedule=parse_entries(table.get("schedule")),
        journal=_path(journal.get("path"), "journal.path", base) or default_journal_path(origin),
        socket=_path(control.get("socket"), "control.socket", base) or default_socket_path(origin),
        socket_group=_text(control.get("group"), "control.group"),
        profile_dirs=tuple(_dirs(profiles.get("dirs", []), base)),
        stop_button=_stop_button(_table(table, "stop_button")),
        grace_s=_seconds(daemon.get("grace", "10m"), "daemon.grace", zero_ok=True),
        check_every_s=_seconds(daemon.get("check_every", "30s"), "daemon.check_every"),
    )


def _known(table: Mapping[str, Any], keys: tuple[str, ...], section: str) -> None:
    for key in table:
        if key not in keys:
            hint = get_close_matches(key, keys, n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            name = f"{section}.{key}" if section else key
            raise ConfigError(f"{name}: unknown key{extra}")


def _table(table: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = table.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name}: must be a table ([{name}])")
    return value


def _backend(table: Mapping[str, Any]) -> tuple[str, ActuatorKind, dict[str, Any]]:
    """The ``[backend]`` table: a registered name, a kind, and options its backend accepts."""
    name = table.get("name", "sim")
    known = available_backends()
    if name not in known:
        hint = get_close_matches(str(name), known, n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else ""
        raise ConfigError(f"backend.name: must be one of {', '.join(known)}, got {name!r}{extra}")
    kind = table.get("kind", "vibration")
    if kind not in KINDS:
        raise ConfigError(f"backend.kind: must be vibration or pressure, got {kind!r}")
    options = {k: v for k, v in table.items() if k not in ("name", "kind")}
    try:
        # Each backend owns its option schema; the registry hands it over (now, not at bedtime).
        options = check_backend_options(name, ActuatorKind(kind), options)
    except ConfigError as err:
        raise ConfigError(f"backend.{err}") from None
    except BackendUnavailable:
        pass  # its module cannot be imported here; it validates when created
    return name, ActuatorKind(kind), options


def _calibrations(table: Mapping[str, Any]) -> dict[ActuatorKind, Calibration]:
    _known(table, KINDS, "calibration")
    result = {}
    for kind, values in table.items():
        name = f"calibration.{kind}"
        if not isinstance(values, Mapping):
            raise ConfigError(f"{name}: must be a table with felt and comfortable")
        _known(values, ("felt", "comfortable"), name)
        felt = _fraction(values.get("felt", 0.0), f"{name}.felt")
        comfortable = _fraction(values.get("comfortable", 1.0), f"{name}.comfortable")
        if comfortable <= 0:
            raise ConfigError(f"{name}.comfortable: must be above 0")
        if felt >= comfortable:
            raise ConfigError(
                f"{name}.felt: must be below comfortable ({comfortable:g}), got {felt:g}"
            )
        result[ActuatorKind(kind)] = Calibration(felt, comfortable)
    return result


def _limits(table: Mapping[str, Any]) -> dict[ActuatorKind, Limits]:
    _known(table, KINDS, "limits")
    result = {}
    for kind in ActuatorKind:
        values = table.get(kind.value, {})
        if not isinstance(values, Mapping):
            raise ConfigError(f"limits.{kind.value}: must be a table")
        result[kind] = limits_for(kind, dict(values), section=f"limits.{kind.value}")
    return result


def _stop_button(table: Mapping[str, Any]) -> StopButtonConfig | None:
    if not table:
        return None
    pin = table.get("pin")
    if isinstance(pin, bool) or not isinstance(pin, int) or not 0 <= pin <= 27:
        raise ConfigError(f"stop_button.pin: must be a GPIO number 0–27, got {pin!r}")
    long_press = _seconds(table.get("long_press_s", 2.0), "stop_button.long_press_s")
    return StopButtonConfig(
        pin, long_press, _bool(table.get("pull_up", True), "stop_button.pull_up")
    )


def _fraction(raw: Any, name: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise ConfigError(f"{name}: must be a number from 0 to 1, got {raw!r}")
    if not 0 <= raw <= 1:
        raise ConfigError(f"{name}: must be from 0 to 1, got {raw!r}")
    return float(raw)


def _seconds(raw: Any, name: str, *, zero_ok: bool = False) -> float:
    try:
        return parse_duration_ms(raw, allow_zero=zero_ok) / 1000
    except DurationError as err:
        raise ConfigError(f"{name}: {err}") from None


def _bool(raw: Any, name: str) -> bool:
    if not isinstance(raw, bool):
        raise ConfigError(f"{name}: must be true or false, got {raw!r}")
    return raw


def _text(raw: Any, name: str) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw:
        raise ConfigError(f"{name}: must be text, got {raw!r}")
    return raw


def _path(raw: Any, name: str, base: Path) -> Path | None:
    text = _text(raw, name)
    if text is None:
        return None
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path


def _dirs(raw: Any, base: Path) -> list[Path]:
    if not isinstance(raw, list):
        raise ConfigError(f"profiles.dirs: must be a list of directories, got {raw!r}")
    return [p for i, item in enumerate(raw) if (p := _path(item, f"profiles.dirs[{i}]", base))]


def effective(config: Config) -> dict[str, Any]:
    """The config as a table, defaults filled in (for ``pc6 config show``)."""
    from dataclasses import asdict

    table: dict[str, Any] = {
        "timezone": config.timezone or f"(system: {config.tz})",
        "require_clock_sync": config.require_clock_sync,
        "backend": {
            "name": config.backend,
            "kind": config.kind.value,
            **dict(config.backend_options),
        },
        "calibration": {k.value: asdict(config.calibration_for(k)) for k in ActuatorKind},
        "limits": {k.value: asdict(config.limits_for(k)) for k in ActuatorKind},
        "journal": {"path": str(config.journal)},
        "control": {"socket": str(config.socket), "group": config.socket_group or "(none)"},
        "profiles": {"dirs": [str(p) for p in config.profile_dirs]},
        "daemon": {"grace": f"{config.grace_s:g}s", "check_every": f"{config.check_every_s:g}s"},
    }
    if config.stop_button:
        table["stop_button"] = asdict(config.stop_button)
    table["schedule"] = [
        {"entry": e.describe(), **({"label": e.label} if e.label else {})} for e in config.schedule
    ]
    return table


def to_toml(table: Mapping[str, Any]) -> str:
    """A small TOML writer for :func:`effective` (tables, arrays of tables, scalars)."""
    lines: list[str] = []
    scalars = {
        k: v
        for k, v in table.items()
        if not isinstance(v, Mapping | list)
        or (isinstance(v, list) and not any(isinstance(x, Mapping) for x in v))
    }
    lines += [f"{k} = {_value(v)}" for k, v in scalars.items()]
    for key, value in table.items():
        if isinstance(value, Mapping):
            nested = {k: v for k, v in value.items() if isinstance(v, Mapping)}
            flat = {k: v for k, v in value.items() if k not in nested}
            if flat or not nested:
                lines += ["", f"[{key}]"] + [f"{k} = {_value(v)}" for k, v in flat.items()]
            for sub, inner in nested.items():
                lines += ["", f"[{key}.{sub}]"] + [f"{k} = {_value(v)}" for k, v in inner.items()]
        elif isinstance(value, list) and any(isinstance(x, Mapping) for x in value):
            for item in value:
                lines += ["", f"[[{key}]]"] + [f"{k} = {_value(v)}" for k, v in item.items()]
    return "\n".join(lines).lstrip("\n") + "\n"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "inf" if value == math.inf else f"{value:g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
