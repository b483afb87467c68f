"""Start-up time and memory of the app with a long history: 20,000 finished downloads in the
journal (issue 17, item 8: under 2 s and 150 MB).

    python bench/history.py [--count 20000] [--runs 3]

Writes a journal of finished downloads, then starts the app's window on it in a fresh
process (offscreen) and times it from the process's start until the window has painted with
its list, reading the peak resident memory at that moment. Median of the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import os, sys, time
from pathlib import Path
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from fetchq_gui.app import open_queue
from fetchq_gui import MainWindow, Settings
app = QApplication([])
folder = Path(sys.argv[1])
settings = Settings(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat))
queue = open_queue(folder / "downloads.sqlite3", settings)
window = MainWindow(queue, folder / "Downloads", settings=settings, owns_queue=True)
window.show()
app.processEvents()
window.grab()  # painted once, rows and all
rows = window.model.rowCount()
rss = 0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        rss = int(line.split()[1]) * 1024
print(rows, rss, flush=True)
os._exit(0)
"""


def write_history(folder: Path, count: int) -> None:
    from fetchq import DownloadJob, DownloadJobStatus
    from fetchq._journal import Journal, JournalRecord

    downloads = folder / "Downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    journal = Journal(folder / "downloads.sqlite3")
    records = []
    for number in range(count):
        job = DownloadJob(
            source=f"https://downloads.example.org/files/{number:05d}/archive-{number}.tar.gz",  # type: ignore[arg-type]
            dest=downloads,
        )
        job.id = number + 1
        job.status = DownloadJobStatus.COMPLETED
        job.download_path = downloads / f"archive-{number}.tar.gz"
        job.bytes = job.total_bytes = 10_000_000 + number
        job.job_added = job.job_started = job.job_ended = "2026-11-01T10:00:00+00:00"
        records.append(JournalRecord(job.id, 1, job.status.value, False, job.model_dump_json()))
    journal.apply(records)
    journal.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fetchq-history-") as scratch:
        folder = Path(scratch)
        write_history(folder, args.count)
        times, peaks = [], []
        for _ in range(args.runs):
            started = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-c", CHILD, str(folder)],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
            times.append(time.monotonic() - started)
            rows, peak = (int(word) for word in done.stdout.split())
            peaks.append(peak)
        print(json.dumps({
            "finished_downloads": args.count,
            "rows_shown": rows,
            "startup_s_median": round(statistics.median(times), 2),
            "startup_s_runs": [round(t, 2) for t in times],
            "peak_rss_mb_median": round(statistics.median(peaks) / 2**20, 1),
            "targets": {"startup_s": 2.0, "peak_rss_mb": 150},
        }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
