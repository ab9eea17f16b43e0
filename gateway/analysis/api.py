"""`read_history`: a gateway's stored history as a pandas DataFrame, without writing SQL."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.aggregates import Aggregate, AggregateConfiguration, parse_aggregates
from gateway.analysis.frames import to_frame
from gateway.analysis.records import HistoryRequest, columns, match_tags, records
from gateway.config import load_config, parse_duration
from gateway.present.timespec import parse_time
from gateway.storage.reading import read_only

__all__ = ["read_history"]

TimeLike = float | int | str | datetime | None


def _seconds(moment: TimeLike) -> float | None:
    if moment is None:
        return None
    if isinstance(moment, datetime):
        return moment.timestamp()  # naive: local time, like the CLI
    if isinstance(moment, str):
        return parse_time(moment, time.time())
    return float(moment)


def _aggregates(given: str | Iterable[str | Aggregate]) -> tuple[Aggregate, ...]:
    if isinstance(given, str):
        return parse_aggregates(given)
    chosen: list[Aggregate] = []
    for item in given:
        chosen += [item] if isinstance(item, Aggregate) else list(parse_aggregates(item))
    return tuple(chosen)


def read_history(  # noqa: PLR0917 - the documented call, positionally
    config_path: str | Path,
    tags: str | Iterable[str],
    since: TimeLike = None,
    until: TimeLike = None,
    interval: float | str | None = None,
    aggregates: str | Iterable[str | Aggregate] = (),
    *,
    configuration: AggregateConfiguration | None = None,
    gateway: str | None = None,
) -> Any:
    """Stored history of `tags` (names or patterns like "boiler.*") as a DataFrame.

    Raw: columns time, tag, value, status, one row per stored value. With
    `interval` ("1h", or seconds) and `aggregates` ("average,minimum" or a
    list): one row per tag and interval, a value and a status column per
    aggregate (OPC UA Part 13 semantics, computed in SQL where possible).
    Times: POSIX seconds, datetimes, or text as `gateway history` takes it.
    `gateway`: another gateway's rows in a shared database (default: this one's).
    """
    loaded = load_config(Path(config_path), serve_opcua=False)
    request = HistoryRequest(
        patterns=[tags] if isinstance(tags, str) else list(tags),
        since=_seconds(since),
        until=_seconds(until),
        interval=None if interval is None else parse_duration(interval),
        aggregates=_aggregates(aggregates),
        config=configuration or AggregateConfiguration(),
        gateway=gateway or loaded.config.gateway.name,
    )
    with read_only(loaded.config.storage, holds="history") as history:
        keys = match_tags(history, request.patterns, gateway=request.gateway)
        return to_frame(records(history, keys, request), columns(request))
