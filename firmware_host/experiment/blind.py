"""What a person sees while an experiment is blind: "experiment night", never the arm.

:class:`BlindJournal` is the journal as ``pc6 log``, the morning report and the night plot
read it: sessions of a blind experiment come back named "experiment night", with no dose,
peak, stimulation time or trace, and their events without detail. Nothing is changed in the
file; the journal keeps the truth for safety audits.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from firmware_host.experiment.store import Store
from firmware_host.experiment.tonight import BLIND_LABEL
from firmware_host.record.journal import Journal, SessionRow, connect_read_only

HIDDEN = "(hidden while the experiment is blind)"


class BlindJournal(Journal):
    """A journal whose blind experiment nights read as "experiment night"."""

    def __init__(self, path: str | Path, blinded: set[int], *, read_only: bool = False) -> None:
        super().__init__(path, read_only=read_only)
        self.blinded = blinded

    def _sessions(self, tail: str, args: tuple[object, ...]) -> list[SessionRow]:
        return [self._mask(s) for s in super()._sessions(tail, args)]

    def _mask(self, s: SessionRow) -> SessionRow:
        if s.id not in self.blinded:
            return s
        return replace(s, profile=BLIND_LABEL, dose=None, peak=None, on_s=None, detail=None)

    def events(self, session_id: int) -> list[tuple[float, str, str]]:
        """Events of a session; a blind one's without detail."""
        rows = super().events(session_id)
        if session_id in self.blinded:
            return [(at, kind, HIDDEN) for at, kind, _ in rows]
        return rows

    def events_between(
        self, start: float, end: float, *, include_virtual: bool = False
    ) -> list[tuple[float, int | None, str, str]]:
        """Every event in ``[start, end)``; a blind session's without detail."""
        return [
            (at, sid, kind, HIDDEN if sid in self.blinded else detail)
            for at, sid, kind, detail in super().events_between(
                start, end, include_virtual=include_virtual
            )
        ]

    def trace(self, session_id: int) -> tuple[float, list[tuple[float, float]]] | None:
        """No trace of a blind session: its levels would name the arm."""
        return None if session_id in self.blinded else super().trace(session_id)


def open_for_display(path: str | Path, *, read_only: bool = False) -> Journal:
    """The journal at ``path`` as a person may see it now (``read_only``: for readers)."""
    if read_only:
        blinded = _blinded_read_only(Path(path))
        return (
            BlindJournal(path, blinded, read_only=True)
            if blinded
            else Journal(path, read_only=True)
        )
    with Store(path) as store:
        blinded = store.blinded_sessions()
    return BlindJournal(path, blinded) if blinded else Journal(path)


def _blinded_read_only(path: Path) -> set[int]:
    """:meth:`Store.blinded_sessions` for a reader who may not write the journal."""
    db = connect_read_only(path)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"experiment_sessions", "experiments"} <= tables:
            return set()  # no experiment was ever set up in this journal
        rows = db.execute(
            "SELECT s.session_id FROM experiment_sessions s JOIN experiments e"
            " ON e.name = s.name WHERE e.blind = 1 AND e.state != 'unblinded'"
        ).fetchall()
        return {int(r[0]) for r in rows}
    finally:
        db.close()
