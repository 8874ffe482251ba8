"""``pc6 band …``: pair, info, flash, scan.

A plain function taking ``argv`` and returning an exit code, so the ``pc6`` CLI can
dispatch to it: 0 success, 1 the band or link failed, 2 invalid input.
``python -m firmware_host.cli.band band …`` runs it standalone. (``pc6 sim band`` belongs
to the simulator: ``sim/cli.py``, registered by entry point.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from firmware_host.errors import InvalidInput, PC6Error

logger = logging.getLogger(__name__)

#: The firmware's modules, as ``main.py`` imports them (``tests/cli/test_band_flash.py``
#: checks the list against its imports). They install as the ``pc6_device`` package.
FIRMWARE_FILES = ("protocol.py", "band_core.py", "board.py", "ble_peripheral.py", "main.py")


def firmware_files() -> list[Path]:
    """The firmware files to copy onto a band, where this installation keeps them.

    Found through the installed ``pc6_device`` package (``device/`` in a clone), so the
    same paths exist in an editable and in a plain ``pip install``.

    Raises:
        PC6Error: a file is missing from the installation.
    """
    import pc6_device

    folder = Path(pc6_device.__file__).resolve().parent
    files = [folder / name for name in FIRMWARE_FILES]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise PC6Error(f"firmware files missing from this installation: {', '.join(missing)}")
    return files


class _Parser(argparse.ArgumentParser):
    """argparse that raises InvalidInput instead of exiting, so callers get exit code 2."""

    def error(self, message: str) -> Any:
        raise InvalidInput(f"{self.prog}: {message}")


def _run(coro: Any) -> int:
    try:
        asyncio.run(coro)
    except InvalidInput as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (PC6Error, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


# -- pc6 band ----------------------------------------------------------------------------------


def band_main(argv: list[str]) -> int:
    """``pc6 band pair --port PATH | info (--port PATH | --address A) | flash | scan``."""
    parser = _Parser(prog="pc6 band", description="pair, inspect, flash and find bands")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    pair = sub.add_parser("pair", help="provision a new key over USB serial")
    pair.add_argument("--port", required=True)
    where_key = pair.add_mutually_exclusive_group()
    where_key.add_argument(
        "--for-service",
        nargs="?",
        const="pc6band",
        metavar="USER",
        help="keep the key where the system service reads it (/etc/pc6band/bands), owned "
        "by USER (default pc6band), mode 0600; run with sudo",
    )
    where_key.add_argument("--key-file", type=Path, help="keep the key in this file (0600)")
    info = sub.add_parser("info", help="what the band says about itself")
    where = info.add_mutually_exclusive_group(required=True)
    where.add_argument("--port")
    where.add_argument("--address")
    flash = sub.add_parser("flash", help="copy the firmware onto a band with mpremote")
    flash.add_argument("--port", default="auto")
    flash.add_argument("--kind", choices=["vibration", "pressure"], default="vibration")
    flash.add_argument("--ceiling", type=float, default=1.0)
    flash.add_argument("--dry-run", action="store_true", help="print the commands only")
    scan = sub.add_parser("scan", help="find bands advertising over BLE")
    scan.add_argument("--timeout", type=float, default=5.0)
    try:
        args = parser.parse_args(argv)
    except InvalidInput as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.command == "flash":
        return _flash(args)
    handlers = {"pair": _pair, "info": _info, "scan": _scan}
    return _run(handlers[args.command](args))


async def _pair(args: argparse.Namespace) -> None:
    from firmware_host.drive.band.link import key_path, write_key_file
    from firmware_host.drive.band.serial import SerialLink

    # Where the key goes is settled before the band is touched: a band paired with a key
    # that then cannot be saved is a band nobody can use until it is reset.
    target, owner = _key_target(args)
    link = SerialLink(args.port)
    await link.open()
    try:
        assert link.info is not None
        key = secrets.token_bytes(32)
        await link.pair(key)
        band_id = link.info.band_id
        if args.key_file:
            path = args.key_file
        elif target is not None:
            path = target / f"{band_id}.key"
        else:
            path = key_path(band_id)
        write_key_file(path, key, owner=owner)
    finally:
        await link.close()
    print(f"paired {link.info.kind} band {band_id} on {args.port}; key in {path}")
    if args.key_file:
        print(f'the daemon reads it with key_file = "{path.resolve()}" in [backend]')


def _key_target(args: argparse.Namespace) -> tuple[Path | None, tuple[int, int] | None]:
    """The folder (``--for-service``) or file (``--key-file``) for the key, and its owner.

    Raises:
        InvalidInput: not root for ``--for-service``, no such user, or a folder that
            cannot be written.
    """
    if args.for_service:
        import pwd

        from firmware_host.paths import system_paths

        try:
            user = pwd.getpwnam(args.for_service)
        except KeyError:
            raise InvalidInput(
                f"--for-service: no user {args.for_service!r} (sudo pc6 service install creates it)"
            ) from None
        if os.geteuid() != 0:
            raise InvalidInput(
                "--for-service writes the key for the service user: run it with sudo "
                f"(sudo {sys.argv[0]} band pair --port {args.port} --for-service)"
            )
        return system_paths().config_dir / "bands", (user.pw_uid, user.pw_gid)
    if args.key_file:
        folder = args.key_file.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if args.key_file.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            raise InvalidInput(f"--key-file: cannot write {args.key_file}")
        return args.key_file, None
    return None, None


async def _info(args: argparse.Namespace) -> None:
    link: Any
    if args.port:
        from firmware_host.drive.band.serial import SerialLink

        link = SerialLink(args.port)
    else:
        from firmware_host.drive.band.ble import BleLink

        link = BleLink(args.address)
    await link.open()
    try:
        info, status = link.info, await link.status()
    finally:
        await link.close()
    battery = "unknown" if status.battery_mv is None else f"{status.battery_mv} mV"
    rows = [
        ("band", info.band_id),
        ("kind", str(info.kind)),
        ("firmware", info.firmware),
        ("protocol", str(info.protocol)),
        ("paired", "yes" if info.paired else "no"),
        ("ceiling", f"{info.ceiling:.3f}"),
        ("max lease", f"{info.max_lease_s:g} s"),
        ("reset cause", info.reset_cause),
        ("uptime", f"{status.uptime_s:.1f} s"),
        ("level", f"{status.level:.3f}"),
        ("battery", battery),
        ("lease expiries", str(status.lease_expiries)),
        ("rejected", str(status.rejected)),
        ("replays", str(status.replays)),
        ("corrupt", str(status.corrupt)),
    ]
    for name, value in rows:
        print(f"{name + ':':16}{value}")


def _flash(args: argparse.Namespace) -> int:
    if not 0 < args.ceiling <= 1:
        print("error: --ceiling must be above 0 and at most 1", file=sys.stderr)
        return 2
    mpremote = shutil.which("mpremote")
    if mpremote is None and not args.dry_run:
        print("error: mpremote not found; install it with 'pip install mpremote'", file=sys.stderr)
        return 1
    try:
        firmware = firmware_files()
    except PC6Error as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "pc6_config.json"
        config.write_text(json.dumps({"kind": args.kind, "ceiling": args.ceiling}))
        files = [str(path) for path in firmware] + [str(config)]
        command = [
            mpremote or "mpremote",
            "connect",
            args.port,
            "fs",
            "cp",
            *files,
            ":",
            "+",
            "reset",
        ]
        print(" ".join(command))
        if args.dry_run:
            return 0
        return 0 if subprocess.run(command, check=False).returncode == 0 else 1


async def _scan(args: argparse.Namespace) -> None:
    from firmware_host.drive.band.ble import scan_bands

    found = await scan_bands(timeout_s=args.timeout)
    if not found:
        print("no band found (is it powered and not connected to another host?)")
    for address, name, rssi in found:
        print(f"{address}  {name or '-'}  {rssi} dBm")


def main(argv: list[str] | None = None) -> int:
    """``python -m firmware_host.cli.band band …``."""
    argv = sys.argv[1:] if argv is None else argv
    from firmware_host.cli.logs import configure_logging

    configure_logging(logging.WARNING)
    if argv[:1] == ["band"]:
        return band_main(argv[1:])
    print("usage: python -m firmware_host.cli.band band ...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
