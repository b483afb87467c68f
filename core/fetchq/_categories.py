"""Categories: file types mapped to folders (Documents, Music, Video, Archives, Programs...).

A download into a folder whose job asks for it (``by_category``) goes into its category's
folder, chosen once the server has named the file: by the name's extension, else by the
Content-Type. Pure values and functions; the transfer creates the folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union


@dataclass(frozen=True)
class Category:
    """A kind of file and where it goes: ``folder`` relative to the download folder (or
    absolute); ``extensions`` without dots; ``mime_types`` exact or a prefix ending in ``/``."""

    name: str
    folder: str
    extensions: frozenset[str] = frozenset()
    mime_types: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        name: str,
        folder: str,
        extensions: Union[str, Iterable[str]],
        mime_types: Union[str, Iterable[str]] = (),
    ) -> Category:
        """A category from lists, or from space-separated words as a person types them."""
        if isinstance(extensions, str):
            extensions = extensions.split()
        if isinstance(mime_types, str):
            mime_types = mime_types.split()
        return cls(
            name.strip(),
            folder.strip(),
            frozenset(e.strip().lower().lstrip(".") for e in extensions if e.strip()),
            tuple(m.strip().lower() for m in mime_types if m.strip()),
        )

    def takes_extension(self, file_name: str) -> bool:
        _, dot, extension = file_name.lower().rpartition(".")
        return bool(dot) and extension in self.extensions

    def takes_type(self, content_type: Optional[str]) -> bool:
        kind = (content_type or "").split(";", 1)[0].strip().lower()
        return bool(kind) and any(
            kind.startswith(m) if m.endswith("/") else kind == m for m in self.mime_types
        )


DEFAULT_CATEGORIES = (
    Category.of("Documents", "Documents",
                "pdf doc docx odt rtf txt md epub xls xlsx ods ppt pptx odp csv",
                "application/pdf application/msword text/plain application/epub+zip"),
    Category.of("Music", "Music", "mp3 flac ogg oga opus m4a wav aac wma", "audio/"),
    Category.of("Video", "Video", "mp4 mkv webm avi mov m4v wmv mpg mpeg ts", "video/"),
    Category.of("Images", "Pictures", "jpg jpeg png gif webp svg bmp tif tiff heic avif",
                "image/"),
    Category.of("Archives", "Archives", "zip tar gz tgz bz2 xz zst 7z rar iso img",
                "application/zip application/x-tar application/gzip "
                "application/x-7z-compressed application/x-iso9660-image"),
    Category.of("Programs", "Programs", "exe msi deb rpm appimage dmg pkg apk flatpak",
                "application/x-msdownload application/vnd.debian.binary-package "
                "application/x-rpm application/vnd.android.package-archive"),
)  # fmt: skip
"""What a new installation sorts by; the app lets the user change it."""


def category_for(
    file_name: str, content_type: Optional[str], categories: Sequence[Category]
) -> Optional[Category]:
    """The first category that takes the name's extension, else the first that takes the
    content type; None for a file of no category (it stays in the download folder)."""
    for category in categories:
        if category.takes_extension(file_name):
            return category
    for category in categories:
        if category.takes_type(content_type):
            return category
    return None


def category_folder(base: Path, category: Category) -> Path:
    """Where a category's downloads go: its folder under ``base``, or its own absolute one."""
    folder = Path(category.folder).expanduser()
    return folder if folder.is_absolute() else base / folder
