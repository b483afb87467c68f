"""How one download's requests go out: where to, with which headers and secrets, at what pace.

The first request of each attempt goes to the link itself; the ranges more connections ask for
go where it redirected (the final URL), with the token and headers only if that is still the
link's origin. A request for bytes of the version on disk carries ``If-Range``. Every body counts
against the queue's speed limit. A planned attempt's connections (:mod:`._segmented`) are set up
here, with what they share with the transfer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Optional

from ._http import FIRST_REQUEST_HEADERS, HttpClient, OriginSecrets, origin_of
from ._limits import Pacer
from ._resume import Resume
from ._segmented import Connections, Setup
from ._segments import Segment, SegmentPlan
from ._steps import Steps
from ._storage import PartFile
from ._transfer_types import TransferHost, TransferRequest, TransferSettings
from ._transport import ByteRange, Receiver


class Fetcher:
    """Sends one download's requests, for every attempt; ``final_url`` is where the last
    first request ended up, after redirects."""

    def __init__(
        self,
        request: TransferRequest,
        client: HttpClient,
        settings: TransferSettings,
        host: TransferHost,
        resume: Resume,
        tick: Callable[[float], None],
    ) -> None:
        self._request = request
        self._client = client
        self._settings = settings
        self._host = host
        self._resume = resume
        self._tick = tick
        self._signal = host.signal
        self.final_url = request.source
        _scheme, hostname, port = origin_of(request.source)
        self.host_key = f"{hostname}:{port}"
        """The host's slots (connections) this download takes."""
        self._pace = Pacer(host.limiter, request.job_id, host.waiting)

    def first(self, receiver: Receiver, wanted: Optional[ByteRange]) -> Steps[str]:
        """An attempt's first request: the ``wanted`` bytes of the link (None: all of it)."""
        request = self._request
        return self._client.fetch_steps(
            request.source,
            self._headers(wanted is not None),
            request.secrets,
            receiver,
            self._signal,
            byte_range=wanted,
            pace=self._pace,
        )

    def fetch_range(self, byte_range: ByteRange, receiver: Receiver) -> Steps[object]:
        """Another connection's request for a range, to the final URL."""
        return self._client.fetch_steps(
            self.final_url,
            self._headers(True),
            self._secrets_for_final(),
            receiver,
            self._signal,
            byte_range=byte_range,
            pace=self._pace,
        )

    def _headers(self, ranged: bool) -> Mapping[str, str]:
        validator = self._resume.state.validator
        if ranged and validator:
            return {**FIRST_REQUEST_HEADERS, "If-Range": validator}
        return FIRST_REQUEST_HEADERS

    def _secrets_for_final(self) -> Optional[OriginSecrets]:
        if origin_of(self.final_url) == origin_of(self._request.source):
            return self._request.secrets
        return None

    def connections(
        self,
        plan: SegmentPlan,
        part: PartFile,
        first: Segment,
        splittable: bool,
        total: int,
        who: object,
    ) -> Connections:
        """The connections of a planned attempt, ``first`` read by the first request's body;
        ``who`` is the download to :class:`HostTrials` (the same for all its attempts)."""
        settings, host, state = self._settings, self._host, self._resume.state
        return Connections(
            Setup(
                job_id=self._request.job_id,
                plan=plan,
                part=part,
                signal=self._signal,
                host_slots=host.host_slots,
                trials=host.trials,
                trials_key=who,
                host_key=self.host_key,
                max_connections=self._request.max_connections,
                fetch_range=self.fetch_range,
                spawn=host.spawn,
                tick=self._tick,
                known_total=total,
                validators=(state.etag, state.last_modified),
                min_split=settings.min_split,
                min_split_slow=settings.min_split_slow,
                split_after=settings.split_after,
                split_if_longer_than=settings.split_if_longer_than,
            ),
            first,
            splittable,
        )
