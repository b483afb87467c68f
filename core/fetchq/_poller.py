"""Waiting for sockets: epoll where there is one, poll or select elsewhere.

The engine changes which sockets it watches each time libcurl starts or ends a transfer, a few
times per small file; ``selectors`` costs several microseconds of Python a change, the
system's poll object one call. Events come back as libcurl's ``CSELECT_*`` bits.
"""

from __future__ import annotations

import select
from typing import Optional

import pycurl

IN = pycurl.CSELECT_IN
OUT = pycurl.CSELECT_OUT
ERR = pycurl.CSELECT_ERR


class Poller:
    """The sockets one thread waits on, and for what (``IN``, ``OUT`` or both)."""

    def __init__(self) -> None:
        self._watched: dict[int, int] = {}
        epoll = getattr(select, "epoll", None)
        self._epoll = epoll() if epoll is not None else None
        poll = getattr(select, "poll", None)
        self._poll = poll() if self._epoll is None and poll is not None else None

    def watch(self, fd: int, events: int) -> None:
        """Wait on ``fd`` for ``events`` (a new socket, or new events for a known one)."""
        known = self._watched.get(fd)
        if known == events:
            return
        try:
            if self._epoll is not None:
                mask = _mask(events, select.EPOLLIN, select.EPOLLOUT)
                if known is None:
                    try:
                        self._epoll.register(fd, mask)
                    except FileExistsError:  # a number reused before its socket was forgotten
                        self._epoll.modify(fd, mask)
                else:
                    self._epoll.modify(fd, mask)
            elif self._poll is not None:
                self._poll.register(fd, _mask(events, select.POLLIN, select.POLLOUT))
        except OSError:  # gone already: libcurl will say so
            self._watched.pop(fd, None)
            return
        self._watched[fd] = events

    def forget(self, fd: int) -> None:
        if self._watched.pop(fd, None) is None:
            return
        try:
            if self._epoll is not None:
                self._epoll.unregister(fd)
            elif self._poll is not None:
                self._poll.unregister(fd)
        except (OSError, KeyError):  # closed already, which removed it
            pass

    def wait(self, timeout: float) -> list[tuple[int, int]]:
        """The sockets ready within ``timeout`` seconds, with libcurl's event bits."""
        if self._epoll is not None:
            return [
                (
                    fd,
                    _events(
                        mask, select.EPOLLIN | select.EPOLLHUP, select.EPOLLOUT, select.EPOLLERR
                    ),
                )
                for fd, mask in self._epoll.poll(timeout)
            ]
        if self._poll is not None:
            return [
                (fd, _events(mask, select.POLLIN | select.POLLHUP, select.POLLOUT, select.POLLERR))
                for fd, mask in self._poll.poll(int(timeout * 1000 + 0.999))
            ]
        readers = [fd for fd, events in self._watched.items() if events & IN]
        writers = [fd for fd, events in self._watched.items() if events & OUT]
        readable, writable, failed = select.select(readers, writers, readers + writers, timeout)
        ready: dict[int, int] = {}
        for fds, bit in ((readable, IN), (writable, OUT), (failed, ERR)):
            for fd in fds:
                ready[fd] = ready.get(fd, 0) | bit
        return list(ready.items())

    def close(self) -> None:
        if self._epoll is not None:
            self._epoll.close()
        self._watched.clear()


def _mask(events: int, readable: int, writable: int) -> int:
    return (readable if events & IN else 0) | (writable if events & OUT else 0)


def _events(mask: int, readable: int, writable: int, failed: int) -> int:
    return (
        (IN if mask & readable else 0)
        | (OUT if mask & writable else 0)
        | (ERR if mask & failed else 0)
    )


def from_libcurl(what: int) -> Optional[int]:
    """The events libcurl's socket callback asks for; None for ``POLL_REMOVE``."""
    if what == pycurl.POLL_REMOVE:
        return None
    wanted: dict[int, int] = {pycurl.POLL_IN: IN, pycurl.POLL_OUT: OUT, pycurl.POLL_INOUT: IN | OUT}
    return wanted.get(what, 0)
