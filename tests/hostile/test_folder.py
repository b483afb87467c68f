"""A hostile folder, and servers that name files like fetchq's own: what may be trusted."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from fetchq import DownloadJobStatus
from fetchq.testing import TestServer
from tests.helpers import LONG, QueueFactory, file_sha256, leftovers, payload, sha256


def test_a_server_cannot_plant_a_part_file_and_its_sidecar(
    make_queue: QueueFactory, server: TestServer, other_server: TestServer, downloads: Path
) -> None:
    """Server A names its files like the part file and sidecar of B's model.bin; B's
    download into the same folder must still be B's bytes."""
    real = payload(3_000_000, 1)
    hostile = payload(3_000_000, 2)
    b_url = other_server.add("/model.bin", real)
    fake_sidecar = json.dumps(
        {
            "version": 2,
            "source": b_url,
            "total": len(hostile),
            "etag": None,
            "last_modified": None,
            "done": [[0, len(hostile)]],
            "part": [0, 0],
        }
    ).encode()
    part = server.add("/a", hostile, content_disposition='attachment; filename="model.bin.part"')
    sidecar = server.add(
        "/b", fake_sidecar, content_disposition='attachment; filename="model.bin.part.json"'
    )
    queue = make_queue(max_parallel_dl=1)
    planted = [queue.download(url, downloads) for url in (part, sidecar)]
    assert queue.join(LONG)
    assert [job.download_path.name for job in planted if job.download_path] == [
        "model.bin_part",
        "model.bin_part.json",
    ]
    job = queue.download(b_url, downloads)
    assert queue.wait_for_job(job, LONG).complete
    assert file_sha256(downloads / "model.bin") == sha256(real)


@pytest.mark.parametrize("version", [1, 2])
def test_a_planted_sidecar_is_not_believed(
    make_queue: QueueFactory, server: TestServer, downloads: Path, version: int
) -> None:
    """Another program left model.bin.part and a sidecar claiming every byte done: the sidecar
    does not describe that part file (or is of a format that named none), so it is not used."""
    real = payload(2_000_000, 1)
    url = server.add("/model.bin", real)
    (downloads / "model.bin.part").write_bytes(payload(2_000_000, 2))
    claim = {
        "version": version,
        "source": url,
        "total": len(real),
        "etag": None,
        "last_modified": None,
        "done": [[0, len(real)]],
    }
    if version == 2:
        claim["part"] = [1, 2]  # some other file
    (downloads / "model.bin.part.json").write_text(json.dumps(claim))
    queue = make_queue()
    job = queue.download(url, downloads)
    assert queue.wait_for_job(job, LONG).complete
    assert file_sha256(downloads / "model.bin") == sha256(real)
    assert leftovers(downloads) == []


def test_a_dangling_link_at_the_part_name_is_never_written_through(
    make_queue: QueueFactory, server: TestServer, downloads: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.bin"
    os.symlink(outside, downloads / "f.bin.part")
    data = payload(500_000)
    queue = make_queue()
    job = queue.download(server.add("/f.bin", data), downloads)
    assert queue.wait_for_job(job, LONG).complete, job.error
    assert not outside.exists()
    assert job.download_path == downloads / "f (1).bin"  # the name was taken by the link
    assert file_sha256(downloads / "f (1).bin") == sha256(data)
    assert os.path.islink(downloads / "f.bin.part")


def test_a_link_at_the_part_name_of_a_file_destination_is_refused(
    make_queue: QueueFactory, server: TestServer, downloads: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    os.symlink(victim, downloads / "f.bin.part")
    queue = make_queue()
    job = queue.download(server.add("/f.bin", payload(500_000)), downloads / "f.bin")
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert (job.error_type or "").startswith("DestinationExistsError(")
    assert victim.read_bytes() == b"precious"


@pytest.mark.parametrize("into_folder", [True, False])
def test_a_link_at_the_final_name_is_not_an_earlier_download(
    make_queue: QueueFactory,
    server: TestServer,
    downloads: Path,
    tmp_path: Path,
    into_folder: bool,
) -> None:
    data = payload(300_000)
    lookalike = tmp_path / "same-size.bin"
    lookalike.write_bytes(payload(300_000, 9))  # the right size, not the right bytes
    os.symlink(lookalike, downloads / "f.bin")
    queue = make_queue()
    job = queue.download(
        server.add("/f.bin", data), downloads if into_folder else downloads / "f.bin"
    )
    queue.wait_for_job(job, LONG)
    if into_folder:
        assert job.complete
        assert job.download_path == downloads / "f (1).bin"
        assert file_sha256(downloads / "f (1).bin") == sha256(data)
    else:
        assert job.status == DownloadJobStatus.ERROR
        assert (job.error_type or "").startswith("DestinationExistsError(")
    assert os.path.islink(downloads / "f.bin")
    assert lookalike.read_bytes() == payload(300_000, 9)


def test_a_link_at_the_sidecar_name_is_replaced_not_followed(
    make_queue: QueueFactory, server: TestServer, downloads: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    os.symlink(victim, downloads / "big.bin.part.json")
    data = payload(3_000_000)
    queue = make_queue()
    job = queue.download(server.add("/big.bin", data, rate=3_000_000), downloads / "big.bin")
    assert queue.wait_for_job(job, LONG).complete, job.error
    assert victim.read_bytes() == b"precious"
    assert file_sha256(downloads / "big.bin") == sha256(data)


# -- the bare-part rule -----------------------------------------------------------------------


def test_a_bare_part_with_the_right_bytes_is_resumed_under_its_name(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    data = payload(2_000_000)
    url = server.add("/iso.bin", data)
    (downloads / "iso.bin.part").write_bytes(data[:1_200_000])  # no sidecar: a crash, a copy
    queue = make_queue()
    job = queue.download(url, downloads)
    assert queue.wait_for_job(job, LONG).complete, job.error
    assert job.download_path == downloads / "iso.bin"
    assert file_sha256(downloads / "iso.bin") == sha256(data)
    # The first request learns the name (its body is dropped at once); then the part file's
    # last 64 KiB are asked for again to check them, then the rest only.
    first, *later = server.requests_for("/iso.bin")
    assert first.header("Range") is None
    ranges = [r.header("Range") for r in later]
    assert ranges[0] == "bytes=1134464-1199999"
    assert "bytes=1200000-" in ranges
    assert sum(r.bytes_sent for r in later) < len(data) - 1_000_000
    assert leftovers(downloads) == []


def test_a_bare_part_on_a_server_without_ranges_starts_from_zero(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    data = payload(2_000_000)
    url = server.add("/iso.bin", data, ranges=False)
    (downloads / "iso.bin.part").write_bytes(data[:1_200_000])
    queue = make_queue()
    job = queue.download(url, downloads)
    assert queue.wait_for_job(job, LONG).complete, job.error
    assert job.download_path == downloads / "iso.bin"
    assert file_sha256(downloads / "iso.bin") == sha256(data)
    assert leftovers(downloads) == []


@pytest.mark.parametrize("where", ["tail", "middle"])
def test_a_bare_part_with_wrong_bytes_still_gives_the_servers_file(
    make_queue: QueueFactory, server: TestServer, downloads: Path, where: str
) -> None:
    """Wrong bytes at its end are caught by the overlap check; wrong bytes before it only by
    a checksum, which is given here (without one, the size is all fetchq can check)."""
    data = payload(2_000_000)
    url = server.add("/iso.bin", data)
    stale = bytearray(data[:1_200_000])
    at = 1_199_000 if where == "tail" else 100_000
    stale[at : at + 10] = b"corrupted!"
    (downloads / "iso.bin.part").write_bytes(bytes(stale))
    queue = make_queue()
    job = queue.download(url, downloads, sha256=sha256(data))
    assert queue.wait_for_job(job, LONG).complete, job.error
    assert job.download_path == downloads / "iso.bin"
    assert file_sha256(downloads / "iso.bin") == sha256(data)
    assert leftovers(downloads) == []


def test_a_direction_mark_cannot_disguise_an_extension(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    """``invoice<RLO>fdp.exe`` reads as ``invoiceexe.pdf`` in a file manager."""
    url = server.add(
        "/x", b"MZ", content_disposition="attachment; filename*=UTF-8''invoice%E2%80%AEfdp.exe"
    )
    queue = make_queue()
    job = queue.download(url, downloads)
    assert queue.wait_for_job(job, LONG).complete
    assert job.download_path == downloads / "invoicefdp.exe"


def test_a_sidecar_keeps_no_password(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    data = payload(3_000_000)
    url = server.add("/secret.bin", data, rate=1_000_000).replace("http://", "http://ann:s3cr3t@")
    queue = make_queue(max_connections_per_download=1)
    job = queue.download(url, downloads)
    while job.bytes < 500_000:
        assert not job.in_terminal_state
        time.sleep(0.01)
    queue.pause_job(job)
    queue.wait_for_job(job, LONG)
    sidecar = (downloads / "secret.bin.part.json").read_text()
    assert "s3cr3t" not in sidecar
    assert json.loads(sidecar)["source"] == server.url("/secret.bin")
    server.resources["/secret.bin"].rate = None
    queue.resume_job(job)
    assert queue.wait_for_job(job, LONG).complete
    assert file_sha256(downloads / "secret.bin") == sha256(data)
    assert all(r.header("Authorization") for r in server.requests_for("/secret.bin"))


def test_a_body_that_never_ends_stops_before_the_disk_is_full(
    make_queue: QueueFactory, server: TestServer, downloads: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No size announced (chunked) and no end: the free space is watched while it comes."""
    import shutil

    usage = shutil.disk_usage(downloads)
    monkeypatch.setattr(
        "fetchq._storage.shutil.disk_usage",
        lambda path: usage._replace(free=100 * 1024 * 1024),  # 100 MiB left
    )
    url = server.add("/endless", payload(2_000_000), chunked=True)
    queue = make_queue()
    job = queue.download(url, downloads / "endless.bin")
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert (job.error_type or "").startswith("InsufficientSpaceError(only 104857600 bytes")
    assert (downloads / "endless.bin.part").exists()  # kept, for a retry once there is room
