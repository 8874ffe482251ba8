"""Experiments, diaries and imported tracker nights, in the journal's SQLite file.

New tables beside the journal's own; opening an older journal adds them and touches
nothing else (``experiment_schema`` records the version, for later migrations). Every
change that writes several rows is one transaction: an import that fails halfway leaves
the file as it was.

The seed of a blind experiment is kept here and never printed until ``unblind``. It is
hidden, not protected: anyone who opens this file with ``sqlite3`` can read it. Do not.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from firmware_host.errors import PC6Error

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS experiment_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS experiments (
    name TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    active TEXT NOT NULL,
    control TEXT NOT NULL,
    control_profile TEXT NOT NULL,
    kind TEXT NOT NULL,
    start TEXT NOT NULL,
    run_in INTEGER NOT NULL,
    nights INTEGER NOT NULL,
    block INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    better TEXT NOT NULL,
    meaningful REAL,
    blind INTEGER NOT NULL,
    seed TEXT NOT NULL,
    commitment TEXT NOT NULL,
    state TEXT NOT NULL,
    ended_at REAL
);
CREATE TABLE IF NOT EXISTS experiment_nights (
    name TEXT NOT NULL REFERENCES experiments(name),
    night TEXT NOT NULL,
    arm TEXT NOT NULL,
    PRIMARY KEY (name, night)
);
CREATE TABLE IF NOT EXISTS experiment_sessions (
    session_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    night TEXT NOT NULL,
    arm TEXT NOT NULL,
    profile TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS diary (
    night TEXT PRIMARY KEY,
    entered_at REAL NOT NULL,
    in_bed REAL NOT NULL,
    tried REAL NOT NULL,
    sol_min REAL NOT NULL,
    awakenings INTEGER NOT NULL,
    waso_min REAL NOT NULL,
    final_wake REAL NOT NULL,
    out_of_bed REAL NOT NULL,
    quality INTEGER NOT NULL,
    rested INTEGER NOT NULL,
    guess TEXT NOT NULL,
    naps_min REAL,
    caffeine INTEGER,
    alcohol INTEGER,
    medication TEXT,
    note TEXT
);
CREATE TABLE IF NOT EXISTS scores (
    night TEXT NOT NULL,
    name TEXT NOT NULL,
    total REAL NOT NULL,
    entered_at REAL NOT NULL,
    PRIMARY KEY (night, name)
);
CREATE TABLE IF NOT EXISTS tracker_nights (
    source TEXT NOT NULL,
    night TEXT NOT NULL,
    device TEXT NOT NULL,
    onset REAL,
    wake REAL,
    tib_min REAL,
    tst_min REAL,
    sol_min REAL,
    waso_min REAL,
    se REAL,
    deep_min REAL,
    light_min REAL,
    rem_min REAL,
    imported_at REAL NOT NULL,
    PRIMARY KEY (source, night)
);
"""


class StoreError(PC6Error, OSError):
    """The experiment tables could not be read or written."""


@dataclass(frozen=True)
class Experiment:
    """One planned experiment, as stored."""

    name: str
    created_at: float
    active: str
    control: str  # "off" or a profile name, as the wearer gave it
    control_profile: str  # what the daemon plays on a control night
    kind: str
    start: str
    run_in: int
    nights: int
    block: int
    outcome: str
    better: str
    meaningful: float | None
    blind: bool
    seed: str
    commitment: str
    state: str  # planned, stopped, unblinded
    ended_at: float | None

    @property
    def blinded(self) -> bool:
        """Whether what a person sees must hide the arm."""
        return self.blind and self.state != "unblinded"


@dataclass(frozen=True)
class TrackerNight:
    """One night from a tracker export: the device's estimate, not a measurement."""

    night: str
    device: str
    onset: float | None = None  # epoch seconds
    wake: float | None = None
    tib_min: float | None = None
    tst_min: float | None = None
    sol_min: float | None = None
    waso_min: float | None = None
    se: float | None = None
    deep_min: float | None = None
    light_min: float | None = None
    rem_min: float | None = None


EXPERIMENT_COLUMNS = [f.name for f in fields(Experiment)]
TRACKER_COLUMNS = [f.name for f in fields(TrackerNight)]


class Store:
    """The experiment tables of one journal file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            if self._db.execute("SELECT COUNT(*) FROM experiment_schema").fetchone()[0] == 0:
                self._db.execute("INSERT INTO experiment_schema VALUES (?)", (SCHEMA_VERSION,))
        except (OSError, sqlite3.Error) as err:
            raise StoreError(f"cannot open {self.path}: {err}") from err

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All writes inside commit together or not at all."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as err:
            raise StoreError(f"cannot write {self.path}: {err}") from err
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as err:
            raise StoreError(f"cannot write {self.path}: {err}") from err

    def query(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query."""
        try:
            return self._db.execute(sql, tuple(args)).fetchall()
        except sqlite3.Error as err:
            raise StoreError(f"cannot read {self.path}: {err}") from err

    # -- experiments -----------------------------------------------------------------

    def add_experiment(self, exp: Experiment, nights: list[tuple[dt.date, str]]) -> None:
        """Store a new plan and its schedule in one transaction."""
        marks = ", ".join("?" * len(EXPERIMENT_COLUMNS))
        values = [getattr(exp, c) for c in EXPERIMENT_COLUMNS]
        values[EXPERIMENT_COLUMNS.index("blind")] = int(exp.blind)
        with self.transaction() as db:
            db.execute(
                f"INSERT INTO experiments ({', '.join(EXPERIMENT_COLUMNS)}) VALUES ({marks})",
                values,
            )
            db.executemany(
                "INSERT INTO experiment_nights (name, night, arm) VALUES (?, ?, ?)",
                [(exp.name, night.isoformat(), arm) for night, arm in nights],
            )

    def experiment(self, name: str) -> Experiment | None:
        """The experiment called ``name``."""
        rows = self.query(
            f"SELECT {', '.join(EXPERIMENT_COLUMNS)} FROM experiments WHERE name = ?", (name,)
        )
        return _experiment(rows[0]) if rows else None

    def experiments(self) -> list[Experiment]:
        """Every experiment, oldest first."""
        rows = self.query(
            f"SELECT {', '.join(EXPERIMENT_COLUMNS)} FROM experiments ORDER BY created_at"
        )
        return [_experiment(r) for r in rows]

    def nights(self, name: str) -> list[tuple[str, str]]:
        """``(night, arm)`` of an experiment's schedule, in order."""
        return [
            (n, a)
            for n, a in self.query(
                "SELECT night, arm FROM experiment_nights WHERE name = ? ORDER BY night", (name,)
            )
        ]

    def arm_on(self, name: str, night: dt.date) -> str | None:
        """The allocated letter of ``night``, or None outside the schedule."""
        rows = self.query(
            "SELECT arm FROM experiment_nights WHERE name = ? AND night = ?",
            (name, night.isoformat()),
        )
        return rows[0][0] if rows else None

    def set_state(self, name: str, state: str, *, at: float) -> None:
        """Move an experiment to ``stopped`` or ``unblinded``."""
        with self.transaction() as db:
            db.execute(
                "UPDATE experiments SET state = ?, ended_at = COALESCE(ended_at, ?) WHERE name = ?",
                (state, at, name),
            )

    def record_session(
        self, session_id: int, name: str, night: dt.date, arm: str, profile: str
    ) -> None:
        """What the daemon started for an experiment night (the truth, for audits)."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO experiment_sessions VALUES (?, ?, ?, ?, ?)",
                (session_id, name, night.isoformat(), arm, profile),
            )

    def sessions(self, name: str) -> list[tuple[int, str, str, str]]:
        """``(session_id, night, arm, profile)`` of an experiment's sessions."""
        return [
            (int(s), n, a, p)
            for s, n, a, p in self.query(
                "SELECT session_id, night, arm, profile FROM experiment_sessions"
                " WHERE name = ? ORDER BY session_id",
                (name,),
            )
        ]

    def blinded_sessions(self) -> set[int]:
        """Ids of journal sessions whose arm must not be shown."""
        rows = self.query(
            "SELECT s.session_id FROM experiment_sessions s JOIN experiments e"
            " ON e.name = s.name WHERE e.blind = 1 AND e.state != 'unblinded'"
        )
        return {int(r[0]) for r in rows}

    # -- diary and scores ------------------------------------------------------------

    def put_diary(self, night: dt.date, row: dict[str, Any]) -> bool:
        """Write the diary of ``night``; True if it replaced an earlier entry."""
        cols = ["night", *row]
        with self.transaction() as db:
            had = db.execute("SELECT 1 FROM diary WHERE night = ?", (night.isoformat(),))
            replaced = had.fetchone() is not None
            db.execute(
                f"INSERT OR REPLACE INTO diary ({', '.join(cols)})"
                f" VALUES ({', '.join('?' * len(cols))})",
                [night.isoformat(), *row.values()],
            )
        return replaced

    def diaries(self) -> dict[str, dict[str, Any]]:
        """Every diary entry by night."""
        cur = self._db.execute("SELECT * FROM diary ORDER BY night")
        names = [d[0] for d in cur.description]
        return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}

    def put_scores(self, night: dt.date, scores: dict[str, float], *, at: float) -> None:
        """Questionnaire totals taken elsewhere, by their name."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)",
                [(night.isoformat(), k, v, at) for k, v in scores.items()],
            )

    # -- tracker imports -------------------------------------------------------------

    def replace_tracker(self, source: str, rows: list[TrackerNight], *, at: float) -> int:
        """Import ``rows`` from ``source``: a night seen before is replaced, never doubled."""
        cols = ["source", *TRACKER_COLUMNS, "imported_at"]
        with self.transaction() as db:
            db.executemany(
                f"INSERT OR REPLACE INTO tracker_nights ({', '.join(cols)})"
                f" VALUES ({', '.join('?' * len(cols))})",
                [[source, *(getattr(r, c) for c in TRACKER_COLUMNS), at] for r in rows],
            )
        return len(rows)

    def tracker(self, source: str | None = None) -> list[TrackerNight]:
        """Imported nights (of ``source``), oldest first."""
        where, args = ("WHERE source = ?", (source,)) if source else ("", ())
        rows = self.query(
            f"SELECT {', '.join(TRACKER_COLUMNS)} FROM tracker_nights {where}"
            " ORDER BY night, source",
            args,
        )
        return [TrackerNight(*r) for r in rows]


def _experiment(row: tuple[Any, ...]) -> Experiment:
    values = dict(zip(EXPERIMENT_COLUMNS, row, strict=True))
    values["blind"] = bool(values["blind"])
    return Experiment(**values)
