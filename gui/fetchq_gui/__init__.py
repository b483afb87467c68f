"""fetchq's desktop app (PySide6 + qasync), built on the fetchq core queue.

The names below load on first use, so ``fetchq_gui.launcher`` can run (and say what is
missing) without importing Qt.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .bridge import JobSnapshot, QueueBridge
    from .model import Column, Filter, JobFilterProxy, JobTableModel
    from .settings import Settings
    from .window import MainWindow

_WHERE = {
    "Column": "model",
    "Filter": "model",
    "JobFilterProxy": "model",
    "JobSnapshot": "bridge",
    "JobTableModel": "model",
    "MainWindow": "window",
    "QueueBridge": "bridge",
    "Settings": "settings",
}

__all__ = [
    "Column",
    "Filter",
    "JobFilterProxy",
    "JobSnapshot",
    "JobTableModel",
    "MainWindow",
    "QueueBridge",
    "Settings",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'fetchq_gui' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
