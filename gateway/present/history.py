"""`gateway history`: one tag's stored values as text lines, streamed page by page.

The database is opened for reading only (gateway/storage/reading.py). Lines
are produced as pages arrive, so a year of history never sits in memory.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from enum import StrEnum
from itertools import chain, islice

from gateway.config import StorageConfig
from gateway.model import DataType, TagValue
from gateway.present.values import format_status, format_time, format_value
from gateway.storage.reading import PAGE_SIZE, read_only

__all__ = ["HistoryFormat", "history_lines"]

_TIME_WIDTH = 32  # 2024-05-01T08:00:00.000000+00:00
_VALUE_WIDTH = 24


class HistoryFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"  # one object per line


def _table(values: Iterator[TagValue], single: bool) -> Iterator[str]:
    yield f"{'time':<{_TIME_WIDTH}}  {'value':<{_VALUE_WIDTH}}  status"
    for value in values:
        time, shown = format_time(value.source_time), format_value(value.value, single=single)
        yield f"{time:<{_TIME_WIDTH}}  {shown:<{_VALUE_WIDTH}}  {format_status(value.status)}"


def _csv(values: Iterator[TagValue], single: bool) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="")
    rows = (
        [
            format_time(v.source_time),
            format_value(v.value, single=single),
            format_status(v.status),
        ]
        for v in values
    )
    for fields in chain([["time", "value", "status"]], rows):  # lazily: values stream
        writer.writerow(fields)
        yield out.getvalue()
        out.seek(0)
        out.truncate()


def _json(values: Iterator[TagValue], single: bool) -> Iterator[str]:
    for v in values:
        value = v.value
        if isinstance(value, float) and not math.isfinite(value):
            value = format_value(value, single=single)  # NaN and infinities as text
        shown = {"time": format_time(v.source_time), "value": value}
        yield json.dumps(shown | {"status": format_status(v.status)})


_FORMATS = {HistoryFormat.TABLE: _table, HistoryFormat.CSV: _csv, HistoryFormat.JSON: _json}


def history_lines(
    storage: StorageConfig,
    key: str,
    start: float | None = None,
    end: float | None = None,
    *,
    format: HistoryFormat = HistoryFormat.TABLE,
    limit: int | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[str]:
    """Header then one line per value of `key` in [start, end), oldest first."""
    if limit is not None:
        page_size = max(1, min(page_size, limit))
    with read_only(storage, holds="history") as history:
        single = history.data_type(key) == DataType.FLOAT32
        values = history.values(key, start, end, page_size=page_size)
        if limit is not None:
            values = islice(values, limit)
        yield from _FORMATS[format](values, single)
