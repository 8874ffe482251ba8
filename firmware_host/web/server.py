"""Run the page: listen (localhost unless told otherwise), print a pairing code, serve."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import ssl
import sys
from pathlib import Path

from firmware_host.web.client import DaemonClient
from firmware_host.web.tokens import TokenStore

logger = logging.getLogger(__name__)


def serve(
    tokens: TokenStore,
    socket: Path,
    host: str,
    port: int,
    *,
    tls: tuple[Path, Path] | None,
    url: str,
    config: str | None,
) -> int:
    """Serve until SIGTERM or Ctrl-C; returns the exit code."""
    logging.basicConfig(level=logging.INFO, format="pc6 web: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    context = None
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(str(tls[0]), str(tls[1]))
        except (ssl.SSLError, OSError) as err:
            from firmware_host.errors import InvalidInput

            raise InvalidInput(f"--tls-cert/--tls-key: cannot load them: {err}") from err
    return asyncio.run(_serve(tokens, socket, host, port, context, url, config))


async def _serve(
    tokens: TokenStore,
    socket: Path,
    host: str,
    port: int,
    context: ssl.SSLContext | None,
    url: str,
    config: str | None,
) -> int:
    from aiohttp import web

    from firmware_host.web.app import Settings, make_app
    from firmware_host.web.terminal import show_code

    settings = Settings(
        daemon=DaemonClient(socket),
        tokens=tokens,
        profiles=profile_names(config),
        tls=context is not None,
    )
    runner = web.AppRunner(make_app(settings), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=context, backlog=32)
    try:
        await site.start()
    except OSError as err:
        await runner.cleanup()
        print(f"pc6 web: cannot listen on {host}:{port}: {err.strerror}", file=sys.stderr)
        return 1
    if not ipaddress.ip_address(host).is_loopback and context is None:
        print(
            "pc6 web: WARNING listening beyond this machine without TLS: anyone on the "
            "network can read the traffic (see docs/web.md)",
            file=sys.stderr,
            flush=True,
        )
    print(f"pc6 web: serving {url} for the daemon at {socket}", flush=True)
    show_code(tokens.new_code(), url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await runner.cleanup()
    return 0


def profile_names(config: str | None) -> list[str]:
    """The profiles the page offers: the built-in library and the config's folders."""
    from firmware_host.plan.library import library_names

    names = set(library_names())
    try:
        from firmware_host.session.config import load_config

        for folder in load_config(config).profile_dirs:
            names.update(p.stem for p in Path(folder).glob("*.toml"))
    except Exception as err:  # the daemon refuses a bad name anyway; the list is a help
        logger.warning("profiles from the config not listed: %s", err)
    return sorted(names)
