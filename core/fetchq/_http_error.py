"""HTTPError: a status we cannot use, and a ``requests.HTTPError`` too.

In a module of its own so that requests is imported only when an HTTPError is first needed
(see :mod:`._exceptions`).
"""

from __future__ import annotations

import requests

from ._exceptions import TransferError


class HTTPError(TransferError, requests.HTTPError):
    """The server answered with a status code that cannot give us the file.

    Also a ``requests.HTTPError``, so code that catches those keeps working.
    """

    def __init__(self, reason: str, *, status_code: int) -> None:
        super().__init__(reason)
        self.status_code = status_code
