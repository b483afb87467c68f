"""Stand-ins for InvokeAI's mm2_session fixture: the same mocked URLs, built here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from requests.sessions import Session
from requests_testadapter import TestAdapter, TestSession

DATA = Path(__file__).parent / "data"


@pytest.fixture
def mm2_session() -> Session:
    sess: Session = TestSession()
    sess.mount("https://test.com/missing_model.safetensors", TestAdapter(b"missing", status=404))
    diffusers = DATA / "test-diffusers-main"
    siblings = []
    for root, _, files in os.walk(diffusers):
        for name in files:
            path = Path(root, name)
            rel = path.relative_to(diffusers).as_posix()
            data = path.read_bytes()
            siblings.append({"rfilename": rel, "size": len(data)})
            sess.mount(
                f"https://huggingface.co/stabilityai/sdxl-turbo/resolve/main/{rel}",
                TestAdapter(
                    data,
                    headers={
                        "Content-Type": "application/json; charset=utf-8",
                        "Content-Length": len(data),
                    },
                ),
            )
    meta = json.dumps({"id": "stabilityai/sdxl-turbo", "siblings": siblings}).encode()
    sess.mount(
        "https://huggingface.co/api/models/stabilityai/sdxl-turbo",
        TestAdapter(
            meta, headers={"Content-Type": "application/json", "Content-Length": len(meta)}
        ),
    )
    for i in ["12345", "9999", "54321"]:
        content = b"I am a safetensors file " + bytearray(i, "utf-8") + bytearray(32_000)
        sess.mount(
            f"http://www.civitai.com/models/{i}",
            TestAdapter(
                content,
                headers={
                    "Content-Length": len(content),
                    "Content-Disposition": f'filename="mock{i}.safetensors"',
                },
            ),
        )
    sess.mount(
        "http://www.huggingface.co/foo.txt",
        TestAdapter(
            content,
            headers={
                "Content-Length": len(content),
                "Content-Disposition": 'filename="foo.safetensors"',
            },
        ),
    )
    sess.mount(
        "http://www.civitai.com/models/missing",
        TestAdapter(
            b"Missing content length", headers={"Content-Disposition": 'filename="missing.txt"'}
        ),
    )
    sess.mount("http://www.civitai.com/models/broken", TestAdapter(b"Not found", status=404))
    return sess
