"""Plain-HTTP helpers for the web tests (http.client against a real ``pc6 web``)."""

from __future__ import annotations

import http.client
import json
import re
from typing import Any

from web_testlib import Daemon, Web


def call(
    web: Web,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, dict[str, str], bytes]:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", web.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        if own:
            conn.close()


def post_json(web: Web, path: str, data: Any, **headers: str) -> tuple[int, dict[str, str], bytes]:
    return call(
        web,
        "POST",
        path,
        body=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", "Origin": web.url, **headers},
    )


def pair(web: Web, code: str, name: str = "script") -> tuple[int, str | None]:
    """POST the pairing form; returns the status and the token cookie, if any."""
    status, headers, _ = call(
        web,
        "POST",
        "/pair",
        body=f"code={code}&name={name}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": web.url},
    )
    cookie = headers.get("Set-Cookie")
    match = re.match(r"pc6web=([^;]+)", cookie or "")
    return status, match.group(1) if match else None


def csrf_for(web: Web, token: str) -> str:
    status, _, body = call(web, "GET", "/", headers={"Cookie": f"pc6web={token}"})
    assert status == 200
    match = re.search(rb'name="csrf-token" content="([0-9a-f]+)"', body)
    assert match
    return match.group(1).decode()


def daemon_view(daemon: Daemon) -> dict[str, Any]:
    """What a person would notice changed: state, session, level, snooze, trip."""
    s = daemon.ctl("status")
    session = s["session"]
    return {
        "state": s["state"],
        "profile": session and session["profile"],
        "level": session and session["level"],
        "paused": session and session["paused"],
        "snoozed": s["snoozed_until"],
        "trip": s["trip"],
        "pending": s["pending"],
    }
