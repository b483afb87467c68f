"""A link a web page hands fetchq through the browser extension (issue 24): it may not reach a
port browsers block, nor, from a page on the internet, this computer or its network. The check
is :func:`parse_request`'s, which the browser helper runs before it answers the extension and
the app runs again on what reaches its socket, so a message that skips the extension's own
code meets it all the same."""

from __future__ import annotations

from typing import Optional

import pytest

from fetchq_gui.browser_host import answer
from fetchq_gui.native_messaging import BrowserRequest, ProtocolError, parse_request

PUBLIC_PAGE = "http://example.test/downloads"


def download(url: str, referrer: Optional[str] = None, **fields: object) -> dict[str, object]:
    message: dict[str, object] = {"type": "download", "url": url, **fields}
    if referrer is not None:
        message["referrer"] = referrer
    return message


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/x",
        "http://127.1.2.3/x",
        "http://[::1]:8080/x",
        "http://0.0.0.0:8080/x",
        "http://localhost:8080/x",
        "http://LOCALHOST./x",
        "http://admin.localhost/x",
        "http://%6c%6fcalhost/x",  # percent-encoded, as a browser would decode it
        "http://2130706433/x",  # 127.0.0.1 as one number
        "http://0x7f.1/x",  # and in hex, as browsers and libcurl read it
        "http://0177.0.0.1/x",  # and in octal
        "http://[::ffff:127.0.0.1]/x",  # mapped into IPv6
        "http://10.0.0.1/x",
        "http://172.16.0.1/x",
        "http://172.31.255.254/x",
        "http://192.168.1.1/cgi-bin/reboot",
        "http://169.254.169.254/latest/meta-data/",  # a cloud machine's metadata
        "http://[fc00::1]/x",
        "http://[fd12:3456::1]/x",
        "http://[fe80::1%25eth0]/x",
        "ftp://192.168.1.10/share/file.iso",
    ],
)
def test_a_page_on_the_internet_may_not_send_fetchq_to_this_computer_or_its_network(
    url: str,
) -> None:
    with pytest.raises(ProtocolError, match="add the link in fetchq yourself"):
        parse_request(download(url, PUBLIC_PAGE))
    with pytest.raises(ProtocolError, match="a page that does not say"):
        parse_request(download(url))  # a page that sends no referrer is no better


def test_a_page_on_the_local_network_may_not_send_fetchq_to_this_computer() -> None:
    with pytest.raises(ProtocolError, match="an address on this computer"):
        parse_request(download("http://127.0.0.1:631/admin", "http://192.168.1.5/"))


@pytest.mark.parametrize(
    ("url", "referrer"),
    [
        ("http://127.0.0.1:8080/files/big.bin", "http://127.0.0.1:8080/page.html"),  # the e2e
        ("http://localhost:3000/build.zip", "http://127.0.0.1:3000/"),
        ("http://192.168.1.6/x.iso", "http://127.0.0.1:8080/"),  # from here to the network
        ("http://192.168.1.6/x.iso", "http://192.168.1.5/nas"),
        ("http://[fe80::2]/x.iso", "http://10.1.2.3/"),
        ("https://example.org/x.iso", PUBLIC_PAGE),  # the internet from anywhere
        ("https://example.org/x.iso", "http://127.0.0.1/"),
        ("https://172.32.0.1/x.iso", PUBLIC_PAGE),  # just outside 172.16/12
        ("https://example.org:8443/x.iso", PUBLIC_PAGE),
        ("ftp://example.org/pub/x.iso", PUBLIC_PAGE),  # ftp's own ports stay open to ftp
        ("ftp://example.org:21/pub/x.iso", PUBLIC_PAGE),
        ("ftps://example.org:990/pub/x.iso", PUBLIC_PAGE),
    ],
)
def test_a_link_in_its_own_space_or_a_more_public_one_is_taken(url: str, referrer: str) -> None:
    assert parse_request(download(url, referrer)).url == url


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org:6000/x",  # X11
        "http://example.org:25/x",  # SMTP
        "http://example.org:22/x",
        "http://example.org:21/x",  # FTP's port is for ftp: links only
        "https://127.0.0.1:6667/x",  # even from a page on the same machine
        "ftp://example.org:25/x",
        "http://example.org:0/x",
    ],
)
def test_a_port_browsers_block_is_refused_whoever_started_the_download(url: str) -> None:
    for started_by in ("page", "user"):
        with pytest.raises(ProtocolError, match="port"):
            parse_request(download(url, "http://127.0.0.1/", startedBy=started_by))


def test_a_link_the_user_picked_in_the_menu_may_go_to_the_local_network() -> None:
    request = parse_request(download("http://192.168.1.5/nas/x.iso", PUBLIC_PAGE, startedBy="user"))
    assert request.started_by == "user"
    assert parse_request(request.to_message()) == request
    with pytest.raises(ProtocolError, match="startedBy"):
        parse_request(download("https://example.org/", startedBy="the user, honest"))


@pytest.mark.parametrize("host", ["1.2.3.4.5", "256.0.0.1", "08.0.0.1", "foo.123"])
def test_a_host_that_ends_in_a_number_but_is_no_address_is_refused(host: str) -> None:
    with pytest.raises(ProtocolError):
        parse_request(download(f"http://{host}/x", PUBLIC_PAGE))


class _App:
    def __init__(self) -> None:
        self.delivered: list[BrowserRequest] = []

    def deliver(self, request: BrowserRequest) -> Optional[str]:
        self.delivered.append(request)
        return None

    def running(self) -> bool:
        return True


def test_the_extension_is_told_why_and_the_app_never_sees_the_link() -> None:
    """The extension shows the reason on its button and lets the browser's own download go on."""
    app = _App()
    reply = answer(download("http://127.0.0.1:8080/x", PUBLIC_PAGE), app)
    assert reply["ok"] is False
    assert "a page on example.test may not send fetchq to 127.0.0.1" in str(reply["error"])
    assert app.delivered == []


def test_where_a_link_goes_is_read_as_fetchq_connects() -> None:
    """``http://127.0.0.1\\@example.org/`` connects to 127.0.0.1 (WHATWG, as browsers and the
    transport read it); urlsplit reads example.org, and let it through from a public page."""
    with pytest.raises(ProtocolError, match=r"may not send fetchq to 127\.0\.0\.1"):
        parse_request(download("http://127.0.0.1\\@example.org/x", PUBLIC_PAGE))
    # ... and its port is the one fetchq connects to (80), not the 6000 urlsplit reads
    request = parse_request(download("http://example.org\\@example.org:6000/x", PUBLIC_PAGE))
    assert request.url.startswith("http://example.org")


def test_a_link_fetchq_cannot_read_is_refused_even_from_the_menu() -> None:
    with pytest.raises(ProtocolError, match="cannot read where this link goes"):
        parse_request(download("http://foo.123/x", PUBLIC_PAGE, startedBy="user"))
