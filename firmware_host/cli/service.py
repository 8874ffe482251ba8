"""``pc6 service install`` and ``pc6 service uninstall``: the night daemon as a system service.

As root it creates the service user and the groups the hardware needs, the folders with
their owners and modes, the config (the commented example, or ``--config FILE``; an existing
one is never overwritten), the band keys paired so far, the udev rule and the systemd unit
(both from the package's own data, so a plain ``pip install`` can do it), then enables and
starts the service. Run it again at any time: what is already right is left alone.
``--dry-run`` prints every step and changes nothing (it needs no root).
"""

from __future__ import annotations

import argparse
import os
import pwd
import sys
from pathlib import Path
from typing import Any

EXIT_INVALID = 2


def register(sub: Any) -> None:
    """Add ``pc6 service`` to ``pc6``."""
    from firmware_host.cli.service_plan import UNITS

    service = sub.add_parser("service", help="install the night daemon as a system service")
    actions = service.add_subparsers(dest="action", metavar="ACTION", required=True)
    install = actions.add_parser("install", help="user, folders, config, udev rule, unit; start")
    install.add_argument("--config", metavar="FILE", help="config to install (default: example)")
    install.add_argument("--user", default="pc6band", help="the service user (default pc6band)")
    install.add_argument(
        "--member",
        action="append",
        metavar="USER",
        help="a login user to add to the service group (default: the one running sudo)",
    )
    install.add_argument("--dry-run", action="store_true", help="print the steps, change nothing")
    for unit in UNITS:
        if unit.flag:
            install.add_argument(f"--{unit.flag}", action="store_true", help=unit.help)
    install.set_defaults(handler=_cmd_install)
    uninstall = actions.add_parser("uninstall", help="stop and remove the unit and udev rule")
    uninstall.add_argument("--user", default="pc6band")
    uninstall.add_argument(
        "--purge", action="store_true", help="also remove config, journal, band keys and the user"
    )
    uninstall.add_argument("--dry-run", action="store_true", help="print the steps, change nothing")
    uninstall.set_defaults(handler=_cmd_uninstall)


def _refuse_non_root(action: str, dry_run: bool) -> None:
    from firmware_host.errors import PC6Error

    if not dry_run and os.geteuid() != 0:
        raise PC6Error(
            "service: must run as root to create the user, folders and unit: "
            f"sudo pc6 service {action} (or --dry-run to see what it would do)"
        )


def _options(args: argparse.Namespace) -> Any:
    from firmware_host.cli.service_plan import UNITS, Options
    from firmware_host.errors import InvalidInput
    from firmware_host.paths import system_paths

    opts = Options(user=args.user, paths=system_paths())
    if getattr(args, "config", None):
        opts.config = Path(args.config)
        _check_config(opts.config)
    sudo_user = os.environ.get("SUDO_USER")
    members = getattr(args, "member", None) or (
        [sudo_user] if sudo_user not in (None, "root") else []
    )
    for member in members:
        try:
            pwd.getpwnam(member)
        except KeyError:
            raise InvalidInput(f"--member: no such user {member!r}") from None
    opts.members = list(members)
    opts.units = [u for u in UNITS if u.flag and getattr(args, u.flag, False)]
    opts.key_dirs = _key_dirs(sudo_user)
    if str(opts.bindir).startswith(("/home/", "/root/")) or not (opts.bindir / "pc6").exists():
        raise InvalidInput(
            f"service: pc6 is run from {opts.bindir}, which the service cannot use (its sandbox "
            "hides /home and /root): install into a venv such as /opt/pc6band/venv and run "
            "that venv's pc6"
        )
    return opts


def _check_config(path: Path) -> None:
    from firmware_host.plan.store import ProfileStore, check_schedule
    from firmware_host.session.config import load_config

    config = load_config(path, missing_ok=False)
    check_schedule(config, ProfileStore(config.profile_dirs))


def _key_dirs(sudo_user: str | None) -> list[Path]:
    from firmware_host.paths import config_dir

    dirs = [config_dir() / "bands"]
    if sudo_user and sudo_user != "root":
        try:
            home = Path(pwd.getpwnam(sudo_user).pw_dir)
        except KeyError:
            return dirs
        dirs.append(home / ".config" / "pc6band" / "bands")
    return [d for d in dirs if d.is_dir()]


def _cmd_install(args: argparse.Namespace) -> int:
    from firmware_host.cli.service_plan import install_steps

    _refuse_non_root("install", args.dry_run)
    opts = _options(args)
    return _carry_out("install", install_steps(opts), args.dry_run)


def _cmd_uninstall(args: argparse.Namespace) -> int:
    from firmware_host.cli.service_plan import Options, uninstall_steps
    from firmware_host.paths import system_paths

    _refuse_non_root("uninstall", args.dry_run)
    opts = Options(user=args.user, paths=system_paths())
    return _carry_out("uninstall", uninstall_steps(opts, purge=args.purge), args.dry_run)


def _carry_out(what: str, steps: list[Any], dry_run: bool) -> int:
    from firmware_host.errors import PC6Error

    todo = [s for s in steps if s.run is not None]
    head = f"pc6 service {what}"
    print(f"{head} (dry run: nothing changes)" if dry_run else head)
    for step in steps:
        print(step.line(), flush=True)
        if dry_run or step.run is None:
            continue
        try:
            step.run()
        except (OSError, PC6Error) as err:
            print(f"pc6: service {what}: failed: {step.what}: {err}", file=sys.stderr)
            return 1
    if dry_run:
        print(f"{len(todo)} step(s) to do" if todo else "nothing to do: all in place")
    else:
        print(f"done: {len(todo)} change(s)" if todo else "nothing to do: all in place")
    return 0
