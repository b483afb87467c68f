"""Socket bytes into a file through a kernel pipe (Linux ``splice``), never through Python.

Reading a body into a buffer and writing it out copies every byte twice and costs two system
calls per buffer; ``splice`` moves the socket's pages into a pipe and from there into the page
cache, so a large download costs about half the CPU and holds the interpreter lock less.
Where either side refuses (a file system without splice support, say), the same pipe still
works: bytes go through a small buffer instead, and the caller never sees the difference.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import sys
from typing import Optional

if sys.platform != "win32":
    import fcntl

AVAILABLE = sys.platform == "linux" and hasattr(os, "splice")
"""Whether this platform can splice; tests switch it off to cover the buffered path."""

PIPE_BYTES = 1 << 20
"""The pipe size asked for: one call moves up to this much (Linux's default cap is 1 MiB)."""

_F_SETPIPE_SZ = 1031
_F_GETPIPE_SZ = 1032
_UNSUPPORTED = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV, errno.EPERM)
"""What a file system, socket or sandbox (seccomp) that refuses splice answers; a real write
error then comes from the buffered write as well."""
_FALLBACK_BYTES = 256 * 1024


class KernelPipe:
    """A pipe that carries one connection's body from its socket to the part file.

    The pipe is empty between calls: :meth:`fill_from` puts up to ``capacity`` bytes in and
    :meth:`drain_to` writes exactly that many out, so neither side ever blocks on the pipe.
    """

    def __init__(self) -> None:
        self._read_fd, self._write_fd = os.pipe2(os.O_CLOEXEC)
        try:
            # Over the user's pipe quota (pipe-user-pages-soft) the kernel refuses, or gives
            # new pipes a page or two: they still work, a few KiB a call.
            with contextlib.suppress(OSError):
                fcntl.fcntl(self._write_fd, _F_SETPIPE_SZ, PIPE_BYTES)
            self.capacity: int = fcntl.fcntl(self._write_fd, _F_GETPIPE_SZ)
        except BaseException:
            self.close()
            raise
        self._splice_socket = True
        self._splice_file = True
        self._buffer: Optional[bytearray] = None

    def fill_from(self, sock: socket.socket, count: int) -> int:
        """Move up to ``count`` bytes that have arrived on ``sock`` (waiting for the first).

        0 when the peer closed; waits at most the socket's timeout, then raises TimeoutError.
        """
        count = min(count, self.capacity)
        while True:
            fd = sock.fileno()
            if fd < 0:
                raise OSError(errno.EBADF, "the connection was closed")
            try:
                if self._splice_socket:
                    return os.splice(fd, self._write_fd, count, flags=os.SPLICE_F_MOVE)
                return self._copy_from_socket(fd, count)
            except BlockingIOError:
                self._wait_readable(sock)
            except OSError as exc:
                if exc.errno not in _UNSUPPORTED or not self._splice_socket:
                    raise
                self._splice_socket = False

    def put(self, data: bytes | bytearray | memoryview) -> int:
        """Put bytes already read (past a response's head) into the pipe; how many fit."""
        return os.write(self._write_fd, memoryview(data)[: self.capacity])

    def drain_to(self, fd: int, offset: int, count: int) -> None:
        """Write the ``count`` bytes in the pipe into file ``fd`` at ``offset``."""
        while count:
            if self._splice_file:
                try:
                    moved = os.splice(self._read_fd, fd, count, offset_dst=offset)
                except OSError as exc:
                    if exc.errno not in _UNSUPPORTED:
                        raise
                    self._splice_file = False
                    continue
            else:
                data = os.read(self._read_fd, count)
                moved = 0
                while moved < len(data):
                    moved += os.pwrite(fd, data[moved:], offset + moved)
            if not moved:
                raise OSError(errno.EIO, "the pipe ran dry before the bytes were written")
            count -= moved
            offset += moved

    def close(self) -> None:
        for fd in (self._read_fd, self._write_fd):
            if fd >= 0:
                os.close(fd)
        self._read_fd = self._write_fd = -1

    def __enter__(self) -> KernelPipe:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _copy_from_socket(self, fd: int, count: int) -> int:
        buffer = self._buffer
        if buffer is None:
            buffer = self._buffer = bytearray(_FALLBACK_BYTES)
        got = os.readv(fd, [memoryview(buffer)[:count]])
        if got:
            os.write(self._write_fd, memoryview(buffer)[:got])
        return got

    @staticmethod
    def _wait_readable(sock: socket.socket) -> None:
        timeout = sock.gettimeout()
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
        if not poller.poll(None if timeout is None else timeout * 1000):
            raise TimeoutError("timed out")
