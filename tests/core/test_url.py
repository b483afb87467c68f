"""URLs are parsed once, the WHATWG way, and what the transport gets carries no user info."""

from __future__ import annotations

import pytest

from fetchq import redact_url
from fetchq._url import UrlError, join_url, parse_url


def test_a_url_is_made_canonical() -> None:
    url = parse_url("HTTPS://User:p%40ss@Bücher.Example:443/a/../b%20c?q=1#fragment")
    assert url.origin == ("https", "xn--bcher-kva.example", 443)
    assert url.href == "https://xn--bcher-kva.example/b%20c?q=1"
    assert (url.username, url.password) == ("User", "p@ss")
    assert "p@ss" not in repr(url)
    assert "User" not in url.href


@pytest.mark.parametrize(
    ("text", "origin", "href"),
    [
        ("http://[::1]:8080/x", ("http", "::1", 8080), "http://[::1]:8080/x"),
        ("http://0x7f.1/x", ("http", "127.0.0.1", 80), "http://127.0.0.1/x"),
        (
            "ftp://files.example/pub/a.iso",
            ("ftp", "files.example", 21),
            "ftp://files.example/pub/a.iso",
        ),
        ("ftps://files.example/a", ("ftps", "files.example", 990), "ftps://files.example/a"),
        (
            "ftps://files.example:2121/a",
            ("ftps", "files.example", 2121),
            "ftps://files.example:2121/a",
        ),
        ("http://example.org", ("http", "example.org", 80), "http://example.org/"),
    ],
)
def test_hosts_ports_and_schemes(text: str, origin: tuple[str, str, int], href: str) -> None:
    url = parse_url(text)
    assert (url.origin, url.href) == (origin, href)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("file:///etc/passwd", "file: URLs are not supported"),
        ("javascript:alert(1)", "javascript: URLs are not supported"),
        ("gopher://example.org/", "gopher: URLs are not supported"),
        ("http://example.org:99999/", "not a valid URL"),
        ("http://exa mple.org/", "not a valid URL"),
        ("http://example.org:0/", "port 0"),
        ("not a url", "not a valid URL"),
    ],
)
def test_what_cannot_be_fetched_is_refused(text: str, message: str) -> None:
    with pytest.raises(UrlError, match=message):
        parse_url(text)


def test_a_backslash_in_a_redirect_is_a_slash_as_browsers_read_it() -> None:
    """The token leak: urlsplit saw host A in ``http://B\\@A/``, the connection went to B.
    Read once, the WHATWG way, the authority ends at the backslash: the host is B, and the
    origin check sees B too."""
    source = parse_url("http://127.0.0.1:8000/f.bin")
    hop = join_url(source, "http://127.0.0.1:9000\\@127.0.0.1:8000/x")
    assert hop.origin == ("http", "127.0.0.1", 9000)
    assert hop.origin != source.origin
    assert hop.href == "http://127.0.0.1:9000/@127.0.0.1:8000/x"


@pytest.mark.parametrize(
    ("location", "href"),
    [
        ("/other", "http://example.org/other"),
        ("../up", "http://example.org/up"),
        ("\\\\cdn.example\\file", "http://cdn.example/file"),
        ("//cdn.example/file", "http://cdn.example/file"),
        ("https://cdn.example/a\tb\nc", "https://cdn.example/abc"),
        ("  https://cdn.example/x  ", "https://cdn.example/x"),
    ],
)
def test_locations_resolve_as_browsers_resolve_them(location: str, href: str) -> None:
    assert join_url(parse_url("http://example.org/dir/file"), location).href == href


def test_a_location_never_brings_credentials() -> None:
    hop = join_url(parse_url("http://example.org/"), "http://evil:pw@cdn.example/x")
    assert (hop.username, hop.password) == ("", "")
    assert hop.href == "http://cdn.example/x"


@pytest.mark.parametrize(
    ("text", "port", "href"),
    [
        ("ftps://files.example:21/a", 21, "ftps://files.example:21/a"),
        ("FTPS://Files.Example:021/a", 21, "ftps://files.example:21/a"),
        ("ftps://u:p@files.example:21/a", 21, "ftps://files.example:21/a"),
        ("ftps://[::1]:21/a", 21, "ftps://[::1]:21/a"),
        ("ftps://files.example:80/a", 80, "ftps://files.example:80/a"),
        ("ftps://files.example:990/a", 990, "ftps://files.example/a"),
        ("ftps://files.example:/a", 990, "ftps://files.example/a"),
        ("ftp://files.example:21/a", 21, "ftp://files.example/a"),
    ],
)
def test_an_ftps_link_keeps_the_port_it_names(text: str, port: int, href: str) -> None:
    """21 is ftp's default, not ftps's: read as ftp (to parse the host as a host), ``:21`` was
    dropped and 990 filled in."""
    url = parse_url(text)
    assert (url.port, url.href) == (port, href)
    assert parse_url(url.href).origin == url.origin  # the round trip keeps it


def test_a_redirect_to_an_ftps_link_keeps_the_port_it_names() -> None:
    hop = join_url(parse_url("https://example.org/"), "ftps://files.example:21/a")
    assert hop.origin == ("ftps", "files.example", 21)


def test_a_redacted_ftps_link_keeps_the_port_it_names() -> None:
    assert redact_url("ftps://u:p@files.example:21/a") == "ftps://files.example:21/a"
