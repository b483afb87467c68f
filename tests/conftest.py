"""Fixtures: loopback servers, a queue factory with fast retries, an event recorder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fetchq import DownloadQueueService
from fetchq.testing import TestServer, ca_bundle
from tests.helpers import FAST_RETRY, FAST_TIMEOUTS, EventRecorder, QueueFactory, start_xvfb


@pytest.fixture
def scheme() -> str:
    """The scheme ``server`` speaks; ``@pytest.mark.parametrize("scheme", SCHEMES)`` runs a
    test over plain HTTP and over TLS."""
    return "http"


@pytest.fixture
def server(scheme: str) -> Iterator[TestServer]:
    with TestServer(tls=scheme == "https") as test_server:
        yield test_server


@pytest.fixture
def other_server(scheme: str) -> Iterator[TestServer]:
    """A second origin (another port) for cross-origin redirects."""
    with TestServer(tls=scheme == "https") as test_server:
        yield test_server


@pytest.fixture
def recorder() -> EventRecorder:
    return EventRecorder()


@pytest.fixture
def make_queue(recorder: EventRecorder) -> Iterator[QueueFactory]:
    """Build queues with fast retries and short timeouts; all are closed after the test."""
    made: list[DownloadQueueService] = []

    def build(**options: object) -> DownloadQueueService:
        options.setdefault("retry", FAST_RETRY)
        options.setdefault("timeouts", FAST_TIMEOUTS)
        options.setdefault("event_bus", recorder)
        options.setdefault("ca_bundle", ca_bundle())
        queue = DownloadQueueService(**options)  # type: ignore[arg-type]
        made.append(queue)
        return queue

    yield build
    for queue in made:
        queue.close()


@pytest.fixture
def queue(make_queue: QueueFactory) -> DownloadQueueService:
    return make_queue()


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


@pytest.fixture
def xvfb_display() -> Iterator[str]:
    """A fresh Xvfb for one test: its ``DISPLAY``."""
    xvfb, name = start_xvfb()
    try:
        yield name
    finally:
        xvfb.terminate()
        xvfb.wait(10)
