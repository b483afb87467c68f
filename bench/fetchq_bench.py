"""fetchq in the benchmark, driven the way the app drives it: a queue with a journal, and
service-wide callbacks that copy each job into a snapshot (as the app's bridge does).

    python bench/fetchq_bench.py --dest DIR [--parallel 8] [--connections 16] URL... | -i LIST
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fetchq import DownloadJob, DownloadQueueService, JobCallbacks


@dataclass(frozen=True)
class Snapshot:
    """What the app's bridge copies out of a job on every callback."""

    id: int
    status: str
    bytes: int
    total: int


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("urls", nargs="*")
    parser.add_argument("-i", "--input", type=Path, help="a file of URLs, one a line")
    parser.add_argument("--dest", type=Path, required=True)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--no-journal", action="store_true")
    args = parser.parse_args()
    urls = list(args.urls)
    if args.input:
        urls += [line.strip() for line in args.input.read_text().splitlines() if line.strip()]
    seen: list[Snapshot] = []

    def snapshot(job: DownloadJob) -> None:
        seen.append(Snapshot(job.id, job.status.value, job.bytes, job.total_bytes))
        if len(seen) > 1000:
            del seen[:500]

    journal = None if args.no_journal else Path(tempfile.mkdtemp()) / "journal.sqlite3"
    callbacks = JobCallbacks(snapshot, snapshot, snapshot, snapshot, snapshot)
    with DownloadQueueService(
        max_parallel_dl=args.parallel,
        max_connections_per_download=args.connections,
        journal=journal,
        callbacks=callbacks,
    ) as queue:
        queue.download_many(urls, f"{args.dest}/")  # as the app adds dropped or pasted links
        queue.join()
        failed = [job for job in queue.list_jobs() if not job.complete]
    for job in failed:
        print(f"{job.source}: {job.status} {job.error_type}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
