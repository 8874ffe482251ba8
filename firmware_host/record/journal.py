"""The journal: every session and safety event, in SQLite.

WAL mode with ``synchronous=FULL``: each event is its own committed transaction, so a
process killed at any moment leaves a consistent database with every event that was
committed before the kill.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from firmware_host.errors import PC6Error

if TYPE_CHECKING:
    from firmware_host.play.engine import SessionResult

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
CREATE INDEX IF NOT EXISTS events_at ON events(at);
CREATE TABLE IF NOT EXISTS traces (
    session_id INTEGER PRIMARY KEY REFERENCES sessions(id),
    t0 REAL NOT NULL,
    rows BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS daemon_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS schedule_runs (
    key TEXT PRIMARY KEY,
    at REAL NOT NULL,
    outcome TEXT NOT NULL
);
"""

# Columns added after the first release; older journals get them on open.
ADDED_COLUMNS = {"origin": "TEXT", "on_s": "REAL"}


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
    origin: str | None = None
    on_s: float | None = None


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only SQLite connection to the journal at ``path`` (``mode=ro``).

    Raises:
        JournalError: it cannot be opened.
    """
    from urllib.parse import quote

    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=10)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError:
            db.close()
        # A WAL journal nobody has open has no -shm file, and a reader who may not write
        # the folder cannot create one. No writer is then active (a writer keeps both
        # files while it runs), so the file as it stands is the whole journal.
        db = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.Error as err:
        raise JournalError(f"cannot read journal {path}: {err}") from err


class Journal:
    """A handle on the journal database; one per process."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        """Open (and create, unless ``read_only``) the journal at ``path``.

        ``read_only`` is for readers (``pc6 log``): the file is opened with SQLite's
        ``mode=ro``, so a builder in the service's group who does not own the journal, or a
        read-only mount, can read it; nothing is created or migrated.

        Raises:
            JournalError: it cannot be opened.
        """
        self.path = Path(path)
        if read_only:
            self._db = connect_read_only(self.path)
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            self._migrate()
        except (OSError, sqlite3.Error) as err:
            raise JournalError(f"cannot open journal {self.path}: {err}") from err

    def _migrate(self) -> None:
        have = {row[1] for row in self._db.execute("PRAGMA table_info(sessions)")}
        for name, sql_type in ADDED_COLUMNS.items():
            if name not in have:
                self._db.execute(f"ALTER TABLE sessions ADD COLUMN {name} {sql_type}")

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
        origin: str | None = None,
    ) -> int:
        """Record a session start; returns its id.

        ``origin`` says who started it: ``schedule``, ``manual`` or ``cli``.
        """
        cur = self._write(
            "INSERT INTO sessions (started_at, profile, profile_sha256, source, backend, kind,"
            " simulated, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (at, profile, sha256, source, backend, kind, int(simulated), origin),
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
        on_s: float | None = None,
    ) -> None:
        """Record how a session ended and what it delivered (``on_s``: stimulation time)."""
        self._write(
            "UPDATE sessions SET ended_at=?, reason=?, detail=?, duration_s=?, dose=?, peak=?,"
            " max_lateness_ms=?, on_s=? WHERE id=?",
            (at, reason, detail, duration_s, dose, peak, max_lateness_ms, on_s, session_id),
        )

    def end_from_result(
        self, session_id: int, result: SessionResult, *, at: float, on_s: float | None = None
    ) -> None:
        """Record a session's end from the engine's :class:`SessionResult`."""
        self.end_session(
            session_id,
            at=at,
            reason=result.reason.value,
            detail=result.detail,
            duration_s=result.duration_s,
            dose=result.dose,
            peak=result.peak,
            max_lateness_ms=result.max_lateness_s * 1000,
            on_s=on_s,
        )

    def recent(self, limit: int = 20) -> list[SessionRow]:
        """The latest sessions, newest first."""
        return self._sessions("ORDER BY id DESC LIMIT ?", (limit,))

    def sessions_between(self, start: float, end: float) -> list[SessionRow]:
        """Sessions started in ``[start, end)`` (epoch seconds), oldest first."""
        return self._sessions(
            "WHERE started_at >= ? AND started_at < ? ORDER BY started_at, id", (start, end)
        )

    def _sessions(self, tail: str, args: tuple[object, ...]) -> list[SessionRow]:
        rows = self._db.execute(
            "SELECT id, started_at, ended_at, profile, backend, kind, simulated, reason, detail,"
            f" duration_s, dose, peak, max_lateness_ms, origin, on_s FROM sessions {tail}",
            args,
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
                origin=r[13],
                on_s=r[14],
            )
            for r in rows
        ]

    def events_between(self, start: float, end: float) -> list[tuple[float, int | None, str, str]]:
        """Every event in ``[start, end)``, with or without a session, in order."""
        return self._db.execute(
            "SELECT at, session_id, kind, detail FROM events WHERE at >= ? AND at < ?"
            " ORDER BY at, id",
            (start, end),
        ).fetchall()

    def last_event(self, kind: str | None = None) -> tuple[float, str, str] | None:
        """The newest event (of ``kind``), as ``(at, kind, detail)``."""
        where, args = ("WHERE kind = ?", (kind,)) if kind else ("", ())
        return self._db.execute(
            f"SELECT at, kind, detail FROM events {where} ORDER BY id DESC LIMIT 1", args
        ).fetchone()

    def on_time_between(
        self, start: float, end: float, kind: str, *, simulated: bool | None = None
    ) -> float:
        """Seconds of non-zero output of ``kind`` in sessions started in ``[start, end)``.

        ``simulated`` keeps only simulated (True) or only real (False) sessions.
        """
        sql = (
            "SELECT COALESCE(SUM(on_s), 0) FROM sessions WHERE kind = ? AND started_at >= ?"
            " AND started_at < ?"
        )
        args: tuple[object, ...] = (kind, start, end)
        if simulated is not None:
            sql += " AND simulated = ?"
            args = (*args, int(simulated))
        return float(self._db.execute(sql, args).fetchone()[0])

    def save_trace(self, session_id: int, t0: float, rows: list[tuple[float, float]]) -> None:
        """Keep a session's delivered-level breakpoints (relative to epoch ``t0``)."""
        import json
        import zlib

        blob = zlib.compress(json.dumps([[round(t, 3), round(v, 4)] for t, v in rows]).encode())
        self._write(
            "INSERT OR REPLACE INTO traces (session_id, t0, rows) VALUES (?, ?, ?)",
            (session_id, t0, blob),
        )

    def trace(self, session_id: int) -> tuple[float, list[tuple[float, float]]] | None:
        """A saved trace as ``(t0, rows)``, or None."""
        import json
        import zlib

        row = self._db.execute(
            "SELECT t0, rows FROM traces WHERE session_id = ?", (session_id,)
        ).fetchone()
        if row is None:
            return None
        return row[0], [(t, v) for t, v in json.loads(zlib.decompress(row[1]))]

    def mark_run(self, key: str, *, at: float, outcome: str) -> bool:
        """Remember that scheduled occurrence ``key`` was handled; False if it already was."""
        cur = self._write(
            "INSERT OR IGNORE INTO schedule_runs (key, at, outcome) VALUES (?, ?, ?)",
            (key, at, outcome),
        )
        return cur.rowcount == 1

    def set_state(self, key: str, value: object, *, at: float) -> None:
        """Keep one piece of daemon state (JSON) across restarts; ``None`` forgets it."""
        if value is None:
            self._write("DELETE FROM daemon_state WHERE key=?", (key,))
        else:
            self._write(
                "INSERT OR REPLACE INTO daemon_state (key, value, at) VALUES (?, ?, ?)",
                (key, json.dumps(value), at),
            )

    def state(self) -> dict[str, object]:
        """All kept daemon state."""
        rows = self._db.execute("SELECT key, value FROM daemon_state").fetchall()
        return {key: json.loads(value) for key, value in rows}

    def has_run(self, key: str) -> bool:
        """Whether scheduled occurrence ``key`` was already handled."""
        row = self._db.execute("SELECT 1 FROM schedule_runs WHERE key = ?", (key,)).fetchone()
        return row is not None

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
