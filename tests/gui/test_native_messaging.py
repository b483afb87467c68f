"""The native messaging protocol (issue 16's first piece): framing, bad and huge messages, a
closed pipe, and requests checked field by field."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys

import pytest

from fetchq_gui.native_messaging import (
    MAX_INCOMING,
    BrowserRequest,
    ProtocolError,
    parse_request,
    read_message,
    write_message,
)


def framed(payload: bytes, length: int | None = None) -> bytes:
    return struct.pack("=I", len(payload) if length is None else length) + payload


def test_messages_go_both_ways_in_order() -> None:
    out = io.BytesIO()
    assert write_message(out, {"type": "ping", "text": "héllo"})
    assert write_message(out, [1, 2])
    stream = io.BytesIO(out.getvalue())
    assert read_message(stream) == {"type": "ping", "text": "héllo"}
    assert read_message(stream) == [1, 2]
    assert read_message(stream) is None  # the browser closed the pipe between messages
    (length,) = struct.unpack("=I", out.getvalue()[:4])  # the machine's byte order
    assert json.loads(out.getvalue()[4 : 4 + length]) == {"type": "ping", "text": "héllo"}


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x05\x00", "inside a message's length"),
        (framed(b'{"a":1}', 50), "after 7 of a message's 50 bytes"),
        (framed(b"{not json"), "not JSON"),
        (framed(b"\xff\xfe"), "not JSON"),
    ],
)
def test_a_broken_message_is_refused_with_a_reason(data: bytes, words: str) -> None:
    with pytest.raises(ProtocolError, match=words):
        read_message(io.BytesIO(data))


class _Counting(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.asked = 0

    def read(self, size: int | None = -1) -> bytes:
        self.asked += size if size and size > 0 else 0
        return super().read(size)


def test_a_huge_message_is_refused_before_its_body_is_read() -> None:
    stream = _Counting(framed(b"", MAX_INCOMING + 1))
    with pytest.raises(ProtocolError, match="over the"):
        read_message(stream)
    assert stream.asked == 4  # only the length


def test_a_closed_pipe_on_write_is_not_an_error() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "wb", buffering=0) as stream:
        assert write_message(stream, {"type": "ok"}) is False
    closed = io.BytesIO()
    closed.close()
    assert write_message(closed, {"type": "ok"}) is False


def test_a_reply_over_the_browsers_limit_is_refused() -> None:
    with pytest.raises(ProtocolError, match="limit"):
        write_message(io.BytesIO(), {"x": "a" * (1 << 20)})


def test_a_real_pipe_between_processes() -> None:
    """A child process writes as a browser would; the parent reads the framing as sent."""
    code = (
        "import sys; from fetchq_gui.native_messaging import write_message\n"
        "write_message(sys.stdout.buffer, {'type': 'download', 'url': 'https://example.org/a'})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=60, check=True
    )
    assert read_message(io.BytesIO(result.stdout)) == {
        "type": "download",
        "url": "https://example.org/a",
    }


def test_a_download_request_is_checked_field_by_field() -> None:
    request = parse_request(
        {
            "type": "download",
            "url": "https://example.org/files/a.iso",
            "referrer": "https://example.org/page",
            "filename": "a.iso",
            "userAgent": "Mozilla/5.0",
            "cookies": [{"name": "session", "value": "s3cret"}],
        }
    )
    assert isinstance(request, BrowserRequest)
    assert request.origin == ("https", "example.org", None)
    assert request.cookies[0].value == "s3cret"
    assert "s3cret" not in repr(request)  # never in a log line


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ([], "JSON object"),
        ({"type": "exec", "url": "https://x.org/"}, "unknown request type"),
        ({"type": "download"}, "url is missing"),
        ({"type": "download", "url": "javascript:alert(1)"}, "not an http"),
        ({"type": "download", "url": "file:///etc/passwd"}, "not an http"),
        ({"type": "download", "url": "https://x.org/a\nb"}, "control characters"),
        ({"type": "download", "url": "https://x.org/" + "a" * 9000}, "longer than"),
        ({"type": "download", "url": "https://x.org/", "filename": "../../.bashrc"}, "a name"),
        (
            {"type": "download", "url": "https://x.org/", "referrer": "chrome://settings"},
            "referrer",
        ),
        ({"type": "download", "url": "https://x.org/", "cookies": "a=b"}, "cookies must be"),
        (
            {
                "type": "download",
                "url": "https://x.org/",
                "cookies": [{"name": "a=b", "value": "c"}],
            },
            "each cookie",
        ),
        ({"type": "download", "url": 42}, "url must be text"),
        ({"type": "download", "url": "https://x.org/", "size": -1}, "size must be"),
        ({"type": "download", "url": "https://x.org/", "size": "12"}, "size must be"),
        ({"type": "download", "url": "https://x.org/", "size": True}, "size must be"),
    ],
)
def test_a_request_fetchq_does_not_take_is_refused(message: object, words: str) -> None:
    with pytest.raises(ProtocolError, match=words):
        parse_request(message)


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ({"filename": "chosen.iso"}, "chosen.iso"),
        ({"url": "https://example.org/isos/ubuntu%2026.iso?x=1"}, "ubuntu 26.iso"),
        ({"url": "https://example.org/"}, "example.org"),
    ],
)
def test_a_request_has_a_name_to_show_before_the_server_names_the_file(
    message: dict[str, str], shown: str
) -> None:
    request = parse_request({"type": "download", "url": "https://example.org/a.bin", **message})
    assert request.shown_name == shown
