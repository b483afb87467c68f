"""Hours of the week (issue 17, item 3): when a schedule holds, and when that changes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from fetchq import DownloadJobStatus, Hours
from fetchq.testing import TestServer
from tests.helpers import LONG, QueueFactory

WEEKDAYS = frozenset({0, 1, 2, 3, 4})


@pytest.mark.parametrize(
    ("hours", "moment", "inside"),
    [
        (Hours.parse("09:00", "17:00"), datetime(2026, 11, 30, 9, 0), True),
        (Hours.parse("09:00", "17:00"), datetime(2026, 11, 30, 17, 0), False),
        (
            Hours.parse("09:00", "17:00", frozenset({0, 1, 2, 3, 4})),
            datetime(2026, 12, 5, 12, 0),
            False,
        ),
        (Hours.parse("22:00", "06:00"), datetime(2026, 11, 30, 23, 30), True),
        (Hours.parse("22:00", "06:00"), datetime(2026, 12, 1, 5, 59), True),
        (Hours.parse("22:00", "06:00"), datetime(2026, 12, 1, 6, 0), False),
        # Friday night only: Saturday's early hours belong to Friday, not Sunday's to Saturday
        (Hours.parse("22:00", "06:00", frozenset({4})), datetime(2026, 12, 5, 2, 0), True),
        (Hours.parse("22:00", "06:00", frozenset({4})), datetime(2026, 12, 6, 2, 0), False),
        (Hours.parse("00:00", "00:00", frozenset({6})), datetime(2026, 12, 6, 13, 0), True),
    ],
)
def test_hours_contain_the_moments_they_should(
    hours: Hours, moment: datetime, inside: bool
) -> None:
    assert hours.contains(moment) is inside


def test_the_next_change_is_the_next_boundary_that_flips() -> None:
    work = Hours.parse("09:00", "17:00", WEEKDAYS)
    assert work.next_change(datetime(2026, 11, 30, 8, 15)) == datetime(2026, 11, 30, 9, 0)
    assert work.next_change(datetime(2026, 11, 30, 9, 0)) == datetime(2026, 11, 30, 17, 0)
    assert work.next_change(datetime(2026, 12, 4, 18, 0)) == datetime(2026, 12, 7, 9, 0)
    assert Hours.parse("00:00", "00:00").next_change(datetime(2026, 12, 1)) is None


@pytest.mark.parametrize(
    ("start", "end", "days", "words"),
    [("9am", "17:00", None, "like 09:00"), ("09:00", "17:00", frozenset(), "at least one day")],
)
def test_bad_hours_say_why(start: str, end: str, days: frozenset[int], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Hours.parse(start, end, days)


def test_a_held_queue_starts_nothing_until_released(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    queue = make_queue()
    queue.held = True
    job = queue.download(server.add("/later.bin", b"x" * 1000), downloads)
    assert not queue.join(0.3)  # held: the job waits (join times out instead of finishing)
    assert job.status == DownloadJobStatus.WAITING
    assert server.requests == []
    queue.held = False
    assert queue.wait_for_job(job, LONG).complete, job.error
