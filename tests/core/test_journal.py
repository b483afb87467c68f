"""The journal: what is restored and how, tokens kept out, bad files refused, one process only."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fetchq import (
    DownloadJob,
    DownloadJobStatus,
    DownloadQueueService,
    JobCallbacks,
    JournalCorruptError,
    JournalFormatError,
    JournalLockedError,
)
from fetchq.testing import TestServer
from tests.helpers import LONG, QueueFactory, file_sha256, payload, sha256, wait_until

SECRET = "journal-secret-token-77"


def test_restore_lists_finished_jobs_and_requeues_the_rest_in_priority_order(
    make_queue: QueueFactory, server: TestServer, downloads: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"
    gate = threading.Event()
    held = server.add("/held.bin", payload(200_000), gate=gate)
    first = make_queue(max_parallel_dl=1, journal=journal)
    done = first.download(server.add("/done.bin", b"done"), downloads / "done.bin")
    first.wait_for_job(done, LONG)
    failed = first.download(server.url("/missing"), downloads / "missing.bin")
    first.wait_for_job(failed, LONG)
    blocker = first.download(held, downloads / "blocker.bin", priority=5)
    wait_until(lambda: blocker.running)
    later = first.download(held, downloads / "later.bin", priority=20)
    sooner = first.download(held, downloads / "sooner.bin", priority=1)
    middle = first.download(held, downloads / "middle.bin", priority=10)
    parked = first.download(held, downloads / "parked.bin", priority=0)
    first.pause_job(parked)
    dropped = first.download(held, downloads / "dropped.bin", priority=0)
    first.cancel_job(dropped)
    first.close()
    assert blocker.status == DownloadJobStatus.PAUSED  # stop() paused it, to resume at start

    gate.set()
    started: list[int] = []
    second = make_queue(
        max_parallel_dl=1,
        journal=journal,
        callbacks=JobCallbacks(on_start=lambda job: started.append(job.id)),
    )
    restored = {job.id: job for job in second.list_jobs()}
    assert set(restored) == {
        j.id for j in (done, failed, blocker, later, sooner, middle, parked, dropped)
    }
    assert restored[done.id].status == DownloadJobStatus.COMPLETED
    assert restored[failed.id].status == DownloadJobStatus.ERROR
    assert restored[failed.id].error_type == "HTTPError(Not Found)"
    assert restored[dropped.id].status == DownloadJobStatus.CANCELLED
    assert restored[parked.id].status == DownloadJobStatus.PAUSED
    assert second.join(LONG)
    assert started == [sooner.id, blocker.id, middle.id, later.id]
    assert restored[parked.id].status == DownloadJobStatus.PAUSED  # the person paused it
    new = second.download(server.url("/done.bin"), downloads / "new.bin")
    assert new.id == max(restored) + 1
    second.resume_job(restored[parked.id])
    assert second.wait_for_job(restored[parked.id], LONG).complete


def test_restored_jobs_can_be_left_paused_and_get_callbacks(
    make_queue: QueueFactory, server: TestServer, downloads: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"
    gate = threading.Event()
    url = server.add("/slow.bin", payload(1000), gate=gate)
    first = make_queue(max_parallel_dl=1, journal=journal)
    jobs = [first.download(url, downloads / f"{i}.bin") for i in range(3)]
    wait_until(lambda: jobs[0].running)
    first.close()
    gate.set()

    attached: list[int] = []
    completed: list[int] = []

    def attach(job: DownloadJob) -> None:
        attached.append(job.id)
        job.on_complete = lambda j: completed.append(j.id)

    second = make_queue(journal=journal, resume_restored=False, on_restore=attach)
    assert sorted(attached) == [j.id for j in jobs]
    assert all(j.status == DownloadJobStatus.PAUSED for j in second.list_jobs())
    second.resume_all_jobs()
    assert second.join(LONG)
    assert sorted(completed) == [j.id for j in jobs]


def test_tokens_are_never_written_and_come_back_from_the_rules(
    make_queue: QueueFactory, server: TestServer, downloads: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"
    gate = threading.Event()
    url = server.add("/private.bin", payload(5000), gate=gate)
    first = make_queue(journal=journal)
    job = first.download(url, downloads / "private.bin", access_token=SECRET)
    wait_until(lambda: job.running)
    first.close()
    written = b"".join(p.read_bytes() for p in tmp_path.glob("journal.sqlite3*"))
    assert SECRET.encode() not in written
    gate.set()
    second = make_queue(journal=journal, tokens=[(r"/private\.bin$", SECRET)])
    (restored,) = second.list_jobs()
    assert restored.access_token == SECRET
    assert second.wait_for_job(restored, LONG).complete
    assert server.requests_for("/private.bin")[-1].header("Authorization") == f"Bearer {SECRET}"


def test_prune_and_remove_reach_the_journal(
    make_queue: QueueFactory, server: TestServer, downloads: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"
    first = make_queue(journal=journal)
    url = server.add("/x.bin", b"x")
    jobs = [first.download(url, downloads / f"{i}.bin") for i in range(4)]
    assert first.join(LONG)
    first.remove_job(jobs[0])
    first.close()
    second = make_queue(journal=journal)
    assert [j.id for j in second.list_jobs()] == [j.id for j in jobs[1:]]
    second.prune_jobs()
    second.close()
    third = make_queue(journal=journal)
    assert third.list_jobs() == []


def test_ten_thousand_jobs_are_journaled_and_restored(
    make_queue: QueueFactory, downloads: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"
    first = make_queue(max_parallel_dl=1, journal=journal)
    first.stop()  # nothing runs: this is about the list
    for i in range(10_000):
        first.download(f"http://127.0.0.1:9/file{i}", downloads / f"{i}.bin", priority=i % 7)
    first.close()
    second = make_queue(journal=journal, resume_restored=False)
    jobs = second.list_jobs()
    assert len(jobs) == 10_000
    assert [j.priority for j in jobs[:8]] == [0, 1, 2, 3, 4, 5, 6, 0]
    assert all(j.status == DownloadJobStatus.PAUSED for j in jobs)


def test_a_newer_format_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    DownloadQueueService(journal=journal).close()
    with sqlite3.connect(journal) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'version'")
    with pytest.raises(JournalFormatError, match=r"newer fetchq .*format 99"):
        DownloadQueueService(journal=journal)


def test_a_foreign_database_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "other.sqlite3"
    with sqlite3.connect(journal) as db:
        db.execute("CREATE TABLE photos (id INTEGER)")
    with pytest.raises(JournalFormatError, match="not a fetchq journal"):
        DownloadQueueService(journal=journal)


def test_a_corrupt_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    journal.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    with pytest.raises(JournalCorruptError):
        DownloadQueueService(journal=journal)
    assert journal.read_bytes().startswith(b"SQLite format 3\x00\xff\xff")
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(JournalCorruptError, match="not a readable fetchq journal"):
        DownloadQueueService(journal=garbage)


def test_a_damaged_job_record_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    DownloadQueueService(journal=journal).close()
    with sqlite3.connect(journal) as db:
        db.execute("INSERT INTO jobs VALUES (0, 1, 'waiting', 0, '{\"source\": 5}')")
    with pytest.raises(JournalCorruptError, match="job 0 in the journal is unreadable"):
        DownloadQueueService(journal=journal)


def test_a_journal_in_use_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    first = DownloadQueueService(journal=journal)
    with pytest.raises(JournalLockedError, match="in use by another fetchq process"):
        DownloadQueueService(journal=journal)
    holder = subprocess.run(
        [
            sys.executable,
            "-c",
            "from fetchq import DownloadQueueService, JournalLockedError\n"
            f"try:\n    DownloadQueueService(journal={str(journal)!r})\n"
            "except JournalLockedError as e:\n    print('refused:', e)\n",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert holder.stdout.startswith("refused:")
    first.close()
    DownloadQueueService(journal=journal).close()  # released with close()


def test_a_restored_segmented_download_resumes_each_range(
    make_queue: QueueFactory, server: TestServer, downloads: Path, tmp_path: Path
) -> None:
    data = payload(12_000_000)
    url = server.add("/seg.bin", data, rate=2_000_000)
    journal = tmp_path / "journal.sqlite3"
    first = make_queue(journal=journal)
    job = first.download(url, downloads / "seg.bin", max_connections=4)
    wait_until(lambda: job.bytes > 3_000_000)
    first.close()
    sent_before = server.bytes_sent("/seg.bin")
    resumed_from = len(server.requests_for("/seg.bin"))
    second = make_queue(journal=journal)
    (restored,) = second.list_jobs()
    assert restored.bytes > 2_000_000  # read from the sidecar
    assert second.wait_for_job(restored, LONG).complete
    assert file_sha256(downloads / "seg.bin") == sha256(data)
    later = server.requests_for("/seg.bin")[resumed_from:]
    assert len(later) >= 2
    assert all(r.header("Range") for r in later)
    assert server.bytes_sent("/seg.bin") - sent_before <= len(data) - 2_000_000
