"""What a transfer takes and gives: its settings, its request, its outcome, and its host.

These are the values and the protocol that :class:`~._transfer.Transfer` and its components
(:mod:`._resume`, :mod:`._destination`, :mod:`._fetching`) share with the queue that runs them;
:mod:`._transfer` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Protocol

from ._abort import AbortSignal
from ._categories import Category
from ._http import OriginSecrets
from ._limits import HostSlots, HostTrials, RateLimiter
from ._retry import RetryPolicy, Timeouts
from ._steps import Steps, Task

MiB = 1 << 20
KiB = 1 << 10


@dataclass(frozen=True)
class TransferSettings:
    """How transfers behave; one immutable value shared by every job of a queue."""

    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    min_split: int = 1 * MiB
    """A range is never split into pieces smaller than this on a fast connection..."""
    min_split_slow: int = 64 * KiB
    """...nor smaller than this on a slow one (pieces that take a second each at its speed)."""
    buffer_size: int = 256 * KiB
    """A body of at most this size is read whole into memory, checked, and written in one go."""
    split_after: float = 0.1
    """Seconds a download runs on one connection before deciding whether to add more."""
    split_if_longer_than: float = 1.0
    """Add connections when, at one connection's speed, the rest would take longer."""
    sidecar_interval: float = 0.1
    """Seconds between sidecar saves while bytes arrive: what a kill -9 can cost, at most."""
    lazy_sidecar_below: int = 1 * MiB
    """Downloads smaller than this write their sidecar only when interrupted or slow."""
    keep_free: int = 256 * MiB
    """A download of unknown size (a body that may never end) stops while this much disk is
    still free, rather than fill it."""


@dataclass(frozen=True)
class TransferRequest:
    """What one job asks for, copied out of the job when it starts."""

    job_id: int
    source: str
    dest: Path
    download_path: Optional[Path]
    secrets: Optional[OriginSecrets]
    """The token, headers and cookies that go to the source's origin only."""
    checksum: Optional[tuple[str, str]]
    overwrite: bool
    max_connections: int
    expected_total: Optional[int] = None
    """A size known in advance (InvokeAI's ``expected_total_bytes``)."""
    etag: Optional[str] = None
    """The version known in advance (InvokeAI's job fields), for ``If-Range`` on the resume
    of an InvokeAI partial file..."""
    last_modified: Optional[str] = None
    """...or, without an ETag, its Last-Modified."""
    content_type: Optional[str] = None
    """The type an earlier run was served: a web page in its place means the link expired."""
    categories: tuple[Category, ...] = ()
    """Into a folder: the categories whose folders the file may go into (none: ``dest``)."""
    start_over: bool = False
    """Drop whatever partial file there is and fetch from the first byte."""


@dataclass(frozen=True)
class TransferOutcome:
    download_path: Path
    size: int
    reused_existing: bool = False
    """True when an identical file was already at the destination and nothing was fetched."""
    size_announced: bool = True
    """False when the server never said how large the file is (its body ran to the end)."""


class TransferHost(Protocol):
    """What a transfer reports to, and borrows from, the queue that runs it."""

    signal: AbortSignal
    limiter: RateLimiter
    host_slots: HostSlots
    trials: HostTrials

    def claim(self, path: Path) -> bool:
        """Reserve ``path`` (and its part files) for this job; False if another job holds it."""

    def unclaim(self, path: Path) -> None:
        """Give up a reservation this job no longer needs."""

    def set_target(self, path: Path, total: Optional[int], content_type: Optional[str]) -> None:
        """The file name and size are known."""

    def progress(self, done: int, total: Optional[int]) -> None:
        """Bytes on disk so far; called often, throttled by the host."""

    def count(self, done: int, total: Optional[int]) -> None:
        """The same, without an event: the transfer is ending and the host reports the end."""

    def attempt_started(self) -> None: ...

    def answered(self, final_url: str, etag: Optional[str], last_modified: Optional[str]) -> None:
        """The server answered with the file: where from (after redirects), and its version."""

    def started_over(self, message: str) -> None:
        """The bytes on disk could not be used: the download begins again from zero."""

    def challenged(self, challenge: str) -> None:
        """The server asks for a login (a 401's ``WWW-Authenticate``): the app may ask."""

    def categorized(self, category: str) -> None:
        """The file goes into this category's folder."""

    def retrying(self, attempt: int, delay: float, error: BaseException) -> None: ...

    def spawn(self, steps: Steps[Any]) -> Task:
        """Start ``steps`` as a task of their own beside this transfer's (on the engine)."""

    def waiting(self, reason: Optional[str]) -> None:
        """The download waits for ``"bandwidth"`` or a ``"connection"`` to its host; None: no
        longer."""
