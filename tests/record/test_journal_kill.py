"""100 SIGKILLs at random moments while the journal is being written.

A child process writes safety events (each its own committed transaction) with sessions and
traces around them, and prints each event's number once ``event()`` has returned. The test
kills it after a random number of printed events, so the kill lands wherever the child is in
its next write. Every time: ``PRAGMA integrity_check`` is ok and the last event the child
reported as committed is in the database.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from firmware_host.record.journal import Journal

WRITER = r"""
import sys
from firmware_host.record.journal import Journal

path, first = sys.argv[1], int(sys.argv[2])
journal = Journal(path)
i = first
while True:
    sid = journal.start_session(at=i, profile="p", sha256="0" * 64, source="s", backend="sim",
                                kind="vibration", simulated=True, origin="schedule")
    for _ in range(5):
        journal.event(sid, at=i, kind="trip", detail=str(i))
        print(i, flush=True)
        i += 1
    journal.save_trace(sid, float(i), [(t * 0.5, (t % 7) / 7) for t in range(200)])
    journal.end_session(sid, at=i, reason="tripped", detail="", duration_s=1.0, dose=1.0,
                        peak=1.0, max_lateness_ms=0.0, on_s=1.0)
"""


def test_sigkill_while_writing(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    rng = random.Random(20261123)
    first = 0
    for _ in range(100):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(first)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        last = None
        for _ in range(rng.randrange(0, 25)):
            line = child.stdout.readline()
            assert line, "the writer died on its own"
            last = int(line)
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()

        db = sqlite3.connect(path)
        try:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            if last is not None:
                found = db.execute(
                    "SELECT COUNT(*) FROM events WHERE kind = 'trip' AND detail = ?", (str(last),)
                ).fetchone()
                assert found == (1,), f"committed event {last} lost"
            top = db.execute("SELECT MAX(CAST(detail AS INTEGER)) FROM events").fetchone()[0]
        finally:
            db.close()
        first = (top or 0) + 1
    with Journal(path) as journal:  # and the journal still opens and reads
        assert journal.recent(1)
