"""Helpers shared by the tests: hashing, payloads, named waits, an event recorder."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

from fetchq import DownloadEvent, DownloadQueueService, RetryPolicy, Timeouts
from fetchq._transport import ResponseHead

# Named waits (urllib3's habit): long enough never to flake, short enough to fail fast.
SHORT = 2.0
LONG = 20.0

FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, max_retry_after=0.2)
FAST_TIMEOUTS = Timeouts(connect=2.0, read=2.0)

QueueFactory = Callable[..., DownloadQueueService]

SCHEMES = ("http", "https")
"""For ``@pytest.mark.parametrize("scheme", SCHEMES)``: the test runs against a plain and a TLS
``server``."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def payload(size: int, seed: int = 0) -> bytes:
    """Incompressible, reproducible bytes."""
    return random.Random(seed).randbytes(size)


def leftovers(folder: Path) -> list[str]:
    """Part files and sidecars left in a folder."""
    return sorted(n for n in os.listdir(folder) if n.endswith((".part", ".part.json")))


class EventRecorder:
    """A ``dispatch`` bus that keeps every event, and lets a test wait for one."""

    def __init__(self) -> None:
        self.events: list[DownloadEvent] = []
        self._condition = threading.Condition()

    def dispatch(self, event: DownloadEvent) -> None:
        with self._condition:
            self.events.append(event)
            self._condition.notify_all()

    def names(self, job_id: int) -> list[str]:
        with self._condition:
            return [e.name for e in self.events if e.id == job_id]

    def of(self, job_id: int) -> list[DownloadEvent]:
        with self._condition:
            return [e for e in self.events if e.id == job_id]

    def wait_for(self, job_id: int, name: str, timeout: float = LONG) -> DownloadEvent:
        with self._condition:
            found = self._condition.wait_for(
                lambda: any(e.id == job_id and e.name == name for e in self.events), timeout
            )
            assert found, f"no {name} for job {job_id}; saw {self.names(job_id)}"
            return next(e for e in self.events if e.id == job_id and e.name == name)


def wait_until(condition: Callable[[], object], timeout: float = LONG) -> None:
    """Wait for a condition on a job or the disk (polled: it is not an event we can wait on)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


class Collect:
    """A transport receiver that keeps the head and the whole body."""

    def __init__(self) -> None:
        self.head: Optional[ResponseHead] = None
        self.body = bytearray()

    def on_head(self, head: ResponseHead) -> bool:
        self.head = head
        return True

    def on_data(self, data: bytes) -> Optional[bool]:
        self.body += data
        return None

    def on_idle(self) -> None:
        return None


def write_partial(
    download_path: Path,
    data: bytes,
    source: str,
    etag: Optional[str] = None,
    total: Optional[int] = None,
) -> None:
    """A part file holding ``data`` and the sidecar fetchq would have written for it."""
    from fetchq._segments import ByteRanges, PartState, part_path, save_part_state

    part = part_path(download_path)
    part.write_bytes(data)
    info = part.stat()
    state = PartState(
        source, total, etag, None, ByteRanges.of([(0, len(data))]), (info.st_dev, info.st_ino)
    )
    save_part_state(download_path, state)


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    """A fresh Xvfb server on a free display: the process and its ``DISPLAY``."""
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        number = reader.readline().strip()
    assert number, "Xvfb did not report a display"
    return xvfb, f":{number}"
