"""``python -m fetchq URL... [-d DIR]``: download from the command line; ``--demo`` runs the
reference example against a local test server."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from . import DownloadQueueService, FetchqError, TqdmProgress
from .testing import TestServer


def _demo_server() -> TestServer:
    """A local server with the reference page's files: two images, a 404, a named model."""
    rng = __import__("random").Random(2023)
    server = TestServer()
    server.start()
    server.add("/assets/a-painting-of-a-fire.png", rng.randbytes(666_734), rate=2_000_000)
    server.add("/assets/birdhouse.png", rng.randbytes(774_949), rate=2_000_000)
    server.add(
        "/api/download/models/152309",
        rng.randbytes(24_000_000),
        rate=12_000_000,
        content_disposition='attachment; filename="xl_more_art-full_v1.safetensors"',
    )
    return server


def run_demo(dest: Optional[Path]) -> int:
    """The reference page's Simple Example, pointed at a local server."""
    with _demo_server() as server:
        folder = dest or Path(tempfile.mkdtemp(prefix="fetchq-demo-"))
        folder.mkdir(parents=True, exist_ok=True)
        print(f"Serving sample files at {server.origin}; downloading into {folder}\n")
        download_queue = DownloadQueueService()
        for url in [
            server.url("/assets/a-painting-of-a-fire.png?raw=true"),
            server.url("/assets/birdhouse.png?raw=true"),
            server.url("/assets/missing.png"),
            server.url("/api/download/models/152309?type=Model&format=SafeTensor"),
        ]:
            download_queue.download(source=url, dest=str(folder), on_progress=TqdmProgress().update)
        download_queue.join()
        print()
        for job in download_queue.list_jobs():
            print(job.model_dump_json(exclude_none=True, indent=4), "\n")
        download_queue.close()
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="fetchq-cli", description=__doc__)
    parser.add_argument("urls", nargs="*", help="http, https, ftp or ftps URLs to download")
    parser.add_argument("-d", "--dest", type=Path, default=None, help="folder (default: .)")
    parser.add_argument("-j", "--parallel", type=int, default=5, help="downloads at once")
    parser.add_argument("-x", "--connections", type=int, default=16, help="connections per file")
    parser.add_argument("--journal", type=Path, help="SQLite journal: resume after a restart")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--demo", action="store_true", help="run the reference example locally")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if args.demo:
        return run_demo(args.dest)
    if not args.urls and args.journal is None:
        parser.error("give at least one URL (or --journal to resume)")
    dest = args.dest or Path(os.getcwd())
    progress = None if args.quiet else TqdmProgress()
    with DownloadQueueService(
        max_parallel_dl=args.parallel,
        max_connections_per_download=args.connections,
        journal=args.journal,
    ) as queue:
        signal.signal(signal.SIGINT, lambda *_: queue.stop())
        try:
            for url in args.urls:
                queue.download(
                    url, str(dest) + os.sep, on_progress=progress.update if progress else None
                )
        except FetchqError as exc:
            print(f"fetchq: {exc}", file=sys.stderr)
            return 2
        queue.join()
        failed = [job for job in queue.list_jobs() if job.errored]
        for job in failed:
            print(f"fetchq: {job.source}: {job.error_type}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
