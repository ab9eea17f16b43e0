"""HistoryRead with ReadProcessedDetails: Part 13 aggregates of a tag, from the historian.

Each node names its aggregate (AggregateType[i]); one the gateway does not
compute is Bad_AggregateNotSupported for that node. The AggregateConfiguration
of the request applies unless it asks for the server's defaults (those of
Part 13: Uncertain counts as usable, 100/100 percent, stepped
extrapolation). A call returns at most MAX_VALUES_PER_READ intervals per node;
the continuation point holds the next interval's number, so the server keeps
nothing between calls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from asyncua import ua

from gateway.aggregates import Aggregate, AggregateConfiguration, AggregateValue
from gateway.aggregates.intervals import count_intervals
from gateway.model import DataType, Value
from gateway.opcua.space import TagBinding
from gateway.ua.wire import StatusCodes, status_code, utc

__all__ = [
    "ProcessedHistoryProvider",
    "ProcessedPage",
    "ProcessedRead",
    "processed_values",
]

#: Aggregates whose result has the tag's own type (Part 13: "Same as Source").
_SAME_AS_SOURCE = frozenset(
    {
        Aggregate.MINIMUM,
        Aggregate.MAXIMUM,
        Aggregate.MINIMUM_ACTUAL_TIME,
        Aggregate.MAXIMUM_ACTUAL_TIME,
        Aggregate.START,
        Aggregate.END,
    }
)
_UNSPECIFIED = datetime(1601, 1, 2, tzinfo=UTC)
_NULL = ua.Variant(None, ua.VariantType.Null)


class ProcessedPage(Protocol):
    @property
    def values(self) -> list[AggregateValue]: ...

    @property
    def next_interval(self) -> int | None: ...


class ProcessedHistoryProvider(Protocol):
    """Aggregates of one tag (implemented by gateway.storage's Historian)."""

    async def read_processed(
        self,
        key: str,
        aggregate: Aggregate,
        *,
        start: float,
        end: float,
        processing: float,
        config: AggregateConfiguration,
        first: int,
        limit: int,
    ) -> ProcessedPage: ...


class ProcessedError(Exception):
    """This node's processed read fails with `code`."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _seconds(moment: datetime | None) -> float:
    if moment is None:
        raise ProcessedError(StatusCodes.BadInvalidTimestampArgument)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment <= _UNSPECIFIED:
        raise ProcessedError(StatusCodes.BadInvalidTimestampArgument)
    return moment.timestamp()


def _configuration(given: ua.AggregateConfiguration | None) -> AggregateConfiguration:
    if given is None or given.UseServerCapabilitiesDefaults:
        return AggregateConfiguration()
    try:
        return AggregateConfiguration(
            treat_uncertain_as_bad=bool(given.TreatUncertainAsBad),
            percent_data_bad=int(given.PercentDataBad),
            percent_data_good=int(given.PercentDataGood),
            use_sloped_extrapolation=bool(given.UseSlopedExtrapolation),
        )
    except ValueError as error:
        raise ProcessedError(StatusCodes.BadAggregateConfigurationRejected) from error


@dataclass(frozen=True, slots=True)
class ProcessedRead:
    """A ReadProcessed request for one node, checked."""

    aggregate: Aggregate
    start: float
    end: float
    processing: float  # seconds
    config: AggregateConfiguration

    @classmethod
    def of(cls, details: ua.ReadProcessedDetails, index: int, count: int) -> ProcessedRead:
        kinds = list(details.AggregateType or [])
        if len(kinds) != count:
            raise ProcessedError(StatusCodes.BadAggregateListMismatch)
        kind = kinds[index]
        aggregate = None
        if kind.NamespaceIndex == 0 and isinstance(kind.Identifier, int):
            aggregate = Aggregate.from_node_number(kind.Identifier)
        if aggregate is None:
            raise ProcessedError(StatusCodes.BadAggregateNotSupported)
        start, end = _seconds(details.StartTime), _seconds(details.EndTime)
        if end < start:  # reverse order: not offered
            raise ProcessedError(StatusCodes.BadHistoryOperationUnsupported)
        processing = float(details.ProcessingInterval or 0.0) / 1000.0
        try:
            count_intervals(start, end, processing)
        except ValueError as error:
            raise ProcessedError(StatusCodes.BadInvalidArgument) from error
        config = _configuration(details.AggregateConfiguration)
        return cls(aggregate, start, end, processing, config)


def _variant(binding: TagBinding, aggregate: Aggregate, value: Value | None) -> ua.Variant:
    if value is None:
        return _NULL
    textual = binding.tag.data_type in (DataType.BOOL, DataType.STRING)
    if aggregate in _SAME_AS_SOURCE or (aggregate is Aggregate.INTERPOLATIVE and textual):
        kind = binding.ua_type
        return ua.Variant(kind.convert(value), kind.variant)
    if aggregate is Aggregate.COUNT:
        return ua.Variant(int(value), ua.VariantType.Int32)
    return ua.Variant(float(value), ua.VariantType.Double)


def _data_value(binding: TagBinding, aggregate: Aggregate, result: AggregateValue) -> ua.DataValue:
    return ua.DataValue(
        _variant(binding, aggregate, result.value),
        StatusCode=status_code(result.status),
        SourceTimestamp=utc(result.time),
        ServerTimestamp=utc(result.time),
    )


def _continuation(key: str, aggregate: Aggregate, following: int) -> bytes:
    return json.dumps([2, key, aggregate.node_number, following]).encode()


def _resume(data: bytes, key: str, aggregate: Aggregate) -> int:
    try:
        version, subject, number, following = json.loads(data)
    except (ValueError, TypeError) as error:
        raise ProcessedError(StatusCodes.BadContinuationPointInvalid) from error
    valid = isinstance(following, int) and following > 0
    if version != 2 or subject != key or number != aggregate.node_number or not valid:
        raise ProcessedError(StatusCodes.BadContinuationPointInvalid)
    return int(following)


async def processed_values(
    provider: ProcessedHistoryProvider,
    binding: TagBinding,
    read: ProcessedRead,
    continuation: bytes | None,
    limit: int,
) -> tuple[list[ua.DataValue], bytes | None]:
    """One page of a node's aggregate results and the continuation point, if any."""
    key = binding.tag.key
    first = _resume(continuation, key, read.aggregate) if continuation else 0
    page = await provider.read_processed(
        key,
        read.aggregate,
        start=read.start,
        end=read.end,
        processing=read.processing,
        config=read.config,
        first=first,
        limit=limit,
    )
    values = [_data_value(binding, read.aggregate, result) for result in page.values]
    more = None
    if page.next_interval is not None:
        more = _continuation(key, read.aggregate, page.next_interval)
    return values, more
