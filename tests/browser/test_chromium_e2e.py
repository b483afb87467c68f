"""End to end in a real Chromium: a page on 127.0.0.1 sets a cookie and starts a download; the
extension takes it from the browser, the native host starts fetchq, and fetchq downloads it
with the page's cookie, while the browser keeps nothing of it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fetchq.testing import TestServer
from tests.browser.chromium import (
    build_extension,
    chromium_binary,
    install_integration,
    processes_mentioning,
    start_chromium,
    stop_processes,
)
from tests.helpers import payload, sha256, start_xvfb

BINARY = chromium_binary()
if BINARY is None and os.environ.get("FETCHQ_REQUIRE_BROWSER"):
    pytest.fail("FETCHQ_REQUIRE_BROWSER is set but Chromium is not installed", pytrace=False)
pytestmark = [
    pytest.mark.skipif(BINARY is None, reason="needs Debian's chromium package"),
    pytest.mark.timeout(120),
]

COOKIE = "sid=e2e-cookie-5150"
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>A page with a download</title></head>
<body><a id="go" href="/files/big.bin">big.bin</a>
<script>document.getElementById("go").click()</script></body></html>
"""


@pytest.fixture
def display() -> Iterator[str]:
    xvfb, name = start_xvfb()
    try:
        yield name
    finally:
        xvfb.terminate()
        xvfb.wait(10)


def wait_for(what: str, check: object, deadline: float, explain: object) -> None:
    assert callable(check)
    assert callable(explain)
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)  # other processes' state: polled, bounded by the deadline
    raise AssertionError(f"{what}; {explain()}")


def test_a_download_started_in_chromium_is_taken_by_fetchq_with_its_cookie(
    tmp_path: Path, display: str
) -> None:
    home, profile = tmp_path / "home", tmp_path / "fetchq-profile"
    fetchq_downloads, browser_downloads = tmp_path / "fetchq-downloads", tmp_path / "browser"
    for folder in (home, profile, fetchq_downloads, browser_downloads):
        folder.mkdir()
    (profile / "settings.ini").write_text(f"[downloads]\nfolder={fetchq_downloads}\n")
    extension = build_extension(tmp_path / "extension")["chromium"]
    installed = install_integration(home, profile)
    assert "Chromium: " in installed, installed

    data = payload(3 * 1024 * 1024)  # over the 1 MiB the extension takes by default
    with TestServer() as server:
        server.add("/page.html", PAGE.encode(), content_type="text/html",
                   headers={"Set-Cookie": f"{COOKIE}; Path=/"})  # fmt: skip
        server.add(
            "/files/big.bin",
            data,
            rate=1_500_000,  # the browser cannot finish it before the extension pauses it
            content_disposition='attachment; filename="big.bin"',
        )
        env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
        env.update(DISPLAY=display, QT_QPA_PLATFORM="offscreen")
        assert BINARY is not None
        browser = start_chromium(BINARY, home, extension, browser_downloads, env)
        try:
            deadline = time.monotonic() + 90
            port = browser.devtools(deadline)
            browser.wait_for_extension(port, deadline)
            page = server.url("/page.html")
            browser.open_tab(port, page)
            target = fetchq_downloads / "big.bin"
            wait_for(
                "fetchq did not download the file",
                lambda: target.is_file() and target.stat().st_size == len(data)
                and not (fetchq_downloads / "big.bin.part").exists(),
                deadline,
                lambda: f"requests: {[(r.path, r.headers) for r in server.requests]}\n"
                f"browser's folder: {list(browser_downloads.iterdir())}\n{browser.log_tail()}",
            )  # fmt: skip
        finally:
            browser.stop()
            stop_processes(processes_mentioning(str(profile)))

    assert sha256(target.read_bytes()) == sha256(data)
    fetched = [r for r in server.requests_for("/files/big.bin")]
    by_fetchq = [r for r in fetched if r.header("Accept-Encoding") == "identity"]
    by_browser = [r for r in fetched if r not in by_fetchq]
    assert by_fetchq, [r.headers for r in fetched]
    assert by_browser, "the browser never started the download: nothing was captured"
    for request in by_fetchq:
        assert request.header("Cookie") == COOKIE  # the page's cookie, sent by fetchq
        assert "Chrome/" in (request.header("User-Agent") or "")  # the browser's user agent
        assert request.header("Referer") == page
    assert list(browser_downloads.iterdir()) == [], "the browser kept a copy"
