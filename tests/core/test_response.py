"""Numbers and ranges in headers: an ASCII-digit grammar with a bound, tested without a network."""

from __future__ import annotations

import pytest

from fetchq import ResponseError
from fetchq._exceptions import HTTPStatusError, describe_error
from fetchq._response import (
    Body,
    ContentRange,
    FileChanged,
    NotSatisfiable,
    SegmentAnswer,
    content_length,
    parse_content_range,
    parse_count,
    read_416,
    read_first_answer,
    read_segment_answer,
)
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


def answer(status: int, **fields: str) -> ResponseHead:
    pairs = [(name.replace("_", "-"), value) for name, value in fields.items()]
    return ResponseHead(status, "", Headers(pairs), parse_url("http://example.org/f"))


def test_a_whole_file_answer() -> None:
    body = read_first_answer(answer(200, content_length="10", accept_ranges="bytes"), None, None)
    assert body == Body(0, 10, 10, True, True)
    # A 200 to a Range request: the whole file again (the caller forgets what it had).
    assert read_first_answer(answer(200, content_length="10"), (5, None), 10).fresh


def test_a_range_answer_is_checked_against_the_request() -> None:
    ok = answer(206, content_range="bytes 5-9/10", content_length="5")
    assert read_first_answer(ok, (5, None), 10) == Body(5, 10, 10, False, True)
    with pytest.raises(ResponseError, match="does not match"):
        read_first_answer(answer(206, content_range="bytes 0-9/10"), (5, None), 10)
    with pytest.raises(ResponseError, match="without Range"):
        read_first_answer(ok, None, 10)
    with pytest.raises(FileChanged):  # the total is not the one recorded
        read_first_answer(answer(206, content_range="bytes 5-9/12"), (5, None), 10)


def test_statuses_we_cannot_use_carry_the_servers_reason() -> None:
    with pytest.raises(HTTPStatusError) as raised:
        read_first_answer(
            ResponseHead(404, "NOT FOUND", Headers(), parse_url("http://e.org/x")), None, None
        )
    assert str(raised.value) == "NOT FOUND"
    assert raised.value.status_code == 404
    with pytest.raises(HTTPStatusError, match="Service Unavailable"):  # HTTP/2 sends no reason
        read_first_answer(answer(503), None, None)


def test_a_refused_status_becomes_requests_own_http_error() -> None:
    import requests

    error = HTTPStatusError("NOT FOUND", 404, "http://e.org/x").as_http_error()
    assert type(error) is requests.HTTPError
    assert (str(error), error.status_code) == ("NOT FOUND", 404)  # type: ignore[attr-defined]
    assert error.response is not None
    assert (error.response.status_code, error.response.reason) == (404, "NOT FOUND")
    assert error.response.url == "http://e.org/x"
    assert describe_error(HTTPStatusError("Gone", 410)) == "HTTPError(Gone)"


def test_a_segment_answer() -> None:
    validators = ('"v1"', None)
    assert read_segment_answer(
        answer(206, content_range="bytes 100-199/1000"), (100, 200), 1000, validators
    ) == (SegmentAnswer.RANGE, 200)
    assert read_segment_answer(answer(200, etag='"v2"'), (100, 200), 1000, validators) == (
        SegmentAnswer.CHANGED,
        0,
    )
    assert read_segment_answer(answer(200, etag='"v1"'), (100, 200), 1000, validators) == (
        SegmentAnswer.IGNORED,
        0,
    )
    with pytest.raises(ResponseError):
        read_segment_answer(
            answer(206, content_range="bytes 0-99/1000"), (100, 200), 1000, validators
        )


def test_a_416() -> None:
    whole = answer(416, content_range="bytes */1000")
    assert read_416(whole, (1000, None), lambda total: True) == (NotSatisfiable.COMPLETE, 1000)
    assert read_416(whole, (500, None), lambda total: False) == (NotSatisfiable.RETRY, 1000)
    assert read_416(whole, (2000, None), lambda total: False) == (NotSatisfiable.RESTART, None)
    assert read_416(answer(416), (10, None), lambda total: True) == (NotSatisfiable.RESTART, None)
