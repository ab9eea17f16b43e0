"""`gateway history`: one tag's stored values as text lines, streamed page by page.

The database is opened for reading only: it is never migrated from here, and
a schema newer than this code is refused like at start-up. Lines are
produced as pages arrive, so a year of history never sits in memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum
from itertools import chain, islice

from sqlalchemy import Engine, select

from gateway.codec import float32_text
from gateway.config import StorageConfig
from gateway.model import DataType, Status, TagValue, Value
from gateway.storage.engine import open_engine
from gateway.storage.errors import StorageError
from gateway.storage.migrate import schema_state
from gateway.storage.queries import PAGE_SIZE, iter_raw
from gateway.storage.schema import tags

__all__ = ["HistoryFormat", "format_status", "history_lines"]

_TIME_WIDTH = 32  # 2024-05-01T08:00:00.000000+00:00
_VALUE_WIDTH = 24


class HistoryFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"


def format_status(status: Status) -> str:
    """OPC UA spelling: Good, Uncertain_NoCommunicationLastUsableValue, Bad_Timeout…"""
    severity, _, rest = status.name.partition("_")
    words = "".join(word.capitalize() for word in rest.split("_"))
    return severity.capitalize() + (f"_{words}" if words else "")


def _format_time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds")


def _format_value(value: Value | None, *, single: bool = False) -> str:
    """`single`: the tag is a float32, shown with float32's shortest digits."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return float32_text(value) if single else repr(value)
    return str(value)


def _table(values: Iterator[TagValue], single: bool) -> Iterator[str]:
    yield f"{'time':<{_TIME_WIDTH}}  {'value':<{_VALUE_WIDTH}}  status"
    for value in values:
        time, shown = _format_time(value.source_time), _format_value(value.value, single=single)
        yield f"{time:<{_TIME_WIDTH}}  {shown:<{_VALUE_WIDTH}}  {format_status(value.status)}"


def _csv(values: Iterator[TagValue], single: bool) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="")
    rows = (
        [
            _format_time(v.source_time),
            _format_value(v.value, single=single),
            format_status(v.status),
        ]
        for v in values
    )
    for fields in chain([["time", "value", "status"]], rows):  # lazily: values stream
        writer.writerow(fields)
        yield out.getvalue()
        out.seek(0)
        out.truncate()


def _data_type(engine: Engine, key: str) -> str | None:
    device, _, name = key.partition(".")
    query = select(tags.c.data_type).where(tags.c.device == device, tags.c.name == name)
    with engine.connect() as connection:
        return connection.execute(query).scalar()


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
    engine = open_engine(storage.url, synchronous=storage.synchronous, create=False)
    if limit is not None:
        page_size = max(1, min(page_size, limit))
    try:
        if schema_state(engine).current is None:
            raise StorageError(
                "the database holds no history yet (no schema): start the gateway or run "
                "`gateway db upgrade -c FILE`"
            )
        single = _data_type(engine, key) == DataType.FLOAT32
        values = iter_raw(engine, key, start, end, page_size=page_size)
        if limit is not None:
            values = islice(values, limit)
        yield from (_csv if format is HistoryFormat.CSV else _table)(values, single)
    finally:
        engine.dispose()
