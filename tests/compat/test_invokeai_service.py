"""InvokeAI's constructor, app config, names and control calls, on fetchq."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

import fetchq
from fetchq import (
    DownloadJobStatus,
    DownloadQueueService,
    DownloadQueueServiceBase,
    ServiceInactiveException,
    UnsafeDownloadURLException,
)
from fetchq.testing import TestServer
from tests.helpers import FAST_RETRY, LONG, QueueFactory, wait_until


@dataclass
class TokenPair:
    url_regex: str
    token: str


@dataclass
class AppConfig:
    """The three fields of InvokeAI's config the download queue reads."""

    download_proxy: Optional[str] = None
    allow_private_download_urls: bool = True
    remote_api_tokens: Optional[list[TokenPair]] = field(default=None)


def test_the_names_invokeai_code_imports_are_exported() -> None:
    for name in (
        "DownloadJob",
        "DownloadJobBase",
        "DownloadJobStatus",
        "DownloadQueueService",
        "DownloadQueueServiceBase",
        "MultiFileDownloadJob",
        "ServiceInactiveException",
        "DownloadExceptionHandler",
        "DownloadEventHandler",
        "UnknownJobIDException",
        "DownloadJobCancelledException",
        "TqdmProgress",
    ):
        assert name in fetchq.__all__, name
    assert issubclass(DownloadQueueService, DownloadQueueServiceBase)
    assert callable(DownloadQueueService.multifile_download)
    assert callable(DownloadQueueService.submit_multifile_download)


def test_both_constructors_keywords_work(server: TestServer, tmp_path: Path) -> None:
    bus = object()
    reference = DownloadQueueService(max_parallel_dl=2, event_bus=bus, requests_session=None)
    invokeai = DownloadQueueService(
        max_parallel_dl=2, app_config=AppConfig(), event_bus=bus, requests_session=None
    )
    positional = DownloadQueueService(3, bus, None)
    for queue in (reference, invokeai, positional):
        assert queue.event_bus is bus
        queue.close()
    with pytest.raises(ServiceInactiveException):
        reference.download(server.add("/a", b"a"), tmp_path)


def test_an_app_config_that_refuses_private_addresses_turns_the_guard_on(
    server: TestServer, tmp_path: Path
) -> None:
    url = server.add("/proof.txt", b"secret")
    with DownloadQueueService(
        app_config=AppConfig(allow_private_download_urls=False), retry=FAST_RETRY
    ) as queue:
        job = queue.wait_for_job(queue.download(url, tmp_path), LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert (job.error_type or "").startswith("UnsafeDownloadURLException(")
    assert issubclass(UnsafeDownloadURLException, ValueError)
    assert server.requests_for("/proof.txt") == []
    assert list(tmp_path.iterdir()) == []


def test_the_app_configs_tokens_are_read_when_a_download_is_made(
    make_queue: QueueFactory, server: TestServer, tmp_path: Path
) -> None:
    config = AppConfig(remote_api_tokens=[TokenPair("civitai", "cv_12345")])
    queue = make_queue(app_config=config)
    first = queue.download(server.add("/civitai/model", b"m"), tmp_path / "a")
    second = queue.download(server.add("/other/file", b"f"), tmp_path / "b")
    config.remote_api_tokens = [TokenPair("other", "later")]  # edited while running: read anew
    third = queue.download(server.url("/other/file"), tmp_path / "c")
    for job in (first, second, third):
        queue.wait_for_job(job, LONG)
    assert (first.access_token, second.access_token, third.access_token) == (
        "cv_12345",
        None,
        "later",
    )
    assert server.requests_for("/civitai/model")[0].header("Authorization") == "Bearer cv_12345"
    # A rule applies at run time too, to a job that has no token: the second job may get it.
    sent = {r.header("Authorization") for r in server.requests_for("/other/file")}
    assert "Bearer later" in sent
    assert "Bearer cv_12345" not in sent


def test_the_app_configs_proxy_is_used(server: TestServer, tmp_path: Path) -> None:
    """A proxy that nothing answers at: the download fails naming it, not the server."""
    with DownloadQueueService(
        app_config=AppConfig(download_proxy="http://127.0.0.1:9"), retry=FAST_RETRY
    ) as queue:
        job = queue.wait_for_job(queue.download(server.add("/p", b"p"), tmp_path), LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert server.requests_for("/p") == []


def test_inside_invokeai_a_queue_without_app_config_reads_invokeais_own(
    monkeypatch: pytest.MonkeyPatch, server: TestServer, tmp_path: Path
) -> None:
    config = AppConfig(allow_private_download_urls=False)
    module = types.ModuleType("invokeai.app.services.config")
    module.get_config = lambda: config  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "invokeai.app.services.config", module)
    url = server.add("/proof.txt", b"secret")
    with DownloadQueueService(retry=FAST_RETRY) as queue:
        job = queue.wait_for_job(queue.download(url, tmp_path), LONG)
    assert "UnsafeDownloadURLException" in (job.error_type or "")
    with DownloadQueueService(retry=FAST_RETRY, allow_private_addresses=True) as queue:
        job = queue.wait_for_job(queue.download(url, tmp_path), LONG)  # an argument wins
    assert job.status == DownloadJobStatus.COMPLETED


def test_job_pause_and_cancel_methods_reach_the_queue(
    make_queue: QueueFactory, server: TestServer, tmp_path: Path
) -> None:
    import threading

    gate = threading.Event()
    queue = make_queue()
    url = server.add("/held", b"h" * 1000, gate=gate)
    job = queue.download(url, tmp_path / "held")
    job.pause()
    # a worker may have taken the job already: a running job is paused when its transfer stops
    wait_until(lambda: job.status == DownloadJobStatus.PAUSED)
    job.cancel()
    gate.set()
    assert queue.wait_for_job(job, LONG).status == DownloadJobStatus.CANCELLED
