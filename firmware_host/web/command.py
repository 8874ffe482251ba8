"""``pc6 web``, ``pc6 web pair``, ``pc6 web tokens``, ``pc6 web revoke ID``.

Cheap to import (``pc6 --help`` loads it): aiohttp is imported only when the server starts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
from pathlib import Path
from typing import Any

from firmware_host.errors import InvalidInput

DEFAULT_LISTEN = "127.0.0.1:8606"


def register(sub: Any) -> None:
    """Add ``pc6 web`` to the ``pc6`` subcommands."""
    web = sub.add_parser("web", help="the bedside page for a phone (pair, tokens, revoke)")
    web.add_argument(
        "--listen",
        metavar="ADDRESS:PORT",
        default=DEFAULT_LISTEN,
        help=f"where to listen (default {DEFAULT_LISTEN}: this machine only)",
    )
    web.add_argument("--socket", metavar="PATH", help="the daemon's socket (default: from config)")
    web.add_argument("--config", metavar="FILE", help="config file that names the socket")
    web.add_argument("--tokens", metavar="FILE", help="token file (default: in the state dir)")
    web.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this certificate")
    web.add_argument("--tls-key", metavar="FILE", help="the certificate's private key")
    web.add_argument("--url", help="the address phones use, for the QR code (default: guessed)")
    actions = web.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("pair", help="print a new one-time pairing code (and its QR code)")
    actions.add_parser("tokens", help="list paired devices")
    revoke = actions.add_parser("revoke", help="unpair a device (its page stops at once)")
    revoke.add_argument("id", help="the device id from `pc6 web tokens`")
    web.set_defaults(handler=main_args)


def main_args(args: argparse.Namespace) -> int:
    """Run the chosen ``pc6 web`` action."""
    from firmware_host.web.tokens import TokenStore

    store = TokenStore(token_path(args))
    if args.action == "tokens":
        return _list(store)
    if args.action == "revoke":
        gone = store.revoke(args.id)
        if gone is None:
            raise InvalidInput(f"id: no paired device {args.id!r}; see `pc6 web tokens`")
        print(f"revoked {gone.id} ({gone.name}); its page stops working now")
        return 0
    host, port = parse_listen(args.listen)
    tls = _tls(args)
    url = args.url or default_url(host, port, tls=tls is not None)
    if args.action == "pair":
        from firmware_host.web.terminal import show_code

        show_code(store.new_code(), url)
        return 0
    from firmware_host.web.server import serve

    return serve(store, socket_path(args), host, port, tls=tls, url=url, config=args.config)


def token_path(args: argparse.Namespace) -> Path:
    """``--tokens``, else ``web-tokens.json`` in the state directory."""
    from firmware_host.paths import state_dir

    return Path(args.tokens) if args.tokens else state_dir() / "web-tokens.json"


def socket_path(args: argparse.Namespace) -> Path:
    """``--socket``, else the config's ``control.socket``, else the default."""
    if args.socket:
        return Path(args.socket)
    from firmware_host.session.config import load_config

    return load_config(args.config).socket


def parse_listen(text: str) -> tuple[str, int]:
    """``ADDRESS:PORT`` (``[::1]:8606`` for IPv6) as a host and a port.

    Raises:
        InvalidInput: not an address and a port from 1 to 65535.
    """
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        port = int(port_text)
        if not sep or not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise InvalidInput(
            f"--listen: must be ADDRESS:PORT with an IP address, like 127.0.0.1:8606 or "
            f"0.0.0.0:8606, got {text!r}"
        ) from None
    return host, port


def default_url(host: str, port: int, *, tls: bool) -> str:
    """The page's address as a phone would type it."""
    shown = host
    if ipaddress.ip_address(host).is_unspecified:
        shown = _lan_address()
    if ":" in shown:
        shown = f"[{shown}]"
    return f"{'https' if tls else 'http'}://{shown}:{port}"


def _lan_address() -> str:
    """This machine's address on its LAN (a UDP connect sends nothing)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed, only chooses a source
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def _tls(args: argparse.Namespace) -> tuple[Path, Path] | None:
    if bool(args.tls_cert) != bool(args.tls_key):
        raise InvalidInput("--tls-cert and --tls-key go together: give both or neither")
    if not args.tls_cert:
        return None
    for option, value in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)):
        if not Path(value).is_file():
            raise InvalidInput(f"{option}: {value}: no such file")
    return Path(args.tls_cert), Path(args.tls_key)


def _list(store: Any) -> int:
    devices = store.devices()
    if not devices:
        print("no paired devices (pair one with `pc6 web pair`)")
        return 0
    for d in devices:
        seen = _when(d.last_seen) if d.last_seen else "never"
        print(f"{d.id}  {d.name:<20}  paired {_when(d.created)}  last seen {seen}")
    return 0


def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch).astimezone().strftime("%Y-%m-%d %H:%M")
