"""End to end in real browsers: a page on 127.0.0.1 sets cookies and starts a download; the
extension takes it from the browser, the native host starts fetchq, and fetchq downloads it
with the page's cookies (a SameSite=Strict one too: the page is on the file's site), user agent
and referrer, while the browser keeps nothing of it. A page on 127.0.0.1 may hand fetchq a link
to 127.0.0.1.

Chromium loads the extension unpacked; Firefox ESR installs it as a temporary add-on over
WebDriver BiDi. Both find the host through the manifests ``fetchq
--install-browser-integration`` wrote into a fresh home folder."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
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
from tests.browser.firefox import firefox_binary, start_firefox
from tests.helpers import payload, sha256

BINARIES = {"chromium": chromium_binary(), "firefox": firefox_binary()}
REQUIRED = bool(os.environ.get("FETCHQ_REQUIRE_BROWSER"))
pytestmark = pytest.mark.timeout(120)

COOKIE = "sid=e2e-cookie-5150"
STRICT_COOKIE = "strict=e2e-cookie-5151"  # same-site: the page and the file share a host
PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>A page with a download</title></head>
<body><a id="go" href="/files/big.bin">big.bin</a>
<script>document.cookie = "{STRICT_COOKIE}; SameSite=Strict; path=/";
document.getElementById("go").click()</script></body></html>
"""


@dataclass
class Browser:
    open: Callable[[str], None]
    stop: Callable[[], None]
    log_tail: Callable[[], str]
    agent: str
    """What its user agent holds."""


def start(name: str, home: Path, extension: Path, downloads: Path, env: dict[str, str]) -> Browser:
    binary = BINARIES[name]
    assert binary is not None
    deadline = time.monotonic() + 60
    if name == "chromium":
        chromium = start_chromium(binary, home, extension, downloads, env)
        try:
            port = chromium.devtools(deadline)
            chromium.wait_for_extension(port, deadline)
        except BaseException:
            chromium.stop()
            raise
        return Browser(
            lambda url: chromium.open_tab(port, url), chromium.stop, chromium.log_tail, "Chrome/"
        )
    firefox = start_firefox(binary, home, downloads, env)
    try:
        firefox.connect(deadline)
        firefox.install(extension)  # returns once the add-on has started
    except BaseException:
        firefox.stop()
        raise
    return Browser(firefox.open, firefox.stop, firefox.log_tail, "Firefox/")


def wait_for(
    what: str, check: Callable[[], bool], deadline: float, explain: Callable[[], str]
) -> None:
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)  # other processes' state: polled, bounded by the deadline
    raise AssertionError(f"{what}; {explain()}")


@pytest.mark.parametrize("name", ["chromium", "firefox"])
def test_a_download_started_in_the_browser_is_taken_by_fetchq_with_its_cookie(
    name: str, tmp_path: Path, xvfb_display: str
) -> None:
    if BINARIES[name] is None:
        if REQUIRED:
            pytest.fail(f"FETCHQ_REQUIRE_BROWSER is set but {name} is not installed")
        pytest.skip(f"needs Debian's {name} package")
    home, profile = tmp_path / "home", tmp_path / "fetchq-profile"
    fetchq_downloads, browser_downloads = tmp_path / "fetchq-downloads", tmp_path / "browser"
    for folder in (home, profile, fetchq_downloads, browser_downloads):
        folder.mkdir()
    (profile / "settings.ini").write_text(f"[downloads]\nfolder={fetchq_downloads}\n")
    extension = build_extension(tmp_path / "extension")[name]
    installed = install_integration(home, profile)
    assert ("Firefox: " if name == "firefox" else "Chromium: ") in installed, installed

    data = payload(3 * 1024 * 1024)  # over the 1 MiB the extension takes by default
    target = fetchq_downloads / "big.bin"
    with TestServer() as server:
        server.add("/page.html", PAGE.encode(), content_type="text/html",
                   headers={"Set-Cookie": f"{COOKIE}; Path=/"})  # fmt: skip
        server.add(
            "/files/big.bin",
            data,
            rate=1_500_000,  # the browser cannot finish it before the extension pauses it
            content_disposition='attachment; filename="big.bin"',
        )
        page = server.url("/page.html")
        env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
        env.update(DISPLAY=xvfb_display, QT_QPA_PLATFORM="offscreen")
        browser = start(name, home, extension, browser_downloads, env)
        try:
            browser.open(page)
            wait_for(
                "fetchq did not download the file",
                lambda: target.is_file() and target.stat().st_size == len(data)
                and not (fetchq_downloads / "big.bin.part").exists(),
                time.monotonic() + 60,
                lambda: f"requests: {[(r.path, r.headers) for r in server.requests]}\n"
                f"browser's folder: {list(browser_downloads.iterdir())}\n{browser.log_tail()}",
            )  # fmt: skip
        finally:
            browser.stop()
            stop_processes(processes_mentioning(str(profile)))

    assert sha256(target.read_bytes()) == sha256(data)
    fetched = server.requests_for("/files/big.bin")
    by_fetchq = [r for r in fetched if r.header("Accept-Encoding") == "identity"]
    assert by_fetchq, [r.headers for r in fetched]
    assert len(by_fetchq) < len(fetched), "the browser never started the download"
    for request in by_fetchq:
        sent = sorted((request.header("Cookie") or "").split("; "))
        assert sent == sorted([COOKIE, STRICT_COOKIE])  # the page's cookies, sent by fetchq
        assert browser.agent in (request.header("User-Agent") or "")  # the browser's own
        assert request.header("Referer") == page
    assert list(browser_downloads.iterdir()) == [], "the browser kept a copy"
