"""Journal overhead: submitting 10 000 jobs with and without a journal (target: under 1 s more).

python bench/journal_overhead.py [--jobs 10000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from fetchq import DownloadQueueService


def submit_all(jobs: int, folder: Path, journal: Optional[Path]) -> float:
    queue = DownloadQueueService(journal=journal)
    queue.stop()  # measure submitting, not downloading
    started = time.perf_counter()
    for number in range(jobs):
        url = f"http://127.0.0.1:9/file{number}"
        queue.download(url, folder / f"{number}.bin", priority=number % 7)
    elapsed = time.perf_counter() - started
    queue.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="fetchq-journal-bench-"))
    plain = min(submit_all(args.jobs, folder, None) for _ in range(3))
    journaled = []
    for run in range(3):
        journal = folder / f"journal-{run}.sqlite3"
        journaled.append(submit_all(args.jobs, folder, journal))
    best = min(journaled)
    size = os.path.getsize(folder / "journal-0.sqlite3")
    print(f"{args.jobs} jobs: {plain:.2f} s without a journal, {best:.2f} s with one")
    per_job = (best - plain) / args.jobs * 1e6
    print(f"journal overhead {best - plain:.2f} s ({per_job:.0f} us a job)")
    print(f"journal size {size / 1e6:.1f} MB ({size / args.jobs:.0f} bytes a job)")
    met = best - plain < 1.0
    print("target (under 1 s of overhead):", "met" if met else "MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
