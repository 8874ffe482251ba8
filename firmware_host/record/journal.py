"""The journal: every session and safety event, in SQLite.

WAL mode with ``synchronous=FULL``: each event is its own committed transaction, so a
process killed at any moment leaves a consistent database with every event that was
committed before the kill.
"""

from __future__ import annotations

import json
import os
import sqlite3
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from firmware_host.errors import InvalidInput, PC6Error

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
CREATE TABLE IF NOT EXISTS trace_chunks (
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    seq INTEGER NOT NULL,
    t0 REAL NOT NULL,
    rows BLOB NOT NULL,
    PRIMARY KEY (session_id, seq)
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
ADDED_COLUMNS = {
    "origin": "TEXT",
    "on_s": "REAL",
    "checkpoint_at": "REAL",  # a running session's last checkpoint (wall time)
    "pid": "INTEGER",  # the process that runs it, and that machine's boot: is it alive?
    "boot": "TEXT",
}
KILLED = "killed"
KILLED_DETAIL = (
    "the process ended without closing the session (SIGKILL, power cut, watchdog); "
    "charged up to its last checkpoint"
)
TRACE_CHUNK_ROWS = 2000
#: ``origin`` of a run on virtual time (``pc6 run --fast``): journaled, never a real night.
VIRTUAL = "virtual"
_REAL = "COALESCE(origin, '') != 'virtual'"


class JournalError(PC6Error, OSError):
    """The journal could not be opened or written."""


class JournalPathError(JournalError, InvalidInput):
    """A journal path a person named cannot hold a journal (its folder is missing ...)."""


def _make_folder(path: Path) -> None:
    """Create the journal's folder, but only at a default location.

    ``--journal /nonexistent/j.sqlite`` is a typo more often than a wish: creating the
    folders would hide it (and leave them behind). The defaults are ours to create.

    Raises:
        JournalPathError: the folder of a path that is not a default does not exist.
        JournalError: a default folder cannot be created.
    """
    from firmware_host.paths import state_dir, system_paths

    folder = path.parent
    if folder.is_dir():
        return
    if folder not in (state_dir(), system_paths().state_dir):
        raise JournalPathError(
            f"cannot open journal {path}: no such folder {folder}"
            " (only the default journal location is created)"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise JournalError(f"cannot create the journal's folder {folder}: {err}") from err


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
        _make_folder(self.path)
        try:
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

        ``origin`` says who started it: ``schedule``, ``manual`` or ``cli``. The session
        starts charged 0 s; :meth:`checkpoint` keeps its on-time current while it runs.
        """
        cur = self._write(
            "INSERT INTO sessions (started_at, profile, profile_sha256, source, backend, kind,"
            " simulated, origin, on_s, checkpoint_at, pid, boot)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
            (
                at,
                profile,
                sha256,
                source,
                backend,
                kind,
                int(simulated),
                origin,
                at,
                os.getpid(),
                boot_id(),
            ),
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

    def checkpoint(
        self, session_id: int, *, at: float, on_s: float, duration_s: float, dose: float
    ) -> None:
        """Keep a running session's on-time, length and dose so far (a kill loses ≤ one gap)."""
        self._write(
            "UPDATE sessions SET on_s=?, duration_s=?, dose=?, checkpoint_at=?"
            " WHERE id=? AND ended_at IS NULL",
            (on_s, duration_s, dose, at, session_id),
        )

    def close_killed(self) -> int:
        """Close sessions whose process is gone (killed, power cut) as ``killed``.

        They end at their last checkpoint, keeping the on-time charged there. A session of
        a process still running (another ``pc6 run``) is left alone. Returns how many.
        """
        rows = self._db.execute(
            "SELECT id, pid, boot, COALESCE(checkpoint_at, started_at) FROM sessions"
            " WHERE ended_at IS NULL"
        ).fetchall()
        closed = 0
        for session_id, pid, boot, last in rows:
            if _alive(pid, boot):
                continue
            self._write(
                "UPDATE sessions SET ended_at=?, reason=?, detail=?"
                " WHERE id=? AND ended_at IS NULL",
                (last, KILLED, KILLED_DETAIL, session_id),
            )
            closed += 1
        return closed

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

    def sessions_between(
        self, start: float, end: float, *, include_virtual: bool = False
    ) -> list[SessionRow]:
        """Sessions started in ``[start, end)`` (epoch seconds), oldest first.

        Runs on virtual time are not part of a night unless ``include_virtual``.
        """
        real = "" if include_virtual else f" AND {_REAL}"
        return self._sessions(
            f"WHERE started_at >= ? AND started_at < ?{real} ORDER BY started_at, id",
            (start, end),
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

    def events_between(
        self, start: float, end: float, *, include_virtual: bool = False
    ) -> list[tuple[float, int | None, str, str]]:
        """Every event in ``[start, end)``, with or without a session, in order.

        Events of runs on virtual time are left out unless ``include_virtual``.
        """
        real = (
            ""
            if include_virtual
            else " AND (session_id IS NULL OR session_id NOT IN"
            " (SELECT id FROM sessions WHERE origin = 'virtual'))"
        )
        return self._db.execute(
            "SELECT at, session_id, kind, detail FROM events WHERE at >= ? AND at < ?"
            f"{real} ORDER BY at, id",
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

        ``simulated`` keeps only simulated (True) or only real (False) sessions. A run on
        virtual time never counts; a running or killed session counts its last checkpoint.
        """
        sql = (
            "SELECT COALESCE(SUM(on_s), 0) FROM sessions WHERE kind = ? AND started_at >= ?"
            f" AND started_at < ? AND {_REAL}"
        )
        args: tuple[object, ...] = (kind, start, end)
        if simulated is not None:
            sql += " AND simulated = ?"
            args = (*args, int(simulated))
        return float(self._db.execute(sql, args).fetchone()[0])

    def save_trace(self, session_id: int, t0: float, rows: list[tuple[float, float]]) -> None:
        """Keep a session's delivered-level breakpoints (relative to epoch ``t0``)."""
        blob = zlib.compress(json.dumps([[round(t, 3), round(v, 4)] for t, v in rows]).encode())
        self._write(
            "INSERT OR REPLACE INTO traces (session_id, t0, rows) VALUES (?, ?, ?)",
            (session_id, t0, blob),
        )

    def trace_writer(self, session_id: int, t0: float) -> TraceChunks:
        """A row sink that keeps a session's trace here in chunks, as it is played."""
        return TraceChunks(self, session_id, t0)

    def _save_chunk(
        self, session_id: int, seq: int, t0: float, rows: list[tuple[float, float]]
    ) -> None:
        blob = zlib.compress(json.dumps([[round(t, 3), round(v, 4)] for t, v in rows]).encode())
        self._write(
            "INSERT OR REPLACE INTO trace_chunks (session_id, seq, t0, rows) VALUES (?, ?, ?, ?)",
            (session_id, seq, t0, blob),
        )

    def trace(self, session_id: int) -> tuple[float, list[tuple[float, float]]] | None:
        """A saved trace as ``(t0, rows)``, or None."""
        chunks = self._db.execute(
            "SELECT t0, rows FROM trace_chunks WHERE session_id = ? ORDER BY seq", (session_id,)
        ).fetchall()
        if chunks:
            rows = [(t, v) for _, blob in chunks for t, v in json.loads(zlib.decompress(blob))]
            return chunks[0][0], rows
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


class TraceChunks:
    """Trace rows into the journal, a chunk of :data:`TRACE_CHUNK_ROWS` at a time.

    Memory stays at one chunk however long the session; :meth:`flush` writes the rest (a
    kill loses at most the chunk in progress).
    """

    def __init__(self, journal: Journal, session_id: int, t0: float) -> None:
        self._journal = journal
        self._session_id = session_id
        self._t0 = t0
        self._rows: list[tuple[float, float]] = []
        self._seq = 0

    def __call__(self, t_s: float, level: float) -> None:
        self._rows.append((t_s, level))
        if len(self._rows) >= TRACE_CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write the rows not yet written."""
        if not self._rows:
            return
        self._journal._save_chunk(self._session_id, self._seq, self._t0, self._rows)
        self._seq += 1
        self._rows = []


def boot_id() -> str:
    """This machine's boot (a process id means nothing across a reboot)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _alive(pid: int | None, boot: str | None) -> bool:
    if pid is None or boot != boot_id():
        return False
    if pid == os.getpid():
        return False  # our own process opens no session it does not know about
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True
