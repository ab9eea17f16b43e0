"""OPC UA Part 13 aggregates over a tag's raw history: a pure engine, no I/O.

One implementation serves the CLI, the export, the pandas API and OPC UA's
HistoryReadProcessed. The storage layer pushes the raw-value aggregates
(Count, Average, Minimum, Maximum, Range) into SQL as per-interval summaries
(`IntervalSummary`) and finishes them with the same functions this package
uses on raw points, so both paths give the same answer.
"""

from gateway.aggregates.engine import compute, compute_interval, compute_many
from gateway.aggregates.intervals import Interval, count_intervals, intervals
from gateway.aggregates.model import (
    PUSHDOWN,
    Aggregate,
    AggregateConfiguration,
    AggregateValue,
    RawPoint,
    parse_aggregates,
)
from gateway.aggregates.series import Series
from gateway.aggregates.status import (
    BAD_NO_DATA,
    CALCULATED,
    GOOD,
    INTERPOLATED,
    MULTIPLE_VALUES,
    PARTIAL,
    UNCERTAIN,
    UNCERTAIN_DATA_SUB_NORMAL,
    describe_status,
)
from gateway.aggregates.summary import IntervalSummary, finish, summarize

__all__ = [
    "BAD_NO_DATA",
    "CALCULATED",
    "GOOD",
    "INTERPOLATED",
    "MULTIPLE_VALUES",
    "PARTIAL",
    "PUSHDOWN",
    "UNCERTAIN",
    "UNCERTAIN_DATA_SUB_NORMAL",
    "Aggregate",
    "AggregateConfiguration",
    "AggregateValue",
    "Interval",
    "IntervalSummary",
    "RawPoint",
    "Series",
    "compute",
    "compute_interval",
    "compute_many",
    "count_intervals",
    "describe_status",
    "finish",
    "intervals",
    "parse_aggregates",
    "summarize",
]
