"""Asking ahead: the first request of the jobs next in line, sent before they start.

A small file costs a round trip to the server and some bookkeeping, one after the other. While
a worker does the bookkeeping of one file, the requests of the next few are already out, each
on a connection of its own (never pipelined: one response per connection, framed by libcurl,
so no server can slip a second answer into the next file's). They are held by a ``CurlMulti``
of the worker's own thread, which drives it only when it has a moment (when it asks, and when
it needs an answer): no second thread competes for the interpreter lock, and the callbacks are
C methods (``list.append``, ``bytearray.extend``). A job whose answer is waiting replays it;
an answer nobody takes within ``KEEP_FOR``, a body over ``MAX_BODY``, or a failure is dropped,
and the job asks itself. Only a job's first request, for a file not on disk yet, and only
without a proxy or an address guard, is asked ahead: GET changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Optional

import pycurl

from ._transport import Request

MAX_BODY = 256 * 1024
"""Larger answers are not kept: their job fetches them itself, on its own connection(s)."""
MAX_AHEAD = 4
"""Requests out at once, ahead of the jobs that will want them (each may hold a connection,
and a TLS connection about a megabyte)."""
KEEP_FOR = 5.0
"""Seconds an answer waits for its job before it is dropped (the queue may have changed)."""

Key = tuple[object, ...]


def request_key(request: Request) -> Key:
    """What makes two requests the same: where, with what headers and credentials."""
    return (
        request.url.href,
        tuple(sorted(request.headers.items())),
        request.credentials,
        request.auth_scheme,
        request.byte_range,
    )


class Answer:
    """One request sent ahead, and what came back."""

    __slots__ = ("body", "curl", "error", "finished", "lines", "request", "sent_at")

    def __init__(self, request: Request, curl: pycurl.Curl) -> None:
        self.request = request
        self.curl = curl
        self.lines: list[bytes] = []
        self.body = bytearray()
        self.finished = False
        self.error: Optional[int] = None
        self.sent_at = time.monotonic()


class AskAhead:
    """One thread's requests sent ahead. Not thread-safe: its thread alone uses it."""

    def __init__(self, configure: Callable[[pycurl.Curl, Request], None], give_up: float) -> None:
        self._configure = configure
        self._give_up = give_up
        self._multi = pycurl.CurlMulti()
        self._answers: dict[Key, Answer] = {}
        self._running: dict[pycurl.Curl, Answer] = {}
        self._idle: list[pycurl.Curl] = []

    def ask(self, requests: Iterable[Request]) -> None:
        """Send these requests now (those not out already, up to ``MAX_AHEAD``)."""
        self._drop_stale(time.monotonic())
        for request in requests:
            if len(self._answers) >= MAX_AHEAD:
                break
            key = request_key(request)
            if key in self._answers:
                continue
            curl = self._idle.pop() if self._idle else pycurl.Curl()
            answer = self._answers[key] = Answer(request, curl)
            self._configure(curl, request)
            curl.setopt(pycurl.HEADERFUNCTION, answer.lines.append)
            curl.setopt(pycurl.WRITEFUNCTION, answer.body.extend)
            curl.setopt(pycurl.MAXFILESIZE_LARGE, MAX_BODY)
            curl.setopt(pycurl.TIMEOUT_MS, int(self._give_up * 1000))
            self._running[curl] = answer
            self._multi.add_handle(curl)
        self._drive(0.0)

    def take(self, request: Request) -> Optional[Answer]:
        """The answer to ``request`` if it was asked ahead, once it has come (or None: it
        was not asked, failed, or did not come in time; the caller asks itself)."""
        answer = self._answers.pop(request_key(request), None)
        if answer is None:
            return None
        deadline = time.monotonic() + self._give_up
        while not answer.finished and time.monotonic() < deadline:
            self._drive(0.05)
        if not answer.finished:
            self._abandon(answer)
            return None
        if answer.error is not None:
            self._recycle(answer)
            return None
        return answer

    def done_with(self, answer: Answer) -> None:
        """The answer was replayed: its handle (and connection) serve the next request."""
        self._recycle(answer)

    def close(self) -> None:
        for answer in list(self._answers.values()):
            self._abandon(answer)
        self._answers.clear()
        for curl in self._idle:
            curl.close()
        self._idle.clear()
        self._multi.close()

    def _drive(self, wait: float) -> None:
        """Let libcurl move every request along; wait up to ``wait`` seconds for news."""
        multi = self._multi
        if not self._running:
            return
        if wait > 0:
            multi.select(wait)
        while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass
        while True:
            queued, finished, failed = multi.info_read()
            for curl in finished:
                self._finished(curl, None)
            for curl, code, _message in failed:
                self._finished(curl, int(code))
            if not queued:
                return

    def _finished(self, curl: pycurl.Curl, error: Optional[int]) -> None:
        self._multi.remove_handle(curl)
        answer = self._running.pop(curl)
        answer.finished = True
        answer.error = error

    def _drop_stale(self, now: float) -> None:
        for key, answer in list(self._answers.items()):
            if now - answer.sent_at > KEEP_FOR:
                del self._answers[key]
                self._abandon(answer)

    def _abandon(self, answer: Answer) -> None:
        if answer.curl in self._running:
            del self._running[answer.curl]
            self._multi.remove_handle(answer.curl)
        answer.curl.close()

    def _recycle(self, answer: Answer) -> None:
        answer.curl.reset()
        if len(self._idle) < MAX_AHEAD:
            self._idle.append(answer.curl)
        else:
            answer.curl.close()
