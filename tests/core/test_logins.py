"""HTTP logins (issue 17, item 2): a 401 leaves its challenge on the job, set_login() runs it
again with Basic or Digest as the server asked, to the source's origin only, never written."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from fetchq import DownloadJobStatus, DownloadQueueService, InvalidRequestError
from fetchq.testing import TestServer
from tests.helpers import LONG, QueueFactory, payload


@pytest.mark.parametrize("scheme", ["basic", "digest"])
@pytest.mark.parametrize("session", [False, True])
def test_a_401_names_the_login_and_set_login_gets_the_file(
    server: TestServer, downloads: Path, tmp_path: Path, scheme: str, session: bool
) -> None:
    data = payload(40_000)
    url = server.add("/private/report.pdf", data, auth=("ada", "s3cret pass", scheme))
    options = {"requests_session": requests.Session()} if session else {}
    journal = tmp_path / "journal.sqlite3"
    with DownloadQueueService(journal=journal, **options) as queue:  # type: ignore[arg-type]
        job = queue.download(url, downloads)
        queue.wait_for_job(job, LONG)
        assert job.status == DownloadJobStatus.ERROR
        assert job.auth_challenge is not None
        assert job.auth_challenge.lower().startswith(scheme)
        queue.set_login(job, "ada", "s3cret pass")
        assert queue.wait_for_job(job, LONG).complete, job.error
        assert queue.id_to_job(job.id).auth_challenge is None  # answered
    assert (downloads / "report.pdf").read_bytes() == data
    last = server.requests_for("/private/report.pdf")[-1].header("Authorization") or ""
    assert last.lower().startswith(scheme)
    if scheme == "digest":
        assert "s3cret" not in last  # Digest sends a hash, never the password
    written = b"".join(p.read_bytes() for p in tmp_path.glob("journal.sqlite3*"))
    assert b"s3cret pass" not in written
    assert "s3cret" not in repr(job)


def test_a_wrong_password_gets_the_challenge_again(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    url = server.add("/private/a.bin", b"x", auth=("ada", "right", "basic"))
    queue = make_queue()
    job = queue.download(url, downloads)
    queue.wait_for_job(job, LONG)
    queue.set_login(job, "ada", "wrong")
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert job.auth_challenge == 'Basic realm="fetchq test"'


def test_a_login_given_up_front_never_follows_a_redirect_elsewhere(
    make_queue: QueueFactory, server: TestServer, other_server: TestServer, downloads: Path
) -> None:
    elsewhere = other_server.add("/cdn/a.bin", b"public")
    url = server.add("/start", redirect=elsewhere)
    queue = make_queue()
    job = queue.download(url, downloads, login=("ada", "pw"))
    assert queue.wait_for_job(job, LONG).complete, job.error
    assert other_server.requests[0].header("Authorization") is None


@pytest.mark.parametrize(
    ("login", "words"),
    [
        (("", "pw"), "user name must not be empty"),
        (("a:b", "pw"), "hold ':'"),
        (("ada", "pw\r\nX-Evil: 1"), "control characters"),
        (("ada",), "a login is a"),
    ],
)
def test_a_bad_login_is_refused_when_given(
    server: TestServer, downloads: Path, login: object, words: str
) -> None:
    with DownloadQueueService() as queue, pytest.raises(InvalidRequestError, match=words):
        queue.download(server.add("/a", b"x"), downloads, login=login)  # type: ignore[arg-type]
