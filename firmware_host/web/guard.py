"""The page's locks: security headers, request rate, origin and CSRF checks, pairing limits.

Only this module decides who gets in; ``app.py`` marks each route as open (the pairing page
and its stylesheet) or not, and everything else needs a device token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from aiohttp import web

logger = logging.getLogger(__name__)

COOKIE = "pc6web"
CSRF_HEADER = "X-CSRF-Token"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no-referrer makes Chrome send `Origin: null` on forms
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
SAFE_METHODS = ("GET", "HEAD")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every response, errors and the event stream included, carries the headers."""
    for key, value in HEADERS.items():
        response.headers.setdefault(key, value)
    if request.secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    response.headers.setdefault("Cache-Control", "no-store")


def csrf_token(token: str) -> str:
    """The CSRF token that goes with a device token (derived, so nothing more is stored)."""
    return hmac.new(token.encode(), b"pc6web csrf", hashlib.sha256).hexdigest()


def same_origin(request: web.Request) -> bool:
    """Whether a state-changing request comes from a page this server served.

    Browsers send ``Origin`` on every POST; a request without one is refused rather than
    trusted. ``Sec-Fetch-Site``, when sent, must agree.
    """
    origin = request.headers.get("Origin")
    if origin is None or origin != f"{request.scheme}://{request.host}":
        return False
    site = request.headers.get("Sec-Fetch-Site")
    return site in (None, "same-origin")


def csrf_ok(request: web.Request, token: str) -> bool:
    """Whether the request carries the CSRF token for its device token."""
    sent = request.headers.get(CSRF_HEADER, "")
    return hmac.compare_digest(sent.encode(), csrf_token(token).encode())


class RateLimit:
    """A token bucket per client address: ``rate`` requests a second, bursts of ``burst``."""

    MAX_CLIENTS = 1024

    def __init__(
        self, rate: float, burst: float, *, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self.now = rate, burst, now
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> bool:
        """Take one request from ``key``'s bucket; False when it is empty."""
        now = self.now()
        level, last = self._buckets.get(key, (self.burst, now))
        level = min(self.burst, level + (now - last) * self.rate)
        if len(self._buckets) >= self.MAX_CLIENTS and key not in self._buckets:
            self._buckets.clear()  # bounded memory; a flood of addresses resets everyone
        if level < 1:
            self._buckets[key] = (level, now)
            return False
        self._buckets[key] = (level - 1, now)
        return True


class PairingLimit:
    """At most ``attempts`` pairing tries per ``window_s``, from everyone together.

    Global, not per address: an attacker with many addresses must not get many guesses.
    The cost is that a flood of wrong codes also makes the wearer wait a minute.
    """

    def __init__(
        self,
        attempts: int = 5,
        window_s: float = 60.0,
        *,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.attempts, self.window_s, self.now = attempts, window_s, now
        self._tries: deque[float] = deque()

    def allow(self) -> bool:
        """Count one attempt; False when the window is full."""
        now = self.now()
        while self._tries and now - self._tries[0] > self.window_s:
            self._tries.popleft()
        if len(self._tries) >= self.attempts:
            return False
        self._tries.append(now)
        return True

    def retry_after(self) -> int:
        """Seconds until the next attempt is allowed."""
        if not self._tries:
            return 0
        return max(1, int(self.window_s - (self.now() - self._tries[0])) + 1)
