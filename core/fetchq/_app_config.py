"""InvokeAI's app config as a source of queue settings, read by duck typing.

InvokeAI builds its queue as ``DownloadQueueService(app_config=..., event_bus=...)`` and, without
an ``app_config``, reads its global ``get_config()``. fetchq does the same where InvokeAI's config
module is already loaded (it never imports InvokeAI), so a queue made inside InvokeAI follows
its proxy, private-address and token settings either way.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Optional

from ._exceptions import InvalidRequestError
from ._validation import validate_token

INVOKEAI_CONFIG_MODULE = "invokeai.app.services.config"


def ambient_app_config() -> Optional[object]:
    """InvokeAI's global config when InvokeAI is loaded in this process, else None."""
    module = sys.modules.get(INVOKEAI_CONFIG_MODULE)
    get_config = getattr(module, "get_config", None)
    if not callable(get_config):
        return None
    try:
        return get_config()  # type: ignore[no-any-return]
    except Exception:  # a config that cannot load is InvokeAI's to report, not ours
        return None


@dataclass(frozen=True)
class AppConfigView:
    """What the queue reads of an app config: fixed settings at construction, tokens live."""

    config: Optional[object] = None
    download_proxy: Optional[str] = None
    allow_private: Optional[bool] = None

    @classmethod
    def of(cls, config: Optional[object]) -> AppConfigView:
        if config is None:
            config = ambient_app_config()
        if config is None:
            return cls()
        proxy = getattr(config, "download_proxy", None)
        allow = getattr(config, "allow_private_download_urls", None)
        return cls(
            config,
            str(proxy) if proxy else None,
            bool(allow) if allow is not None else None,
        )

    def token_for(self, url: str) -> Optional[str]:
        """The token of the first ``remote_api_tokens`` pair whose ``url_regex`` matches
        ``url`` (``re.search``), read from the config now: InvokeAI's users edit it live."""
        if self.config is None:
            return None
        for pair in getattr(self.config, "remote_api_tokens", None) or ():
            pattern = getattr(pair, "url_regex", None)
            token = getattr(pair, "token", None)
            if isinstance(pattern, str) and isinstance(token, str) and token:
                try:
                    if re.search(pattern, url):
                        return validate_token(token)
                except (re.error, InvalidRequestError):
                    continue  # a bad pattern or token in the config is skipped, not sent
        return None
