"""Network failures as a closed set: what happened, whether trying again may help, what to say.

Each transport maps its own errors (libcurl's codes, requests' exceptions) to a :class:`Failure`
once; :func:`network_error` turns that into the exception a job ends with, worded for the person
reading the download list ("Nothing answers at example.com:8080"), with the library's own
words kept after it for the curious.
"""

from __future__ import annotations

import enum
from typing import Optional

from ._exceptions import CertificateError, NetworkError


class Failure(str, enum.Enum):
    RESOLVE = "resolve"
    """The host name does not resolve."""
    CONNECT = "connect"
    """Nothing accepts connections at the host and port."""
    PROXY = "proxy"
    """The proxy cannot be reached, or refused the request."""
    TIMEOUT = "timeout"
    """No byte arrived for the read timeout, or the connection took too long."""
    BROKEN = "broken"
    """The connection closed or was reset before the response was complete."""
    PROTOCOL = "protocol"
    """The server's reply is not valid HTTP (or FTP): bad framing, huge or broken headers."""
    TLS = "tls"
    """The TLS handshake failed."""
    CERTIFICATE = "certificate"
    """The server's certificate is not trusted."""
    LOGIN = "login"
    """The server refused the login (FTP)."""
    MISSING = "missing"
    """The server has no such file (FTP)."""
    NO_RESUME = "no-resume"
    """The server cannot start a transfer at an offset (FTP without REST)."""
    OTHER = "other"

    @property
    def retryable(self) -> bool:
        return self not in _PERMANENT


_PERMANENT = frozenset({Failure.CERTIFICATE, Failure.LOGIN, Failure.MISSING, Failure.OTHER})

_MESSAGES = {
    Failure.RESOLVE: "Cannot find the server {host}",
    Failure.CONNECT: "Nothing answers at {authority}",
    Failure.PROXY: "The proxy does not work for {authority}",
    Failure.TIMEOUT: "{host} stopped sending data",
    Failure.BROKEN: "The connection to {host} broke",
    Failure.PROTOCOL: "{host} sent a reply that is not valid",
    Failure.TLS: "A secure connection to {host} could not be made",
    Failure.CERTIFICATE: "The certificate of {host} is not trusted",
    Failure.LOGIN: "{host} refused the login",
    Failure.MISSING: "{host} has no such file",
    Failure.NO_RESUME: "{host} cannot resume the download",
    Failure.OTHER: "The download from {host} failed",
}


def describe(failure: Failure, host: str, authority: str) -> str:
    """The sentence for ``failure`` at ``host`` (``authority`` is host and port)."""
    return _MESSAGES[failure].format(host=host, authority=authority)


def network_error(
    failure: Failure, host: str, authority: str, detail: Optional[str] = None
) -> NetworkError:
    """The exception for ``failure``: a plain sentence, then the library's detail."""
    message = describe(failure, host, authority)
    if detail:
        message = f"{message} ({detail})"
    if failure is Failure.CERTIFICATE:
        return CertificateError(message)
    return NetworkError(message, failure.value, failure.retryable)
