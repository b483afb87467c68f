"""GUI-thread responsiveness: 1000 rows, 50 of them downloading.

Measures the event loop's latency (how late a 10 ms timer fires) and the GUI thread's CPU time
while the window follows 50 active downloads among 1000 rows. The server runs in another
process, as a real one would, and speaks https (``--http`` for plain http): TLS is what real
downloads cost the process. Target: p99 latency under 50 ms.

    QT_QPA_PLATFORM=offscreen python bench/gui_latency.py [--seconds 10] [--http] [--json F]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROWS = 1000
ACTIVE = 50
FILE_SIZE = 64 * 1024 * 1024
RATE = 256 * 1024  # bytes/s per download: 50 x 256 KiB/s keeps every row moving


def serve(port_queue: Any, stop: Any, tls: bool) -> None:
    from fetchq.testing import TestServer, ca_bundle

    with TestServer(tls=tls) as server:
        server.add("/active.bin", os.urandom(1 << 20) * (FILE_SIZE >> 20), rate=RATE)
        server.add("/queued.bin", b"q" * 1024)
        port_queue.put((server.port, ca_bundle() if tls else None))  # its own test authority
        stop.wait()


_KEEP_ALIVE: list[object] = []


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(seconds: float, tls: bool = True) -> dict[str, Any]:
    import qasync
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from fetchq import DownloadQueueService
    from fetchq_gui import MainWindow, Settings

    context = multiprocessing.get_context("spawn")
    ports, stop = context.Queue(), context.Event()
    server = context.Process(target=serve, args=(ports, stop, tls), daemon=True)
    server.start()
    port, authority = ports.get(timeout=60)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([])
    _KEEP_ALIVE.append(app)  # a QApplication must outlive every widget, to the process's end
    app.setQuitOnLastWindowClosed(False)  # as in the app: quitting is explicit
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    folder = Path(tempfile.mkdtemp(prefix="fetchq-gui-bench-"))
    settings = Settings(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat))
    settings.parallel_downloads = ACTIVE
    settings.connections_per_file = 1
    queue = DownloadQueueService(
        max_parallel_dl=ACTIVE, max_connections_per_download=1, ca_bundle=authority
    )
    window = MainWindow(queue, folder, settings=settings)
    window.resize(1280, 800)
    window.show()
    origin = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    window.add_urls([f"{origin}/active.bin?n={i}" for i in range(ACTIVE)])
    window.add_urls([f"{origin}/queued.bin?n={i}" for i in range(ROWS - ACTIVE)], priority=50)

    lateness: list[float] = []
    state: dict[str, float] = {}
    interval = 0.010
    flushes = 0

    def on_flush() -> None:
        nonlocal flushes
        flushes += 1

    window.model.flushed.connect(on_flush)

    def tick() -> None:
        now = time.perf_counter()
        expected = state.get("next")
        if expected is not None:
            lateness.append(max(0.0, now - expected) * 1000)
        state["next"] = now + interval

    timer = QTimer()
    timer.setInterval(int(interval * 1000))
    timer.timeout.connect(tick)

    async def measure() -> None:
        await asyncio.sleep(2.0)  # warm-up: every download running, rows settled
        state["cpu0"], state["wall0"] = time.thread_time(), time.perf_counter()
        state["proc0"] = time.process_time()
        timer.start()
        await asyncio.sleep(seconds)
        timer.stop()
        state["cpu1"], state["wall1"] = time.thread_time(), time.perf_counter()
        state["proc1"] = time.process_time()
        state["running"] = sum(1 for job in queue.list_jobs() if job.running)
        state["bytes"] = sum(job.bytes for job in queue.list_jobs())
        closed = asyncio.Event()
        window.closed.connect(closed.set)
        window.quit_app()  # as the Quit action: the window closes, then the queue
        await closed.wait()
        await asyncio.get_running_loop().run_in_executor(None, queue.close)

    with loop:
        loop.run_until_complete(measure())
    running = int(state["running"])
    wall = state["wall1"] - state["wall0"]
    result = {
        "scheme": "https" if tls else "http",
        "rows": window.model.rowCount(),
        "running_at_end": running,
        "seconds": round(wall, 2),
        "samples": len(lateness),
        "latency_ms_p50": round(statistics.median(lateness), 2),
        "latency_ms_p99": round(percentile(lateness, 0.99), 2),
        "latency_ms_max": round(max(lateness), 2),
        "gui_thread_cpu_percent": round(100 * (state["cpu1"] - state["cpu0"]) / wall, 1),
        "process_cpu_percent": round(100 * (state["proc1"] - state["proc0"]) / wall, 1),
        "model_flushes_per_second": round(flushes / (wall + 2.0), 1),
        "downloaded_mib": round(state["bytes"] / 2**20, 1),
    }
    stop.set()
    server.join(timeout=10)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--http", action="store_true", help="plain http instead of https")
    args = parser.parse_args()
    result = run(args.seconds, tls=not args.http)
    for key, value in result.items():
        print(f"{key:26} {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    target_met = result["latency_ms_p99"] < 50 and result["running_at_end"] == ACTIVE
    print("target (p99 < 50 ms, 50 running):", "met" if target_met else "MISSED")
    return 0 if target_met else 1


if __name__ == "__main__":
    sys.exit(main())
