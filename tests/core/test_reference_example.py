"""The reference page's Simple Example, pointed at a local server, runs unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fetchq import DownloadQueueService, TqdmProgress
from fetchq.testing import TestServer
from tests.helpers import file_sha256, payload, sha256

COMPLETED_KEYS = {
    "source",
    "dest",
    "id",
    "priority",
    "status",
    "download_path",
    "job_started",
    "job_ended",
    "bytes",
    "total_bytes",
}
ERROR_KEYS = (COMPLETED_KEYS - {"download_path"}) | {"error_type", "error"}


def test_simple_example(
    server: TestServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fire, birdhouse, model = payload(666_734, 1), payload(774_949, 2), payload(3_190_207, 3)
    server.add("/assets/a-painting-of-a-fire.png", fire)
    server.add("/assets/birdhouse.png", birdhouse)
    server.add(
        "/api/download/models/152309",
        model,
        content_disposition='attachment; filename="xl_more_art-full_v1.safetensors"',
    )
    dest = tmp_path / "downloads"
    dest.mkdir()

    # -- the example, as printed on the page, with only the import and the URLs changed --
    download_queue = DownloadQueueService()
    for url in [
        server.url("/assets/a-painting-of-a-fire.png?raw=true"),
        server.url("/assets/birdhouse.png?raw=true"),
        server.url("/assets/missing.png"),
        server.url("/api/download/models/152309?type=Model&format=SafeTensor"),
    ]:
        # urls start downloading as soon as download() is called
        download_queue.download(source=url, dest=str(dest), on_progress=TqdmProgress().update)

    download_queue.join()  # wait for all downloads to finish
    for job in download_queue.list_jobs():
        print(job.model_dump_json(exclude_none=True, indent=4), "\n")
    # -- end of the example --
    download_queue.stop()

    printed = capsys.readouterr().out
    documents = [json.loads(chunk) for chunk in printed.split(" \n") if chunk.strip()]
    assert [d["status"] for d in documents] == ["completed", "completed", "error", "completed"]
    for document in documents:
        keys = ERROR_KEYS if document["status"] == "error" else COMPLETED_KEYS
        assert keys <= set(document), keys - set(document)
        assert "access_token" not in document
    missing = documents[2]
    assert missing["error_type"] == "HTTPError(Not Found)"
    assert missing["error"].startswith("Traceback (most recent call last):")
    assert "HTTPError: Not Found" in missing["error"]
    assert documents[3]["download_path"] == str(dest / "xl_more_art-full_v1.safetensors")
    assert documents[0]["download_path"] == str(dest / "a-painting-of-a-fire.png")
    for document, data in zip(
        (documents[0], documents[1], documents[3]), (fire, birdhouse, model), strict=True
    ):
        assert document["bytes"] == document["total_bytes"] == len(data)
        assert file_sha256(Path(document["download_path"])) == sha256(data)
    assert sorted(p.name for p in dest.iterdir()) == [
        "a-painting-of-a-fire.png",
        "birdhouse.png",
        "xl_more_art-full_v1.safetensors",
    ]
