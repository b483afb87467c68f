"""Numbers and ranges in headers: an ASCII-digit grammar with a bound, tested without a network."""

from __future__ import annotations

import pytest

from fetchq import ResponseError
from fetchq._response import ContentRange, content_length, parse_content_range, parse_count
from fetchq._retry import parse_retry_after
from fetchq._transport import Headers, ResponseHead
from fetchq._url import parse_url


def head(**fields: str) -> ResponseHead:
    pairs = [(name.replace("_", "-"), value) for name, value in fields.items()]
    return ResponseHead(200, "OK", Headers(pairs), parse_url("http://example.org/"))


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("  42 ", 42), ("123456789012345678", 123456789012345678)],
)
def test_counts_that_are_numbers(text: str, value: int) -> None:
    assert parse_count(text) == value


@pytest.mark.parametrize("text", ["", "¹", "٣", "1.5", "-1", "+1", "1e3", "0x10", "9" * 19, "1 2"])
def test_counts_that_are_not(text: str) -> None:
    assert parse_count(text) is None


def test_content_range_forms() -> None:
    assert parse_content_range("bytes 0-99/1000") == ContentRange(0, 100, 1000)
    assert parse_content_range("bytes 10-19/*") == ContentRange(10, 20, None)
    assert parse_content_range("bytes */1000") == 1000
    for bad in ("bytes 5-4/10", "bytes 0-10/5", "items 0-1/2", "bytes ¹-2/3", "bytes 0-1/²"):
        assert parse_content_range(bad) is None


def test_content_length() -> None:
    assert content_length(head(content_length="12")) == 12
    assert content_length(head(content_length="12, 12")) == 12  # repeated, the same: one
    assert content_length(head()) is None
    assert content_length(head(content_length="5", transfer_encoding="chunked")) is None
    for bad in ("¹", "5, 6", "9" * 5000, "-3", "abc"):
        with pytest.raises(ResponseError, match="invalid Content-Length"):
            content_length(head(content_length=bad))


def test_retry_after_takes_ascii_digits_or_dates_only() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("²") is None
    assert parse_retry_after("9" * 400) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


def test_headers_are_looked_up_in_any_case_and_repeated_ones_joined() -> None:
    headers = Headers([("ETag", '"a"'), ("Vary", "x"), ("vary", "y")])
    assert headers["etag"] == '"a"'
    assert headers.get("VARY") == "x, y"
    assert "Content-Length" not in headers
