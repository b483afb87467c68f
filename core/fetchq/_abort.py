"""Stopping a transfer from another thread: why it stops, and who must be woken.

A cancel, pause or stop comes from any thread while the transfer's own thread may be blocked in
libcurl (waiting for bytes), in a retry wait or in a rate-limit sleep. The signal records the
reason, wakes the waits, and runs the *closers* its connections registered: each shuts its
connection down, so a blocked read returns at once instead of at libcurl's next progress call.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Optional

Closer = Callable[[], None]
"""Shuts one connection down; called at most once, from the aborting thread."""


class AbortReason(enum.Enum):
    CANCEL = "cancel"
    PAUSE = "pause"
    STOP = "stop"


class AbortSignal:
    """Lets any thread stop a transfer at once; a cancel wins over a pause or a stop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._closers: dict[int, Closer] = {}
        self._next_key = 0
        self.reason: Optional[AbortReason] = None

    def abort(self, reason: AbortReason) -> None:
        with self._lock:
            if self.reason is None or reason is AbortReason.CANCEL:
                self.reason = reason
            closers = list(self._closers.values())
            self._closers.clear()
        self._event.set()
        for close in closers:
            _quietly(close)

    @property
    def aborted(self) -> bool:
        return self.reason is not None

    def attach(self, close: Closer) -> int:
        """Register a connection's closer; returns a key for :meth:`detach`. Already aborted:
        the closer runs now."""
        with self._lock:
            if self.reason is None:
                key = self._next_key
                self._next_key += 1
                self._closers[key] = close
                return key
        _quietly(close)
        return -1

    def detach(self, key: int) -> None:
        with self._lock:
            self._closers.pop(key, None)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True as soon as the transfer is aborted."""
        return self._event.wait(max(0.0, seconds))


class TransferAborted(Exception):
    """The transfer stopped because cancel, pause or stop asked it to."""

    def __init__(self, reason: AbortReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


def _quietly(close: Closer) -> None:
    with suppress(OSError):
        close()
