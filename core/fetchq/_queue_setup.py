"""How :class:`DownloadQueueService`'s network arguments become its parts: the transfer
settings, the bearer-token rules and the HTTP client, with the app config (:mod:`._app_config`)
filling in the proxy and the private-address rule where the caller gave none."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Optional, Union

from ._app_config import AppConfigView
from ._http import HttpClient, TokenRule, is_public_address
from ._retry import RetryPolicy, Timeouts
from ._transfer import TransferSettings
from ._validation import validate_token

if TYPE_CHECKING:
    import requests


def transfer_settings_of(
    given: Optional[TransferSettings], retry: Optional[RetryPolicy], timeouts: Optional[Timeouts]
) -> TransferSettings:
    """``given`` (or the defaults), with ``retry`` and ``timeouts`` in place of its own."""
    settings = given or TransferSettings()
    if retry is not None or timeouts is not None:
        settings = dataclasses.replace(
            settings, retry=retry or settings.retry, timeouts=timeouts or settings.timeouts
        )
    return settings


def token_rules_of(tokens: Iterable[tuple[str, str]]) -> tuple[TokenRule, ...]:
    """``(url_regex, token)`` pairs as rules; a token that cannot be a header raises."""
    return tuple(TokenRule.of(pattern, validate_token(token) or "") for pattern, token in tokens)


def http_client_of(
    config: AppConfigView,
    requests_session: Optional[requests.Session],
    timeouts: Timeouts,
    *,
    address_policy: Optional[Callable[[str], bool]],
    allow_private_addresses: Optional[bool],
    proxy: Optional[str],
    http2: bool,
    ca_bundle: Union[str, os.PathLike[str], None],
) -> HttpClient:
    """The client for every request of the queue. Without an ``address_policy``, private
    addresses are refused unless allowed (here, else by the app config, else allowed)."""
    if proxy is None:
        proxy = config.download_proxy
    if allow_private_addresses is None:
        allow_private_addresses = config.allow_private is not False
    if address_policy is None and not allow_private_addresses:
        address_policy = is_public_address
    return HttpClient(
        requests_session,
        timeouts,
        address_policy=address_policy,
        proxy=proxy,
        http2=http2,
        ca_bundle=os.fspath(ca_bundle) if ca_bundle is not None else None,
    )
