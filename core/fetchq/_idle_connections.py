"""The HTTP/1.x connections libcurl keeps open between requests: the smuggling check.

A kept connection is reused only if nothing arrived on it while it was idle (see
:class:`IdleConnections`); an abort of a blocking request shuts its socket down.
"""

from __future__ import annotations

import socket
import threading


def shutdown(fd: int) -> None:
    """Shut down the socket ``fd`` (libcurl's, still open: see
    :meth:`._exchange.Exchange._open_socket`)."""
    sock = socket.socket(fileno=fd)
    try:
        sock.shutdown(socket.SHUT_RDWR)
    finally:
        sock.detach()


class IdleConnections:
    """The HTTP/1.x connections libcurl keeps open between requests, by local port.

    A connection is reused only if nothing arrived on it while it was idle: bytes there are
    what a server sent past the end of the last answer, and libcurl (which skips its own
    liveness check for a connection idle under a second) would read them as the next
    answer: a second response smuggled behind a body. pycurl tells a callback only the local
    port of a reused connection, so fetchq notes which socket each port is when the
    connection is made (:meth:`opened`): in the engine, libcurl may hand a finished request's
    connection to the next one before fetchq hears that the first ended.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: dict[int, tuple[int, str, int]] = {}  # local port -> fd, peer ip, port

    def opened(self, fds: list[int], local_port: int, peer_ip: str, peer_port: int) -> None:
        """A new connection is ready: note which of the sockets its request made
        (``fds``) is the one on ``local_port``."""
        for fd in fds:
            try:
                sock = socket.socket(fileno=fd)
            except OSError:  # not a socket (any more)
                continue
            try:
                if sock.getsockname()[1] == local_port:
                    with self._lock:
                        self._sockets[local_port] = (fd, peer_ip, peer_port)
                    return
            except OSError:
                pass
            finally:
                sock.detach()

    def forget(self, local_port: int) -> None:
        """The connection on ``local_port`` multiplexes (HTTP/2): bytes there are normal."""
        with self._lock:
            self._sockets.pop(local_port, None)

    def has_bytes(self, local_port: int, peer_ip: str, peer_port: int) -> bool:
        """Whether the kept connection on ``local_port`` (to that peer) holds unread bytes."""
        with self._lock:
            known = self._sockets.get(local_port)
        if known is None or known[1:] != (peer_ip, peer_port):
            return False
        try:
            sock = socket.socket(fileno=known[0])
        except OSError:  # the number no longer names a socket
            return False
        try:
            if sock.getsockname()[1] != local_port:  # the number now names another socket
                return False
            return _has_bytes(sock)
        except OSError:
            return False
        finally:
            sock.detach()


def _has_bytes(sock: socket.socket) -> bool:
    try:
        return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except (BlockingIOError, InterruptedError):
        return False


IDLE = IdleConnections()
