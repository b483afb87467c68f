"""HTTP/2 over TLS, when the server offers it: against nginx, as the Internet's servers do."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from fetchq.testing import _test_authority
from tests.helpers import LONG, QueueFactory, file_sha256, payload, sha256
from tests.nginx_server import NGINX, Nginx, nginx_server

MiB = 1 << 20


@pytest.fixture(scope="module")
def certfile() -> Iterator[str]:
    authority, _bundle = _test_authority()
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "web.pem")
        authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(path)  # type: ignore[attr-defined]
        yield path


def _nginx(tmp_path: Path, certfile: str, extra: str = "") -> Iterator[Nginx]:
    if NGINX is None:
        if os.environ.get("FETCHQ_REQUIRE_SERVERS"):
            pytest.fail("nginx is not installed (apt-get install nginx)")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    root = tmp_path / "www"
    root.mkdir()
    root.chmod(0o755)
    folder = tmp_path / "nginx"
    folder.mkdir()
    with nginx_server(root, certfile, folder, extra) as server:
        yield server


@pytest.fixture
def web(tmp_path: Path, certfile: str) -> Iterator[Nginx]:
    yield from _nginx(tmp_path, certfile)


@pytest.fixture
def slow_web(tmp_path: Path, certfile: str) -> Iterator[Nginx]:
    """Each response limited to 2 MB/s, as CDNs limit each connection."""
    yield from _nginx(tmp_path, certfile, "limit_rate 2m;")


def test_small_and_large_files_come_over_http2(
    make_queue: QueueFactory, web: Nginx, downloads: Path
) -> None:
    files = {f"small{i}.bin": payload(20_000, i) for i in range(5)}
    files["large.bin"] = payload(6 * MiB, 99)
    for name, data in files.items():
        (web.root / name).write_bytes(data)
    queue = make_queue()
    jobs = [queue.download(web.url(name), downloads) for name in files]
    assert queue.join(LONG)
    assert all(job.complete for job in jobs), [job.error for job in jobs]
    for name, data in files.items():
        assert file_sha256(downloads / name) == sha256(data)
    protocols = {line.split()[0] for line in web.log()}
    assert protocols == {"HTTP/2.0"}


def test_many_small_files_from_one_http2_host_share_its_connections(
    make_queue: QueueFactory, web: Nginx, downloads: Path
) -> None:
    files = {f"s{i:03d}.bin": payload(16_384, i) for i in range(120)}
    for name, data in files.items():
        (web.root / name).write_bytes(data)
    queue = make_queue(max_parallel_dl=4)
    jobs = [queue.download(web.url(name), downloads) for name in files]
    assert queue.join(LONG)
    assert all(job.complete for job in jobs), [job.error for job in jobs]
    for name, data in files.items():
        assert file_sha256(downloads / name) == sha256(data)
    assert len(web.log()) == len(files)
    # Multiplexed as curl does: the first answer says HTTP/2, and every file goes over the
    # one connection (the engine of worker threads opened one a worker, and more).
    assert len(web.connections()) == 1, web.connections()


def test_a_slow_http2_server_gets_several_connections(
    make_queue: QueueFactory, slow_web: Nginx, downloads: Path
) -> None:
    data = payload(8 * MiB)
    (slow_web.root / "big.bin").write_bytes(data)
    queue = make_queue(max_connections_per_download=4)
    job = queue.download(slow_web.url("big.bin"), downloads)
    assert queue.wait_for_job(job, LONG).complete, job.error
    assert file_sha256(downloads / "big.bin") == sha256(data)
    ranged = [line for line in slow_web.log() if line.split()[-1].startswith("bytes=")]
    assert len(ranged) >= 2
    assert all(line.startswith("HTTP/2.0 206") for line in ranged)


def test_http2_can_be_turned_off(make_queue: QueueFactory, web: Nginx, downloads: Path) -> None:
    (web.root / "one.bin").write_bytes(b"one")
    queue = make_queue(http2=False)
    job = queue.download(web.url("one.bin"), downloads)
    assert queue.wait_for_job(job, LONG).complete
    assert [line.split()[0] for line in web.log()] == ["HTTP/1.1"]
