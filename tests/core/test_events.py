"""Callbacks and events: order, payloads, throttling, threads, misbehaving subscribers."""

from __future__ import annotations

import itertools
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from fetchq import DownloadJob, DownloadProgressEvent, TqdmProgress
from fetchq.testing import TestServer
from tests.helpers import LONG, EventRecorder, QueueFactory, payload


def test_events_in_order_with_the_reference_payload(
    make_queue: QueueFactory, server: TestServer, downloads: Path, recorder: EventRecorder
) -> None:
    data = payload(3_000_000)
    url = server.add("/e.bin", data, rate=10_000_000)
    queue = make_queue()
    job = queue.download(url, downloads)
    missing = queue.download(server.url("/nope"), downloads)
    assert queue.join(LONG)

    events = recorder.of(job.id)
    names = [e.name for e in events]
    assert names[0] == "download_started"
    assert names[-2:] == ["download_progress", "download_complete"]
    assert set(names[1:-1]) == {"download_progress"}
    started, *progress, complete = events
    assert started.model_dump().keys() >= {"source", "download_path", "id", "timestamp"}
    assert all(isinstance(e, DownloadProgressEvent) for e in progress)
    currents = [e.current_bytes for e in progress if isinstance(e, DownloadProgressEvent)]
    assert currents == sorted(currents)
    assert currents[-1] == len(data)
    final = progress[-1]
    assert isinstance(final, DownloadProgressEvent)
    assert final.total_bytes == len(data)
    assert complete.model_dump()["total_bytes"] == len(data)
    assert complete.download_path == str(downloads / "e.bin")
    stamps = [e.timestamp for e in events]
    assert stamps == sorted(stamps)

    error = recorder.of(missing.id)[-1]
    assert error.name == "download_error"
    dumped = error.model_dump()
    assert dumped["error_type"] == "HTTPError(Not Found)"
    assert "Traceback" in dumped["error"]


def test_progress_is_throttled_by_percent_and_rate(
    make_queue: QueueFactory, server: TestServer, downloads: Path, recorder: EventRecorder
) -> None:
    fast = server.add("/fast.bin", payload(20_000_000))
    slow = server.add("/slow.bin", payload(600_000), rate=400_000)
    queue = make_queue()
    fast_job = queue.download(fast, downloads)
    slow_job = queue.download(slow, downloads)
    assert queue.join(LONG)
    fast_progress = [e for e in recorder.of(fast_job.id) if e.name == "download_progress"]
    assert 1 <= len(fast_progress) <= 102
    slow_progress = [e for e in recorder.of(slow_job.id) if e.name == "download_progress"]
    throttled = slow_progress[:-1]  # the final one follows completion at once, by design
    gaps = [b.timestamp - a.timestamp for a, b in itertools.pairwise(throttled)]
    assert len(slow_progress) >= 5
    assert min(gaps) >= 0.09  # at most ~10 a second


def test_progress_when_size_is_unknown(
    make_queue: QueueFactory, server: TestServer, downloads: Path, recorder: EventRecorder
) -> None:
    data = payload(400_000)
    url = server.add("/chunked.bin", data, chunked=True, rate=800_000)
    queue = make_queue()
    job = queue.download(url, downloads)
    assert queue.wait_for_job(job, LONG).complete
    progress = [e for e in recorder.of(job.id) if isinstance(e, DownloadProgressEvent)]
    assert len(progress) >= 3
    assert all(e.total_bytes == 0 for e in progress)  # the server never said: 0 to the end
    assert progress[-1].current_bytes == job.bytes == len(data)
    assert job.total_bytes == 0
    assert (downloads / "chunked.bin").read_bytes() == data


def test_callbacks_run_on_the_dispatcher_thread_and_may_raise(
    make_queue: QueueFactory,
    server: TestServer,
    downloads: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    threads: set[str] = set()
    calls: list[str] = []

    def record(kind: str) -> Any:
        def callback(job: DownloadJob) -> None:
            threads.add(threading.current_thread().name)
            calls.append(kind)
            raise RuntimeError(f"broken {kind} callback")

        return callback

    queue = make_queue()
    job = queue.download(
        server.add("/c.bin", payload(100_000)),
        downloads,
        on_start=record("start"),
        on_progress=record("progress"),
        on_complete=record("complete"),
    )
    assert queue.wait_for_job(job, LONG).complete
    assert calls[0] == "start"
    assert calls[-1] == "complete"
    assert threads
    # The dispatcher's, never the engine's thread nor the caller's (its standby thread takes
    # over while a callback is slow).
    assert threads
    assert threads <= {"fetchq-dispatch", "fetchq-dispatch-2"}
    assert "broken start callback" in caplog.text


def test_invokeai_style_bus_gets_jobs(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    class InvokeBus:
        def __init__(self) -> None:
            self.calls: list[tuple[str, int]] = []

        def emit_download_started(self, job: DownloadJob) -> None:
            self.calls.append(("started", job.id))

        def emit_download_progress(self, job: DownloadJob) -> None:
            self.calls.append(("progress", job.id))

        def emit_download_complete(self, job: DownloadJob) -> None:
            self.calls.append(("complete", job.id))

        def emit_download_error(self, job: DownloadJob) -> None:
            raise RuntimeError("a bus that raises is logged and skipped")

    bus = InvokeBus()
    queue = make_queue(event_bus=bus)
    ok = queue.download(server.add("/ok.bin", b"ok"), downloads)
    bad = queue.download(server.url("/missing"), downloads)
    assert queue.join(LONG)
    assert ok.complete
    assert bad.errored
    mine = [name for name, job_id in bus.calls if job_id == ok.id]
    assert mine[0] == "started"
    assert mine[-1] == "complete"


def test_tqdm_bars_close_when_jobs_end(
    queue: object, server: TestServer, downloads: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fetchq import DownloadQueueService

    assert isinstance(queue, DownloadQueueService)
    progress = TqdmProgress()
    ok = queue.download(
        server.add("/t.bin", payload(200_000)), downloads, on_progress=progress.update
    )
    bad = queue.download(server.url("/missing"), downloads, on_progress=progress.update)
    assert queue.join(LONG)
    assert ok.complete
    assert bad.errored
    assert progress._bars == {}
    assert "t.bin" in capsys.readouterr().err


def test_a_stalled_reader_does_not_block_other_jobs(
    make_queue: QueueFactory, server: TestServer, downloads: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    release = threading.Event()

    def slow_callback(job: DownloadJob) -> None:
        if job.id == 0:
            release.wait(LONG)

    queue = make_queue(max_parallel_dl=2)
    first = queue.download(server.add("/a", b"a"), downloads / "a", on_complete=slow_callback)
    second = queue.download(server.add("/b", b"b"), downloads / "b")
    assert queue.wait_for_job(second, LONG).complete
    release.set()
    assert queue.wait_for_job(first, LONG).complete
