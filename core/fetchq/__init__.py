"""fetchq: a multithreaded, prioritized, resumable download queue with InvokeAI's API.

from fetchq import DownloadQueueService, TqdmProgress

queue = DownloadQueueService()
queue.download(source="https://example.com/file.bin", dest="/tmp/downloads",
               on_progress=TqdmProgress().update)
queue.join()
"""

import typing as _typing

from ._categories import DEFAULT_CATEGORIES, Category, category_folder, category_for
from ._dispatch import JobCallbacks
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
    LinkExpiredError,
    NetworkError,
    RedirectError,
    ResponseError,
    ServiceInactiveException,
    SizeMismatch,
    SourceMismatchError,
    TransferError,
    UnknownJobIDException,
    UnsafeDownloadURLException,
    UnsafeFileNameError,
)
from ._http import is_public_address
from ._job import (
    DownloadEventHandler,
    DownloadExceptionHandler,
    DownloadJob,
    DownloadJobBase,
    DownloadJobStatus,
    MultiFileDownloadJob,
)
from ._lists import DownloadList, ListEntry, export_list, read_list
from ._naming import filename_from_url, sanitize_filename
from ._probe import ProbeResult
from ._progress import TqdmProgress
from ._queue import DownloadQueueService
from ._retry import RetryPolicy, Timeouts
from ._schedule import EVERY_DAY, Hours
from ._service_base import DownloadQueueServiceBase
from ._transfer import TransferSettings
from ._url import url_origin
from ._validation import (
    parse_checksum,
    redact_url,
    validate_cookies,
    validate_headers,
    validate_source,
)

__version__ = "0.1.0"

if _typing.TYPE_CHECKING:
    from requests import HTTPError


def __getattr__(name: str) -> object:
    """``HTTPError`` on first use: it is requests' own, and plain downloads never load requests."""
    if name == "HTTPError":
        from requests import HTTPError

        return HTTPError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BlockedAddressError",
    "Category",
    "CertificateError",
    "ChecksumMismatch",
    "DEFAULT_CATEGORIES",
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
    "DownloadExceptionHandler",
    "DownloadJob",
    "DownloadJobBase",
    "DownloadJobCancelledException",
    "DownloadJobStatus",
    "DownloadList",
    "DownloadPausedEvent",
    "DownloadProgressEvent",
    "DownloadQueueService",
    "DownloadQueueServiceBase",
    "DownloadRetryEvent",
    "DownloadStartedEvent",
    "EVERY_DAY",
    "EventBus",
    "FetchqError",
    "HTTPError",
    "Hours",
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
    "LinkExpiredError",
    "ListEntry",
    "MultiFileDownloadJob",
    "NetworkError",
    "ProbeResult",
    "RedirectError",
    "ResponseError",
    "RetryPolicy",
    "ServiceInactiveException",
    "SizeMismatch",
    "SourceMismatchError",
    "Timeouts",
    "TqdmProgress",
    "TransferError",
    "TransferSettings",
    "UnknownJobIDException",
    "UnsafeDownloadURLException",
    "UnsafeFileNameError",
    "__version__",
    "category_folder",
    "category_for",
    "export_list",
    "filename_from_url",
    "is_public_address",
    "parse_checksum",
    "read_list",
    "redact_url",
    "sanitize_filename",
    "url_origin",
    "validate_cookies",
    "validate_headers",
    "validate_source",
]
