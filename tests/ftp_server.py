"""Loopback FTP servers for the tests: pyftpdlib for ftp://, vsftpd for ftps://.

pyftpdlib cannot serve libcurl's FTPS: libcurl starts the data connection's TLS handshake
(resuming the control connection's session, as vsftpd demands) before the transfer command,
and pyftpdlib resets it. vsftpd, which most FTPS sites run, is started from its Debian package.

The pyftpdlib server serves a folder read-only to anonymous users and to one named user,
records the commands it received, and can throttle downloads so a test can pause one midway.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import socket
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

with warnings.catch_warnings():
    # On Python 3.11 pyftpdlib imports the standard library's deprecated asynchat.
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler, ThrottledDTPHandler
    from pyftpdlib.servers import ThreadedFTPServer

logging.getLogger("pyftpdlib").setLevel(logging.WARNING)

USER, PASSWORD = "alice", "s3cret pass"


class FtpServer:
    """A running server: its URL, the commands it saw."""

    def __init__(
        self, root: Path, port: int, tls: bool, commands: list[str], data: type[Any]
    ) -> None:
        self.root = root
        self.port = port
        self.tls = tls
        self.commands = commands
        self._data = data

    def set_rate(self, rate: Optional[int]) -> None:
        """Bytes a second for each new data connection (None: no limit). pyftpdlib sends a
        second's worth at once, then sleeps."""
        self._data.write_limit = rate or 0

    def url(self, name: str, user: Optional[str] = None) -> str:
        login = f"{user}@" if user else ""
        return f"{'ftps' if self.tls else 'ftp'}://{login}127.0.0.1:{self.port}/{name}"

    def sent(self, command: str) -> list[str]:
        """Arguments of each ``command`` (``"REST"``, ``"RETR"``...) the server received."""
        prefix = command + " "
        return [line[len(prefix) :] for line in self.commands if line.startswith(prefix)]


def _handler_class(data: type[Any], commands: list[str]) -> type[FTPHandler]:
    class Recording(FTPHandler):  # type: ignore[misc]
        def pre_process_command(self, line: str, cmd: str, arg: Any) -> None:
            commands.append(line)
            super().pre_process_command(line, cmd, arg)

    handler = Recording
    handler.dtp_handler = data
    handler.use_sendfile = False  # sendfile() would bypass the throttle
    handler.passive_ports = None
    handler.log_prefix = ""
    return handler


@contextmanager
def ftp_server(root: Path, *, rate: Optional[int] = None) -> Iterator[FtpServer]:
    """Serve ``root`` on 127.0.0.1 until the block ends."""
    authorizer = DummyAuthorizer()
    authorizer.add_anonymous(str(root))
    authorizer.add_user(USER, PASSWORD, str(root), perm="elr")
    commands: list[str] = []
    data: type[Any] = type("Throttled", (ThrottledDTPHandler,), {"write_limit": rate or 0})
    handler = _handler_class(data, commands)
    handler.authorizer = authorizer
    server = ThreadedFTPServer(("127.0.0.1", 0), handler)
    port = int(server.socket.getsockname()[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.05}, daemon=True)
    thread.start()
    try:
        yield FtpServer(root, port, False, commands, data)
    finally:
        server.close_all()
        thread.join(5)


VSFTPD = shutil.which("vsftpd", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
_VSFTPD_CONF = """\
listen=YES
listen_address=127.0.0.1
listen_port={port}
background=NO
run_as_launching_user=YES
anonymous_enable=YES
anon_root={root}
no_anon_password=YES
local_enable=NO
write_enable=NO
ssl_enable=YES
implicit_ssl=YES
allow_anon_ssl=YES
force_anon_data_ssl=YES
force_anon_logins_ssl=YES
rsa_cert_file={cert}
rsa_private_key_file={cert}
seccomp_sandbox=NO
pasv_address=127.0.0.1
pasv_min_port={pasv}
pasv_max_port={pasv_end}
xferlog_enable=NO
secure_chroot_dir={empty}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def vsftpd_server(root: Path, certfile: str, folder: Path) -> Iterator[FtpServer]:
    """Serve ``root`` over implicit FTPS (``ftps://``) with vsftpd, on 127.0.0.1."""
    assert VSFTPD is not None
    port = _free_port()
    pasv = random.randrange(30_000, 60_000, 100)
    empty = folder / "empty"
    empty.mkdir()
    root.chmod(0o755)
    config = folder / "vsftpd.conf"
    config.write_text(
        _VSFTPD_CONF.format(
            port=port, root=root, cert=certfile, pasv=pasv, pasv_end=pasv + 99, empty=empty
        )
    )
    process = subprocess.Popen(
        [VSFTPD, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    error = process.stderr.read().decode() if process.stderr else ""
                    raise RuntimeError(f"vsftpd did not start: {error}") from None
                time.sleep(0.02)
        yield FtpServer(root, port, True, [], type(None))
    finally:
        process.terminate()
        process.communicate(timeout=5)  # reaps it and closes its pipe
