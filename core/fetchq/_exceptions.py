"""fetchq's exceptions: one root, a branch per failure domain.

::

    FetchqError
    ├── InvalidRequestError (ValueError)     bad input to download(); raised at once, in the caller
    │   ├── InvalidSourceError               empty, malformed, or not http(s) or ftp(s)
    │   ├── InvalidDestinationError          a dest that cannot be created or written
    │   ├── InvalidChecksumError             a checksum that is not "ALGO:HEX" for a known algorithm
    │   └── SourceMismatchError              change_source(): the new link serves another file
    ├── UnknownJobIDException (LookupError)  id_to_job() of an id this queue does not know
    ├── DownloadJobCancelledException        the error_type recorded on a cancelled job
    ├── ServiceInactiveException (RuntimeError)   download() on a closed queue
    ├── TransferError                        why a download failed; its name goes in job.error_type
    │   ├── NetworkError (ConnectionError)   no such host, nothing answers, a stall, a reset, TLS;
    │   │   │                                .failure says which (a closed set), .retryable
    │   │   └── CertificateError             the server's certificate is not trusted (not retried)
    │   ├── HTTPStatusError                  a status we cannot use, inside fetchq; a job
    │   │                                    ends with it as requests.HTTPError (below)
    │   ├── ResumeRequired                   not an error: a job pauses with resume_required
    │   ├── LinkExpiredError                 not an error: a job pauses with link_expired
    │   ├── ResponseError                    a body or header that contradicts itself or the request
    │   ├── RedirectError                    too many redirects, or one to a scheme we refuse
    │   ├── BlockedAddressError              the private-address guard refused a connection
    │   │   └── UnsafeDownloadURLException (ValueError)   what the guard raises (InvokeAI's name)
    │   ├── IntegrityError                   the bytes are not the file that was asked for
    │   │   ├── SizeMismatch
    │   │   └── ChecksumMismatch
    │   ├── DestinationError                 the file cannot go where it was asked to go
    │   │   ├── UnsafeFileNameError
    │   │   ├── DestinationExistsError
    │   │   └── DestinationInUseError
    │   └── DiskError                        the disk refused a write: full, read-only, failing
    │       └── InsufficientSpaceError
    └── JournalError                         the SQLite journal cannot be used
        ├── JournalFormatError               not a fetchq journal, or a newer format
        ├── JournalCorruptError
        └── JournalLockedError               another live process holds it

A job's ``error_type`` is ``f"{type(exc).__name__}({exc})"``, so the 404 of the reference page reads
``HTTPError(Not Found)``, with the reason as the server sent it.

A status fetchq cannot use ends a job as ``requests.exceptions.HTTPError`` itself, not a class of
fetchq's: InvokeAI's code and tests name it by that module (its traceback in ``job.error`` reads
``requests.exceptions.HTTPError: Not Found``). It carries ``status_code``, and ``response`` with
the status, reason and URL. Inside fetchq the status travels as :class:`HTTPStatusError` (so
the core imports requests only when a job fails that way); :func:`http_error` converts it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests


def http_error(reason: str, status_code: int, url: str = "") -> requests.HTTPError:
    """requests' own ``HTTPError`` for a status we cannot use, with ``status_code`` and a
    ``response`` that holds the status, the reason and the URL (requests loads here)."""
    import requests

    response = requests.Response()
    response.status_code = status_code
    response.reason = reason
    response.url = url
    error = requests.HTTPError(reason, response=response)
    error.status_code = status_code  # type: ignore[attr-defined]
    return error


class FetchqError(Exception):
    """The root of every exception fetchq raises on purpose."""


class InvalidRequestError(FetchqError, ValueError):
    """A download request that can never succeed, refused in the caller's thread."""


class InvalidSourceError(InvalidRequestError):
    """The source is empty, malformed, or not an http, https, ftp or ftps URL."""


class InvalidDestinationError(InvalidRequestError):
    """The destination cannot be created or written."""


class InvalidChecksumError(InvalidRequestError):
    """The checksum is not ``ALGO:HEX`` for an algorithm hashlib knows."""


class SourceMismatchError(InvalidRequestError):
    """``change_source`` refused a link: it does not serve the file the download has part of
    (another size, other bytes, no byte ranges, or an error); nothing was changed."""


class UnknownJobIDException(FetchqError, LookupError):
    """No job with this id is known to the queue."""


class ServiceInactiveException(FetchqError, RuntimeError):
    """The queue takes no more downloads: it was closed (InvokeAI's name)."""


class DownloadJobCancelledException(FetchqError):
    """The job was cancelled by the caller; recorded as a cancelled job's ``error_type``."""


class TransferError(FetchqError):
    """A download failed. Subclasses say why."""


class NetworkError(TransferError, ConnectionError):
    """A connection could not be made, or broke, before the response was complete.

    ``failure`` names what happened from a closed set (:class:`._failures.Failure`), and
    ``retryable`` whether another attempt may help; the message is written for people.
    """

    def __init__(self, message: str, failure: str = "other", retryable: bool = True) -> None:
        super().__init__(message)
        self.failure = failure
        self.retryable = retryable


class CertificateError(NetworkError):
    """The server's TLS certificate is not trusted; retrying cannot help."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "certificate", retryable=False)


class HTTPStatusError(TransferError):
    """A status we cannot use, as fetchq's code passes it on; a job ends with
    :meth:`as_http_error` (requests' ``HTTPError``), as the reference API has it."""

    def __init__(self, reason: str, status_code: int, url: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code
        self.url = url

    def as_http_error(self) -> requests.HTTPError:
        return http_error(self.reason, self.status_code, self.url)


class ResumeRequired(TransferError):
    """The server refused to resume a partial file fetchq did not write (InvokeAI's): the job
    pauses with ``resume_required``, the file kept, until it is resumed from zero."""


class LinkExpiredError(TransferError):
    """A link that served part of a file now answers 403, 404 or 410, or a web page: the job
    pauses with ``link_expired``, its part file kept, until it gets a new link
    (``change_source``) or is resumed."""


class ResponseError(TransferError):
    """The response contradicts itself or the request (Content-Range, lengths, a bogus 416)."""


class RedirectError(TransferError):
    """Too many redirects, or a redirect to a scheme other than http(s)."""


class BlockedAddressError(TransferError):
    """The private-address guard refused to connect to this address."""


class UnsafeDownloadURLException(BlockedAddressError, ValueError):
    """What the guard raises: InvokeAI's name for it, which code and tests written for
    InvokeAI look for in ``error_type``."""


class IntegrityError(TransferError):
    """The bytes received are not the file that was asked for."""


class SizeMismatch(IntegrityError):
    """The file on disk has another size than the server announced."""


class ChecksumMismatch(IntegrityError):
    """The file's digest differs from the checksum the caller gave."""


class DestinationError(TransferError):
    """The file cannot be put where it was asked to go."""


class UnsafeFileNameError(DestinationError):
    """No safe file name can be made from the response or the URL."""


class DestinationExistsError(DestinationError):
    """A different file already exists at the destination and ``overwrite`` was not given."""


class DestinationInUseError(DestinationError):
    """Another job or process is writing this destination."""


class DiskError(TransferError):
    """The disk refused a write (full, read-only, failing); the partial file is kept."""


class InsufficientSpaceError(DiskError):
    """Not enough free space for the rest of the file."""


class JournalError(FetchqError):
    """The journal cannot be used."""


class JournalFormatError(JournalError):
    """The file is not a fetchq journal, or was written by a newer fetchq."""


class JournalCorruptError(JournalError):
    """The journal is damaged."""


class JournalLockedError(JournalError):
    """Another live process has this journal open."""


def describe_error(exc: BaseException) -> str:
    """The ``error_type`` text of a job that failed with ``exc``."""
    name = "HTTPError" if isinstance(exc, HTTPStatusError) else type(exc).__name__
    return f"{name}({exc})"
