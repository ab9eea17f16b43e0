"""History as flat records: one row per value (raw) or per interval (aggregated), many tags.

What `gateway history`, `gateway export` and `read_history` share: tag
patterns resolved against the database, default time ranges, and rows as
plain dicts in a fixed column order, produced lazily so a year of history
never sits in memory.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from gateway.aggregates import Aggregate, AggregateConfiguration, describe_status
from gateway.model import Value
from gateway.present.values import format_status
from gateway.storage.reading import StoredHistory

__all__ = ["HistoryRequest", "Record", "columns", "match_tags", "records"]

#: Aggregates stamped with the time of a raw value, not the interval's start.
_OWN_TIME = frozenset(
    {Aggregate.MINIMUM_ACTUAL_TIME, Aggregate.MAXIMUM_ACTUAL_TIME, Aggregate.START, Aggregate.END}
)

#: One output row: column name → value (time is POSIX seconds).
Record = dict[str, Value | float | None]


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    """What to read: tags (names or patterns) of one gateway, a range, and optionally aggregates.

    `gateway`: the `gateway.name` whose rows are read (a fleet shares one database).
    """

    patterns: Sequence[str]
    since: float | None = None
    until: float | None = None
    interval: float | None = None
    aggregates: Sequence[Aggregate] = ()
    config: AggregateConfiguration = field(default_factory=AggregateConfiguration)
    gateway: str = field(kw_only=True)

    def __post_init__(self) -> None:
        if bool(self.aggregates) != (self.interval is not None):
            raise ValueError("--interval and --aggregate go together")
        if self.interval is not None and self.interval < 0:
            raise ValueError("the interval must not be negative")

    @property
    def aggregated(self) -> bool:
        return bool(self.aggregates)


def match_tags(history: StoredHistory, patterns: Sequence[str], *, gateway: str) -> list[str]:
    """`gateway`'s stored tags matching any of `patterns` (device.tag, shell wildcards), in order.

    ValueError naming a pattern that matches nothing.
    """
    stored = history.keys(gateway=gateway)
    chosen: list[str] = []
    for pattern in patterns:
        found = [key for key in stored if fnmatch.fnmatchcase(key, pattern)]
        if not found:
            raise ValueError(f"no stored tag matches {pattern!r}")
        chosen += [key for key in found if key not in chosen]
    return chosen


def columns(request: HistoryRequest) -> list[str]:
    """The column names of `records`, in order."""
    if not request.aggregated:
        return ["time", "tag", "value", "status"]
    names = ["time", "tag"]
    for aggregate in request.aggregates:
        names += [aggregate.cli_name, f"{aggregate.cli_name}_status"]
        if aggregate in _OWN_TIME:
            names.append(f"{aggregate.cli_name}_time")
    return names


def _range(history: StoredHistory, key: str, request: HistoryRequest) -> tuple[float, float]:
    """An aggregate read's range: the request's, else from the first stored value to now."""
    since, until = request.since, request.until
    if since is None:
        first, _ = history.data_range(key, gateway=request.gateway)
        since = first if first is not None else time.time()
    if until is None:
        until = max(time.time(), since + (request.interval or 0) + 1e-6)
    if until <= since:
        raise ValueError("--until must be after --since")
    return since, until


def records(
    history: StoredHistory, keys: Sequence[str], request: HistoryRequest
) -> Iterator[Record]:
    """Every record of `keys`, tag after tag, oldest first within a tag."""
    for key in keys:
        if not request.aggregated:
            values = history.values(key, request.since, request.until, gateway=request.gateway)
            for value in values:
                yield {
                    "time": value.source_time,
                    "tag": key,
                    "value": value.value,
                    "status": format_status(value.status),
                }
            continue
        since, until = _range(history, key, request)
        rows = history.aggregates(
            key,
            request.aggregates,
            start=since,
            end=until,
            interval=request.interval or 0.0,
            gateway=request.gateway,
            config=request.config,
        )
        for interval, results in rows:
            record: Record = {"time": interval.start, "tag": key}
            for aggregate, result in results.items():
                record[aggregate.cli_name] = result.value
                record[f"{aggregate.cli_name}_status"] = describe_status(result.status)
                if aggregate in _OWN_TIME:
                    record[f"{aggregate.cli_name}_time"] = result.time
            yield record
