"""The demo: a local server with sample files, and a few downloads queued into a temporary folder.

It is what a newcomer sees first (``make demo``): sizes from kilobytes to tens of megabytes,
several priorities, throttled files so progress is visible, a server without ranges, a 404, and
a model repository of nine files as one package.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fetchq.testing import TestServer

MiB = 1 << 20


@dataclass(frozen=True)
class DemoFile:
    path: str
    size: int
    priority: int
    options: dict[str, object]


FILES = (
    DemoFile("/releases/fedora-workstation-live.iso", 96 * MiB, 5, {"rate": 1.5 * MiB}),
    DemoFile("/podcasts/episode-412.mp3", 24 * MiB, 10, {"rate": 1.2 * MiB, "ranges": False}),
    DemoFile(
        "/api/models/7781/download",
        40 * MiB,
        10,
        {
            "rate": 0.8 * MiB,
            "content_disposition": 'attachment; filename="stable-diffusion-xl-refiner.safetensors"',
        },
    ),
    DemoFile("/photos/wallpaper-4k.png", 3 * MiB, 1, {}),
    DemoFile("/docs/release-notes.txt", 6 * 1024, 1, {}),
    DemoFile("/data/census-2020.parquet", 12 * MiB, 20, {"rate": 2 * MiB}),
    DemoFile("/old/gone-forever.zip", 0, 2, {"status": 404}),
)

MODEL_FILES: tuple[
    tuple[str, int, dict[str, object]], ...
] = (  # a model repository: one package of many files, as InvokeAI downloads it
    ("model_index.json", 600, {}),
    ("scheduler/scheduler_config.json", 500, {}),
    ("text_encoder/config.json", 700, {}),
    ("text_encoder/model.safetensors", 18 * MiB, {"rate": 1.0 * MiB}),
    ("tokenizer/vocab.json", 1 * MiB, {}),
    ("unet/config.json", 1800, {}),
    ("unet/diffusion_pytorch_model.safetensors", 48 * MiB, {"rate": 1.5 * MiB}),
    ("vae/config.json", 600, {}),
    ("vae/diffusion_pytorch_model.safetensors", 9 * MiB, {"rate": 0.7 * MiB}),
)
MODEL_NAME = "sdxl-turbo"


class Demo:
    """Owns the demo's server, download folder and journal; :meth:`close` removes them."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="fetchq-demo-"))
        self.downloads = self.folder / "Downloads"
        self.downloads.mkdir()
        self.journal = self.folder / "demo-journal.sqlite3"
        self.server = TestServer()
        self.server.start()
        rng = random.Random(412)
        self.urls: list[tuple[str, int]] = []
        for item in sorted(FILES, key=lambda f: f.priority):  # the order the queue runs them
            url = self.server.add(item.path, rng.randbytes(item.size), **item.options)
            self.urls.append((url, item.priority))
        self.model_parts: list[tuple[str, str]] = []
        for path, size, options in MODEL_FILES:
            url = self.server.add(
                f"/{MODEL_NAME}/resolve/main/{path}", rng.randbytes(size), **options
            )
            self.model_parts.append((url, f"{MODEL_NAME}/{path}"))

    def close(self) -> None:
        self.server.close()
        shutil.rmtree(self.folder, ignore_errors=True)
