"""fetchq: a multithreaded, prioritized, resumable download queue with InvokeAI's API.

from fetchq import DownloadQueueService, TqdmProgress

queue = DownloadQueueService()
queue.download(source="https://example.com/file.bin", dest="/tmp/downloads",
               on_progress=TqdmProgress().update)
queue.join()
"""

import typing as _typing

from ._events import (
    DownloadCancelledEvent,
    DownloadCompleteEvent,
    DownloadErrorEvent,
    DownloadEvent,
    DownloadEventBase,
    DownloadPausedEvent,
    DownloadProgressEvent,
    DownloadRetryEvent,
    DownloadStartedEvent,
    EventBus,
)
from ._exceptions import (
    BlockedAddressError,
    CertificateError,
    ChecksumMismatch,
    DestinationError,
    DestinationExistsError,
    DestinationInUseError,
    DiskError,
    DownloadJobCancelledException,
    FetchqError,
    InsufficientSpaceError,
    IntegrityError,
    InvalidChecksumError,
    InvalidDestinationError,
    InvalidRequestError,
    InvalidSourceError,
    JournalCorruptError,
    JournalError,
    JournalFormatError,
    JournalLockedError,
    NetworkError,
    RedirectError,
    ResponseError,
    SizeMismatch,
    TransferError,
    UnknownJobIDException,
    UnsafeFileNameError,
)
from ._http import is_public_address
from ._job import DownloadEventHandler, DownloadJob, DownloadJobStatus
from ._naming import sanitize_filename
from ._probe import ProbeResult
from ._progress import TqdmProgress
from ._queue import DownloadQueueService, JobCallbacks
from ._retry import RetryPolicy, Timeouts
from ._transfer import TransferSettings
from ._validation import parse_checksum, validate_source

__version__ = "0.1.0"

if _typing.TYPE_CHECKING:
    from ._http_error import HTTPError


def __getattr__(name: str) -> object:
    """``HTTPError`` on first use: it derives from requests', which plain http never loads."""
    if name == "HTTPError":
        from ._http_error import HTTPError

        return HTTPError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BlockedAddressError",
    "CertificateError",
    "ChecksumMismatch",
    "DestinationError",
    "DestinationExistsError",
    "DestinationInUseError",
    "DiskError",
    "DownloadCancelledEvent",
    "DownloadCompleteEvent",
    "DownloadErrorEvent",
    "DownloadEvent",
    "DownloadEventBase",
    "DownloadEventHandler",
    "DownloadJob",
    "DownloadJobCancelledException",
    "DownloadJobStatus",
    "DownloadPausedEvent",
    "DownloadProgressEvent",
    "DownloadQueueService",
    "DownloadRetryEvent",
    "DownloadStartedEvent",
    "EventBus",
    "FetchqError",
    "HTTPError",
    "InsufficientSpaceError",
    "IntegrityError",
    "InvalidChecksumError",
    "InvalidDestinationError",
    "InvalidRequestError",
    "InvalidSourceError",
    "JobCallbacks",
    "JournalCorruptError",
    "JournalError",
    "JournalFormatError",
    "JournalLockedError",
    "NetworkError",
    "ProbeResult",
    "RedirectError",
    "ResponseError",
    "RetryPolicy",
    "SizeMismatch",
    "Timeouts",
    "TqdmProgress",
    "TransferError",
    "TransferSettings",
    "UnknownJobIDException",
    "UnsafeFileNameError",
    "__version__",
    "is_public_address",
    "parse_checksum",
    "sanitize_filename",
    "validate_source",
]
