"""Where fetchq's time goes for many small files: scenario (C) measured layer by layer.

Each layer is timed inside its own process (start-up excluded), layers alternating over
several rounds, each round into new folders. ``transfer`` does what ``floor+part`` and
``client`` do together, and more; ``queue`` does what ``transfer`` does, and more:

- ``floor``: python_floor.py's loop (one pipelined connection, create-write-close a file);
- ``floor+part``: the same loop, storing each file the way fetchq does (its name checked, a
  part file created, locked, written, closed, linked to the name and unlinked);
- ``client``: fetchq's HTTP client, pipelining as the queue does, bodies read and dropped;
- ``transfer``: a ``Transfer`` per URL, as a worker runs it (naming, claims, part file, link),
  with a host that accepts every claim and reports nowhere;
- ``queue``: ``DownloadQueueService.download_many`` and ``join`` with a journal and callbacks,
  as ``fetchq_bench.py`` runs it (jobs, statuses, events, journal records, the worker).

Needs the (C) files served on 127.0.0.1 and a file of their URLs. After a run of
``throughput.py`` (``make bench``), its work folder holds the data and an nginx.conf:
``nginx -c /tmp/fetchq-bench/nginx.conf -p /tmp/fetchq-bench`` serves them again on port 18180.

    python bench/small_layers.py --urls LIST --out DIR [--rounds 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # the layers import fetchq themselves: the floor's process never does
    from fetchq._http import HttpClient
    from fetchq._transfer import TransferSettings

HERE = Path(__file__).resolve().parent
LAYERS = ("floor", "floor+part", "client", "transfer", "queue")


def _floor_module() -> Any:
    spec = importlib.util.spec_from_file_location("python_floor", HERE / "python_floor.py")
    assert spec is not None
    assert spec.loader is not None
    floor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(floor)
    return floor


def run_floor(urls: list[str], dest: Path) -> None:
    _floor_module().fetch_all(urls, dest)


def run_floor_part(urls: list[str], dest: Path) -> None:
    """The floor loop, storing each body as fetchq does: the name checked (is the file there,
    is a part file of it there), the part file created, locked, written and closed, then
    linked to its name and unlinked."""
    from fetchq._segments import part_path
    from fetchq._storage import PartFile, promote

    def write(path: Path, data: memoryview) -> None:
        if os.path.lexists(path) or part_path(path).exists():
            raise RuntimeError(f"{path} exists")
        if not PartFile.write_new(part_path(path), data):
            raise RuntimeError(f"{part_path(path)} exists")
        promote(part_path(path), path, overwrite=False)

    _floor_module().fetch_all(urls, dest, write)


def _pipelined(client: HttpClient, urls: list[str]) -> Iterator[tuple[int, str]]:
    """Each URL with its index, the client told of the next one first, as a worker does."""
    from fetchq._transfer import FRESH_REQUEST_HEADERS

    for index, url in enumerate(urls):
        following = urls[index + 1] if index + 1 < len(urls) else None
        client.expect_next(following, FRESH_REQUEST_HEADERS, None)
        yield index, url


def _client(settings: TransferSettings) -> HttpClient:
    """fetchq's own client, as a queue of 8 downloads of up to 16 connections makes it."""
    from fetchq._http import HttpClient

    return HttpClient(None, settings.timeouts, address_policy=None, pool_size=128)


def run_client(urls: list[str], dest: Path) -> None:
    from fetchq._transfer import FRESH_REQUEST_HEADERS, TransferSettings

    settings = TransferSettings()
    client = _client(settings)
    view = memoryview(bytearray(settings.buffer_size))
    for _index, url in _pipelined(client, urls):
        response, _final = client.open(url, FRESH_REQUEST_HEADERS, None)
        total = int(response.headers["content-length"])
        read = response.body_reader()
        got = 0
        while got < total:
            got += read(view[got:total])
        response.release()


def run_transfer(urls: list[str], dest: Path) -> None:
    from fetchq._http import AbortSignal
    from fetchq._limits import HostSlots, RateLimiter
    from fetchq._transfer import Transfer, TransferRequest, TransferSettings

    class Host:
        """A queue that lets every claim through and listens to nothing."""

        def __init__(self) -> None:
            self.signal = AbortSignal()
            self.limiter = limiter
            self.host_slots = slots

        def claim(self, path: Path) -> bool:
            return True

        def unclaim(self, path: Path) -> None:
            pass

        def set_target(self, path: Path, total: Optional[int], content_type: Optional[str]) -> None:
            pass

        def progress(self, done: int, total: Optional[int]) -> None:
            pass

        def attempt_started(self) -> None:
            pass

        def retrying(self, attempt: int, delay: float, error: BaseException) -> None:
            pass

    settings = TransferSettings()
    client = _client(settings)
    limiter, slots = RateLimiter(None), HostSlots(16)
    for index, url in _pipelined(client, urls):
        request = TransferRequest(
            job_id=index,
            source=url,
            dest=dest,
            download_path=None,
            token=None,
            checksum=None,
            overwrite=False,
            max_connections=16,
        )
        Transfer(request, client, settings, Host()).run()


def run_queue(urls: list[str], dest: Path) -> None:
    from fetchq import DownloadJob, DownloadQueueService, JobCallbacks

    seen: list[tuple[int, str, int, int]] = []

    def snapshot(job: DownloadJob) -> None:  # what the app's bridge copies, as in fetchq_bench
        seen.append((job.id, job.status.value, job.bytes, job.total_bytes))
        if len(seen) > 1000:
            del seen[:500]

    callbacks = JobCallbacks(snapshot, snapshot, snapshot, snapshot, snapshot)
    journal = Path(tempfile.mkdtemp()) / "journal.sqlite3"
    with DownloadQueueService(max_parallel_dl=8, journal=journal, callbacks=callbacks) as queue:
        queue.download_many(urls, f"{dest}/")
        queue.join()
        failed = [job for job in queue.list_jobs() if not job.complete]
    if failed:
        raise RuntimeError(f"{len(failed)} downloads failed, e.g. {failed[0].error_type}")


def measure(layer: str, urls: list[str], dest: Path) -> float:
    """Run one layer in this process; seconds its work took, start-up excluded."""
    if layer != "floor":
        import fetchq  # noqa: F401  (start-up is not what this measures)
    run = {
        "floor": run_floor,
        "floor+part": run_floor_part,
        "client": run_client,
        "transfer": run_transfer,
    }.get(layer, run_queue)
    dest.mkdir(parents=True)
    started = time.perf_counter()
    run(urls, dest)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--urls", type=Path, required=True, help="a file of URLs, one a line")
    parser.add_argument("--out", type=Path, required=True, help="new folders go in here")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--layer", choices=LAYERS, help=argparse.SUPPRESS)  # one child run
    parser.add_argument("--dest", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    urls = [line.strip() for line in args.urls.read_text().splitlines() if line.strip()]
    if args.layer:
        assert args.dest is not None
        print(measure(args.layer, urls, args.dest))
        return 0
    times: dict[str, list[float]] = {layer: [] for layer in LAYERS}
    for round_number in range(args.rounds + 1):  # round 0 warms up
        for layer in LAYERS if round_number % 2 == 0 else reversed(LAYERS):
            dest = args.out / f"{layer}-{round_number}-{os.getpid()}"
            child = [sys.executable, __file__, "--urls", str(args.urls), "--out", str(args.out)]
            output = subprocess.run(
                [*child, "--layer", layer, "--dest", str(dest)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            if round_number:
                times[layer].append(float(output))
    print(f"{len(urls)} files, median of {args.rounds} rounds, start-up excluded")
    print("| layer | seconds | us a file |")
    print("| --- | ---: | ---: |")
    for layer in LAYERS:
        seconds = statistics.median(times[layer])
        print(f"| {layer} | {seconds:.3f} | {seconds / len(urls) * 1e6:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
