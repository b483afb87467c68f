"""Memory: what 10 000 queued jobs add to a process (target: under 50 MB).

python bench/memory.py [--jobs 10000]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
from pathlib import Path


def rss_mb() -> float:
    """Current resident set size, from /proc (Linux)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    args = parser.parse_args()
    from fetchq import DownloadQueueService

    folder = Path(tempfile.mkdtemp(prefix="fetchq-memory-"))
    queue = DownloadQueueService(journal=folder / "journal.sqlite3")
    queue.stop()  # queued, not running: this measures the list
    gc.collect()
    before = rss_mb()
    urls = [
        f"https://downloads.example.org/files/{n:05d}/dataset-part-{n}.tar.gz"
        for n in range(args.jobs)
    ]
    queue.download_many(urls, folder)
    gc.collect()
    after = rss_mb()
    added = after - before
    print(f"process with the queue: {before:.1f} MB; with {args.jobs} queued jobs: {after:.1f} MB")
    print(
        f"{args.jobs} jobs add {added:.1f} MB ({added * 1024 * 1024 / args.jobs:.0f} bytes a job)"
    )
    queue.close()
    met = added < 50
    print("target (under 50 MB):", "met" if met else "MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
