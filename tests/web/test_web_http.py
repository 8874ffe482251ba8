"""The scripted check with plain HTTP (no browser), against a real daemon and ``pc6 web``.

No page or action without a token; pairing codes are single-use and rate-limited; bodies
and request rates are bounded; 1,000 bad requests leave the daemon as it was.
"""

from __future__ import annotations

import http.client
import json
import re
import time
from typing import Any

from http_testlib import call, csrf_for, daemon_view, pair, post_json
from web_testlib import Daemon, Web

PAGES = [
    "/",
    "/api/status",
    "/api/events",
    "/api/report",
    "/report.svg",
    "/static/app.js",
    "/static/app.css",
]
ACTIONS = {
    "start": {"profile": "sleep-onset"},
    "stop": {},
    "pause": {},
    "resume": {},
    "level": {"value": 0.5},
    "snooze": {"duration": "1h"},
    "reset": {"confirm": True},
}


def test_nothing_without_a_token(daemon: Daemon, web: Web) -> None:
    before = daemon_view(daemon)
    for path in PAGES:
        status, headers, body = call(web, "GET", path)
        assert status == 401, path
        assert b"csrf-token" not in body and b"sleep-onset" not in body, path
        assert headers["X-Frame-Options"] == "DENY"
    for cmd, data in ACTIONS.items():
        status, _, body = post_json(web, f"/api/{cmd}", data)
        assert status == 401, cmd
        status, _, _ = post_json(web, f"/api/{cmd}", data, Cookie="pc6web=not-a-token")
        assert status == 401, cmd
    assert daemon_view(daemon) == before
    # the pairing page is the one thing open, and it carries the same headers
    status, headers, _ = call(web, "GET", "/pair")
    assert status == 200
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_a_code_pairs_once_and_the_cookie_is_locked_down(daemon: Daemon, web: Web) -> None:
    status, headers, _ = call(
        web,
        "POST",
        "/pair",
        body=f"code={web.code}&name=bedside".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": web.url},
    )
    assert status == 303
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    token = re.match(r"pc6web=([^;]+)", cookie).group(1)  # type: ignore[union-attr]
    assert call(web, "GET", "/api/status", headers={"Cookie": f"pc6web={token}"})[0] == 200
    assert pair(web, web.code) == (403, None)  # used up
    assert token not in web.tokens.read_text()  # only its hash is kept
    listed = web.cli("tokens").stdout
    assert "bedside" in listed


def test_pairing_attempts_are_rate_limited(daemon: Daemon, web: Web) -> None:
    good = web.pair_code()
    for _ in range(5):
        assert pair(web, "00000000")[0] == 403
    status, token = pair(web, good)
    assert (status, token) == (429, None)  # even the right code waits out the window
    assert web.cli("tokens").stdout.startswith("no paired devices")


def test_actions_need_origin_and_csrf(daemon: Daemon, web: Web) -> None:
    _, token = pair(web, web.code)
    assert token
    cookie = f"pc6web={token}"
    csrf = csrf_for(web, token)
    before = daemon_view(daemon)
    start = {"profile": "sleep-onset"}
    assert post_json(web, "/api/start", start, Cookie=cookie)[0] == 403  # no CSRF token
    assert (
        post_json(web, "/api/start", start, Cookie=cookie, **{"X-CSRF-Token": "0" * 64})[0] == 403
    )
    assert (
        post_json(
            web,
            "/api/start",
            start,
            Cookie=cookie,
            **{"X-CSRF-Token": csrf, "Origin": "http://evil.example"},
        )[0]
        == 403
    )
    status, _, _ = call(
        web,
        "POST",
        "/api/start",
        body=json.dumps(start).encode(),
        headers={"Content-Type": "application/json", "Cookie": cookie, "X-CSRF-Token": csrf},
    )
    assert status == 403  # no Origin at all
    assert daemon_view(daemon) == before
    big = json.dumps({"profile": "x" * 10_000}).encode()
    status, _, _ = call(
        web,
        "POST",
        "/api/start",
        body=big,
        headers={
            "Content-Type": "application/json",
            "Cookie": cookie,
            "X-CSRF-Token": csrf,
            "Origin": web.url,
        },
    )
    assert status == 413
    status, _, body = post_json(web, "/api/start", start, Cookie=cookie, **{"X-CSRF-Token": csrf})
    assert status == 200, body
    assert daemon_view(daemon)["profile"] == "sleep-onset"


def test_a_thousand_bad_requests_leave_the_daemon_alone(daemon: Daemon, web: Web) -> None:
    assert daemon.ctl("start", "sleep-onset")["ok"]
    before = daemon_view(daemon)
    bad: list[tuple[str, str, bytes | None, dict[str, str]]] = [
        ("GET", "/", None, {}),
        ("GET", "/api/status", None, {"Cookie": "pc6web=guess"}),
        ("POST", "/api/stop", b"{}", {"Content-Type": "application/json", "Origin": web.url}),
        (
            "POST",
            "/api/stop",
            b"{}",
            {"Content-Type": "application/json", "Origin": "http://evil.example"},
        ),
        ("POST", "/api/level", b"not json", {"Content-Type": "application/json"}),
        (
            "POST",
            "/pair",
            b"code=12345678",
            {"Content-Type": "application/x-www-form-urlencoded", "Origin": web.url},
        ),
        (
            "POST",
            "/api/snooze",
            b"x" * 8000,
            {"Content-Type": "application/json", "Origin": web.url},
        ),
        ("GET", "/static/../../etc/passwd", None, {}),
    ]
    seen: dict[int, int] = {}
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=30)
    for i in range(1000):
        method, path, body, headers = bad[i % len(bad)]
        try:
            status, _, _ = call(web, method, path, body=body, headers=headers, conn=conn)
        except (http.client.HTTPException, ConnectionError):
            conn.close()  # the server may end a connection after an oversized body
            conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=30)
            status = 0
        seen[status] = seen.get(status, 0) + 1
    conn.close()
    elapsed = time.monotonic() - t0
    assert 200 not in seen and 303 not in seen, seen
    assert seen.get(429, 0) > 0, seen  # the rate limit engaged
    after = daemon_view(daemon)
    assert after == before, (before, after)
    events = daemon.ctl("status")
    assert events["state"] == "running"
    print(f"1000 bad requests in {elapsed:.1f} s: {seen}")


def test_the_daemon_names_the_device_and_reports_over_the_socket(daemon: Daemon) -> None:
    import socket
    import subprocess

    from web_testlib import PC6

    def send(request: dict[str, Any]) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(30)
            sock.connect(str(daemon.socket))
            sock.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                data += sock.recv(65536)
        return dict(json.loads(data))

    bad = send({"cmd": "stop", "client": "x\x1b[2J"})
    assert not bad["ok"] and bad["error"].startswith("client:")
    assert send({"cmd": "start", "profile": "sleep-onset", "client": "pc6 web: test (ab12)"})["ok"]
    assert "via pc6 web: test (ab12)" in daemon.ctl("status")["control"]["why"]
    assert send({"cmd": "stop"})["ok"]
    out = subprocess.run(
        [PC6, "ctl", "--socket", str(daemon.socket), "report"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Night of") and "sleep-onset" in out.stdout
