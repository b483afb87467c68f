"""History that does not weigh (issue 17, item 8): with ``history_in_memory`` only the newest
finished downloads come back into memory; the rest stay in the journal, searchable."""

from __future__ import annotations

from pathlib import Path

from fetchq import DownloadJob, DownloadJobStatus, DownloadQueueService
from fetchq._journal import Journal, JournalRecord
from fetchq.testing import TestServer
from tests.helpers import LONG, QueueFactory


def finished_history(journal: Path, downloads: Path, count: int) -> None:
    """``count`` completed downloads, written as a queue writes them."""
    records = []
    for number in range(1, count + 1):
        job = DownloadJob(source=f"https://example.org/f/{number}.bin", dest=downloads)  # type: ignore[arg-type]
        job.id, job.status = number, DownloadJobStatus.COMPLETED
        job.download_path = downloads / f"file-{number}.bin"
        records.append(JournalRecord(number, 1, "completed", False, job.model_dump_json()))
    opened = Journal(journal)
    opened.apply(records)
    opened.close()


def test_only_the_newest_finished_come_back_and_new_ids_do_not_collide(
    make_queue: QueueFactory, server: TestServer, downloads: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"
    finished_history(journal, downloads, 300)
    queue = make_queue(journal=journal, history_in_memory=50)
    kept = queue.list_jobs()
    assert [job.id for job in kept] == list(range(251, 301))
    new = queue.download(server.add("/new.bin", b"n"), downloads)
    assert new.id == 301
    assert queue.wait_for_job(new, LONG).complete
    queue.close()
    again = make_queue(journal=journal, history_in_memory=1000)
    assert len(again.list_jobs()) == 301  # nothing was lost from the journal


def test_history_is_searched_in_the_journal_newest_first(
    make_queue: QueueFactory, downloads: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"
    finished_history(journal, downloads, 300)
    queue = make_queue(journal=journal, history_in_memory=50)
    page = queue.history(limit=10)
    assert [job.id for job in page] == list(range(250, 240, -1))  # not those in memory
    assert [job.id for job in queue.history(offset=10, limit=3)] == [240, 239, 238]
    found = queue.history("FILE-12")  # any case, in the file path
    assert sorted(job.id for job in found) == [12, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129]
    assert [job.id for job in queue.history("f/7.bin")] == [7]  # in the link
    assert queue.history("100%_") == []  # LIKE's wildcards are plain text here


def test_forgetting_and_pruning_reach_the_history_in_the_journal(
    make_queue: QueueFactory, downloads: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"
    finished_history(journal, downloads, 100)
    queue = make_queue(journal=journal, history_in_memory=10)
    queue.forget_history([5, 95])
    assert 5 not in [job.id for job in queue.history(limit=500)]
    assert 95 not in [job.id for job in queue.list_jobs()]
    queue.prune_jobs()
    assert queue.history(limit=500) == []
    queue.close()
    assert DownloadQueueService(journal=journal).list_jobs() == []
