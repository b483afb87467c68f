"""The engine: one thread and one ``CurlMulti`` answering the steps of every task.

Each download is a task (a generator of :mod:`._steps`). The engine thread runs them all: it
adds the handle a task yields to its multi and resumes the task when libcurl reports the
transfer done; it keeps the timers (retry delays, sleeps, waits) and, every ``TICK`` seconds,
tells each running exchange the time (stall checks, pauses of the speed limit, writes of held
bytes). Other threads only post commands (:meth:`Engine.call_soon`); the wake-up is a socket
pair beside libcurl's sockets in one poller (:mod:`._poller`), as libcurl's ``socket_action``
API intends.

An abort comes from any thread through the transfer's :class:`AbortSignal`: the engine takes the
aborted task's handle out of the multi, or ends its sleep, at once.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Optional, TypeVar

import pycurl

from ._abort import AbortSignal
from ._poller import IN, Poller, from_libcurl
from ._steps import Blocking, Join, Perform, Sleep, Spawn, Steps, Take, Task, Ticking

logger = logging.getLogger("fetchq")

_T = TypeVar("_T")

TICK = 0.05
"""Seconds between the engine's looks at every running exchange."""
BLOCKING_THREADS = 8
"""Threads for the exchanges of a caller's ``requests`` session, which can only block; made
only when such a session is used."""
_ABORTED = 42  # CURLE_ABORTED_BY_CALLBACK: what a handle taken out of the multi ended with

_Timer = list[Any]  # [deadline, sequence, callback or None when cancelled]


class Timers:
    """Callbacks due at a time, for one thread: a heap; a cancelled timer is skipped."""

    __slots__ = ("_heap", "_sequence")

    def __init__(self) -> None:
        self._heap: list[_Timer] = []
        self._sequence = itertools.count()

    def call_later(self, seconds: float, callback: Callable[[], None]) -> _Timer:
        """Call ``callback`` in ``seconds``; setting the result's ``[2]`` to None cancels it."""
        timer: _Timer = [time.monotonic() + max(0.0, seconds), next(self._sequence), callback]
        heapq.heappush(self._heap, timer)
        return timer

    def next_deadline(self) -> Optional[float]:
        heap = self._heap
        while heap and heap[0][2] is None:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def run_due(self, now: float) -> None:
        heap = self._heap
        while heap and (heap[0][2] is None or heap[0][0] <= now):
            callback = heapq.heappop(heap)[2]
            if callback is not None:
                callback()


class Engine:
    """Runs tasks on one thread; every method but :meth:`call_soon`, :meth:`spawn`,
    :meth:`run`, :meth:`start` and :meth:`stop` is for that thread alone."""

    def __init__(self, name: str = "fetchq-engine") -> None:
        self.name = name
        multi = self._multi = pycurl.CurlMulti()
        multi.setopt(pycurl.M_SOCKETFUNCTION, self._socket_changed)
        multi.setopt(pycurl.M_TIMERFUNCTION, self._timer_changed)
        multi.setopt(pycurl.M_PIPELINING, pycurl.PIPE_MULTIPLEX)
        multi.setopt(pycurl.M_MAXCONNECTS, 64)
        self._poller = Poller()
        self._wake_in, self._wake_out = socket.socketpair()
        self._wake_in.setblocking(False)
        self._wake_out.setblocking(False)
        self._wake_fd = self._wake_in.fileno()
        self._poller.watch(self._wake_fd, IN)
        self._inbox: deque[Callable[[], None]] = deque()
        self._woken = False
        self._ready: deque[tuple[Task, Any, Optional[BaseException]]] = deque()
        self._timers = Timers()
        self._curl_deadline: Optional[float] = None
        self._performing: dict[pycurl.Curl, tuple[Task, Ticking]] = {}
        self._interruptible: dict[AbortSignal, dict[Task, Callable[[], None]]] = {}
        self._hooks: dict[AbortSignal, int] = {}
        self._next_tick = 0.0
        self.turn_hooks: list[Callable[[], None]] = []
        """Called on the engine thread after each turn of its loop, before it waits again."""
        self._blocking: Optional[ThreadPoolExecutor] = None
        self._stopping = False
        self._thread: Optional[threading.Thread] = None

    # -- from any thread ----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self, timeout: Optional[float] = None) -> None:
        """End the thread (tasks still parked are dropped) and close the multi."""
        thread = self._thread
        if thread is None or self._stopping:
            return
        self.call_soon(self._stop_now)
        if thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def thread(self) -> Optional[threading.Thread]:
        return self._thread

    @property
    def in_engine(self) -> bool:
        """Whether the calling thread is the engine's."""
        return threading.current_thread() is self._thread

    def call_soon(self, call: Callable[[], None]) -> None:
        """Run ``call`` on the engine thread, after what was posted before it."""
        self._inbox.append(call)
        if not self._woken:
            self._woken = True
            # A full buffer means a wake-up is pending; a closed socket, a closed engine.
            with contextlib.suppress(BlockingIOError, OSError):
                self._wake_out.send(b"\0")

    def spawn(self, steps: Steps[Any], on_done: Optional[Callable[[Task], None]] = None) -> Task:
        """Start ``steps`` as a task; ``on_done(task)`` runs on the engine thread at its end."""
        task = Task(steps, on_done)
        self.call_soon(lambda: self._ready.append((task, None, None)))
        return task

    def run(self, steps: Steps[_T], timeout: Optional[float] = None) -> _T:
        """Run ``steps`` on the engine and wait for the result (never from the engine thread)."""
        if self.in_engine:
            raise RuntimeError("Engine.run() would wait for itself")
        future: Future[_T] = Future()

        def done(task: Task) -> None:
            if task.error is not None:
                future.set_exception(task.error)
            else:
                future.set_result(task.result)

        self.spawn(steps, done)
        return future.result(timeout)

    def start_task(
        self, steps: Steps[Any], on_done: Optional[Callable[[Task], None]] = None
    ) -> Task:
        """Start ``steps`` as a task, from the engine thread itself (a job, a task's helper)."""
        task = Task(steps, on_done)
        self._ready.append((task, None, None))
        return task

    # -- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping:
                self._turn()
                for hook in self.turn_hooks:
                    hook()
        except BaseException:  # the engine must not die silently: say why, loudly
            logger.critical("fetchq: the engine thread failed", exc_info=True)
            raise
        finally:
            self._close()

    def _turn(self) -> None:
        self._drain()
        for hook in self.turn_hooks:  # before the wait: what the commands did goes out now
            hook()
        if self._stopping:
            return
        now = time.monotonic()
        timeout = self._timeout(now)
        wake = self._wake_fd
        for fd, events in self._poller.wait(timeout):
            if fd == wake:
                self._woken = False
                with contextlib.suppress(BlockingIOError, OSError):
                    while self._wake_in.recv(4096):
                        pass
                continue
            self._socket_action(fd, events)
        now = time.monotonic()
        deadline = self._curl_deadline
        if deadline is not None and now >= deadline:
            self._curl_deadline = None
            self._socket_action(pycurl.SOCKET_TIMEOUT, 0)
        self._timers.run_due(now)
        if now >= self._next_tick:
            self._tick(now)

    def _drain(self) -> None:
        inbox, ready = self._inbox, self._ready
        while inbox or ready:
            while inbox:
                call = inbox.popleft()
                try:
                    call()
                except Exception:
                    logger.exception("fetchq: an engine command failed")
            while ready:
                task, value, error = ready.popleft()
                self._advance(task, value, error)

    def _timeout(self, now: float) -> float:
        if self._inbox or self._ready:
            return 0.0
        timeout = 1.0
        if self._performing:
            timeout = min(timeout, max(0.0, self._next_tick - now))
        if self._curl_deadline is not None:
            timeout = min(timeout, max(0.0, self._curl_deadline - now))
        deadline = self._timers.next_deadline()
        if deadline is not None:
            timeout = min(timeout, max(0.0, deadline - now))
        return timeout

    def _tick(self, now: float) -> None:
        self._next_tick = now + TICK
        for curl, (_task, exchange) in list(self._performing.items()):
            if curl in self._performing and not exchange.on_tick(now):
                self._take_out(curl, "stopped by fetchq")

    def _stop_now(self) -> None:
        self._stopping = True

    def _close(self) -> None:
        for curl in list(self._performing):
            self._multi.remove_handle(curl)
        self._performing.clear()
        self._multi.close()
        self._poller.close()
        self._wake_in.close()
        self._wake_out.close()
        if self._blocking is not None:
            self._blocking.shutdown(wait=False)

    # -- libcurl ------------------------------------------------------------------------------

    def _socket_action(self, fd: int, action: int) -> None:
        try:
            self._multi.socket_action(fd, action)
        except pycurl.error:
            logger.exception("fetchq: libcurl's socket_action failed")
        while True:
            queued, succeeded, failed = self._multi.info_read()
            for curl in succeeded:
                self._finished(curl, None)
            for curl, code, message in failed:
                self._finished(curl, pycurl.error(code, message))
            if not queued:
                break

    def _socket_changed(self, what: int, fd: int, multi: object, data: object) -> None:
        events = from_libcurl(what)
        if events:
            self._poller.watch(fd, events)
        else:
            self._poller.forget(fd)

    def _timer_changed(self, milliseconds: int) -> None:
        self._curl_deadline = None if milliseconds < 0 else time.monotonic() + milliseconds / 1000

    def _finished(self, curl: pycurl.Curl, failure: Optional[pycurl.error]) -> None:
        entry = self._performing.pop(curl, None)
        if entry is None:
            return
        task, exchange = entry
        self._multi.remove_handle(curl)
        self._unpark(task, exchange.signal)
        self._ready.append((task, failure, None))

    def _take_out(self, curl: pycurl.Curl, why: str) -> None:
        """End a running transfer now (an abort, a stall): its task sees it fail."""
        self._finished(curl, pycurl.error(_ABORTED, why))

    # -- tasks --------------------------------------------------------------------------------

    def _advance(self, task: Task, value: Any, error: Optional[BaseException]) -> None:
        steps = task.steps
        while True:
            try:
                step = steps.throw(error) if error is not None else steps.send(value)
            except StopIteration as stop:
                self._end(task, stop.value, None)
                return
            except BaseException as exc:  # the task's own end: kept for who joins it
                self._end(task, None, exc)
                return
            value, error = None, None
            kind = type(step)
            if kind is Perform:
                self._perform(task, step)
                return
            if kind is Sleep:
                if self._sleep(task, step):
                    return
                value = True  # aborted already
            elif kind is Spawn:
                child = Task(step.steps)
                self._ready.append((child, None, None))
                value = child
            elif kind is Join:
                if not step.task.done:
                    step.task.joiners.append(task)
                    return
            elif kind is Take:
                if step.counter.value > 0:
                    step.counter.value -= 1
                    value = True
                else:
                    self._take(task, step)
                    return
            elif kind is Blocking:
                self._block(task, step)
                return
            else:
                error = TypeError(f"the engine cannot answer {step!r}")

    def _end(self, task: Task, result: Any, error: Optional[BaseException]) -> None:
        task.done, task.result, task.error = True, result, error
        for joiner in task.joiners:
            self._ready.append((joiner, None, None))
        task.joiners = []
        if task.on_done is not None:
            try:
                task.on_done(task)
            except Exception:
                logger.exception("fetchq: a task's end could not be handled")
        elif error is not None and not isinstance(error, Exception):
            logger.error("fetchq: a task stopped by %r", error)

    def _perform(self, task: Task, step: Perform) -> None:
        curl, exchange = step.curl, step.exchange
        if exchange.signal.aborted:
            self._ready.append((task, pycurl.error(_ABORTED, "aborted"), None))
            return
        self._performing[curl] = (task, exchange)
        self._park(task, exchange.signal, lambda: self._take_out(curl, "aborted"))
        try:
            self._multi.add_handle(curl)
        except pycurl.error as exc:
            self._performing.pop(curl, None)
            self._unpark(task, exchange.signal)
            self._ready.append((task, exc, None))
            return
        if not self._next_tick:
            self._next_tick = time.monotonic() + TICK

    def _sleep(self, task: Task, step: Sleep) -> bool:
        """Park ``task`` for the sleep; False if its signal has aborted already."""
        signal = step.signal
        if signal is not None and signal.aborted:
            return False
        timer = self._timers.call_later(step.seconds, lambda: self._woke(task, signal, False))

        def interrupt() -> None:
            timer[2] = None
            self._ready.append((task, True, None))

        self._park(task, signal, interrupt)
        return True

    def _woke(self, task: Task, signal: Optional[AbortSignal], value: Any) -> None:
        self._unpark(task, signal)
        self._ready.append((task, value, None))

    def _take(self, task: Task, step: Take) -> None:
        counter = step.counter

        def released() -> None:
            timer[2] = None
            self._ready.append((task, True, None))

        def timed_out() -> None:
            try:
                counter.waiters.remove(released)
            except ValueError:
                return
            self._ready.append((task, False, None))

        timer = self._timers.call_later(step.timeout, timed_out)
        counter.waiters.append(released)

    def _block(self, task: Task, step: Blocking) -> None:
        if self._blocking is None:
            self._blocking = ThreadPoolExecutor(BLOCKING_THREADS, f"{self.name}-blocking")
        future = self._blocking.submit(step.call)

        def done(future: Future[Any]) -> None:
            error = future.exception()
            value = None if error is not None else future.result()
            self.call_soon(lambda: self._ready.append((task, value, error)))

        future.add_done_callback(done)

    # -- parking, aborts and timers -----------------------------------------------------------

    def _park(
        self, task: Task, signal: Optional[AbortSignal], interrupt: Callable[[], None]
    ) -> None:
        if signal is None:
            return
        parked = self._interruptible.get(signal)
        if parked is None:
            parked = self._interruptible[signal] = {}
            self._hooks[signal] = signal.attach(lambda: self.call_soon(lambda: self._abort(signal)))
        parked[task] = interrupt

    def _unpark(self, task: Task, signal: Optional[AbortSignal]) -> None:
        if signal is None:
            return
        parked = self._interruptible.get(signal)
        if parked is None:
            return
        parked.pop(task, None)
        if not parked:
            del self._interruptible[signal]
            signal.detach(self._hooks.pop(signal, -1))

    def _abort(self, signal: AbortSignal) -> None:
        parked = self._interruptible.pop(signal, None)
        self._hooks.pop(signal, None)
        if parked:
            for interrupt in list(parked.values()):
                interrupt()
