"""Stand-in for InvokeAI's config: only the fields the download queue reads."""

from __future__ import annotations

from functools import lru_cache
from typing import Optional

from pydantic import BaseModel


class URLRegexTokenPair(BaseModel):
    url_regex: str
    token: str


class InvokeAIAppConfig(BaseModel):
    download_proxy: Optional[str] = None
    allow_private_download_urls: bool = False
    remote_api_tokens: Optional[list[URLRegexTokenPair]] = None


@lru_cache(maxsize=1)
def get_config() -> InvokeAIAppConfig:
    return InvokeAIAppConfig()
