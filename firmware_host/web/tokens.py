"""Device tokens and one-time pairing codes, kept hashed in one small JSON file.

A phone becomes a paired device by typing (or scanning) a pairing code that ``pc6 web``
printed in the terminal; it gets a long random token in an HttpOnly cookie. The file holds
only SHA-256 hashes of tokens and codes, so reading it does not let anyone in. ``pc6 web
revoke`` rewrites the file; the server notices the change on the next request (it compares
the file's inode and mtime every time), so a revoked token stops working at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware_host.errors import PC6Error
from firmware_host.files import read_regular, reason

logger = logging.getLogger(__name__)

CODE_DIGITS = 8
CODE_TTL_S = 600.0
MAX_CODES = 5  # outstanding codes; older ones are dropped
MAX_TOKENS = 50
SEEN_EVERY_S = 600.0  # how often a device's "last seen" is written back
NAME_MAX = 40


class TokenFileError(PC6Error, OSError):
    """The token file cannot be read or written."""


@dataclass(frozen=True)
class Device:
    """A paired device, as ``pc6 web tokens`` lists it (never the token itself)."""

    id: str
    name: str
    created: float
    last_seen: float | None


def digest(secret: str) -> str:
    """The stored form of a token or code."""
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    """The token file at ``path``; ``now`` is injectable for expiry tests."""

    def __init__(self, path: Path, *, now: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.now = now
        self._stamp: tuple[int, int, int] | None = None
        self._data: dict[str, Any] = {"tokens": [], "codes": []}
        self._by_hash: dict[str, dict[str, Any]] = {}

    # -- pairing -------------------------------------------------------------------------

    def new_code(self, ttl_s: float = CODE_TTL_S) -> str:
        """A fresh single-use pairing code (digits), valid for ``ttl_s``."""
        code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
        with self._editing() as data:
            codes = [c for c in data["codes"] if c["expires"] > self.now()]
            codes.append({"hash": digest(code), "expires": self.now() + ttl_s})
            data["codes"] = codes[-MAX_CODES:]
        return code

    def redeem(self, code: str, name: str) -> tuple[Device, str] | None:
        """Trade a valid code for a new device token; the code is used up either way."""
        wanted = digest(code.strip())
        with self._editing() as data:
            now = self.now()
            live = [c for c in data["codes"] if c["expires"] > now]
            match = [c for c in live if secrets.compare_digest(c["hash"], wanted)]
            data["codes"] = [c for c in live if c not in match]
            if not match:
                return None
            token = secrets.token_urlsafe(32)
            entry = {
                "id": secrets.token_hex(3),
                "name": clean_name(name),
                "hash": digest(token),
                "created": now,
                "last_seen": now,
            }
            data["tokens"] = [*data["tokens"], entry][-MAX_TOKENS:]
        logger.info("paired device %s (%s)", entry["id"], entry["name"])
        return _device(entry), token

    # -- checking ------------------------------------------------------------------------

    def check(self, token: str | None) -> Device | None:
        """The device a token belongs to, or None; re-reads the file when it changed."""
        if not token or len(token) > 128:
            return None
        self._refresh()
        entry = self._by_hash.get(digest(token))
        if entry is None:
            return None
        if self.now() - (entry.get("last_seen") or 0) > SEEN_EVERY_S:
            self._seen(entry["id"])
        return _device(entry)

    def devices(self) -> list[Device]:
        """Every paired device."""
        self._refresh()
        return [_device(e) for e in self._data["tokens"]]

    def revoke(self, device_id: str) -> Device | None:
        """Remove a device's token; returns it, or None when there is no such id."""
        with self._editing() as data:
            gone = [e for e in data["tokens"] if e["id"] == device_id]
            data["tokens"] = [e for e in data["tokens"] if e["id"] != device_id]
        return _device(gone[0]) if gone else None

    def _seen(self, device_id: str) -> None:
        try:
            with self._editing() as data:
                for e in data["tokens"]:
                    if e["id"] == device_id:
                        e["last_seen"] = self.now()
        except TokenFileError:
            logger.warning("could not note when device %s was last seen", device_id)

    # -- the file ------------------------------------------------------------------------

    def _refresh(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._set({"tokens": [], "codes": []}, None)
            return
        except OSError as err:
            raise TokenFileError(f"cannot read {self.path}: {err.strerror}") from err
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._set(self._read(), stamp)

    def _set(self, data: dict[str, Any], stamp: tuple[int, int, int] | None) -> None:
        self._data, self._stamp = data, stamp
        self._by_hash = {e["hash"]: e for e in data["tokens"]}

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(read_regular(self.path, what="a token file"))
            if not isinstance(data.get("tokens"), list) or not isinstance(data.get("codes"), list):
                raise ValueError("missing tokens or codes")
            return data
        except FileNotFoundError:
            return {"tokens": [], "codes": []}
        except (OSError, ValueError, AttributeError) as err:
            # Refuse everyone rather than guess: a damaged file must not let anyone in.
            why = reason(err) if isinstance(err, OSError) else err
            raise TokenFileError(
                f"{self.path}: cannot read the token file ({why}); remove it and pair again"
            ) from err

    @contextlib.contextmanager
    def _editing(self) -> Iterator[dict[str, Any]]:
        """Read, change and atomically rewrite the file under a lock (0600)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as err:
            raise TokenFileError(f"cannot lock {lock_path}: {err.strerror}") from err
        try:
            _keep_owner(lock, self.path)
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._read()
            yield data
            tmp = self.path.with_name(self.path.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            _keep_owner(fd, self.path)
            with os.fdopen(fd, "w") as out:
                json.dump(data, out, indent=1)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except OSError as err:
            raise TokenFileError(f"cannot write {self.path}: {err.strerror}") from err
        finally:
            os.close(lock)
        self._stamp = None  # re-read next time


def _keep_owner(fd: int, path: Path) -> None:
    """Root running ``pc6 web pair`` for the service must leave the file the service's."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = os.stat(path.parent)  # a new file belongs to whoever owns the state directory
    if os.geteuid() == 0 and (st.st_uid, st.st_gid) != (0, 0):
        os.fchown(fd, st.st_uid, st.st_gid)


def clean_name(name: str) -> str:
    """A device name safe to show and journal: printable, short, never empty."""
    kept = "".join(ch for ch in name if ch.isprintable())[:NAME_MAX].strip()
    return kept or "device"


def _device(entry: dict[str, Any]) -> Device:
    return Device(entry["id"], entry["name"], entry["created"], entry.get("last_seen"))
