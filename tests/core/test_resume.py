"""Resume: Range and If-Range, checked 206s, 200 restarts, 416 completions, pause and resume."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from fetchq import DownloadJob, DownloadJobStatus, DownloadQueueService
from fetchq.testing import TestServer
from tests.helpers import (
    LONG,
    EventRecorder,
    QueueFactory,
    file_sha256,
    leftovers,
    payload,
    sha256,
    wait_until,
    write_partial,
)


def pause_midway(queue: DownloadQueueService, at_bytes: int, job: DownloadJob) -> None:
    wait_until(lambda: job.bytes >= at_bytes)
    queue.pause_job(job)
    wait_until(lambda: job.status == DownloadJobStatus.PAUSED)


def test_pause_keeps_part_and_resume_continues_with_range_and_if_range(
    queue: DownloadQueueService, server: TestServer, downloads: Path, recorder: EventRecorder
) -> None:
    data = payload(2_000_000)
    url = server.add("/big.bin", data, rate=4_000_000)
    job = queue.download(url, downloads, max_connections=1)
    pause_midway(queue, 300_000, job)
    part = downloads / "big.bin.part"
    sidecar = json.loads((downloads / "big.bin.part.json").read_text())
    written = part.stat().st_size
    assert written >= 300_000
    assert sidecar["done"] == [[0, written]]
    assert sidecar["etag"] == server.resources["/big.bin"].etag
    assert job.bytes == written

    queue.resume_job(job)
    assert queue.wait_for_job(job, LONG).complete
    assert file_sha256(downloads / "big.bin") == sha256(data)
    second = server.requests_for("/big.bin")[-1]
    assert second.header("Range") == f"bytes={written}-"
    assert second.header("If-Range") == server.resources["/big.bin"].etag
    assert second.status == 206
    assert second.bytes_sent == len(data) - written
    assert leftovers(downloads) == []
    names = recorder.names(job.id)
    assert names.count("download_started") == 2
    assert names.index("download_paused") < len(names) - 1
    assert names[-1] == "download_complete"


def test_server_without_ranges_restarts_from_zero(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    data = payload(1_000_000)
    url = server.add("/noranges.bin", data, ranges=False, rate=3_000_000)
    job = queue.download(url, downloads)
    pause_midway(queue, 200_000, job)
    queue.resume_job(job)
    assert queue.wait_for_job(job, LONG).complete
    last = server.requests_for("/noranges.bin")[-1]
    assert last.header("Range") is not None
    assert last.status == 200
    assert file_sha256(downloads / "noranges.bin") == sha256(data)


def test_changed_file_is_never_spliced(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    old, new = payload(1_000_000, 1), payload(1_000_000, 2)
    url = server.add("/changing.bin", old, rate=3_000_000)
    job = queue.download(url, downloads)
    pause_midway(queue, 200_000, job)
    server.add("/changing.bin", new)  # new ETag and bytes
    queue.resume_job(job)
    assert queue.wait_for_job(job, LONG).complete
    assert file_sha256(downloads / "changing.bin") == sha256(new)
    last = server.requests_for("/changing.bin")[-1]
    assert last.header("If-Range") is not None
    assert last.status == 200


def test_changed_file_without_validators_is_caught_by_its_size(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    old, new = payload(1_000_000, 1), payload(1_200_000, 2)
    options = {"etag": None, "last_modified": None}
    url = server.add("/noval.bin", old, rate=3_000_000, **options)
    job = queue.download(url, downloads)
    pause_midway(queue, 200_000, job)
    server.add("/noval.bin", new, **options)
    queue.resume_job(job)
    assert queue.wait_for_job(job, LONG).complete
    assert file_sha256(downloads / "noval.bin") == sha256(new)


def test_complete_part_file_is_completed_by_416(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    data = payload(300_000)
    url = server.add("/done.bin", data)
    etag = server.resources["/done.bin"].etag
    write_partial(downloads / "done.bin", data, url, etag)  # a whole part, size not recorded
    job = queue.download(url, downloads / "done.bin")
    assert queue.wait_for_job(job, LONG).complete
    request = server.requests_for("/done.bin")[0]
    assert (request.header("Range"), request.status) == (f"bytes={len(data)}-", 416)
    assert server.bytes_sent("/done.bin") == 0
    assert file_sha256(downloads / "done.bin") == sha256(data)


def test_a_whole_part_file_without_sidecar_is_checked_then_finished(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    data = payload(300_000)
    url = server.add("/done.bin", data)
    (downloads / "done.bin.part").write_bytes(data)  # no sidecar: the bare-part rule
    job = queue.download(url, downloads / "done.bin")
    assert queue.wait_for_job(job, LONG).complete
    (request,) = server.requests_for("/done.bin")
    assert request.header("Range") == "bytes=234464-299999"  # its last 64 KiB, compared
    # the server counts a response's bytes after writing them: the client may be done first
    wait_until(lambda: server.bytes_sent("/done.bin") == 65_536)
    assert file_sha256(downloads / "done.bin") == sha256(data)


def test_part_file_without_sidecar_is_continued(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    data = payload(500_000)
    url = server.add("/half.bin", data)
    (downloads / "half.bin.part").write_bytes(data[:200_000])
    job = queue.download(url, downloads / "half.bin")
    assert queue.wait_for_job(job, LONG).complete
    check, rest = server.requests_for("/half.bin")
    assert check.header("Range") == "bytes=134464-199999"
    assert rest.header("Range") == "bytes=200000-"
    assert rest.header("If-Range") == server.resources["/half.bin"].etag
    wait_until(lambda: server.bytes_sent("/half.bin") == 65_536 + 300_000)
    assert file_sha256(downloads / "half.bin") == sha256(data)


def test_mismatched_content_range_is_refused(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    data = payload(400_000)
    url = server.add("/liar.bin", data, headers={"Content-Range": "bytes 7-9/400000"})
    write_partial(downloads / "liar.bin", data[:100_000], url, server.resources["/liar.bin"].etag)
    queue = make_queue()
    job = queue.download(url, downloads / "liar.bin")
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert job.error_type is not None
    assert job.error_type.startswith("ResponseError(")
    assert "Content-Range" in job.error_type
    assert not (downloads / "liar.bin").exists()
    assert (downloads / "liar.bin.part").read_bytes() == data[:100_000]


def test_a_new_job_to_the_same_folder_continues_a_sidecar(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    data = payload(2_000_000)
    url = server.add("/cont.bin", data, rate=4_000_000)
    first = make_queue()
    job = first.download(url, downloads)
    pause_midway(first, 300_000, job)
    first.close()
    written = (downloads / "cont.bin.part").stat().st_size
    first_requests = len(server.requests_for("/cont.bin"))

    second = make_queue()
    again = second.download(url, downloads)
    assert second.wait_for_job(again, LONG).complete
    assert again.download_path == downloads / "cont.bin"
    assert file_sha256(downloads / "cont.bin") == sha256(data)
    later = server.requests_for("/cont.bin")[first_requests:]
    # The part file under the link's name is resumed by the first request: no whole body
    # is begun (and thrown away) to learn the name first.
    assert [r.header("Range") for r in later] == [f"bytes={written}-"]
    assert later[0].bytes_sent == len(data) - written


def test_a_new_job_resumes_a_part_file_named_by_the_server_after_a_short_probe(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    data = payload(8_000_000, seed=3)
    url = server.add(
        "/get?id=7", data, content_disposition='attachment; filename="model.bin"', rate=2_000_000
    )
    write_partial(downloads / "model.bin", data[:5_000_000], url, etag=None, total=len(data))
    queue = make_queue()
    job = queue.download(url, downloads)
    assert queue.wait_for_job(job, LONG).complete
    assert file_sha256(downloads / "model.bin") == sha256(data)
    asked = server.requests_for("/get")
    ranges = [r.header("Range") for r in asked]
    assert ranges[0] is None  # the name comes from the answer: asked for once...
    assert ranges[1] == "bytes=5000000-"  # ...then only the missing bytes
    assert sum(r.bytes_sent for r in asked) < 3_000_000 + 1_000_000, ranges  # probe cut short


def test_resume_requested_while_pausing_is_honoured(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    data = payload(600_000)
    gate = threading.Event()
    url = server.add("/r.bin", data, stall_after=100_000, stall_seconds=30)
    job = queue.download(url, downloads / "r.bin")
    wait_until(lambda: job.bytes >= 100_000)
    queue.pause_job(job)
    queue.resume_job(job)
    server.resources["/r.bin"].stall_after = None
    gate.set()
    assert queue.wait_for_job(job, LONG).complete
    assert file_sha256(downloads / "r.bin") == sha256(data)


def test_a_temporary_sidecar_a_killed_run_left_is_removed_when_the_file_completes(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    """kill -9 between writing a sidecar's temporary file and renaming it leaves
    ``x.part.json.XXXXXXXX.tmp``; the run that completes the download takes it away, and
    nothing else that only looks like one."""
    data = payload(300_000)
    url = server.add("/x.bin", data, stall_after=100_000, stall_seconds=30)
    queue = make_queue()
    job = queue.download(url, downloads / "x.bin", max_connections=1)
    wait_until(lambda: job.bytes >= 100_000)
    queue.pause_job(job)
    wait_until(lambda: job.status == DownloadJobStatus.PAUSED)
    stray = downloads / "x.bin.part.json.k3j_9zq1.tmp"
    stray.write_text("{}")
    kept = [downloads / "x.bin.part.json.notours.tmp", downloads / "other.part.json.abcdefgh.tmp"]
    for path in kept:
        path.write_text("another program's")
    server.add("/x.bin", data)
    queue.resume_job(job)
    assert queue.wait_for_job(job, LONG).complete, job.error
    assert not stray.exists()
    assert all(path.read_text() == "another program's" for path in kept)
