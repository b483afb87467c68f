"""Small typed helpers over PySide6 and qasync."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, cast

import qasync
from PySide6.QtCore import QFile, QObject

P = ParamSpec("P")
Q = TypeVar("Q", bound=QObject)


def named(qobject: Q, name: str) -> Q:
    """Give a widget (or any QObject) its objectName, for tests and accessibility tools."""
    qobject.setObjectName(name)
    return qobject


def async_slot(
    *types: type,
) -> Callable[[Callable[P, Coroutine[Any, Any, None]]], Callable[P, None]]:
    """``qasync.asyncSlot`` with types: the call returns at once, the coroutine runs on the loop."""
    return cast(
        Callable[[Callable[P, Coroutine[Any, Any, None]]], Callable[P, None]],
        qasync.asyncSlot(*types),
    )


def move_to_trash(path: str) -> bool:
    """Move a file to the desktop's trash; False when there is none for it. (PySide6's stubs
    say the static form returns a pair; at run time it is a bool.)"""
    result: object = QFile.moveToTrash(path)
    return bool(result[0] if isinstance(result, tuple) else result)
