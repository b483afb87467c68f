"""Sharing a speed limit and a host's connections fairly: a small download never starves
behind a big one, and a download that waits says what it waits for."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

from fetchq import DownloadJob, DownloadQueueService, JobCallbacks
from fetchq._abort import AbortSignal
from fetchq._limits import HostSlots, RateLimiter
from fetchq._transfer import TransferSettings
from fetchq.testing import TestServer
from tests.helpers import QueueFactory, file_sha256, payload, sha256

KiB = 1 << 10
MiB = 1 << 20


class _Clockless(AbortSignal):
    """A signal whose waits are recorded, not slept: the limiter's decisions, exactly."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: Optional[float] = None) -> bool:
        self.waits.append(timeout or 0.0)
        return False


def test_a_new_download_is_not_charged_for_a_big_ones_debt() -> None:
    limiter = RateLimiter(1 * MiB)
    big, small = _Clockless(), _Clockless()
    for _ in range(16):  # sixteen connections of one download, 256 KiB each: 4 s of debt
        limiter.consume(256 * KiB, big, lane="big")
    limiter.consume(16 * KiB, small, lane="small")
    assert max(big.waits) > 3.0  # the big one pays for what it took...
    assert small.waits
    assert small.waits[0] < 0.1
    assert limiter.active_lanes() == 2


def test_one_download_keeps_the_whole_limit() -> None:
    limiter = RateLimiter(1 * MiB)
    signal = _Clockless()
    limiter.consume(512 * KiB, signal, lane="only")
    assert 0.45 < signal.waits[0] <= 0.5  # 512 KiB at 1 MiB/s, less what was in the bucket


def test_a_download_that_stopped_gives_its_share_back() -> None:
    now = [0.0]
    limiter = RateLimiter(1 * MiB, clock=lambda: now[0])
    first, second = _Clockless(), _Clockless()
    limiter.consume(1 * KiB, first, lane="stopped")
    limiter.consume(1 * KiB, second, lane="going on")
    for step in range(1, 9):  # the second goes on receiving; the first never again
        now[0] = step * 0.25
        limiter.consume(1 * KiB, second, lane="going on")
    limiter.consume(512 * KiB, second, lane="going on")
    # Alone, it has the whole limit (and a full bucket of a quarter second): 0.25 s, where
    # half the limit would make it wait 0.75 s.
    assert 0.2 < second.waits[-1] < 0.3


def test_a_long_wait_for_bandwidth_is_reported() -> None:
    limiter = RateLimiter(100 * KiB)
    said: list[Optional[str]] = []
    limiter.consume(300 * KiB, _Clockless(), lane="a", waiting=said.append)
    assert said == ["bandwidth", None]
    said.clear()
    limiter.rate = 10 * MiB
    limiter.consume(16 * KiB, _Clockless(), lane="a", waiting=said.append)
    assert said == []


def test_extra_connections_give_their_slots_to_a_waiting_download() -> None:
    slots = HostSlots(2)
    signal = AbortSignal()
    assert slots.acquire("h", signal)  # the big download's first connection
    assert slots.try_acquire("h")  # and its extra one
    assert not slots.should_yield("h")  # nobody waits: keep it
    said: list[Optional[str]] = []
    got = threading.Event()

    def small() -> None:
        if slots.acquire("h", signal, said.append):
            got.set()

    thread = threading.Thread(target=small)
    thread.start()
    while not said:  # it says it waits before it waits
        threading.Event().wait(0.01)
    assert said == ["connection"]
    assert not slots.try_acquire("h")  # no new extras while someone waits
    assert slots.should_yield("h")  # one extra connection is asked to go...
    assert not slots.should_yield("h")  # ...only one
    slots.release("h")
    assert got.wait(5)
    thread.join(5)
    assert said == ["connection", None]
    assert slots.in_use("h") == 2


def test_a_small_download_gets_going_beside_a_big_one_under_a_speed_limit(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    big_data, small_data = payload(40 * MiB, 1), b"nine byte"
    big_url = server.add("/big.iso", big_data, rate=1 * MiB)  # a second connection helps
    small_url = server.add("/small.txt", small_data)
    queue: DownloadQueueService = make_queue(
        max_connections_per_download=2,
        max_connections_per_host=2,
        speed_limit=3 * MiB,
        transfer_settings=TransferSettings(split_after=0.2),
    )
    seen: list[tuple[int, Optional[str]]] = []

    def changed(job: DownloadJob) -> None:
        seen.append((job.id, job.waiting_for))

    queue.callbacks = JobCallbacks(on_running=changed)
    big = queue.download(big_url, downloads)
    pause = threading.Event()
    while queue._host_slots.busiest() < 2 and not big.in_terminal_state and big.bytes < 20 * MiB:
        pause.wait(0.02)
    assert big.running
    assert queue._host_slots.busiest() == 2
    small = queue.download(small_url, downloads)
    assert queue.wait_for_job(small, 5).complete  # not after the big one's 20 s
    assert (downloads / "small.txt").read_bytes() == small_data
    assert (small.id, "connection") in seen  # it said why it did not start at once
    assert small.waiting_for is None
    assert not big.in_terminal_state
    queue.cancel_job(big)
    queue.wait_for_job(big, 5)
    assert file_sha256(downloads / "small.txt") == sha256(small_data)
