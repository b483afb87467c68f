"""Where files go: folders and file paths, the existing-file rule, and hostile names."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pytest

from fetchq import DownloadJob, DownloadJobStatus, DownloadQueueService, InvalidDestinationError
from fetchq.testing import TestServer
from tests.helpers import LONG, file_sha256, leftovers, payload, sha256


def test_folder_gets_the_server_name_and_a_file_path_is_the_file(
    queue: DownloadQueueService, server: TestServer, tmp_path: Path
) -> None:
    data = payload(50_000)
    url = server.add("/dir/name%20with%20space.bin", data)
    folder = tmp_path / "folder"
    folder.mkdir()
    into_folder = queue.download(url + "?q=1", folder)
    as_file = queue.download(url, tmp_path / "deep" / "er" / "chosen.dat")
    assert queue.join(LONG)
    assert into_folder.download_path == folder / "name with space.bin"
    assert as_file.download_path == tmp_path / "deep" / "er" / "chosen.dat"
    for job in (into_folder, as_file):
        assert job.complete
        assert file_sha256(Path(str(job.download_path))) == sha256(data)


def test_trailing_separator_means_a_new_folder(
    queue: DownloadQueueService, server: TestServer, tmp_path: Path
) -> None:
    url = server.add("/x.bin", b"xyz")
    job = queue.download(url, str(tmp_path / "new") + os.sep)
    assert queue.wait_for_job(job, LONG).complete
    assert (tmp_path / "new" / "x.bin").read_bytes() == b"xyz"


def test_impossible_destinations_raise_at_once(
    queue: DownloadQueueService,
    server: TestServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = server.add("/x", b"x")
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    with pytest.raises(InvalidDestinationError, match="cannot create"):
        queue.download(url, blocker / "below" / "x.bin")
    with pytest.raises(InvalidDestinationError, match="empty"):
        queue.download(url, "")
    with pytest.raises(InvalidDestinationError, match="is a file"):
        queue.download(url, str(blocker) + os.sep)
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o500)
    if os.access(read_only, os.W_OK):  # root writes anywhere: pretend the permission holds
        real_access = os.access
        monkeypatch.setattr(
            os, "access", lambda p, mode: False if Path(p) == read_only else real_access(p, mode)
        )
    with pytest.raises(InvalidDestinationError, match="not writable"):
        queue.download(url, read_only)
    read_only.chmod(0o700)
    assert queue.list_jobs() == []


def test_identical_existing_file_is_reused(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    data = payload(10_000)
    url = server.add("/same.bin", data)
    (downloads / "same.bin").write_bytes(data)
    job = queue.download(url, downloads, sha256=sha256(data))
    assert queue.wait_for_job(job, LONG).complete
    assert job.download_path == downloads / "same.bin"
    assert job.bytes == job.total_bytes == len(data)
    assert sorted(os.listdir(downloads)) == ["same.bin"]


def test_different_existing_file_in_a_folder_gets_a_new_name(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    data = payload(10_000)
    url = server.add("/name.bin", data)
    (downloads / "name.bin").write_bytes(b"precious user data")
    (downloads / "name (1).bin").write_bytes(b"also precious")
    job = queue.download(url, downloads)
    assert queue.wait_for_job(job, LONG).complete
    assert job.download_path == downloads / "name (2).bin"
    assert (downloads / "name.bin").read_bytes() == b"precious user data"
    assert (downloads / "name (1).bin").read_bytes() == b"also precious"
    assert file_sha256(downloads / "name (2).bin") == sha256(data)


def test_different_existing_file_at_a_path_needs_overwrite(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    data = payload(10_000)
    url = server.add("/n.bin", data)
    target = downloads / "target.bin"
    target.write_bytes(b"precious")
    refused = queue.download(url, target)
    queue.wait_for_job(refused, LONG)
    assert refused.status == DownloadJobStatus.ERROR
    assert refused.error_type is not None
    assert refused.error_type.startswith("DestinationExistsError(")
    assert "overwrite=True" in refused.error_type
    assert target.read_bytes() == b"precious"
    replaced = queue.download(url, target, overwrite=True)
    assert queue.wait_for_job(replaced, LONG).complete
    assert file_sha256(target) == sha256(data)
    assert leftovers(downloads) == []


@pytest.mark.parametrize(
    "hostile",
    [
        "../x",
        "..\\x",
        "/etc/x",
        "C:\\x",
        "C:x",
        "x/../../y",
        "nul\x00byte",
        "new\nline",
        "z" * 10_000,
        ".",
        "..",
        "",
    ],
)
@pytest.mark.parametrize("form", ["quoted", "extended"])
def test_hostile_names_stay_inside_the_folder(
    queue: DownloadQueueService, server: TestServer, tmp_path: Path, hostile: str, form: str
) -> None:
    folder = tmp_path / "inside"
    folder.mkdir()
    if form == "extended" or any(ord(c) < 0x20 for c in hostile):
        header = "attachment; filename*=UTF-8''" + quote(hostile, safe="")
    else:
        escaped = hostile.replace("\\", "\\\\").replace('"', '\\"')
        header = f'attachment; filename="{escaped}"'
    url = server.add("/payload.bin", b"evil?", content_disposition=header)
    job = queue.download(url, folder)
    assert queue.wait_for_job(job, LONG).complete, job.error
    path = Path(str(job.download_path))
    assert path.parent == folder
    assert path.read_bytes() == b"evil?"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inside"]
    assert len(path.name.encode()) <= 240
    assert "\x00" not in path.name
    assert "\n" not in path.name


def test_the_final_name_only_appears_when_complete(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    data = payload(400_000)
    seen_early: list[bool] = []
    url = server.add("/growing.bin", data, rate=2_000_000)

    def check(job: DownloadJob) -> None:
        if not job.in_terminal_state:
            seen_early.append((downloads / "growing.bin").exists())

    job = queue.download(url, downloads, on_progress=check)
    assert queue.wait_for_job(job, LONG).complete
    assert seen_early
    assert not any(seen_early)
    assert file_sha256(downloads / "growing.bin") == sha256(data)
