"""The proof of restart: kill -9 a downloader mid-way; a new process on its journal finishes
every file byte-identical, with the same ids and priorities, fetching little twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fetchq.testing import TestServer
from tests.helpers import file_sha256, payload, sha256

ROOT = Path(__file__).resolve().parents[2]
RATE = 1_500_000  # bytes/s per connection, so a kill lands mid-download
TOKEN = "restart-token-9d2"


def run_worker(spec: dict[str, object], tmp_path: Path, name: str) -> subprocess.Popen[str]:
    spec_path = tmp_path / f"{name}.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-m", "tests.core.crash_worker", str(spec_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def lines_of(process: subprocess.Popen[str]) -> list[dict[str, object]]:
    assert process.stdout is not None
    out = process.stdout.read()
    process.stdout.close()
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("kill_at", [0.15, 0.45, 0.8])
def test_kill_9_mid_download_then_restart_finishes_everything(
    server: TestServer, tmp_path: Path, kill_at: float, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {
        "single-a.bin": (payload(5_000_000, 1), 1, 20),
        "single-b.bin": (payload(3_000_000, 2), 1, 5),
        "segmented-a.bin": (payload(14_000_000, 3), 4, 10),
        "segmented-b.bin": (payload(10_000_000, 4), 4, 1),
    }
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    items = []
    for name, (data, connections, priority) in files.items():
        url = server.add(f"/{name}", data, rate=RATE)
        items.append(
            {
                "url": url,
                "dest": str(downloads / name),
                "priority": priority,
                "connections": connections,
            }
        )
    total = sum(len(data) for data, _, _ in files.values())
    spec: dict[str, object] = {
        "journal": str(tmp_path / "journal.sqlite3"),
        "parallel": 4,
        "submit": True,
        "downloads": items,
        "token_pattern": "127\\.0\\.0\\.1",
        "token": TOKEN,
    }

    first = run_worker(spec, tmp_path, "first")
    deadline = time.monotonic() + 60
    while server.bytes_sent() < kill_at * total:
        assert first.poll() is None, lines_of(first)
        assert time.monotonic() < deadline, "the first downloader made no progress"
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait()
    fetched_before_kill = server.bytes_sent()
    submitted = [line for line in lines_of(first) if "submitted" in line]
    assert len(submitted) == len(files)
    assert any(p.name.endswith(".part") for p in downloads.iterdir())
    journal_bytes = b"".join(
        p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("journal.sqlite3")
    )
    assert TOKEN.encode() not in journal_bytes

    second = run_worker({**spec, "submit": False}, tmp_path, "second")
    assert second.wait(timeout=90) == 0
    report = lines_of(second)
    (restored,) = [line["restored"] for line in report if "restored" in line]
    assert isinstance(restored, list)
    assert sorted(restored) == sorted(int(str(line["submitted"])) for line in submitted)
    finished = {line["id"]: line for line in report if "status" in line}
    for line in submitted:
        job = finished[line["submitted"]]
        assert job["status"] == "completed", job
        assert job["priority"] == line["priority"]
    for name, (data, _, _) in files.items():
        assert file_sha256(downloads / name) == sha256(data), name
    assert sorted(p.name for p in downloads.iterdir()) == sorted(files)
    fetched_twice = server.bytes_sent() - total
    with capsys.disabled():
        print(
            f"\nkill -9 at {kill_at:.0%}: {fetched_before_kill} bytes fetched before the kill, "
            f"{fetched_twice} fetched again ({fetched_twice / fetched_before_kill:.1%})"
        )
    assert fetched_twice <= 0.5 * fetched_before_kill, (fetched_twice, fetched_before_kill)
    after_restart = [r for r in server.requests if r.header("Range") is not None]
    assert after_restart, "the restarted process never resumed with Range"
    assert all(r.header("Authorization") == f"Bearer {TOKEN}" for r in server.requests)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_the_app_list_survives_kill_9(server: TestServer, tmp_path: Path) -> None:
    """The desktop app, killed while downloading, shows and finishes its list on the next start."""
    data = payload(4_000_000)
    url = server.add("/app.bin", data, rate=RATE)
    profile = tmp_path / "profile"
    downloads = tmp_path / "Downloads"
    profile.mkdir()
    downloads.mkdir()
    (profile / "settings.ini").write_text(f"[downloads]\nfolder={downloads}\n", encoding="utf-8")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    command = [sys.executable, "-m", "fetchq_gui", "--profile", str(profile)]
    with open(tmp_path / "first.log", "w", encoding="utf-8") as log:
        first = subprocess.Popen([*command, url], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while server.bytes_sent() < 1_000_000:
        assert first.poll() is None, (tmp_path / "first.log").read_text(encoding="utf-8")
        assert time.monotonic() < deadline
        time.sleep(0.01)
    first.kill()
    first.wait()
    with open(tmp_path / "second.log", "w", encoding="utf-8") as log:
        second = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not (downloads / "app.bin").exists():
            assert second.poll() is None, (tmp_path / "second.log").read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "the restarted app did not finish the download"
            time.sleep(0.05)
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()
    assert file_sha256(downloads / "app.bin") == sha256(data)
    assert server.bytes_sent() - len(data) < len(data) // 2
