"""Stand-in for InvokeAI's HF metadata: a repo's file list from the (mocked) HF API."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from pydantic import AnyHttpUrl, BaseModel


class RemoteModelFile(BaseModel):
    url: AnyHttpUrl
    path: Path
    size: Optional[int] = 0
    sha256: Optional[str] = None


class ModelMetadataWithFiles(BaseModel):
    name: str
    files: list[RemoteModelFile] = []

    def download_urls(self, session: Any = None) -> list[RemoteModelFile]:
        # the default variant: fp16 files left out, as InvokeAI's filter does
        return [f for f in self.files if ".fp16." not in f.path.name]


class HuggingFaceMetadataFetch:
    def __init__(self, session: Any) -> None:
        self._session = session

    def from_id(self, repo_id: str) -> ModelMetadataWithFiles:
        info = self._session.get(f"https://huggingface.co/api/models/{repo_id}").json()
        name = repo_id.rsplit("/", maxsplit=1)[-1]
        files = [
            RemoteModelFile(
                url=f"https://huggingface.co/{repo_id}/resolve/main/{s['rfilename']}",
                path=Path(name) / s["rfilename"],
                size=s.get("size", 0),
            )
            for s in info["siblings"]
        ]
        return ModelMetadataWithFiles(name=name, files=files)
