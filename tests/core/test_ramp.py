"""The queue's ramp: quick jobs do not crowd each other; slow ones reach max_parallel_dl."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from fetchq._ramp import RAMP_SETTLE, RAMP_START, RAMP_WATCH_MAX, start_delay, watch_delay
from fetchq.testing import TestServer
from tests.helpers import LONG, QueueFactory, wait_until


def test_the_first_jobs_start_at_once() -> None:
    assert start_delay([], limit=8, now=100.0) == 0.0
    started = [100.0] * (RAMP_START - 1)
    assert start_delay(started, limit=8, now=100.0) == 0.0


def test_one_more_starts_once_every_running_job_has_run_a_while() -> None:
    started = [99.0] * (RAMP_START - 1) + [100.0]
    assert start_delay(started, limit=8, now=100.0) == pytest.approx(RAMP_SETTLE)
    halfway = 100.0 + RAMP_SETTLE / 2
    assert start_delay(started, limit=8, now=halfway) == pytest.approx(RAMP_SETTLE / 2)
    assert start_delay(started, limit=8, now=100.0 + RAMP_SETTLE) == 0.0
    assert start_delay(started, limit=8, now=105.0) == 0.0


def test_never_beyond_the_limit() -> None:
    assert start_delay([0.0, 0.0], limit=2, now=100.0) is None
    assert start_delay([0.0] * 9, limit=8, now=100.0) is None


def test_the_watch_backs_off_while_quick_jobs_follow_each_other() -> None:
    assert watch_delay(0.005, misses=0) == 0.005  # first look: when the youngest has settled
    assert watch_delay(0.005, misses=1) == pytest.approx(2 * RAMP_SETTLE)
    assert watch_delay(0.005, misses=2) == pytest.approx(4 * RAMP_SETTLE)
    assert watch_delay(0.005, misses=50) == RAMP_WATCH_MAX
    assert watch_delay(RAMP_WATCH_MAX + 1, misses=50) == RAMP_WATCH_MAX + 1


def test_only_one_idle_worker_wakes_to_look_at_the_clock(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    urls = [server.add(f"/q{i}", b"q" * 1000) for i in range(300)]
    queue = make_queue(max_parallel_dl=8)
    wakes: dict[str, int] = {}
    wait = queue._work_available.wait

    def counted(timeout: float | None = None) -> bool:
        if timeout is not None:
            name = threading.current_thread().name
            wakes[name] = wakes.get(name, 0) + 1
        return wait(timeout)

    queue._work_available.wait = counted  # type: ignore[method-assign]
    jobs = queue.download_many(urls, downloads)
    assert queue.join(LONG)
    assert all(job.complete for job in jobs)
    assert len(wakes) <= 2, wakes  # the watcher (and one that took over when it got a job)


def test_jobs_that_wait_on_the_network_all_run_together(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    gate = threading.Event()
    url = server.add("/held", b"h" * 100, gate=gate)
    queue = make_queue(max_parallel_dl=6)
    jobs = [queue.download(url, downloads / f"{i}.bin") for i in range(8)]
    wait_until(lambda: sum(j.running for j in jobs) == 6)
    wait_until(lambda: len(server.requests_for("/held")) == 6)
    assert [j.running for j in jobs] == [True] * 6 + [False] * 2
    gate.set()
    assert queue.join(LONG)
    assert all(j.complete for j in jobs)
