"""What ``pc6 service install`` and ``uninstall`` do, as a list of steps.

Each step looks at the system when it is planned: one already done says ``ok`` and changes
nothing, so running the install twice changes nothing the second time. ``--dry-run`` prints
the plan and runs none of it. The unit and the udev rule are templates in the package
(``firmware_host/data``), so a plain ``pip install`` can set the service up.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from firmware_host.errors import PC6Error
from firmware_host.paths import SystemPaths

#: Groups that give the service its hardware, where the system has them. gpio and spi are
#: created when missing (stock Debian has neither; Raspberry Pi OS has both, and our udev
#: rule hands the device nodes to them); bluetooth comes with BlueZ; dialout is in base-passwd.
HARDWARE_GROUPS = ("gpio", "spi", "dialout", "bluetooth")
CREATED_GROUPS = ("gpio", "spi")
UDEV_RULE = Path("etc/udev/rules.d/99-pc6band.rules")


@dataclass(frozen=True)
class Unit:
    """A systemd unit the install writes from a package template."""

    template: str
    name: str
    flag: str | None = None  # installed only with --FLAG (``pc6 service install --web``)
    help: str = ""


#: The units; an optional one adds a ``--flag`` to ``pc6 service install``.
UNITS: list[Unit] = [
    Unit("pc6band.service.in", "pc6band.service"),
    Unit(
        "pc6band-web.service.in",
        "pc6band-web.service",
        flag="web",
        help="also the bedside page (pc6 web, localhost:8606; see docs/web.md)",
    ),
]


@dataclass
class Step:
    """One thing the install does; ``run`` is None when it is already done."""

    verb: str
    what: str
    run: Callable[[], None] | None = None

    def line(self) -> str:
        """How the step reads in the output."""
        return f"  {self.verb:<8} {self.what}"


@dataclass
class Options:
    """What the person asked for."""

    user: str = "pc6band"
    config: Path | None = None
    members: list[str] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)
    paths: SystemPaths = field(default_factory=SystemPaths)
    bindir: Path = field(default_factory=lambda: Path(sys.executable).parent)
    key_dirs: list[Path] = field(default_factory=list)


def template(name: str) -> str:
    """A template from the package's data folder."""
    return (files("firmware_host") / "data" / name).read_text("utf-8")


def data_dir() -> Path:
    """The package's data folder on disk (the installed install guide lives there)."""
    return Path(str(files("firmware_host") / "data"))


def render_unit(unit: Unit, opts: Options) -> str:
    """The unit file with this install's paths and user filled in."""
    text = template(unit.template)
    for key, value in (
        ("@BINDIR@", str(opts.bindir)),
        ("@CONFIG@", str(SystemPaths().config)),  # the path the running system sees
        ("@USER@", opts.user),
        ("@DATADIR@", str(data_dir())),
    ):
        text = text.replace(key, value)
    return text


def usb_serials(band_id: str) -> list[str]:
    """The USB serial numbers a band with this id reports (see the udev template)."""
    serials = [band_id.upper()]
    raw = bytes.fromhex(band_id)
    if raw[6:] == b"\0\0":  # a 6-byte MAC, padded: an ESP32's USB-Serial/JTAG
        serials.insert(0, ":".join(f"{b:02X}" for b in raw[:6]))
    return serials


def render_rule(band_ids: list[str], group: str) -> str:
    """The udev rule: one line per paired band, /dev/pc6band only while there is one."""
    lines = []
    for band_id in band_ids:
        links = f"pc6band-{band_id}" + (" pc6band" if len(band_ids) == 1 else "")
        lines.append(
            f'SUBSYSTEM=="tty", ATTRS{{serial}}=="{"|".join(usb_serials(band_id))}", '
            'ENV{ID_MM_DEVICE_IGNORE}="1", ENV{ID_MM_PORT_IGNORE}="1", '
            f'GROUP="{group}", MODE="0660", SYMLINK+="{links}"'
        )
    bands = "\n".join(lines) or "# No band paired yet: `pc6 band pair`, then run the install again."
    return template("99-pc6band.rules.in").replace("@BANDS@", bands).replace("@GROUP@", group)


def _exists(kind: str, name: str) -> bool:
    try:
        (pwd.getpwnam if kind == "user" else grp.getgrnam)(name)
    except KeyError:
        return False
    return True


def _member(user: str, group: str) -> bool:
    try:
        entry = grp.getgrnam(group)
    except KeyError:
        return False
    try:
        primary = pwd.getpwnam(user).pw_gid == entry.gr_gid
    except KeyError:
        primary = False
    return primary or user in entry.gr_mem


def _cmd(*argv: str) -> Callable[[], None]:
    def run() -> None:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise PC6Error(f"{' '.join(argv)}: {detail[-1] if detail else done.returncode}")

    return run


def _owner(path: Path) -> tuple[str, str, int] | None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    try:
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return user, group, st.st_mode & 0o7777


def folder(path: Path, user: str, group: str, mode: int) -> Step:
    """A folder with this owner and mode (made, or put right)."""
    what = f"{path}/ {user}:{group} {mode:04o}"
    have = _owner(path)
    if have == (user, group, mode):
        return Step("ok", what)

    def run() -> None:
        path.mkdir(parents=True, exist_ok=True)
        shutil.chown(path, user, group)
        path.chmod(mode)

    return Step(
        "create" if have is None else "fix", what + (f" (was {_show(have)})" if have else ""), run
    )


def _show(have: tuple[str, str, int]) -> str:
    return f"{have[0]}:{have[1]} {have[2]:04o}"


def file(path: Path, text: str, user: str, group: str, mode: int) -> Step:
    """A file with this content, owner and mode (written atomically)."""
    what = f"{path} {user}:{group} {mode:04o}"
    have = _owner(path)
    same = have is not None and path.is_file() and path.read_bytes() == text.encode()
    if same and have == (user, group, mode):
        return Step("ok", what)

    def run() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.pc6-new")
        tmp.write_text(text, "utf-8")
        shutil.chown(tmp, user, group)
        tmp.chmod(mode)
        os.replace(tmp, path)

    return Step("fix" if same else "write", what, run)


def kept_file(path: Path, text: str, group: str, mode: int) -> Step:
    """A file the person may have edited: written when missing, else never replaced.

    An existing one keeps its content; only its group and mode are put right (the service
    group must be able to read it, and ``pc6 calibrate`` to save into it).
    """
    have = _owner(path)
    if have is None:
        return file(path, text, "root", group, mode)
    if path.read_bytes() == text.encode():
        note = "same content"
    else:
        note = "exists and differs: NOT overwritten (remove it first to replace it)"
    if have[1:] == (group, mode):
        return Step("keep", f"{path} ({note})")

    def run() -> None:
        shutil.chown(path, group=group)
        path.chmod(mode)

    return Step("fix", f"{path} ({note}); group/mode {_show(have)} -> {group} {mode:04o}", run)


def _system_user(opts: Options) -> Step:
    user, home = opts.user, SystemPaths().state_dir  # the path the running system sees
    what = f"system user {user} (group {user}, home {home}, no login shell)"
    if _exists("user", user):
        return Step("ok", what)
    if _exists("group", user):
        argv = ["useradd", "--system", "--gid", user]
    else:
        argv = ["useradd", "--system", "--user-group"]
    nologin = "/usr/sbin/nologin" if Path("/usr/sbin/nologin").exists() else "/bin/false"
    argv += ["--home-dir", str(home), "--no-create-home", "--shell", nologin, user]
    return Step("create", what, _cmd(*argv))


def _groups(opts: Options) -> list[Step]:
    steps = []
    for group in HARDWARE_GROUPS:
        exists = _exists("group", group)
        if not exists and group in CREATED_GROUPS:
            steps.append(
                Step(
                    "create",
                    f"group {group} (the udev rule gives it the devices)",
                    _cmd("groupadd", "--system", group),
                )
            )
            exists = True
        if not exists:
            steps.append(Step("skip", f"group {group}: not on this system (BlueZ not installed?)"))
        elif _member(opts.user, group):
            steps.append(Step("ok", f"{opts.user} in group {group}"))
        else:
            steps.append(
                Step(
                    "add",
                    f"{opts.user} to group {group}",
                    _cmd("usermod", "--append", "--groups", group, opts.user),
                )
            )
    for member in opts.members:
        if _member(member, opts.user):
            steps.append(Step("ok", f"{member} in group {opts.user} (may use pc6 ctl, pc6 log)"))
        else:
            steps.append(
                Step(
                    "add",
                    f"{member} to group {opts.user} (pc6 ctl, pc6 log; log in "
                    "again for it to count)",
                    _cmd("usermod", "--append", "--groups", opts.user, member),
                )
            )
    return steps


def _folders(opts: Options) -> list[Step]:
    p, u = opts.paths, opts.user
    return [
        # setgid: files saved into it (pc6 calibrate, edited profiles) keep the group.
        folder(p.config_dir, "root", u, 0o2775),
        folder(p.config_dir / "profiles", "root", u, 0o2775),
        folder(p.config_dir / "bands", u, u, 0o700),  # band keys: the daemon's alone
        folder(p.state_dir, u, u, 0o750),  # the journal: the group reads it
        folder(p.runtime_dir, u, u, 0o750),  # the control socket (systemd makes it too)
    ]


def _config(opts: Options) -> Step:
    if opts.config is None:
        from firmware_host.session.config import example_config_text

        text = example_config_text()
    else:
        text = opts.config.read_text("utf-8")
    return kept_file(opts.paths.config, text, opts.user, 0o664)


def _band_keys(opts: Options) -> tuple[list[Step], list[str]]:
    target = opts.paths.config_dir / "bands"
    found = {k.stem: k for d in opts.key_dirs for k in sorted(d.glob("*.key")) if k.is_file()}
    steps = []
    for source in found.values():
        dest = target / source.name
        text = source.read_text("utf-8")
        if dest.exists() and dest.read_text("utf-8") != text:
            steps.append(Step("keep", f"{dest} (differs from {source}: NOT overwritten)"))
            continue
        step = file(dest, text, opts.user, opts.user, 0o600)
        step.what += f" (band key from {source})"
        steps.append(step)
    ids = set(found)
    if target.is_dir():
        ids |= {k.stem for k in target.glob("*.key")}
    return steps, sorted(i for i in ids if _is_band_id(i))


def _is_band_id(text: str) -> bool:
    return len(text) == 16 and all(c in "0123456789abcdef" for c in text)


def _systemd_running() -> bool:
    return Path("/run/systemd/system").is_dir()


def install_steps(opts: Options) -> list[Step]:
    """Everything the install does, in order."""
    steps = [_system_user(opts), *_groups(opts), *_folders(opts), _config(opts)]
    key_steps, band_ids = _band_keys(opts)
    steps += key_steps
    rule = opts.paths.root / UDEV_RULE
    steps.append(file(rule, render_rule(band_ids, opts.user), "root", "root", 0o644))
    if (
        rule.parent.parent.is_dir()
        and shutil.which("udevadm")
        and Path("/run/udev/control").exists()
    ):
        steps.append(Step("run", "udevadm control --reload; udevadm trigger", _udev_reload))
    else:
        steps.append(Step("skip", "udev reload: udev is not running here"))
    units_changed = False
    for unit in [u for u in UNITS if u.flag is None] + opts.units:
        step = file(
            opts.paths.root / "etc/systemd/system" / unit.name,
            render_unit(unit, opts),
            "root",
            "root",
            0o644,
        )
        units_changed = units_changed or step.run is not None
        steps.append(step)
    config_changed = any(s.run for s in steps if str(opts.paths.config) in s.what)
    steps += _start(opts, config_changed, units_changed)
    return steps


def _rmtree(path: Path) -> Callable[[], None]:
    return lambda: shutil.rmtree(path)


def _udev_reload() -> None:
    _cmd("udevadm", "control", "--reload")()
    _cmd(
        "udevadm",
        "trigger",
        "--subsystem-match=tty",
        "--subsystem-match=gpio",
        "--subsystem-match=spidev",
        "--action=change",
    )()


def _start(opts: Options, changed: bool, units_changed: bool) -> list[Step]:
    if not _systemd_running():
        return [Step("skip", "systemctl: systemd is not running here; start pc6band by hand")]
    names = [u.name for u in UNITS if u.flag is None] + [u.name for u in opts.units]
    steps = []
    if units_changed:
        steps.append(Step("run", "systemctl daemon-reload", _cmd("systemctl", "daemon-reload")))
    for name in names:
        enabled = _systemctl("is-enabled", name) == "enabled"
        active = _systemctl("is-active", name) == "active"
        if changed or units_changed:
            verb = "restart" if active else "start"
        elif not (enabled and active):
            verb = "start"
        else:
            steps.append(Step("ok", f"{name} enabled and active"))
            continue
        steps.append(
            Step("run", f"systemctl enable {name}; systemctl {verb} {name}", _enable(name, verb))
        )
    return steps


def _systemctl(verb: str, name: str) -> str:
    done = subprocess.run(["systemctl", verb, name], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def _enable(name: str, verb: str) -> Callable[[], None]:
    def run() -> None:
        _cmd("systemctl", "enable", "--quiet", name)()
        _cmd("systemctl", verb, name)()

    return run


def uninstall_steps(opts: Options, *, purge: bool) -> list[Step]:
    """Stop and remove the service; ``purge`` also removes config, journal and the user."""
    steps = []
    names = [u.name for u in UNITS]
    units = [opts.paths.root / "etc/systemd/system" / n for n in names]
    if _systemd_running():
        for name, path in zip(names, units, strict=True):
            if path.exists():
                steps.append(
                    Step(
                        "run",
                        f"systemctl disable --now {name}",
                        _cmd("systemctl", "disable", "--now", "--quiet", name),
                    )
                )
    for path in [*units, opts.paths.root / UDEV_RULE]:
        if path.exists():
            steps.append(Step("remove", str(path), path.unlink))
    if _systemd_running() and any(s.verb == "remove" for s in steps):
        steps.append(Step("run", "systemctl daemon-reload", _cmd("systemctl", "daemon-reload")))
    kept = [opts.paths.config_dir, opts.paths.state_dir]
    if not purge:
        steps += [Step("keep", f"{p}/ (--purge removes it)") for p in kept if p.exists()]
        if _exists("user", opts.user):
            steps.append(Step("keep", f"user {opts.user} (--purge removes it)"))
        return steps
    for path in [*kept, opts.paths.runtime_dir]:
        if path.exists():
            steps.append(Step("remove", f"{path}/ and everything in it", _rmtree(path)))
    if _exists("user", opts.user):
        steps.append(Step("remove", f"user {opts.user}", _cmd("userdel", opts.user)))
    return steps
