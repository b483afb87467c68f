"""fetchq's desktop app (PySide6 + qasync), built on the fetchq core queue."""

from .bridge import JobSnapshot, QueueBridge
from .model import Column, Filter, JobFilterProxy, JobTableModel
from .settings import Settings
from .window import MainWindow

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
