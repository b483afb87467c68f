"""Download lists: fetchq's JSON, links, aria2's input file; out and back in, secrets never."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fetchq import DownloadJobStatus, export_list, read_list
from fetchq.testing import TestServer
from tests.helpers import LONG, QueueFactory, payload

SHA = "a" * 64


def test_a_list_goes_out_in_three_formats_without_secrets(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    queue = make_queue()
    done = queue.download(server.add("/a.iso", payload(5000)), downloads, priority=3)
    queue.wait_for_job(done, LONG)
    waiting = queue.download(
        server.url("/b.iso").replace("http://", "http://ada:pw@"),
        downloads / "sub" / "b.iso",
        checksum=f"sha256:{SHA}",
        cookies="session=secret-cookie",
        headers={"X-Api-Key": "secret-header"},
        access_token="secret-token",
    )
    queue.pause_job(waiting)
    jobs = [done, waiting]

    exported = export_list(jobs, "json")
    for secret in ("secret-cookie", "secret-header", "secret-token", ":pw@"):
        assert secret not in exported
    records = json.loads(exported)["downloads"]
    assert [r["priority"] for r in records] == [3, 10]
    assert records[0]["status"] == DownloadJobStatus.COMPLETED.value

    assert export_list(jobs, "urls") == f"{done.source}\nhttp://127.0.0.1:{server.port}/b.iso\n"

    aria2 = export_list(jobs, "aria2").splitlines()
    assert aria2[:3] == [str(done.source), f"  dir={downloads}", "  out=a.iso"]
    assert aria2[3:] == [
        f"http://127.0.0.1:{server.port}/b.iso",
        f"  dir={downloads / 'sub'}",
        "  out=b.iso",
        f"  checksum=sha-256={SHA}",
    ]


def test_each_format_reads_back_what_was_written(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    queue = make_queue()
    job = queue.download(server.add("/c.iso", b"c"), downloads / "disk" / "c.iso",
                         checksum=f"sha256:{SHA}", priority=4)  # fmt: skip
    queue.pause_job(job)
    from_json = read_list(export_list([job], "json"))
    assert from_json.format == "json"
    (entry,) = from_json.entries
    assert (entry.url, entry.folder, entry.name) == (
        str(job.source),
        str(downloads / "disk"),
        "c.iso",
    )
    assert (entry.checksum, entry.priority) == (f"sha256:{SHA}", 4)
    from_aria2 = read_list(export_list([job], "aria2"))
    assert from_aria2.format == "aria2"
    assert from_aria2.entries[0].checksum == f"sha256:{SHA}"
    assert from_aria2.entries[0].name == "c.iso"
    assert read_list(export_list([job], "urls")).entries[0].url == str(job.source)


def test_an_aria2_file_with_mirrors_options_and_secrets() -> None:
    text = (
        "# from aria2\n"
        "https://mirror1.example.org/x.iso\thttps://mirror2.example.org/x.iso\n"
        "  dir=/data/isos\n"
        "  out=x.iso\n"
        "  header=Authorization: Bearer abc\n"
        "  checksum=sha-1=da39a3ee5e6b4b0d3255bfef95601890afd80709\n"
        "javascript:alert(1)\n"
        "  dir=/tmp\n"
        "ftp://ftp.example.org/pub/y.tar.gz\n"
        "  bogus\n"
    )
    read = read_list(text)
    assert read.format == "aria2"
    assert [(e.url, e.folder, e.name, e.checksum) for e in read.entries] == [
        ("https://mirror1.example.org/x.iso", "/data/isos", "x.iso",
         "sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("ftp://ftp.example.org/pub/y.tar.gz", None, None, None),
    ]  # fmt: skip
    assert len(read.problems) == 3
    assert read.problems[0].startswith("line 5: header for the link on line 2 was not imported")
    assert read.problems[1].startswith("line 7: ")
    assert read.problems[2] == "line 10: not an option (option=value)"


def test_a_list_of_links_from_uget_or_a_browser() -> None:
    read = read_list(
        "\ufeffhttps://a.example/1.zip\n\n# a comment\nnot a link\nhttps://a.example/2.zip\n"
    )
    assert read.format == "urls"
    assert [e.url for e in read.entries] == ["https://a.example/1.zip", "https://a.example/2.zip"]
    assert len(read.problems) == 1
    assert read.problems[0].startswith("line 4: ")


def test_a_broken_json_list_says_so() -> None:
    assert read_list("{not json").problems[0].startswith("not a fetchq list")
    assert read_list('{"downloads": 3}').problems == ("not a fetchq list: no downloads in it",)
    read = read_list('[{"source": "https://x.example/a"}, {"nope": 1}]')
    assert [e.url for e in read.entries] == ["https://x.example/a"]
    assert read.problems == ("download 2: no link",)


@pytest.mark.parametrize(
    "text",
    [
        "".join(f"https://h.example/{n}\n# a comment\n\n" for n in range(4)),
        "".join(f"https://h.example/{n}\n  out=f{n}\n" for n in range(4)),
        json.dumps({"fetchq": 1, "downloads": [{"source": f"https://h/{n}"} for n in range(4)]}),
    ],
    ids=["links", "aria2", "json"],
)
def test_a_list_longer_than_asked_is_refused_before_its_links_are_checked(text: str) -> None:
    assert len(read_list(text, max_entries=4).entries) == 4
    with pytest.raises(ValueError, match="holds 4 downloads, and fetchq imports at most 3"):
        read_list(text, max_entries=3)
