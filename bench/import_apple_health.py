"""Memory and time of ``pc6 import apple-health`` on a large synthetic ``export.xml``.

Writes a file of N records (mostly step counts, one night of sleep records a day, as in a
real export), then imports it in a child process and prints its wall time and peak RSS.
``.venv/bin/python bench/import_apple_health.py [N]``
"""

from __future__ import annotations

import datetime as dt
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write(path: Path, records: int) -> None:
    start = dt.datetime(2024, 1, 1, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    fmt = "%Y-%m-%d %H:%M:%S %z"
    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<HealthData locale="en_DE">\n')
        for i in range(records):
            t = start + dt.timedelta(minutes=10 * i)
            if i % 144 == 0:
                end = t + dt.timedelta(hours=7)
                out.write(
                    '  <Record type="HKCategoryTypeIdentifierSleepAnalysis" sourceName="Watch"'
                    f' value="HKCategoryValueSleepAnalysisAsleepCore" startDate="{t:{fmt}}"'
                    f' endDate="{end:{fmt}}"/>\n'
                )
            else:
                out.write(
                    '  <Record type="HKQuantityTypeIdentifierStepCount" sourceName="Phone"'
                    f' unit="count" value="{i % 97}" startDate="{t:{fmt}}" endDate="{t:{fmt}}">\n'
                    '   <MetadataEntry key="HKWasUserEntered" value="0"/>\n  </Record>\n'
                )
        out.write("</HealthData>\n")


def main() -> None:
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.xml"
        write(path, records)
        size = path.stat().st_size / 2**20
        journal = Path(tmp) / "journal.sqlite"
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "firmware_host.cli.main", "import", "apple-health",
             str(path), "--journal", str(journal)],
            check=True, capture_output=True,
        )  # fmt: skip
        wall = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"{records:,} records, {size:.0f} MiB: imported in {wall:.1f} s,", end=" ")
        print(f"peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
