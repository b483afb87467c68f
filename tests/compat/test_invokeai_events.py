"""InvokeAI's callbacks and events, as its own tests and code rely on them."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

import pytest

from fetchq import DownloadEvent, DownloadJob, DownloadJobStatus, DownloadQueueService
from fetchq.testing import TestServer
from tests.helpers import LONG, SCHEMES, QueueFactory, payload, sha256


class InvokeAIBus:
    """A bus like InvokeAI's: ``emit_download_*(job)`` methods, and a ``dispatch`` that only
    takes the events those build."""

    def __init__(self) -> None:
        self.emitted: list[tuple[str, int, int, Optional[str]]] = []
        self.dispatched: list[object] = []
        self._lock = threading.Lock()

    def _emit(self, name: str, job: DownloadJob) -> None:
        path = job.download_path.as_posix() if job.download_path else None
        with self._lock:
            self.emitted.append((name, job.bytes, job.total_bytes, path))

    def dispatch(self, event: object) -> None:
        self.dispatched.append(event)  # fetchq's own events must not come here

    def emit_download_started(self, job: DownloadJob) -> None:
        self._emit("started", job)

    def emit_download_progress(self, job: DownloadJob) -> None:
        self._emit("progress", job)

    def emit_download_complete(self, job: DownloadJob) -> None:
        self._emit("complete", job)

    def emit_download_cancelled(self, job: DownloadJob) -> None:
        self._emit("cancelled", job)

    def emit_download_paused(self, job: DownloadJob) -> None:
        self._emit("paused", job)

    def emit_download_error(self, job: DownloadJob) -> None:
        self._emit("error", job)

    def names(self) -> list[str]:
        return [name for name, *_ in self.emitted]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_small_download_emits_started_one_progress_and_complete_to_an_invokeai_bus(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    data = payload(32_029)
    url = server.add("/models/12345", data, content_disposition='filename="mock.safetensors"')
    bus = InvokeAIBus()
    queue = make_queue(event_bus=bus)
    job = queue.wait_for_job(queue.download(url, downloads), LONG)
    assert job.status == DownloadJobStatus.COMPLETED
    path = (downloads / "mock.safetensors").as_posix()
    assert bus.emitted == [
        ("started", 0, 32_029, path),  # the started event knows where the file goes
        ("progress", 32_029, 32_029, path),
        ("complete", 32_029, 32_029, path),
    ]
    assert bus.dispatched == []
    assert sha256((downloads / "mock.safetensors").read_bytes()) == sha256(data)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_404_emits_only_an_error_naming_requests_http_error_and_the_servers_reason(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    url = server.add("/models/broken", status=404, reason="NOT FOUND")
    bus = InvokeAIBus()
    queue = make_queue(event_bus=bus)
    job = queue.wait_for_job(queue.download(url, downloads), LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert bus.names() == ["error"]
    assert job.error_type == "HTTPError(NOT FOUND)"
    assert "requests.exceptions.HTTPError: NOT FOUND" in (job.error or "")
    assert list(downloads.iterdir()) == []


def test_a_bus_with_dispatch_alone_gets_fetchqs_events(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    class DispatchOnly:
        def __init__(self) -> None:
            self.names: list[str] = []

        def dispatch(self, event: DownloadEvent) -> None:
            self.names.append(event.name)

    bus = DispatchOnly()
    queue = make_queue(event_bus=bus)
    queue.wait_for_job(queue.download(server.add("/a.bin", b"abc"), downloads), LONG)
    assert bus.names == ["download_started", "download_progress", "download_complete"]


def test_a_two_argument_on_error_gets_the_exception_and_a_one_argument_one_the_job(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    url = server.add("/gone", status=410)
    seen: list[object] = []

    def invokeai_style(job: DownloadJob, excp: Optional[Exception] = None) -> None:
        seen.append(("two", job.id, type(excp).__name__, str(excp)))

    def reference_style(job: DownloadJob) -> None:
        seen.append(("one", job.id))

    first = queue.download(url, downloads, on_error=invokeai_style)
    second = queue.download(url, downloads / "x.bin", on_error=reference_style)
    queue.wait_for_job(first, LONG)
    queue.wait_for_job(second, LONG)
    assert ("two", first.id, "HTTPError", "Gone") in seen
    assert ("one", second.id) in seen
    assert len(seen) == 2


def test_a_pause_calls_on_cancelled_with_the_job_paused_as_invokeai_does(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    gate = threading.Event()
    url = server.add("/held.bin", payload(1000), gate=gate)
    statuses: list[DownloadJobStatus] = []
    job = queue.download(url, downloads, on_cancelled=lambda j: statuses.append(j.status))
    queue.pause_job(job)
    gate.set()
    queue.wait_for_job(job, LONG)
    assert statuses == [DownloadJobStatus.PAUSED]


def test_total_bytes_stays_zero_when_the_server_never_said_how_large(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    data = payload(5000)
    url = server.add("/missing", data, chunked=True, content_disposition='filename="m.txt"')
    job = queue.wait_for_job(queue.download(url, downloads), LONG)
    assert job.status == DownloadJobStatus.COMPLETED
    assert (job.bytes, job.total_bytes) == (5000, 0)
    assert (downloads / "m.txt").read_bytes() == data


def test_wait_for_job_with_timeout_zero_waits_as_long_as_it_takes(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    gate = threading.Event()
    job = queue.download(server.add("/slow.bin", b"x" * 100, gate=gate), downloads)
    threading.Timer(0.3, gate.set).start()
    assert queue.wait_for_job(job, timeout=0).status == DownloadJobStatus.COMPLETED
    with pytest.raises(ValueError, match="timeout"):
        queue.wait_for_job(job, timeout=-1)


def test_a_bare_filename_parameter_names_the_file(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    url = server.add("/models/7", b"abc", content_disposition='filename="mock7.safetensors"')
    job = queue.wait_for_job(queue.download(url, downloads), LONG)
    assert job.download_path == downloads / "mock7.safetensors"
