"""InvokeAI's partial files (``<name>.downloading``): adopted, resumed, and its 416 rules."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest

from fetchq import DownloadJob, DownloadJobStatus, DownloadQueueService
from fetchq.testing import Fault, TestServer
from tests.helpers import LONG, SCHEMES, payload, sha256


def in_progress(path: Path) -> Path:
    return path.with_name(path.name + ".downloading")


def always(fault: Fault):  # type: ignore[no-untyped-def]
    return lambda request, resource: fault


@pytest.mark.parametrize("scheme", SCHEMES)
def test_an_invokeai_partial_file_is_resumed_from_its_end(
    queue: DownloadQueueService, server: TestServer, tmp_path: Path
) -> None:
    data = payload(300_000)
    url = server.add("/model.safetensors", data)
    destination = tmp_path / "model.safetensors"
    in_progress(destination).write_bytes(data[:100_000])
    job = queue.wait_for_job(queue.download(url, destination), LONG)
    assert job.status == DownloadJobStatus.COMPLETED
    assert sha256(destination.read_bytes()) == sha256(data)
    assert not in_progress(destination).exists()
    assert [r.header("Range") for r in server.requests_for("/model.safetensors")] == [
        "bytes=100000-"
    ]
    assert (job.etag, job.final_url) == (server.resources["/model.safetensors"].etag, url)


def test_its_known_etag_goes_as_if_range_and_a_changed_file_starts_again_from_zero(
    queue: DownloadQueueService, server: TestServer, tmp_path: Path
) -> None:
    data = payload(200_000)
    url = server.add("/model.safetensors", data)
    destination = tmp_path / "model.safetensors"
    in_progress(destination).write_bytes(b"old version " * 1000)
    job = DownloadJob(source=url, dest=destination, etag='"an-older-etag"')  # type: ignore[arg-type]
    queue.submit_download_job(job)
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.COMPLETED
    assert destination.read_bytes() == data
    request = server.requests_for("/model.safetensors")[0]
    assert request.header("If-Range") == '"an-older-etag"'
    assert job.resume_from_scratch
    assert job.resume_message


def test_a_416_with_the_partial_files_size_makes_it_the_download(
    queue: DownloadQueueService, server: TestServer, tmp_path: Path
) -> None:
    content = b"complete"
    url = server.add("/complete.safetensors", content)  # a range past the end: 416 */8
    destination = tmp_path / "complete.safetensors"
    in_progress(destination).write_bytes(content)
    seen: list[bool] = []
    job = queue.download(url, destination, on_complete=lambda j: seen.append(destination.exists()))
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.COMPLETED
    assert destination.read_bytes() == content
    assert not in_progress(destination).exists()
    assert seen == [True]
    assert server.requests_for("/complete.safetensors")[0].status == 416


@pytest.mark.parametrize(
    ("content_range", "expected", "whole"),
    [
        (None, 8, True),  # no Content-Range: the size recorded beforehand decides
        (None, None, False),  # ...and without one, a restart is required
        ("bytes */9", None, False),  # a size that is not the partial file's
        ("bytes */9", 8, False),  # the server's size wins over the recorded one
    ],
)
def test_416_rules_for_an_invokeai_partial_file(
    queue: DownloadQueueService,
    tmp_path: Path,
    content_range: Optional[str],
    expected: Optional[int],
    whole: bool,
) -> None:
    with TestServer(faults=always(Fault.not_satisfiable(content_range))) as server:
        url = server.add("/unknown.safetensors", b"complete")
        destination = tmp_path / "unknown.safetensors"
        in_progress(destination).write_bytes(b"complete")
        job = DownloadJob(source=url, dest=destination, expected_total_bytes=expected)  # type: ignore[arg-type]
        queue.submit_download_job(job)
        queue.wait_for_job(job, LONG)
    if whole:
        assert job.status == DownloadJobStatus.COMPLETED
        assert destination.read_bytes() == b"complete"
        assert not in_progress(destination).exists()
    else:
        assert job.status == DownloadJobStatus.PAUSED
        assert job.resume_required
        assert job.resume_message == "Resume refused by server. Restart required."
        assert not destination.exists()
        assert in_progress(destination).read_bytes() == b"complete"  # kept, untouched
        assert not destination.with_name("unknown.safetensors.part").exists()


def test_resuming_a_job_that_requires_a_restart_starts_from_zero(
    queue: DownloadQueueService, server: TestServer, tmp_path: Path
) -> None:
    data = payload(50_000)
    refuse = {"on": True}
    server.faults = lambda request, resource: (
        Fault.not_satisfiable("bytes */1") if refuse["on"] else None
    )
    url = server.add("/m.bin", data)
    destination = tmp_path / "m.bin"
    in_progress(destination).write_bytes(b"stale bytes")
    job = queue.wait_for_job(queue.download(url, destination), LONG)
    assert job.paused
    assert job.resume_required
    refuse["on"] = False
    queue.resume_job(job)
    done = queue.wait_for_job(job, LONG)
    assert done.complete
    assert not done.resume_required
    assert destination.read_bytes() == data
    assert server.requests_for("/m.bin")[-1].header("Range") is None
    assert not in_progress(destination).exists()


def test_a_partial_file_in_a_folder_download_is_not_adopted(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    """In a folder, ``x.downloading`` may be anyone's: only a file path the caller named
    adopts one."""
    data = payload(20_000)
    url = server.add("/x.bin", data)
    (downloads / "x.bin.downloading").write_bytes(b"planted")
    job = queue.wait_for_job(queue.download(url, downloads), LONG)
    assert (downloads / "x.bin").read_bytes() == data
    assert (downloads / "x.bin.downloading").read_bytes() == b"planted"
    assert server.requests_for("/x.bin")[0].header("Range") is None
    assert job.status == DownloadJobStatus.COMPLETED


def test_a_symbolic_link_named_like_a_partial_file_is_not_followed(
    queue: DownloadQueueService, server: TestServer, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"do not send or touch")
    data = payload(10_000)
    url = server.add("/y.bin", data)
    destination = tmp_path / "y.bin"
    in_progress(destination).symlink_to(secret)
    job = queue.wait_for_job(queue.download(url, destination), LONG)
    assert job.status == DownloadJobStatus.COMPLETED
    assert destination.read_bytes() == data
    assert secret.read_bytes() == b"do not send or touch"
    assert server.requests_for("/y.bin")[0].header("Range") is None
