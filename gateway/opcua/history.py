"""HistoryRead on tag nodes (raw and at-time), served from the gateway's historian.

asyncua's HistoryManager keeps its own copy of every value in memory; the
gateway already stores readings in its database, so `TagHistory` replaces the
manager and answers from a `HistoryProvider` (the storage layer's
`Historian`). The server keeps no state between calls: a continuation point
carries the provider's opaque token (plus where a read with bounds stands),
so releasing one is a no-op.

ReadRawModifiedDetails follows OPC UA Part 11 (§4.4 bounding values, §6.4.3
read raw): the time a read begins from is included, the one it stops at is
excluded; EndTime before StartTime, or EndTime alone, reads newest first;
StartTime equal to EndTime reads the value at that instant; ReturnBounds adds
the value at or beyond each end of the range (or a null Bad_BoundNotFound
value stamped with that time when there is none), counted in
NumValuesPerNode. Lenient where asyncua's own client relies on it: one time
with NumValuesPerNode 0 reads everything from there (paged), rather than
Bad_HistoryOperationInvalid. ReadAtTimeDetails is answered with stepped
interpolation (the last stored value at or before each time).
ReadProcessedDetails is answered with Part 13 aggregates
(gateway/opcua/processed.py). Modified and event reads are
Bad_HistoryOperationUnsupported per node.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, cast

from asyncua import ua

from gateway.errors import GatewayError
from gateway.model import TagValue
from gateway.opcua.processed import (
    ProcessedError,
    ProcessedHistoryProvider,
    ProcessedRead,
    processed_values,
)
from gateway.opcua.publisher import data_value
from gateway.opcua.space import GatewaySpace, TagBinding
from gateway.opcua.stack import Caller, ServiceFault
from gateway.ua.wire import StatusCodes, status_code, utc

__all__ = [
    "MAX_TIMES_PER_READ",
    "MAX_VALUES_PER_READ",
    "HistoryPage",
    "HistoryProvider",
    "TagHistory",
]

log = logging.getLogger(__name__)

#: Values per node per HistoryRead call when the client asks for "all" (0) or more.
MAX_VALUES_PER_READ = 5000
#: Requested times answered per node per ReadAtTime call (one indexed query each).
MAX_TIMES_PER_READ = 1000

#: DateTimes at or before this mean "not specified" (OPC UA encodes it as 0 = 1601-01-01).
_UNSPECIFIED = datetime(1601, 1, 2, tzinfo=UTC)
#: StatusCode bits of an interpolated history value: InfoType DataValue + Interpolated.
_INTERPOLATED = 0x0400 | 0x0002
_NULL = ua.Variant(None, ua.VariantType.Null)
_TIMESTAMPS = (
    ua.TimestampsToReturn.Source,
    ua.TimestampsToReturn.Server,
    ua.TimestampsToReturn.Both,
)


class HistoryPage(Protocol):
    """One page of a tag's history in read order; `continuation` None on the last page."""

    @property
    def values(self) -> Sequence[TagValue]: ...

    @property
    def continuation(self) -> str | None: ...


class HistoryProvider(Protocol):
    """Raw history of one tag (implemented by gateway.storage's Historian).

    Returns up to `limit` values with start ≤ source time < end (None: unbounded),
    oldest first, and a token that continues the same query, or None when done.
    With `reverse=True` (passed only for reverse reads): newest first over
    start < time ≤ end. Raises GatewayError for an invalid token or an
    unavailable store.
    """

    async def read_raw(
        self,
        key: str,
        start: float | None,
        end: float | None,
        *,
        limit: int,
        continuation: str | None,
        reverse: bool = False,
    ) -> HistoryPage: ...


class _BadRead(Exception):
    """This node's read fails with `code` (a per-node result, not a service fault)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _seconds(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return None if moment <= _UNSPECIFIED else moment.timestamp()


def _result(code: int) -> ua.HistoryReadResult:
    return ua.HistoryReadResult(StatusCode=status_code(code))


def _stamped(value: ua.DataValue, which: ua.TimestampsToReturn) -> ua.DataValue:
    if which == ua.TimestampsToReturn.Server:
        value.SourceTimestamp = None
    if which == ua.TimestampsToReturn.Source:
        value.ServerTimestamp = None
    return value


def _placeholder(code: int, seconds: float | None) -> ua.DataValue:
    """A null value with a status and time: a missing bound, or no data at a time."""
    return ua.DataValue(
        _NULL,
        StatusCode=status_code(code),
        SourceTimestamp=utc(seconds),
        ServerTimestamp=utc(seconds),
    )


@dataclass(frozen=True, slots=True)
class _RawRead:
    """A ReadRaw request, normalised: read from `origin` (included) toward `toward`.

    `toward` None: open-ended. `exact`: StartTime equal to EndTime, the value at
    `origin` only (time flows forward).
    """

    origin: float
    toward: float | None
    reverse: bool
    exact: bool
    bounds: bool
    limit: int

    @classmethod
    def of(cls, details: ua.ReadRawModifiedDetails) -> _RawRead:
        start, end = _seconds(details.StartTime), _seconds(details.EndTime)
        requested = details.NumValuesPerNode
        limit = min(requested, MAX_VALUES_PER_READ) if requested else MAX_VALUES_PER_READ
        bounds = bool(details.ReturnBounds)
        if start is None and end is None:  # Part 11: two of the three must be given
            raise _BadRead(StatusCodes.BadHistoryOperationInvalid)
        if start is None:
            assert end is not None
            return cls(end, None, reverse=True, exact=False, bounds=bounds, limit=limit)
        if end is None:
            return cls(start, None, reverse=False, exact=False, bounds=bounds, limit=limit)
        return cls(start, end, reverse=end < start, exact=end == start, bounds=bounds, limit=limit)


@dataclass(frozen=True, slots=True)
class _Position:
    """Where a raw read stands between calls: `stage` first bound, values or last bound."""

    stage: str
    token: str | None = None

    def encode(self, key: str) -> bytes:
        return json.dumps([1, key, self.stage, self.token]).encode()

    @classmethod
    def decode(cls, data: bytes, key: str) -> _Position:
        try:
            version, subject, stage, token = json.loads(data)
        except (ValueError, TypeError) as error:
            raise _BadRead(StatusCodes.BadContinuationPointInvalid) from error
        valid = stage in ("first", "values", "last") and (token is None or isinstance(token, str))
        if version != 1 or subject != key or not valid:
            raise _BadRead(StatusCodes.BadContinuationPointInvalid)
        return cls(stage, token)


class TagHistory:
    """The HistoryRead hook of the server: reads of tags from a HistoryProvider."""

    def __init__(self, space: GatewaySpace, provider: HistoryProvider) -> None:
        self._space = space
        self._provider = provider

    async def __call__(
        self, _caller: Caller, params: ua.HistoryReadParameters
    ) -> list[ua.HistoryReadResult]:
        details = params.HistoryReadDetails
        if params.TimestampsToReturn not in _TIMESTAMPS:  # Part 4: Neither is invalid here
            raise ServiceFault(StatusCodes.BadTimestampsToReturnInvalid)
        results: list[ua.HistoryReadResult] = []
        nodes = list(params.NodesToRead)
        for index, item in enumerate(nodes):
            if params.ReleaseContinuationPoints:
                results.append(_result(StatusCodes.Good))  # stateless: nothing to free
                continue
            binding = self._space.tag_of(item.NodeId)
            try:
                if binding is None:
                    raise _BadRead(StatusCodes.BadHistoryOperationUnsupported)
                if isinstance(details, ua.ReadRawModifiedDetails) and not details.IsReadModified:
                    values, more = await self._read_raw(binding, details, item)
                elif isinstance(details, ua.ReadAtTimeDetails):
                    values, more = await self._read_at_time(binding, details, item)
                elif isinstance(details, ua.ReadProcessedDetails):
                    read = ProcessedRead.of(details, index, len(nodes))
                    values, more = await self._read_processed(binding, read, item)
                else:  # modified, events
                    raise _BadRead(StatusCodes.BadHistoryOperationUnsupported)
            except (_BadRead, ProcessedError) as bad:
                results.append(_result(bad.code))
                continue
            which = params.TimestampsToReturn
            no_data = not item.ContinuationPoint and all(_no_data(v) for v in values)
            result = _result(StatusCodes.GoodNoData if no_data else StatusCodes.Good)
            result.HistoryData = ua.HistoryData(DataValues=[_stamped(v, which) for v in values])
            result.ContinuationPoint = more
            results.append(result)
        return results

    # -- raw ------------------------------------------------------------------------------------

    async def _read_raw(
        self,
        binding: TagBinding,
        details: ua.ReadRawModifiedDetails,
        item: ua.HistoryReadValueId,
    ) -> tuple[list[ua.DataValue], bytes | None]:
        """One page of a raw read and the continuation point for the next, if any."""
        read = _RawRead.of(details)
        key = binding.tag.key
        if item.ContinuationPoint:
            position = _Position.decode(item.ContinuationPoint, key)
        else:
            position = _Position("first" if read.bounds else "values")
        page: list[ua.DataValue] = []
        if position.stage == "first":
            page += await self._first_bound(binding, read)
            position = _Position("values")
        if position.stage == "values":
            if len(page) >= read.limit:
                return page, position.encode(key)
            values, token = await self._values(binding, read, read.limit - len(page), position)
            page += values
            if token is not None:
                return page, _Position("values", token).encode(key)
            position = _Position("last")
        if not read.bounds:
            return page, None
        if len(page) >= read.limit:
            return page, position.encode(key)
        page.append(await self._last_bound(binding, read))
        return page, None

    async def _values(
        self, binding: TagBinding, read: _RawRead, limit: int, position: _Position
    ) -> tuple[list[ua.DataValue], str | None]:
        """The values inside the range: from `origin` (included) toward `toward` (excluded)."""
        key = binding.tag.key
        if read.exact:
            if read.bounds:  # the bounds are the whole answer
                return [], None
            found = await self._nearest(key, read.origin, after=False)
            if found is None or _time(found) != read.origin:
                return [], None
            return [data_value(binding, found)], None
        if read.reverse:
            page = await self._page(
                key, read.toward, read.origin, limit, position.token, reverse=True
            )
        else:
            page = await self._page(
                key, read.origin, read.toward, limit, position.token, reverse=False
            )
        return [data_value(binding, value) for value in page.values], page.continuation

    async def _first_bound(self, binding: TagBinding, read: _RawRead) -> list[ua.DataValue]:
        """The value at or just beyond `origin`, outside the range; [] when it opens the range."""
        found = await self._nearest(binding.tag.key, read.origin, after=read.reverse)
        if found is None:
            return [_placeholder(StatusCodes.BadBoundNotFound, read.origin)]
        if _time(found) == read.origin and not read.exact:
            return []  # the range includes its origin: that value is the bound
        return [data_value(binding, found)]

    async def _last_bound(self, binding: TagBinding, read: _RawRead) -> ua.DataValue:
        """The value at or just beyond `toward` (strictly after `origin` for an exact read)."""
        key = binding.tag.key
        if read.exact:
            found = await self._nearest(key, read.origin, after=True, strictly=True)
            return (
                data_value(binding, found)
                if found is not None
                else _placeholder(StatusCodes.BadBoundNotFound, read.origin)
            )
        if read.toward is None:  # open-ended: nothing bounds it
            return _placeholder(StatusCodes.BadBoundNotFound, None)
        found = await self._nearest(key, read.toward, after=not read.reverse)
        if found is None:
            return _placeholder(StatusCodes.BadBoundNotFound, read.toward)
        return data_value(binding, found)

    # -- processed ----------------------------------------------------------------------------

    async def _read_processed(
        self, binding: TagBinding, read: ProcessedRead, item: ua.HistoryReadValueId
    ) -> tuple[list[ua.DataValue], bytes | None]:
        """Part 13 aggregates of the tag (gateway/opcua/processed.py)."""
        provider = self._provider
        if not hasattr(provider, "read_processed"):
            raise _BadRead(StatusCodes.BadHistoryOperationUnsupported)
        try:
            return await processed_values(
                cast(ProcessedHistoryProvider, provider),
                binding,
                read,
                item.ContinuationPoint or None,
                MAX_VALUES_PER_READ,
            )
        except GatewayError as error:
            log.warning("OPC UA: aggregates of %s unavailable: %s", binding.tag.key, error)
            raise _BadRead(StatusCodes.BadResourceUnavailable) from error

    # -- at time ----------------------------------------------------------------------------

    async def _read_at_time(
        self, binding: TagBinding, details: ua.ReadAtTimeDetails, item: ua.HistoryReadValueId
    ) -> tuple[list[ua.DataValue], bytes | None]:
        """Stepped interpolation: each time gets the last stored value at or before it."""
        key = binding.tag.key
        times = list(details.ReqTimes or [])
        offset = 0
        if item.ContinuationPoint:
            try:
                subject, offset = json.loads(item.ContinuationPoint)
            except (ValueError, TypeError) as error:
                raise _BadRead(StatusCodes.BadContinuationPointInvalid) from error
            if subject != key or not isinstance(offset, int) or not 0 < offset < len(times):
                raise _BadRead(StatusCodes.BadContinuationPointInvalid)
        following = min(offset + MAX_TIMES_PER_READ, len(times))
        values: list[ua.DataValue] = []
        for moment in times[offset:following]:
            seconds = _seconds(moment)
            if seconds is None:
                raise _BadRead(StatusCodes.BadInvalidTimestampArgument)
            found = await self._nearest(key, seconds, after=False)
            if found is None:
                values.append(_placeholder(StatusCodes.BadNoData, seconds))
                continue
            value = data_value(binding, found)
            if _time(found) != seconds:
                code = value.StatusCode.value if value.StatusCode is not None else 0
                value.StatusCode = status_code(code | _INTERPOLATED)
                value.SourceTimestamp = value.ServerTimestamp = utc(seconds)
            values.append(value)
        more = json.dumps([key, following]).encode() if following < len(times) else None
        return values, more

    # -- provider -----------------------------------------------------------------------------

    async def _page(
        self,
        key: str,
        start: float | None,
        end: float | None,
        limit: int,
        token: str | None,
        *,
        reverse: bool,
    ) -> HistoryPage:
        try:
            if reverse:
                return await self._provider.read_raw(
                    key, start, end, limit=limit, continuation=token, reverse=True
                )
            # Forward reads leave `reverse` out: providers written before it still fit.
            return await self._provider.read_raw(key, start, end, limit=limit, continuation=token)
        except GatewayError as error:
            log.warning("OPC UA: history of %s unavailable: %s", key, error)
            raise _BadRead(
                StatusCodes.BadContinuationPointInvalid
                if token is not None
                else StatusCodes.BadResourceUnavailable
            ) from error

    async def _nearest(
        self, key: str, moment: float, *, after: bool, strictly: bool = False
    ) -> TagValue | None:
        """The stored value at `moment` or the nearest before it (after it: `after`)."""
        if not after:
            page = await self._page(key, None, moment, 1, None, reverse=True)
            return page.values[0] if page.values else None
        page = await self._page(key, moment, None, 2 if strictly else 1, None, reverse=False)
        for value in page.values:
            time = _time(value)
            if not strictly or (time is not None and time > moment):
                return value
        return None


def _no_data(value: ua.DataValue) -> bool:
    """A processed result without data (Part 11: a range with none is GoodNoData)."""
    code = value.StatusCode.value if value.StatusCode is not None else 0
    return code & 0xFFFF0000 == StatusCodes.BadNoData


def _time(value: TagValue) -> float | None:
    return value.source_time if value.source_time is not None else value.server_time
