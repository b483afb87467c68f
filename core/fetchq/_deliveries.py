"""The dispatcher's threads: queued deliveries run in order, and a stuck callback holds up
only itself.

Deliveries (a job's callbacks and events) run on one thread, in the order they were queued, so
the engine thread never waits for a callback. A second thread stands by: while the first has been
inside one delivery for ``STUCK`` seconds (a callback that blocks, a slow event bus), it takes the
next deliveries, so one job's slow callback does not hold up the others' callbacks.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Optional

logger = logging.getLogger("fetchq")

STUCK = 0.25
"""Seconds inside one delivery after which the standby thread takes the next ones."""

Delivery = Callable[[], None]


class Deliveries:
    """A FIFO of deliveries and the two threads that run them (made with the first)."""

    def __init__(self, name: str = "fetchq-dispatch") -> None:
        self._name = name
        self._pending: collections.deque[Delivery] = collections.deque()
        lock = threading.Lock()
        self._condition = threading.Condition(lock)  # the first thread waits on it for work
        self._watch = threading.Condition(lock)  # the standby looks on its own clock
        self._threads: list[threading.Thread] = []
        self._busy_since: Optional[float] = None  # the first thread, inside a delivery
        self._closing = False
        self.batched_by: Optional[threading.Thread] = None
        """A thread whose deliveries wait in a batch until it calls :meth:`flush` (the
        engine's, once a turn: one wake-up of the dispatcher for many callbacks)."""
        self._batch: list[Delivery] = []

    @property
    def on_thread(self) -> bool:
        """Whether the calling thread is one of ours (a callback runs)."""
        return threading.current_thread() in self._threads

    def put(self, delivery: Delivery) -> None:
        if self.batched_by is not None and threading.current_thread() is self.batched_by:
            self._batch.append(delivery)
            return
        self._hand_over([delivery])

    def flush(self) -> None:
        """Hand the batch over (by the thread that batches)."""
        if self._batch:
            batch, self._batch = self._batch, []
            self._hand_over(batch)

    def _hand_over(self, deliveries: list[Delivery]) -> None:
        with self._condition:
            if not self._threads and not self._closing:
                self._threads = [
                    threading.Thread(target=self._first, name=self._name, daemon=True),
                    threading.Thread(target=self._standby, name=f"{self._name}-2", daemon=True),
                ]
                for thread in self._threads:
                    thread.start()
            self._pending.extend(deliveries)
            self._condition.notify()  # one thread: the first, if it waits

    def close(self, timeout: float = 10.0) -> None:
        """Run what is queued, then end the threads."""
        with self._condition:
            self._closing = True
            self._condition.notify_all()
            self._watch.notify_all()
            threads = list(self._threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout)

    def _first(self) -> None:
        condition, pending = self._condition, self._pending
        while True:
            with condition:
                while not pending:
                    if self._closing:
                        return
                    condition.wait()
                delivery = pending.popleft()
                self._busy_since = time.monotonic()
            _run(delivery)
            with condition:
                self._busy_since = None

    def _standby(self) -> None:
        """Look every ``STUCK`` seconds (never woken by a delivery queued: that would cost a
        switch of threads each) whether the first thread is stuck with work waiting."""
        watch, pending = self._watch, self._pending
        while True:
            with watch:
                while True:
                    if self._closing:
                        return
                    busy = self._busy_since
                    if pending and busy is not None and time.monotonic() - busy >= STUCK:
                        delivery = pending.popleft()
                        break
                    watch.wait(STUCK)
            _run(delivery)


def _run(delivery: Delivery) -> None:
    try:
        delivery()
    except Exception:  # a bug in a delivery: the next ones still go
        logger.exception("fetchq: a delivery of callbacks failed")
