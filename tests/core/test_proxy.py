"""Proxies: from the environment and from settings, HTTP and SOCKS5, and what the guard sees."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from fetchq import DownloadJobStatus
from fetchq.testing import TestServer
from tests.helpers import LONG, SCHEMES, QueueFactory, payload
from tests.proxies import tunnel_proxy


@pytest.fixture(autouse=True)
def _no_system_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.mark.parametrize("scheme", ["https"])
def test_https_goes_through_a_connect_proxy_from_the_environment(
    make_queue: QueueFactory,
    server: TestServer,
    downloads: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = payload(300_000)
    server.add("/tunnelled.bin", data)
    with tunnel_proxy("http") as proxy:
        monkeypatch.setenv("https_proxy", proxy.url)
        queue = make_queue()
        job = queue.download(f"https://localhost:{server.port}/tunnelled.bin", downloads)
        assert queue.wait_for_job(job, LONG).complete, job.error
    assert (downloads / "tunnelled.bin").read_bytes() == data
    assert proxy.targets == [f"localhost:{server.port}"]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_socks5_proxy_from_the_settings_resolves_names_itself(
    make_queue: QueueFactory, server: TestServer, downloads: Path, scheme: str
) -> None:
    data = payload(50_000)
    server.add("/socks.bin", data)
    with tunnel_proxy("socks5") as proxy:
        queue = make_queue(proxy=proxy.url)
        # Only the proxy knows this name (it sends everything to loopback).
        url = f"{scheme}://fetchq-behind-proxy.invalid:{server.port}/socks.bin"
        if scheme == "https":  # the certificate names localhost, not the invented host
            url = f"https://localhost:{server.port}/socks.bin"
        job = queue.download(url, downloads)
        assert queue.wait_for_job(job, LONG).complete, job.error
    assert (downloads / "socks.bin").read_bytes() == data
    assert len(proxy.targets) == 1
    assert proxy.targets[0].endswith(f":{server.port}")


def test_no_proxy_in_the_settings_ignores_the_environment(
    make_queue: QueueFactory, server: TestServer, downloads: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add("/direct.bin", b"direct")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:1")  # nothing listens there
    queue = make_queue(proxy="")
    job = queue.download(server.url("/direct.bin"), downloads)
    assert queue.wait_for_job(job, LONG).complete, job.error


@pytest.mark.parametrize("target", ["127.0.0.1", "localhost"])
def test_the_guard_checks_the_target_behind_a_proxy(
    make_queue: QueueFactory, server: TestServer, downloads: Path, target: str
) -> None:
    """The proxy is the user's own (on loopback here): connecting to it is allowed, but the
    target is resolved and checked first, so an intranet name is refused all the same."""
    server.add("/internal.bin", b"secret")
    with tunnel_proxy("socks5") as proxy:
        queue = make_queue(proxy=proxy.url, allow_private_addresses=False)
        job = queue.download(f"http://{target}:{server.port}/internal.bin", downloads)
        queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert (job.error_type or "").startswith("UnsafeDownloadURLException(")
    assert proxy.targets == []
    assert server.requests == []


def test_the_guard_looks_a_name_up_off_the_engine_thread(
    make_queue: QueueFactory,
    server: TestServer,
    downloads: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Resolving a host behind a proxy blocks (DNS): it runs where blocking is allowed, never
    on the engine thread that moves every other download's bytes."""
    import fetchq._http

    threads: list[str] = []
    check = fetchq._http.check_resolved

    def recording(host: str, policy: object) -> None:
        threads.append(threading.current_thread().name)
        check(host, policy)  # type: ignore[arg-type]

    monkeypatch.setattr(fetchq._http, "check_resolved", recording)
    server.add("/internal.bin", b"secret")
    with tunnel_proxy("socks5") as proxy:
        queue = make_queue(proxy=proxy.url, allow_private_addresses=False)
        job = queue.download(f"http://localhost:{server.port}/internal.bin", downloads)
        queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR  # refused, as before
    assert threads
    assert "fetchq-engine" not in threads
