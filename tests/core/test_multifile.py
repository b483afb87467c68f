"""Multi-file jobs: one job of many files, each an ordinary job, added up."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from fetchq import (
    DownloadJobStatus,
    DownloadQueueService,
    MultiFileDownloadJob,
)
from fetchq.testing import TestServer
from tests.helpers import FAST_RETRY, LONG, SCHEMES, QueueFactory, payload, sha256, wait_until

FILES = {
    "model/model_index.json": payload(300, 1),
    "model/unet/config.json": payload(700, 2),
    "model/unet/weights.bin": payload(400_000, 3),
    "model/vae/weights.bin": payload(150_000, 4),
}


def serve(server: TestServer, files: dict[str, bytes] = FILES) -> list[tuple[str, str]]:
    return [(server.add(f"/repo/{path}", data), path) for path, data in files.items()]


class Calls:
    def __init__(self) -> None:
        self.seen: list[tuple[str, DownloadJobStatus, int]] = []

    def handler(self, name: str):  # type: ignore[no-untyped-def]
        return lambda job, *exc: self.seen.append((name, job.status, job.bytes))

    def names(self) -> list[str]:
        return [name for name, *_ in self.seen]

    def callbacks(self) -> dict[str, object]:
        return {
            f"on_{name}": self.handler(name)
            for name in ("start", "progress", "complete", "cancelled", "error")
        }


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_multifile_job_completes_when_every_file_has(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    calls = Calls()
    job = queue.multifile_download(serve(server), downloads, **calls.callbacks())  # type: ignore[arg-type]
    assert isinstance(job, MultiFileDownloadJob)
    assert job.download_path == downloads / "model"
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.COMPLETED
    total = sum(len(data) for data in FILES.values())
    assert (job.bytes, job.total_bytes) == (total, total)
    for path, data in FILES.items():
        assert sha256((downloads / path).read_bytes()) == sha256(data)
    names = calls.names()
    assert names[0] == "start"
    assert names[-2:] == ["progress", "complete"]
    assert names.count("start") == names.count("complete") == 1
    assert set(names) <= {"start", "progress", "complete"}
    assert calls.seen[-1] == ("complete", DownloadJobStatus.COMPLETED, total)
    assert [file.package_id for file in job.parts] == [job.id] * 4
    assert all(file.status == DownloadJobStatus.COMPLETED for file in job.parts)
    assert queue.list_multifile_jobs() == [job]
    assert queue.id_to_multifile_job(job.id) is job


def test_one_file_failing_fails_the_job_and_cancels_the_others(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    gate = threading.Event()
    parts = serve(server)
    server.resources["/repo/model/unet/weights.bin"].gate = gate  # still going when one fails
    parts.append((server.add("/repo/missing", status=404, reason="NOT FOUND"), "model/missing"))
    errors: list[tuple[DownloadJobStatus, str, str]] = []
    queue = make_queue(max_parallel_dl=5)
    job = queue.multifile_download(
        parts, downloads, on_error=lambda j, e: errors.append((j.status, type(e).__name__, str(e)))
    )
    queue.wait_for_job(job, LONG)
    gate.set()
    queue.join(LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert job.error_type == "HTTPError(NOT FOUND)"
    assert errors == [(DownloadJobStatus.ERROR, "HTTPError", "NOT FOUND")]
    by_path = {str(file.dest.relative_to(downloads)): file for file in job.parts}
    assert by_path["model/unet/weights.bin"].status == DownloadJobStatus.CANCELLED
    assert not (downloads / "model/unet/weights.bin").exists()
    assert not (downloads / "model/unet/weights.bin.part").exists()


def test_cancelling_the_job_cancels_every_file_once(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    gate = threading.Event()
    parts = serve(server)
    queue = make_queue(max_parallel_dl=2)
    # both workers busy, so no file of the job can start before it is cancelled (a worker
    # free at submit time may start one first, and then "start" is right to fire)
    blockers = [
        queue.download(server.add(f"/b{n}", b"b", gate=gate), downloads / f"busy{n}", priority=0)
        for n in range(2)
    ]
    wait_until(lambda: all(blocker.running for blocker in blockers), LONG)
    calls = Calls()
    job = queue.multifile_download(parts, downloads, **calls.callbacks())  # type: ignore[arg-type]
    queue.cancel_job(job)
    gate.set()
    queue.wait_for_job(job, LONG)
    queue.join(LONG)
    assert job.status == DownloadJobStatus.CANCELLED
    assert calls.names() == ["cancelled"]
    assert all(file.status == DownloadJobStatus.CANCELLED for file in job.parts)
    assert [p for p in downloads.rglob("*") if p.is_file() and "busy" not in p.name] == []


def test_pause_and_resume_act_on_the_whole_and_on_one_file(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    gate = threading.Event()
    parts = serve(server)
    for resource in server.resources.values():
        resource.gate = gate
    queue = make_queue(max_parallel_dl=2)
    job = queue.multifile_download(parts, downloads)
    queue.pause_job(job)
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.PAUSED
    assert all(file.status == DownloadJobStatus.PAUSED for file in job.parts)
    one = job.parts[0]
    queue.resume_job(one)  # one file alone
    gate.set()
    queue.wait_for_job(one, LONG)
    assert one.status == DownloadJobStatus.COMPLETED
    assert job.status == DownloadJobStatus.PAUSED  # the rest still paused
    queue.resume_job(job)
    assert queue.wait_for_job(job, LONG).complete


def test_retry_runs_the_failed_and_cancelled_files_again(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    parts = serve(server)
    broken = server.resources["/repo/model/vae/weights.bin"]
    broken.status = 500
    queue = make_queue(max_parallel_dl=1)
    job = queue.multifile_download(parts, downloads)
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    broken.status = 200
    completed_before = {f.id for f in job.parts if f.status == DownloadJobStatus.COMPLETED}
    queue.retry_job(job)
    assert queue.wait_for_job(job, LONG).complete
    assert job.error_type is None
    for path, data in FILES.items():
        assert (downloads / path).read_bytes() == data
    for file in job.parts:  # a file done before the failure was not fetched again
        if file.id in completed_before:
            assert len(server.requests_for(f"/repo/{file.dest.relative_to(downloads)}")) == 1


@pytest.mark.parametrize(
    "bad",
    ["/etc/passwd", "../outside.bin", "a/../../outside.bin", "C:\\evil", "C:evil", "", "."],
)
def test_paths_that_leave_the_destination_are_refused_at_submit_time(
    queue: DownloadQueueService, server: TestServer, downloads: Path, bad: str
) -> None:
    url = server.add("/f", b"f")
    with pytest.raises(ValueError, match="only relative download paths accepted"):
        queue.multifile_download([(url, "fine.bin"), (url, bad)], downloads)
    assert queue.list_jobs() == []
    assert queue.list_multifile_jobs() == []


def test_a_link_that_leads_out_of_the_destination_is_refused(
    queue: DownloadQueueService, server: TestServer, downloads: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (downloads / "model").symlink_to(outside)
    with pytest.raises(ValueError, match="only relative download paths accepted"):
        queue.multifile_download([(server.add("/f", b"f"), "model/f.bin")], downloads)


def test_a_multifile_job_survives_a_restart_mid_way(
    server: TestServer, downloads: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.db"
    gate = threading.Event()
    parts = serve(server)
    server.resources["/repo/model/unet/weights.bin"].gate = gate
    with DownloadQueueService(journal=journal, retry=FAST_RETRY, max_parallel_dl=4) as queue:
        job = queue.multifile_download(parts, downloads)
        done = [f for f in job.parts if "unet/weights" not in str(f.dest)]
        for file in done:
            queue.wait_for_job(file, LONG)
        assert job.status == DownloadJobStatus.RUNNING
        package_id = job.id
    gate.set()
    with DownloadQueueService(journal=journal, retry=FAST_RETRY) as queue:
        [restored] = queue.list_multifile_jobs()
        assert restored.id == package_id
        assert len(restored.parts) == 4
        queue.wait_for_job(restored, LONG)
        assert restored.status == DownloadJobStatus.COMPLETED
    for path, data in FILES.items():
        assert (downloads / path).read_bytes() == data
    with DownloadQueueService(journal=journal) as queue:  # finished: listed, as finished
        [again] = queue.list_multifile_jobs()
        assert again.status == DownloadJobStatus.COMPLETED
        queue.prune_jobs()
        assert queue.list_multifile_jobs() == []
        assert queue.list_jobs() == []


def test_submit_job_false_makes_the_job_without_queueing_it(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    job = queue.multifile_download(serve(server), downloads, submit_job=False)
    assert queue.list_jobs() == []
    queue.submit_multifile_download(job)
    assert queue.wait_for_job(job, LONG).status == DownloadJobStatus.COMPLETED
    with pytest.raises(ValueError, match="already in this queue"):
        queue.submit_multifile_download(job)


def test_a_sha256_given_for_a_file_is_checked(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    url = server.add("/w.bin", b"the real bytes")
    parts = [{"url": url, "path": "w.bin", "sha256": "0" * 64}]
    job = queue.multifile_download(parts, downloads)
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert (job.error_type or "").startswith("ChecksumMismatch(")
