"""Categories (issue 17, item 4): a download into a folder goes into its type's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from fetchq import DEFAULT_CATEGORIES, Category, category_for
from fetchq.testing import TestServer
from tests.helpers import LONG, QueueFactory, payload


@pytest.mark.parametrize(
    ("name", "content_type", "category"),
    [
        ("talk.MKV", None, "Video"),
        ("song.flac", "application/octet-stream", "Music"),
        ("download", "audio/ogg; codecs=opus", "Music"),
        ("report.pdf", None, "Documents"),
        ("setup.exe", None, "Programs"),
        ("debian-13.iso", None, "Archives"),
        ("notes", "text/plain", "Documents"),
        ("data.bin", "application/octet-stream", None),
        (".mp4", None, "Video"),
    ],
)
def test_a_file_finds_its_category_by_extension_then_type(
    name: str, content_type: str, category: str
) -> None:
    found = category_for(name, content_type, DEFAULT_CATEGORIES)
    assert (found.name if found else None) == category


def test_downloads_go_into_their_category_folder(
    make_queue: QueueFactory, server: TestServer, downloads: Path, tmp_path: Path
) -> None:
    queue = make_queue()
    queue.categories = (
        Category.of("Video", "Video", "mp4 mkv"),
        Category.of("Books", str(tmp_path / "library"), "epub", "application/epub+zip"),
    )
    urls = [
        server.add("/talk.mp4", payload(3000)),
        server.add("/get?id=7", payload(2000), content_type="application/epub+zip",
                   content_disposition='attachment; filename="novel.epub"'),
        server.add("/plain.bin", payload(1000)),
    ]  # fmt: skip
    jobs = queue.download_many(urls, downloads, by_category=True)
    for job in jobs:
        assert queue.wait_for_job(job, LONG).complete, job.error
    assert [job.category for job in jobs] == ["Video", "Books", None]
    assert (downloads / "Video" / "talk.mp4").is_file()
    assert (tmp_path / "library" / "novel.epub").is_file()  # an absolute folder of its own
    assert (downloads / "plain.bin").is_file()


def test_without_by_category_or_with_a_file_name_the_folder_is_kept(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    queue = make_queue()
    plain = queue.download(server.add("/a.mp4", b"a"), downloads)
    named = queue.download(server.add("/b.mp4", b"b"), downloads / "mine.mp4", by_category=True)
    for job in (plain, named):
        assert queue.wait_for_job(job, LONG).complete, job.error
    assert (downloads / "a.mp4").is_file()
    assert (downloads / "mine.mp4").is_file()
    assert not (downloads / "Video").exists()
