"""nginx on loopback for the tests that need a real web server: HTTP/2 over TLS.

Started from the Debian package with a configuration of its own in a temporary folder; its
access log records the protocol of every request, so a test can see what was spoken.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

NGINX = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin")

_CONF = """\
{user}
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 256; }}
http {{
    log_format protocols '$server_protocol $status $request_uri $http_range';
    access_log {folder}/access.log protocols;
    log_format connections '$connection $request_uri';
    access_log {folder}/connections.log connections;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    types {{ application/octet-stream bin; }}
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {cert};
        ssl_certificate_key {cert};
        root {root};
        {extra}
    }}
}}
"""


@dataclass
class Nginx:
    root: Path
    port: int
    folder: Path

    def url(self, name: str) -> str:
        return f"https://127.0.0.1:{self.port}/{name}"

    def connections(self) -> set[str]:
        """The TCP connections requests came on (nginx's connection serial numbers)."""
        path = self.folder / "connections.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return {line.split()[0] for line in lines}

    def log(self) -> list[str]:
        """One line a request: ``protocol status uri range``."""
        path = self.folder / "access.log"
        return path.read_text().splitlines() if path.exists() else []


@contextmanager
def nginx_server(root: Path, certfile: str, folder: Path, extra: str = "") -> Iterator[Nginx]:
    assert NGINX is not None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = folder / "nginx.conf"
    user = "user root;" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
    config.write_text(
        _CONF.format(user=user, folder=folder, port=port, cert=certfile, root=root, extra=extra)
    )
    process = subprocess.Popen(
        [NGINX, "-c", str(config), "-p", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (
                        (folder / "error.log").read_text()
                        if (folder / "error.log").exists()
                        else ""
                    )
                    raise RuntimeError(f"nginx did not start: {log}") from None
                time.sleep(0.02)
        yield Nginx(root, port, folder)
    finally:
        process.terminate()
        process.communicate(timeout=5)
