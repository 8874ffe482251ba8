"""The aiohttp application: the page, its assets, the event stream and the actions.

Open without a token: the pairing page (``/pair``) and its stylesheet. Everything else
answers 401 without a valid device token cookie; every POST also needs the same origin and
the CSRF token that goes with the cookie.
"""

from __future__ import annotations

import html
import importlib.resources
import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from firmware_host.web import guard
from firmware_host.web.client import DaemonClient, DaemonUnreachable
from firmware_host.web.events import StatusFeed
from firmware_host.web.picture import night_svg
from firmware_host.web.tokens import Device, TokenFileError, TokenStore

logger = logging.getLogger(__name__)

MAX_BODY = 4096
SNOOZES = ("15m", "30m", "1h", "2h", "4h", "8h", "off")
LEVEL_MAX = 2.0
COOKIE_MAX_AGE = 400 * 86400  # browsers cap cookie lifetimes at 400 days
STATIC = {
    "app.js": "text/javascript",
    "app.css": "text/css",
    "pair.css": "text/css",
    "icon.svg": "image/svg+xml",
}
OPEN_PATHS = ("/pair", "/static/pair.css", "/static/icon.svg", "/favicon.ico")

DEVICE: web.RequestKey[Device] = web.RequestKey("device", Device)


@dataclass
class Settings:
    """What ``pc6 web`` was started with."""

    daemon: DaemonClient
    tokens: TokenStore
    profiles: list[str] = field(default_factory=list)
    tls: bool = False
    rate: float = 10.0
    burst: float = 40.0


SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
FEED: web.AppKey[StatusFeed] = web.AppKey("feed", StatusFeed)
LIMIT: web.AppKey[guard.RateLimit] = web.AppKey("limit", guard.RateLimit)
PAIRING: web.AppKey[guard.PairingLimit] = web.AppKey("pairing", guard.PairingLimit)


def make_app(settings: Settings) -> web.Application:
    """The whole site, ready for ``web.AppRunner``."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[_rate, _auth])
    app[SETTINGS] = settings
    app[LIMIT] = guard.RateLimit(settings.rate, settings.burst)
    app[PAIRING] = guard.PairingLimit()
    app[FEED] = StatusFeed(settings.daemon, settings.tokens)
    app.on_response_prepare.append(guard.add_headers)
    app.on_shutdown.append(lambda a: a[FEED].close())
    app.router.add_get("/", page)
    app.router.add_get("/pair", pair_form)
    app.router.add_post("/pair", pair_submit)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/api/status", api_status)
    app.router.add_get("/api/events", api_events)
    app.router.add_get("/api/report", api_report)
    app.router.add_get("/report.svg", report_svg)
    app.router.add_post("/api/{cmd}", api_action)
    return app


# -- middlewares ---------------------------------------------------------------------------


@web.middleware
async def _rate(request: web.Request, handler: guard.Handler) -> web.StreamResponse:
    if not request.app[LIMIT].allow(request.remote or "?"):
        return _problem(429, "too many requests; wait a moment")
    return await handler(request)


@web.middleware
async def _auth(request: web.Request, handler: guard.Handler) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    if request.method not in guard.SAFE_METHODS and not guard.same_origin(request):
        logger.warning(
            "refused a %s to %s from origin %s",
            request.method,
            request.path,
            request.headers.get("Origin"),
        )
        return _problem(403, "refused: the request does not come from this page")
    if request.path in OPEN_PATHS:
        return await handler(request)
    token = request.cookies.get(guard.COOKIE)
    try:
        device = settings.tokens.check(token)
    except TokenFileError as err:
        logger.error("%s", err)
        return _problem(500, "the token file cannot be read; see the server log")
    if device is None or token is None:
        if request.path == "/":
            return web.Response(status=401, text=_read("locked.html"), content_type="text/html")
        return _problem(401, "not paired: open /pair and enter the code pc6 web shows")
    if request.method not in guard.SAFE_METHODS and not guard.csrf_ok(request, token):
        return _problem(403, "refused: missing or wrong CSRF token; reload the page")
    request[DEVICE] = device
    return await handler(request)


def _problem(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)


# -- pages and assets ----------------------------------------------------------------------


async def page(request: web.Request) -> web.Response:
    """The bedside page; the CSRF token rides in a meta tag (no inline script)."""
    settings = request.app[SETTINGS]
    device = request[DEVICE]
    token = request.cookies[guard.COOKIE]
    options = "".join(
        f'<option value="{html.escape(n)}">{html.escape(n)}</option>' for n in settings.profiles
    )
    body = (
        _read("index.html")
        .replace("{{csrf}}", guard.csrf_token(token))
        .replace("{{device}}", html.escape(f"{device.name} ({device.id})"))
        .replace("{{profiles}}", options)
    )
    return _compressed(web.Response(text=body, content_type="text/html"))


async def static(request: web.Request) -> web.Response:
    """The page's own assets, from the package (nothing from the internet)."""
    return _asset(request.match_info["name"])


async def favicon(request: web.Request) -> web.Response:
    """Browsers ask for it unprompted; it is open, like the pairing page."""
    return _asset("icon.svg")


def _asset(name: str) -> web.Response:
    if name not in STATIC:
        raise web.HTTPNotFound()
    response = web.Response(body=_read(name).encode(), content_type=STATIC[name])
    response.headers["Cache-Control"] = "no-cache"
    return _compressed(response)


async def pair_form(request: web.Request) -> web.Response:
    """The pairing form, the code filled in when it came from the QR code."""
    code = "".join(ch for ch in request.query.get("code", "") if ch.isdigit())[:16]
    return _pair_page(code=code)


async def pair_submit(request: web.Request) -> web.StreamResponse:
    """Trade a pairing code for a device token cookie."""
    limit = request.app[PAIRING]
    if not limit.allow():
        response = _pair_page(error="Too many tries. Wait a minute, then try again.", status=429)
        response.headers["Retry-After"] = str(limit.retry_after())
        return response
    form = await request.post()
    code, name = str(form.get("code", "")), str(form.get("name", ""))
    try:
        redeemed = request.app[SETTINGS].tokens.redeem(code, name or "phone")
    except TokenFileError as err:
        logger.error("%s", err)
        return _pair_page(error="The server cannot save the pairing; see its log.", status=500)
    if redeemed is None:
        logger.warning("wrong or used pairing code from %s", request.remote)
        return _pair_page(error="That code is wrong, used or expired.", status=403)
    _, token = redeemed
    response = web.HTTPSeeOther("/")
    response.set_cookie(
        guard.COOKIE,
        token,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="Strict",
        secure=request.app[SETTINGS].tls,
        path="/",
    )
    return response


def _pair_page(*, code: str = "", error: str = "", status: int = 200) -> web.Response:
    note = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    body = _read("pair.html").replace("{{code}}", html.escape(code)).replace("{{error}}", note)
    return web.Response(text=body, content_type="text/html", status=status)


def _read(name: str) -> str:
    return importlib.resources.files("firmware_host.web").joinpath("static", name).read_text()


def _compressed(response: web.Response) -> web.Response:
    response.enable_compression()
    return response


# -- the API -------------------------------------------------------------------------------


async def api_status(request: web.Request) -> web.Response:
    """The daemon's status, as the event stream sends it."""
    return web.json_response(await request.app[FEED].fetch())


async def api_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: the status whenever it changes (the page never reloads)."""
    token = request.cookies[guard.COOKIE]
    return await request.app[FEED].stream(request, token)


async def api_report(request: web.Request) -> web.Response:
    """Last night's morning report (text) from the daemon."""
    reply = await _daemon(request, {"cmd": "report"})
    return web.json_response(
        {
            "ok": reply.get("ok", False),
            "night": reply.get("night"),
            "text": reply.get("text"),
            "diary": reply.get("diary"),
            "error": reply.get("error"),
        },
        status=200 if reply.get("ok") else 503,
    )


async def report_svg(request: web.Request) -> web.Response:
    """Last night's delivered level as a picture."""
    reply = await _daemon(request, {"cmd": "report"})
    svg = night_svg(reply if reply.get("ok") else {"traces": [], "marks": []})
    return _compressed(web.Response(text=svg, content_type="image/svg+xml"))


async def api_action(request: web.Request) -> web.Response:
    """One action from the page, as a control request; the daemon's reply comes back."""
    cmd = request.match_info["cmd"]
    if cmd not in ACTIONS:
        return _problem(404, f"no such action {cmd!r}")
    if request.content_type != "application/json":
        return _problem(415, "send JSON")
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return _problem(400, "the body is not JSON")
    if not isinstance(body, dict):
        return _problem(400, "the body must be a JSON object")
    try:
        control = ACTIONS[cmd](body)
    except ValueError as err:
        return _problem(400, str(err))
    reply = await _daemon(request, control)
    request.app[FEED].poke()
    return web.json_response(reply, status=200 if reply.get("ok") else 409)


async def _daemon(request: web.Request, control: dict[str, Any]) -> dict[str, Any]:
    device = request[DEVICE]
    try:
        return await request.app[SETTINGS].daemon.call(
            control, client=f"pc6 web: {device.name} ({device.id})"
        )
    except DaemonUnreachable as err:
        logger.warning("%s", err)
        return {"ok": False, "error": "the daemon does not answer; is pc6band running?"}


def _plain(cmd: str) -> Any:
    return lambda body: {"cmd": cmd}


def _start(body: dict[str, Any]) -> dict[str, Any]:
    profile = body.get("profile")
    if not isinstance(profile, str) or not 0 < len(profile) <= 64:
        raise ValueError("profile: choose a profile")
    return {"cmd": "start", "profile": profile}


def _level(body: dict[str, Any]) -> dict[str, Any]:
    value = body.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("value: a number from 0 to 2")
    if not 0 <= value <= LEVEL_MAX:
        raise ValueError("value: a number from 0 to 2")
    return {"cmd": "level", "value": round(float(value), 3)}


def _snooze(body: dict[str, Any]) -> dict[str, Any]:
    duration = body.get("duration")
    if duration not in SNOOZES:
        raise ValueError(f"duration: one of {', '.join(SNOOZES)}")
    return {"cmd": "snooze", "duration": duration}


DIARY = (
    "in_bed", "tried", "sol", "awakenings", "waso", "final_wake", "out_of_bed", "quality",
    "rested", "guess", "naps", "caffeine", "alcohol", "medication", "note",
)  # fmt: skip


def _diary(body: dict[str, Any]) -> dict[str, Any]:
    """The diary form's answers; the daemon checks them as ``pc6 diary`` does."""
    request: dict[str, Any] = {"cmd": "diary"}
    for key, value in body.items():
        if key not in DIARY:
            raise ValueError(f"{key}: not a diary item")
        if not isinstance(value, str) or len(value) > 500:
            raise ValueError(f"{key}: must be text of at most 500 characters")
        if value.strip():
            request[key] = value.strip()
    return request


def _reset(body: dict[str, Any]) -> dict[str, Any]:
    if body.get("confirm") is not True:
        raise ValueError("confirm: a reset must be confirmed")
    return {"cmd": "reset"}


ACTIONS: dict[str, Any] = {
    "start": _start,
    "stop": _plain("stop"),
    "pause": _plain("pause"),
    "resume": _plain("resume"),
    "level": _level,
    "snooze": _snooze,
    "reset": _reset,
    "diary": _diary,
}


def dumps(data: Any) -> str:
    """Compact JSON for the event stream."""
    return json.dumps(data, separators=(",", ":"))
