"""The window's actions as one table, where each appears, and when each is enabled.

Like KGet's actions, every command is declared once: its name (the ``objectName`` tests and
menus use), text, icon, shortcut, tip and the window method it calls. :func:`enablement` says,
from the selection and the whole list alone, which can act now: a pure function, tested
without a window.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from PySide6.QtGui import QKeySequence

from fetchq import DownloadJobStatus

from .bridge import JobSnapshot

Shortcut = Union[QKeySequence.StandardKey, str, None]

TERMINAL = frozenset(
    {DownloadJobStatus.COMPLETED, DownloadJobStatus.CANCELLED, DownloadJobStatus.ERROR}
)
ACTIVE = frozenset({DownloadJobStatus.WAITING, DownloadJobStatus.RUNNING})


@dataclass(frozen=True)
class ActionSpec:
    name: str
    text: str
    icon: str
    shortcut: Shortcut
    tip: str
    slot: str
    """The name of the window's method the action calls."""


_Std = QKeySequence.StandardKey

ACTIONS = (
    ActionSpec("action_add", "Add…", "add", _Std.New, "Add downloads", "open_add_dialog"),
    ActionSpec(
        "action_paste",
        "Paste links",
        "add",
        _Std.Paste,
        "Download the links on the clipboard",
        "paste_links",
    ),
    ActionSpec(
        "action_pause", "Pause", "pause", "Ctrl+P", "Pause the selected downloads", "pause_selected"
    ),
    ActionSpec(
        "action_resume",
        "Resume",
        "resume",
        "Ctrl+R",
        "Resume the selected downloads",
        "resume_selected",
    ),
    ActionSpec(
        "action_cancel",
        "Cancel",
        "cancel",
        "Shift+Del",
        "Cancel the selected downloads and delete their partial files",
        "cancel_selected",
    ),
    ActionSpec(
        "action_cancel_all",
        "Cancel all",
        "cancel-all",
        "Ctrl+Shift+Del",
        "Cancel every unfinished download",
        "confirm_cancel_all",
    ),
    ActionSpec(
        "action_prune",
        "Clear completed",
        "prune",
        "Ctrl+Shift+L",
        "Remove completed downloads from the list (the files stay; failed ones stay listed)",
        "prune",
    ),
    ActionSpec(
        "action_remove",
        "Remove from list",
        "remove",
        _Std.Delete,
        "Remove the selected downloads from the list",
        "remove_selected",
    ),
    ActionSpec(
        "action_retry",
        "Retry",
        "retry",
        "Ctrl+Shift+R",
        "Download the selected failed or cancelled downloads again",
        "retry_selected",
    ),
    ActionSpec(
        "action_change_link",
        "Change link…",
        "copy",
        None,
        "Give the download a new link to the same file (when its link expired) and continue",
        "change_link",
    ),
    ActionSpec(
        "action_download_again",
        "Download again",
        "retry",
        None,
        "Move the downloaded file to the trash and download it again",
        "download_again",
    ),
    ActionSpec(
        "action_open_file", "Open", "open-file", "Ctrl+O", "Open the downloaded file", "open_file"
    ),
    ActionSpec(
        "action_open_folder",
        "Open folder",
        "open-folder",
        "Ctrl+Shift+O",
        "Open the folder that contains the download",
        "open_folder",
    ),
    ActionSpec(
        "action_copy_url",
        "Copy link",
        "copy",
        _Std.Copy,
        "Copy the selected downloads' links",
        "copy_urls",
    ),
    ActionSpec(
        "action_copy_error",
        "Copy error details",
        "copy",
        None,
        "Copy what went wrong, for a bug report",
        "copy_error_details",
    ),
    ActionSpec(
        "action_priority_up",
        "Raise priority",
        "priority-up",
        "Ctrl+Up",
        "Start sooner",
        "raise_priority",
    ),
    ActionSpec(
        "action_priority_down",
        "Lower priority",
        "priority-down",
        "Ctrl+Down",
        "Start later",
        "lower_priority",
    ),
    ActionSpec(
        "action_priority_set",
        "Set priority…",
        "priority-up",
        None,
        "Choose the priority (lower starts first)",
        "ask_priority",
    ),
    ActionSpec(
        "action_import",
        "Import list…",
        "add",
        None,
        "Add the downloads of a list: fetchq's, aria2's input file, or links one a line",
        "ask_import",
    ),
    ActionSpec(
        "action_export",
        "Export list…",
        "copy",
        None,
        "Save the download list (without passwords, tokens or cookies)",
        "ask_export",
    ),
    ActionSpec(
        "action_settings", "Settings", "settings", _Std.Preferences, "Settings", "open_settings"
    ),
    ActionSpec("action_quit", "Quit", "quit", _Std.Quit, "Pause downloads and quit", "quit_app"),
)

Layout = tuple[Optional[str], ...]
"""Action names in order; None is a separator."""

TOOLBAR: Layout = ("action_add", None, "action_pause", "action_resume", "action_cancel",
                   "action_cancel_all", None, "action_prune", "action_open_file",
                   "action_open_folder", None, "action_settings", "action_quit")  # fmt: skip

MENUS: dict[str, tuple[str, Layout]] = {
    "menu_downloads": ("&Downloads", ("action_add", "action_paste", None, "action_pause",
                       "action_resume", "action_cancel", "action_retry",
                       "action_change_link", "action_download_again", "action_remove", None,
                       "action_cancel_all", "action_prune", None, "action_quit")),
    "menu_file": ("&File", ("action_import", "action_export", None,
                  "action_open_file", "action_open_folder", "action_copy_url",
                  "action_copy_error", None, "action_priority_up", "action_priority_down",
                  "action_priority_set")),
    "menu_settings": ("&Settings", ("action_settings",)),
}  # fmt: skip

CONTEXT_MENU: Layout = ("action_pause", "action_resume", "action_cancel", "action_retry",
                        "action_change_link", "action_download_again", None,
                        "action_open_file", "action_open_folder", "action_copy_url",
                        "action_copy_error", None, "action_priority_up", "action_priority_down",
                        "action_priority_set", None,
                        "action_remove")  # fmt: skip


def enablement(
    selected: Sequence[JobSnapshot], everything: Sequence[JobSnapshot]
) -> dict[str, bool]:
    """Which actions can act on ``selected`` now, ``everything`` being the whole list."""
    statuses = {s.status for s in selected}
    counts = collections.Counter(s.status for s in everything)
    single = selected[0] if len(selected) == 1 else None
    completed_file = (
        single is not None
        and single.status == DownloadJobStatus.COMPLETED
        and single.download_path is not None
        and Path(single.download_path).is_file()
    )
    movable = bool(statuses - TERMINAL - {DownloadJobStatus.RUNNING})
    return {
        "action_pause": bool(statuses & ACTIVE),
        "action_resume": DownloadJobStatus.PAUSED in statuses,
        "action_cancel": bool(statuses - TERMINAL),
        "action_retry": bool(statuses & {DownloadJobStatus.ERROR, DownloadJobStatus.CANCELLED}),
        "action_download_again": completed_file and single is not None and not single.is_package,
        "action_change_link": single is not None
        and not single.is_package
        and single.status in (DownloadJobStatus.PAUSED, DownloadJobStatus.ERROR),
        "action_remove": bool(selected),
        "action_copy_url": bool(selected),
        "action_copy_error": any(s.error_type for s in selected),
        "action_open_file": completed_file,
        "action_open_folder": single is not None,
        "action_priority_up": movable,
        "action_priority_down": movable,
        "action_priority_set": movable,
        "action_cancel_all": any(counts[s] for s in DownloadJobStatus if s not in TERMINAL),
        "action_prune": bool(counts[DownloadJobStatus.COMPLETED]),
        "action_import": True,
        "action_export": bool(everything),
    }


def tray_enablement(everything: Sequence[JobSnapshot]) -> tuple[bool, bool]:
    """Whether the tray's Pause all and Resume all have anything to act on."""
    statuses = {s.status for s in everything}
    return bool(statuses & ACTIVE), DownloadJobStatus.PAUSED in statuses
