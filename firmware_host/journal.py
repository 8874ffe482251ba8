"""The journal: every session and safety event, in SQLite.

WAL mode with ``synchronous=FULL``: each event is its own committed transaction, so a
process killed at any moment leaves a consistent database with every event that was
committed before the kill.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .errors import PC6Error

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    ended_at REAL,
    profile TEXT NOT NULL,
    profile_sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    backend TEXT NOT NULL,
    kind TEXT NOT NULL,
    simulated INTEGER NOT NULL,
    reason TEXT,
    detail TEXT,
    duration_s REAL,
    dose REAL,
    peak REAL,
    max_lateness_ms REAL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    session_id INTEGER REFERENCES sessions(id),
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_session ON events(session_id);
"""


class JournalError(PC6Error, OSError):
    """The journal could not be opened or written."""


@dataclass(frozen=True)
class SessionRow:
    """One line of ``pc6 log``."""

    id: int
    started_at: float
    ended_at: float | None
    profile: str
    backend: str
    kind: str
    simulated: bool
    reason: str | None
    detail: str | None
    duration_s: float | None
    dose: float | None
    peak: float | None
    max_lateness_ms: float | None


class Journal:
    """A handle on the journal database; one per process."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as err:
            raise JournalError(f"cannot open journal {self.path}: {err}") from err

    def close(self) -> None:
        """Close the connection (committed data is already on disk)."""
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start_session(
        self,
        *,
        at: float,
        profile: str,
        sha256: str,
        source: str,
        backend: str,
        kind: str,
        simulated: bool,
    ) -> int:
        """Record a session start; returns its id."""
        cur = self._write(
            "INSERT INTO sessions (started_at, profile, profile_sha256, source, backend, kind,"
            " simulated) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (at, profile, sha256, source, backend, kind, int(simulated)),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def event(self, session_id: int | None, *, at: float, kind: str, detail: str = "") -> None:
        """Record an event (fault, trip, limit, pause, link …) in its own transaction."""
        self._write(
            "INSERT INTO events (session_id, at, kind, detail) VALUES (?, ?, ?, ?)",
            (session_id, at, kind, detail),
        )

    def end_session(
        self,
        session_id: int,
        *,
        at: float,
        reason: str,
        detail: str,
        duration_s: float,
        dose: float,
        peak: float,
        max_lateness_ms: float,
    ) -> None:
        """Record how a session ended and what it delivered."""
        self._write(
            "UPDATE sessions SET ended_at=?, reason=?, detail=?, duration_s=?, dose=?, peak=?,"
            " max_lateness_ms=? WHERE id=?",
            (at, reason, detail, duration_s, dose, peak, max_lateness_ms, session_id),
        )

    def recent(self, limit: int = 20) -> list[SessionRow]:
        """The latest sessions, newest first."""
        rows = self._db.execute(
            "SELECT id, started_at, ended_at, profile, backend, kind, simulated, reason, detail,"
            " duration_s, dose, peak, max_lateness_ms FROM sessions ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            SessionRow(
                id=r[0],
                started_at=r[1],
                ended_at=r[2],
                profile=r[3],
                backend=r[4],
                kind=r[5],
                simulated=bool(r[6]),
                reason=r[7],
                detail=r[8],
                duration_s=r[9],
                dose=r[10],
                peak=r[11],
                max_lateness_ms=r[12],
            )
            for r in rows
        ]

    def events(self, session_id: int) -> list[tuple[float, str, str]]:
        """Events of a session in order."""
        return self._db.execute(
            "SELECT at, kind, detail FROM events WHERE session_id=? ORDER BY id", (session_id,)
        ).fetchall()

    def _write(self, sql: str, args: tuple[object, ...]) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, args)
        except sqlite3.Error as err:
            raise JournalError(f"cannot write journal {self.path}: {err}") from err
