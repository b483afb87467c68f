"""Steps: how a transfer asks for I/O without doing it (sans-I/O, generator style).

A transfer, a request's exchange or a segment's connection is written as a generator that
*yields* what it needs done (perform this libcurl handle, sleep, start a helper task, wait for
one) and is resumed with the answer. The code that decides never blocks and never touches a
socket, a thread or a clock of its own: the engine thread (:mod:`._engine`) answers the steps
of every transfer at once through one ``CurlMulti``, and :func:`run_blocking` answers them one
at a time in the calling thread, for a single request (a probe, a test).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Generator
from typing import Any, Optional, Protocol, TypeVar

import pycurl

from ._abort import AbortSignal

_T = TypeVar("_T")

Steps = Generator["Step", Any, _T]
"""A computation that yields :data:`Step` values and returns a ``_T``."""


class Perform:
    """Run this libcurl handle until its transfer ends; resumed with None, or the
    ``pycurl.error`` it ended with. ``exchange`` is told the time while it runs (its stall
    check) and, in :func:`run_blocking`, installs its own progress hook."""

    __slots__ = ("curl", "exchange")

    def __init__(self, curl: pycurl.Curl, exchange: Ticking) -> None:
        self.curl = curl
        self.exchange = exchange


class Ticking(Protocol):
    """What a running exchange answers to the engine's clock."""

    signal: AbortSignal

    def on_tick(self, now: float) -> bool:
        """Time passed (a twentieth of a second or so): False ends the transfer now."""

    def blocking(self) -> None:
        """About to run with ``curl.perform()`` in the calling thread: watch yourself."""


class Sleep:
    """Wait ``seconds``; resumed with True at once if ``signal`` aborts meanwhile."""

    __slots__ = ("seconds", "signal")

    def __init__(self, seconds: float, signal: Optional[AbortSignal]) -> None:
        self.seconds = seconds
        self.signal = signal


class Spawn:
    """Start ``steps`` as a task of its own; resumed at once with its :class:`Task`."""

    __slots__ = ("steps",)

    def __init__(self, steps: Steps[Any]) -> None:
        self.steps = steps


class Join:
    """Wait until ``task`` has ended; resumed with None (its result stays on the task)."""

    __slots__ = ("task",)

    def __init__(self, task: Task) -> None:
        self.task = task


class Take:
    """Take one count of ``counter``, waiting up to ``timeout`` seconds; resumed with whether
    one was taken."""

    __slots__ = ("counter", "timeout")

    def __init__(self, counter: Counter, timeout: float) -> None:
        self.counter = counter
        self.timeout = timeout


class Blocking:
    """Call ``call()`` where blocking is allowed (a thread); resumed with its result, or its
    exception thrown in. For a caller's ``requests`` session, which can only block."""

    __slots__ = ("call",)

    def __init__(self, call: Callable[[], Any]) -> None:
        self.call = call


Step = Any
"""One of :class:`Perform`, :class:`Sleep`, :class:`Spawn`, :class:`Join`, :class:`Take`,
:class:`Blocking` (``Any``: generators are typed by what they return)."""


class Task:
    """A running computation: its generator, and how it ended."""

    __slots__ = ("done", "error", "joiners", "on_done", "parked", "result", "steps")

    def __init__(self, steps: Steps[Any], on_done: Optional[Callable[[Task], None]] = None) -> None:
        self.steps = steps
        self.on_done = on_done
        self.done = False
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self.joiners: list[Task] = []
        self.parked: Optional[Callable[[], None]] = None
        """Undoes the wait this task is parked in (an abort resumes it early)."""


class Counter:
    """A counting semaphore between the tasks of one thread: no lock, no thread."""

    __slots__ = ("value", "waiters")

    def __init__(self) -> None:
        self.value = 0
        self.waiters: deque[Callable[[], None]] = deque()
        """Wakers of the tasks parked in :class:`Take`, first come first served."""

    def release(self) -> None:
        if self.waiters:
            self.waiters.popleft()()
        else:
            self.value += 1


def join_all(tasks: list[Task]) -> Steps[None]:
    """Wait until every one of ``tasks`` has ended."""
    for task in tasks:
        if not task.done:
            yield Join(task)


def run_blocking(steps: Steps[_T]) -> _T:
    """Answer ``steps`` in the calling thread, one step at a time: a request is performed with
    ``curl.perform()``, a sleep sleeps. For one request at a time (a probe, a test); transfers
    that spawn or join tasks run on the engine."""
    value: Any = None
    error: Optional[BaseException] = None
    while True:
        try:
            step = steps.throw(error) if error is not None else steps.send(value)
        except StopIteration as stop:
            result: _T = stop.value
            return result
        value, error = None, None
        kind = type(step)
        if kind is Perform:
            step.exchange.blocking()
            try:
                step.curl.perform()
            except pycurl.error as exc:
                value = exc
        elif kind is Sleep:
            signal = step.signal
            if signal is None:
                time.sleep(max(0.0, step.seconds))
                value = False
            else:
                value = signal.wait(step.seconds)
        elif kind is Blocking:
            try:
                value = step.call()
            except BaseException as exc:  # thrown into the steps, as the engine does
                error = exc
        else:
            raise TypeError(f"{kind.__name__} needs the engine (fetchq._engine)")
