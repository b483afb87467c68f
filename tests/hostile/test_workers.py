"""No job, token or failure anywhere around a transfer takes a worker, or join(), with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fetchq import DownloadJobStatus, InvalidRequestError
from fetchq.testing import TestServer
from tests.helpers import LONG, SHORT, QueueFactory, payload


@pytest.mark.parametrize("token", ["k€y", "two words", "line\nbreak", "tab\there"])
def test_a_token_that_cannot_be_a_header_is_refused_at_submit(
    make_queue: QueueFactory, server: TestServer, downloads: Path, token: str
) -> None:
    queue = make_queue()
    urls = [server.add(f"/{name}", b"x") for name in ("a", "b", "c")]
    with pytest.raises(InvalidRequestError, match="visible ASCII"):
        queue.download_many(urls, downloads, access_token=token)
    with pytest.raises(ValueError, match="visible ASCII"):
        queue.download(urls[0], downloads, access_token=token)
    assert queue.list_jobs() == []
    with pytest.raises(InvalidRequestError):
        make_queue(tokens=[(".*", token)])


STEPS = [
    ("fetchq._dispatch.EventDispatcher.deliver", 1),
    ("fetchq._runner.TransferRequest", 1),
    ("fetchq._transfer.Transfer.steps", 1),
    ("fetchq._transfer.Transfer.on_head", 1),
    ("fetchq._queue.DownloadQueueService._finish_job", 1),
    ("fetchq._journal_writer.JournalWriter.record", 5),  # after the three submissions
    ("fetchq._runner.RunningJob.attempt_started", 1),
    ("fetchq._runner.RunningJob.set_target", 1),
]


@pytest.mark.parametrize(("target", "nth"), STEPS, ids=[step for step, _ in STEPS])
def test_an_exception_at_any_step_ends_that_job_not_the_worker(
    make_queue: QueueFactory,
    server: TestServer,
    downloads: Path,
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    nth: int,
) -> None:
    import importlib

    module_name, _, attribute = target.rpartition(".")
    owner_name, _, class_attribute = module_name.rpartition(".")
    try:
        owner: Any = getattr(importlib.import_module(owner_name), class_attribute)
        name = attribute
    except (ImportError, AttributeError):
        owner, name = importlib.import_module(module_name), attribute
    original = getattr(owner, name)
    calls = {"n": 0}

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == nth:
            raise RuntimeError(f"injected into {target}")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, failing)
    queue = make_queue(max_parallel_dl=1)
    jobs = [
        queue.download(server.add(f"/{i}.bin", payload(40_000, i)), downloads) for i in range(3)
    ]
    assert queue.join(LONG), f"join() hung after an exception in {target}"
    assert calls["n"] >= nth
    assert all(job.in_terminal_state for job in jobs)
    failed = [job for job in jobs if job.status == DownloadJobStatus.ERROR]
    assert len(failed) <= 1
    assert sum(job.complete for job in jobs) >= 2
    assert queue.join(SHORT)
