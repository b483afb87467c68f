"""The public surface: exports, the exception tree, the job model and its serialisation."""

from __future__ import annotations

import inspect
import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

import fetchq
from fetchq import (
    DownloadJob,
    DownloadJobStatus,
    DownloadQueueService,
    FetchqError,
    HTTPError,
    InvalidRequestError,
    UnknownJobIDException,
)
from fetchq.testing import TestServer
from tests.helpers import LONG, EventRecorder, QueueFactory

SECRET = "tok-4f1d9c-never-show-me"


def test_all_is_sorted_and_complete() -> None:
    assert fetchq.__all__ == sorted(fetchq.__all__)
    public = {
        name
        for name, value in vars(fetchq).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public - {"testing"} <= set(fetchq.__all__)
    for name in fetchq.__all__:
        assert hasattr(fetchq, name), name


def test_core_has_no_qt_import() -> None:
    root = Path(fetchq.__file__).parent
    for source in root.glob("*.py"):
        text = source.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import)\s+(PySide6|qasync|shiboken6)", text, re.M), source


def test_one_exception_root() -> None:
    for name in fetchq.__all__:
        value = getattr(fetchq, name)
        if inspect.isclass(value) and issubclass(value, BaseException) and name != "HTTPError":
            assert issubclass(value, FetchqError), name
    assert issubclass(InvalidRequestError, ValueError)
    assert issubclass(UnknownJobIDException, LookupError)
    # The one exception fetchq does not root: the reference API's HTTPError is requests' own.
    assert HTTPError is requests.HTTPError


LOADED = "sorted(m for m in ('requests', 'urllib3') if m in sys.modules)"


def test_plain_http_never_loads_requests_until_an_http_error(
    server: TestServer, tmp_path: Path
) -> None:
    """requests and urllib3 cost a tenth of a second to import: fetchq's own downloads (libcurl)
    do without; the first HTTPError (a requests class, as the reference API has it) loads them."""
    good = server.add("/good.bin", b"x" * 100_000)
    missing = server.url("/gone.bin")  # nothing there: 404
    script = f"""
import sys
import fetchq
print({LOADED})
with fetchq.DownloadQueueService() as queue:
    job = queue.download({good!r}, {str(tmp_path)!r})
    queue.join()
    print(job.status.value, {LOADED})
    job = queue.download({missing!r}, {str(tmp_path)!r})
    queue.join()
    print(job.error_type, {LOADED})
    print(issubclass(fetchq.HTTPError, __import__("requests").HTTPError))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "[]",
        "completed []",
        "HTTPError(Not Found) ['requests', 'urllib3']",
        "True",
    ]


def test_statuses_are_the_documented_strings() -> None:
    assert [s.value for s in DownloadJobStatus] == [
        "waiting",
        "running",
        "paused",
        "completed",
        "cancelled",
        "error",
    ]


def test_token_and_callbacks_are_never_serialised_or_shown(tmp_path: Path) -> None:
    job = DownloadJob(
        source="https://example.org/a.bin",  # type: ignore[arg-type]
        dest=tmp_path,
        access_token=SECRET,
        on_progress=print,
    )
    for text in (
        repr(job),
        str(job),
        job.model_dump_json(),
        json.dumps(job.model_dump(mode="json")),
    ):
        assert SECRET not in text
        assert "on_progress" not in text
    assert "access_token" not in job.model_dump()
    assert job.access_token == SECRET


def test_job_api_of_the_reference(tmp_path: Path) -> None:
    job = DownloadJob(source="http://example.org/x.bin", dest=tmp_path)  # type: ignore[arg-type]
    assert (job.id, job.priority, job.status, job.bytes, job.total_bytes) == (
        -1,
        10,
        DownloadJobStatus.WAITING,
        0,
        0,
    )
    assert job.waiting
    assert not job.in_terminal_state
    assert not job.cancelled
    assert job.name == "x.bin"


def test_unknown_id(queue: DownloadQueueService) -> None:
    with pytest.raises(UnknownJobIDException):
        queue.id_to_job(12345)


def test_ids_count_from_zero_and_lookup_returns_the_live_job(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    url = server.add("/a", b"x")
    jobs = [queue.download(url, downloads / f"f{i}") for i in range(3)]
    assert [j.id for j in jobs] == [0, 1, 2]
    assert queue.id_to_job(1) is jobs[1]
    assert queue.join(LONG)
    assert [j.status for j in queue.list_jobs()] == [DownloadJobStatus.COMPLETED] * 3


def test_token_is_not_logged_or_put_in_events(
    make_queue: QueueFactory,
    server: TestServer,
    downloads: Path,
    recorder: EventRecorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    queue = make_queue()
    ok = queue.download(server.add("/ok", b"data"), downloads, access_token=SECRET)
    bad = queue.download(server.url("/missing"), downloads, access_token=SECRET)
    assert queue.join(LONG)
    assert ok.complete
    assert bad.errored
    everything = caplog.text + repr(recorder.events) + (bad.error or "") + (bad.error_type or "")
    everything += "".join(e.model_dump_json() for e in recorder.events)
    assert SECRET not in everything
