"""Named queues (issue 17, item 3): each with its own parallel limit and its own hold, beside
the queue's own limit."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from fetchq import DownloadJobStatus
from fetchq.testing import TestServer
from tests.helpers import LONG, QueueFactory, wait_until


def test_a_named_queue_runs_its_own_number_at_once(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    gate = threading.Event()
    queue = make_queue(max_parallel_dl=4)
    queue.set_group("night", max_parallel=1)
    night = [
        queue.download(
            server.add(f"/n{i}.bin", b"n", gate=gate), downloads / f"n{i}", group="night"
        )
        for i in range(3)
    ]
    other = queue.download(server.add("/o.bin", b"o", gate=gate), downloads / "o")
    wait_until(lambda: other.running and night[0].running)
    assert [job.status for job in night[1:]] == [DownloadJobStatus.WAITING] * 2
    gate.set()
    for job in [*night, other]:
        assert queue.wait_for_job(job, LONG).complete, job.error


def test_a_held_named_queue_waits_while_the_rest_runs(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    queue = make_queue()
    queue.set_group("later", held=True)
    held = queue.download(server.add("/h.bin", b"h"), downloads / "h", group="later")
    free = queue.download(server.add("/f.bin", b"f"), downloads / "f")
    assert queue.wait_for_job(free, LONG).complete
    assert held.status == DownloadJobStatus.WAITING
    assert server.requests_for("/h.bin") == []
    queue.set_group("later", max_parallel=2)
    assert queue.wait_for_job(held, LONG).complete


def test_a_named_queue_runs_at_least_one(make_queue: QueueFactory) -> None:
    with pytest.raises(ValueError, match="at least one"):
        make_queue().set_group("x", max_parallel=0)
