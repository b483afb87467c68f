"""How many connections a download uses, decided while it runs, as a task on the engine.

Every tenth of a second the supervisor reports progress and, from the measured speed and
what is left (:mod:`._growth`), adds connections, keeps two, or retires the second.
Splitting is decided by time, not by size: a small file from a slow server gets help as soon
as the rest would take longer than a second at one connection's speed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Optional

from ._growth import RETRIAL_AFTER, Growth, after_one, after_two
from ._steps import Counter, Join, Steps, Take, Task

logger = logging.getLogger("fetchq")

TICK_SECONDS = 0.1
"""How often the supervisor reports progress and reconsiders the connections."""
FIRST_TICK_SECONDS = 0.02
"""When it starts the probe's clock: after the burst of bytes that sat in the socket buffers,
without losing a tenth of a second on one connection before measuring."""


class Supervisor:
    """Watches one download's connections; ``add`` starts one more (False if it cannot)."""

    def __init__(
        self,
        *,
        add: Callable[[], bool],
        halt_extras: Callable[[], None],
        tick: Callable[[float], None],
        bytes_done: Callable[[], int],
        total: int,
        split_after: float,
        split_if_longer_than: float,
        aborted: Callable[[], bool],
        may_try: Callable[[], bool] = lambda: True,
        tried: Callable[[bool], None] = lambda helped: None,
        abandon: Callable[[], None] = lambda: None,
    ) -> None:
        self._add = add
        self._halt_extras = halt_extras
        self._tick = tick
        self._bytes_done = bytes_done
        self._total = total
        self._split_after = split_after
        self._split_if_longer_than = split_if_longer_than
        self._aborted = aborted
        self._may_try = may_try
        self._tried = tried
        self._abandon = abandon
        self._ended = Counter()
        self._alive = 1  # the first connection; only the supervisor counts
        self.single_speed = 0.0
        """The speed of one connection, once measured (bytes a second)."""
        self.task: Optional[Task] = None
        """The supervisor's task, once :meth:`steps` runs as one."""

    def connection_ended(self) -> None:
        """A connection (the first one included) has no more work."""
        self._ended.release()

    def join(self) -> Steps[None]:
        """Wait until every connection has ended and the supervisor with them."""
        if self.task is not None and not self.task.done:
            yield Join(self.task)

    def steps(self) -> Steps[None]:
        stage = Growth.ONE
        try:
            stage = yield from self._watch()
        finally:
            if stage is Growth.TWO:
                self._abandon()  # the download ended while its trial ran

    def _watch(self) -> Steps[Growth]:
        probe_start: Optional[float] = None
        probe_bytes = 0
        retrial_at = 0.0
        stage = Growth.ONE
        warmed = False  # the first window, the socket buffers' burst in it, is not a speed
        while True:
            ended = yield Take(
                self._ended, FIRST_TICK_SECONDS if probe_start is None else TICK_SECONDS
            )
            if ended:
                self._alive -= 1
                if self._alive <= 0:
                    return stage
            now = time.monotonic()
            self._tick(now)
            if self._aborted():
                continue
            if probe_start is None:
                probe_start, probe_bytes = now, self._bytes_done()
                continue
            if not warmed:
                # A server that shapes its rate (nginx's limit_rate, a CDN) sends what it had
                # buffered at once: measured, one connection looked several times faster
                # than it is, and the trial of two always failed against it. So the first
                # tick of the download is not measured.
                if now - probe_start >= TICK_SECONDS:
                    warmed = True
                    probe_start, probe_bytes = now, self._bytes_done()
                continue
            if stage in (Growth.ONE, Growth.TWO) and now - probe_start >= self._split_after:
                speed = (self._bytes_done() - probe_bytes) / (now - probe_start)
                if stage is Growth.ONE:
                    left = self._total - self._bytes_done()
                    stage = after_one(speed, left, self._split_if_longer_than)
                    self.single_speed = speed
                    retrial_at = now + RETRIAL_AFTER  # if settled: servers slow down, too
                    # Another download of this host is trying, or one found that a second
                    # connection does not help there; or no slot is free: stay on one and
                    # ask again after the next measurement.
                    if stage is Growth.TWO and not self._may_try():
                        stage = Growth.ONE
                    elif stage is Growth.TWO and not self._try_add():
                        self._abandon()
                        stage = Growth.ONE
                else:
                    stage = after_two(speed, self.single_speed)
                    self._tried(stage in (Growth.GROW, Growth.KEEP_TWO))
                    logger.debug(
                        "one connection %.0f B/s, two %.0f B/s: %s",
                        self.single_speed,
                        speed,
                        stage.value,
                    )
                    if stage is Growth.BACK_TO_ONE:
                        self._halt_extras()
                    retrial_at = now + RETRIAL_AFTER
                probe_start, probe_bytes = now, self._bytes_done()
            elif stage in (Growth.BACK_TO_ONE, Growth.SETTLED) and now >= retrial_at:
                # One judgement from a tenth of a second can be wrong (servers shape speed in
                # bursts, and slow down): while the download has a while to go, look again.
                stage, probe_start = Growth.ONE, None
                continue
            elif stage is Growth.KEEP_TWO and now >= retrial_at:
                # Two helped a little, by a measure that may have been wrong: measure one
                # again, then two, as at the start (one connection's speed is not
                # measurable while two run).
                self._halt_extras()
                stage, probe_start = Growth.ONE, None
                continue
            if stage is Growth.GROW:
                while self._try_add():
                    pass

    def _try_add(self) -> bool:
        if self._add():
            self._alive += 1
            return True
        return False
