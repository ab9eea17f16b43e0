"""HistoryRead (raw) on tag nodes, served from the gateway's historian.

asyncua's HistoryManager keeps its own copy of every value in memory; the
gateway already stores readings in its database, so `TagHistory` replaces the
manager and answers ReadRawModifiedDetails from a `HistoryProvider` (the
storage layer's `Historian`). Paging is the provider's: its opaque
continuation token travels to the client as the ContinuationPoint bytes, so
the server keeps no state between calls and releasing a point is a no-op.

Limits (documented in docs/opcua.md): values come oldest first; reverse reads
(StartTime after EndTime), bounding values, modified, processed and at-time
reads are answered with Bad_HistoryOperationUnsupported.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from asyncua import ua
from asyncua.server.history import HistoryManager

from gateway.errors import GatewayError
from gateway.model import TagValue
from gateway.opcua.publisher import data_value
from gateway.opcua.space import GatewaySpace, TagBinding
from gateway.opcua.uawire import StatusCodes, status_code

__all__ = ["MAX_VALUES_PER_READ", "HistoryPage", "HistoryProvider", "TagHistory"]

log = logging.getLogger(__name__)

#: Values per node per HistoryRead call when the client asks for "all" (0) or more.
MAX_VALUES_PER_READ = 5000

#: DateTimes at or before this mean "not specified" (OPC UA encodes it as 0 = 1601-01-01).
_UNSPECIFIED = datetime(1601, 1, 2, tzinfo=UTC)


class HistoryPage(Protocol):
    """One page of a tag's history, oldest first; `continuation` None on the last page."""

    @property
    def values(self) -> Sequence[TagValue]: ...

    @property
    def continuation(self) -> str | None: ...


class HistoryProvider(Protocol):
    """Raw history of one tag (implemented by gateway.storage's Historian).

    Returns up to `limit` values with start ≤ source time < end (None: unbounded),
    oldest first, and a token that continues the same query, or None when done.
    Raises GatewayError for an invalid token or an unavailable store.
    """

    async def read_raw(
        self,
        key: str,
        start: float | None,
        end: float | None,
        *,
        limit: int,
        continuation: str | None,
    ) -> HistoryPage: ...


def _seconds(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return None if moment <= _UNSPECIFIED else moment.timestamp()


def _result(code: int) -> ua.HistoryReadResult:
    return ua.HistoryReadResult(StatusCode=status_code(code))


def _stamped(value: ua.DataValue, which: ua.TimestampsToReturn) -> ua.DataValue:
    if which in (ua.TimestampsToReturn.Server, ua.TimestampsToReturn.Neither):
        value.SourceTimestamp = None
    if which in (ua.TimestampsToReturn.Source, ua.TimestampsToReturn.Neither):
        value.ServerTimestamp = None
    return value


class TagHistory(HistoryManager):
    """asyncua's history manager, answering raw reads of tags from a HistoryProvider."""

    def __init__(self, iserver: Any, space: GatewaySpace, provider: HistoryProvider) -> None:
        super().__init__(iserver)
        self._space = space
        self._provider = provider

    async def read_history(self, params: ua.HistoryReadParameters) -> list[ua.HistoryReadResult]:
        details = params.HistoryReadDetails
        results: list[ua.HistoryReadResult] = []
        for item in params.NodesToRead:
            if params.ReleaseContinuationPoints:
                results.append(_result(StatusCodes.Good))  # stateless: nothing to free
                continue
            binding = self._space.tag_of(item.NodeId)
            raw = isinstance(details, ua.ReadRawModifiedDetails) and not details.IsReadModified
            if binding is None or not raw:
                results.append(_result(StatusCodes.BadHistoryOperationUnsupported))
            else:
                results.append(await self._read_raw(binding, details, item, params))
        return results

    async def _read_raw(
        self,
        binding: TagBinding,
        details: ua.ReadRawModifiedDetails,
        item: ua.HistoryReadValueId,
        params: ua.HistoryReadParameters,
    ) -> ua.HistoryReadResult:
        start, end = _seconds(details.StartTime), _seconds(details.EndTime)
        if start is not None and end is not None and start > end:
            return _result(StatusCodes.BadHistoryOperationUnsupported)
        requested = details.NumValuesPerNode
        limit = min(requested, MAX_VALUES_PER_READ) if requested else MAX_VALUES_PER_READ
        token = item.ContinuationPoint.decode() if item.ContinuationPoint else None
        try:
            page = await self._provider.read_raw(
                binding.tag.key, start, end, limit=limit, continuation=token
            )
        except GatewayError as error:
            log.warning("OPC UA: history of %s unavailable: %s", binding.tag.key, error)
            code = (
                StatusCodes.BadContinuationPointInvalid
                if token is not None
                else StatusCodes.BadResourceUnavailable
            )
            return _result(code)
        which = params.TimestampsToReturn
        values = [_stamped(data_value(binding, value), which) for value in page.values]
        no_data = not values and token is None
        result = _result(StatusCodes.GoodNoData if no_data else StatusCodes.Good)
        result.HistoryData = ua.HistoryData(DataValues=values)
        result.ContinuationPoint = page.continuation.encode() if page.continuation else None
        return result
