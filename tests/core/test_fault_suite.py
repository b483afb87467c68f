"""The fault suite: hundreds of downloads through a server that misbehaves at random.

Every job the queue calls completed must be byte-identical to its source; every failure must
say why; no part file may sit beside a completed file; nothing may hang. The summary line is
printed for the record (CI logs show it).
"""

from __future__ import annotations

import collections
import hashlib
import json
import random
import time
from pathlib import Path

import pytest

from fetchq import DownloadQueueService, RetryPolicy, Timeouts
from fetchq.testing import RandomFaults, TestServer

SEED = 20261129
FILES = 240


def sizes(rng: random.Random) -> list[int]:
    """A few bytes to ~10 MB: tiny, small, medium, large, and some that split into segments."""
    plan = (
        [rng.randint(1, 200) for _ in range(50)]
        + [rng.randint(1_000, 64_000) for _ in range(80)]
        + [rng.randint(64_000, 1_000_000) for _ in range(70)]
        + [rng.randint(1_000_000, 6_000_000) for _ in range(34)]
        + [rng.randint(9_000_000, 11_000_000) for _ in range(FILES - 234)]
    )
    rng.shuffle(plan)
    return plan


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_downloads_survive_random_faults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(SEED)
    faults = RandomFaults(seed=SEED, probability=0.55, stall_seconds=0.8)
    folder = tmp_path / "downloads"
    folder.mkdir()
    expected: dict[str, str] = {}
    started = time.monotonic()
    with TestServer(faults=faults) as server:
        for index, size in enumerate(sizes(rng)):
            data = rng.randbytes(size)
            path = f"/f/{index:03d}.bin"
            server.add(path, data)
            expected[server.url(path)] = hashlib.sha256(data).hexdigest()
        queue = DownloadQueueService(
            max_parallel_dl=8,
            max_connections_per_download=4,
            retry=RetryPolicy(attempts=12, base_delay=0.005, max_delay=0.05, max_retry_after=0.05),
            timeouts=Timeouts(connect=2.0, read=0.5),
        )
        with queue:
            jobs = [
                queue.download(
                    url,
                    folder,
                    sha256=digest if index % 3 == 0 else None,
                )
                for index, (url, digest) in enumerate(expected.items())
            ]
            assert queue.join(timeout=200), "the fault suite hung"
        elapsed = time.monotonic() - started

    completed = [job for job in jobs if job.complete]
    failed = [job for job in jobs if job.errored]
    corrupted = [
        job
        for job in completed
        if hashlib.sha256(Path(str(job.download_path)).read_bytes()).hexdigest()
        != expected[str(job.source)]
    ]
    leftovers = sorted(p.name for p in folder.iterdir() if p.name.endswith((".part", ".part.json")))
    failure_kinds = collections.Counter((job.error_type or "").split("(")[0] for job in failed)
    report: dict[str, object] = {
        "downloads": len(jobs),
        "faults_injected": dict(sorted(faults.injected.items())),
        "faults_total": sum(faults.injected.values()),
        "completed": len(completed),
        "failed": len(failed),
        "failed_by_type": dict(failure_kinds),
        "corrupted": len(corrupted),
        "attempts": sum(job.attempts for job in jobs),
        "wall_seconds": round(elapsed, 1),
    }
    with capsys.disabled():
        print("\nfault suite:", json.dumps(report))

    assert len(jobs) >= 200
    assert all(job.in_terminal_state for job in jobs)
    assert corrupted == []
    assert all(job.error_type for job in failed)
    completed_names = {Path(str(job.download_path)).name for job in completed}
    assert not [name for name in leftovers if name.split(".part")[0] in completed_names]
    assert sum(faults.injected.values()) >= 200
    assert len(faults.injected) >= 6
    assert len(completed) >= 0.95 * len(jobs)
