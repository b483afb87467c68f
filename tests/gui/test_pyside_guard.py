"""Guards against Qt binding bugs fetchq has met, so an upgrade that brings one back fails here."""

from __future__ import annotations

import gc
import sys
import threading

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Signal
from pytestqt.qtbot import QtBot


class _Emitter(QObject):
    changed = Signal(object)


def test_signal_emit_does_not_leak_bool_references(qtbot: QtBot) -> None:
    """PySide6 6.12.0's emit() returns True without a reference: ~2000 emits abort Python.

    fetchq's bridge emits a signal for every progress report, from worker threads.
    """
    # What earlier tests left to delete is deleted first: it holds references to True too.
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    emitter = _Emitter()
    received: list[object] = []
    emitter.changed.connect(received.append)
    before = sys.getrefcount(True), sys.getrefcount(False)

    def emit_many() -> None:
        for number in range(300):
            emitter.changed.emit(number)

    emit_many()
    worker = threading.Thread(target=emit_many)
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(received) == 600, timeout=5000)
    after = sys.getrefcount(True), sys.getrefcount(False)
    assert after[0] - before[0] > -50, "Signal.emit leaks references to True"
    assert after[1] - before[1] > -50, "Signal.emit leaks references to False"
