"""`gateway history`: stored values of one tag or several as text lines, streamed.

The database is opened for reading only (gateway/storage/reading.py). Lines
are produced as pages arrive, so a year of history never sits in memory.
Several tags (of this gateway or, in a fleet's shared database, of others)
are merged by time into one listing with a `tag` column naming each value's
`GATEWAY/device.tag`; one tag keeps the plain time, value, status columns.
"""

from __future__ import annotations

import csv
import heapq
import io
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import chain, islice

from gateway.config import StorageConfig
from gateway.config.types import validate_name
from gateway.model import DataType, TagValue
from gateway.present.values import format_status, format_time, format_value
from gateway.storage.errors import StorageError
from gateway.storage.reading import PAGE_SIZE, StoredHistory, read_only

__all__ = ["HistoryFormat", "TagRef", "history_lines", "parse_tag_ref"]

_TIME_WIDTH = 32  # 2024-05-01T08:00:00.000000+00:00
_VALUE_WIDTH = 24


class HistoryFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"  # one object per line


@dataclass(frozen=True, slots=True)
class TagRef:
    """A tag of one gateway: `key` is device.tag, `gateway` the `gateway.name`."""

    gateway: str
    key: str

    def __str__(self) -> str:
        return f"{self.gateway}/{self.key}"


def parse_tag_ref(text: str, default_gateway: str) -> TagRef:
    """`device.tag` (of `default_gateway`) or `GATEWAY/device.tag`; ValueError if malformed."""
    gateway, slash, key = text.rpartition("/")
    if slash and not gateway:
        raise ValueError(f"{text!r}: expected GATEWAY/device.tag, the gateway name is empty")
    if "/" in gateway:
        raise ValueError(f"{text!r}: expected [GATEWAY/]device.tag, with at most one '/'")
    if gateway:
        try:
            validate_name(gateway)
        except ValueError as error:
            raise ValueError(f"{text!r}: gateway name {error}") from None
    device, dot, name = key.partition(".")
    if not (dot and device and name):
        raise ValueError(f"{text!r}: expected [GATEWAY/]device.tag")
    return TagRef(gateway or default_gateway, key)


@dataclass(frozen=True, slots=True)
class _Labelled:
    """A value with the tag it belongs to, for the merged listing of several tags."""

    tag: str
    value: TagValue


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


def _json_fields(v: TagValue, single: bool) -> dict[str, object]:
    value = v.value
    if isinstance(value, float) and not math.isfinite(value):
        value = format_value(value, single=single)  # NaN and infinities as text
    return {"time": format_time(v.source_time), "value": value, "status": format_status(v.status)}


def _json(values: Iterator[TagValue], single: bool) -> Iterator[str]:
    for v in values:
        yield json.dumps(_json_fields(v, single))


_FORMATS = {HistoryFormat.TABLE: _table, HistoryFormat.CSV: _csv, HistoryFormat.JSON: _json}


def _merged_table(values: Iterator[_Labelled], singles: set[str], width: int) -> Iterator[str]:
    yield f"{'time':<{_TIME_WIDTH}}  {'tag':<{width}}  {'value':<{_VALUE_WIDTH}}  status"
    for item in values:
        value = item.value
        time = format_time(value.source_time)
        shown = format_value(value.value, single=item.tag in singles)
        status = format_status(value.status)
        yield f"{time:<{_TIME_WIDTH}}  {item.tag:<{width}}  {shown:<{_VALUE_WIDTH}}  {status}"


def _merged_csv(values: Iterator[_Labelled], singles: set[str], width: int) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="")
    rows = (
        [
            format_time(item.value.source_time),
            item.tag,
            format_value(item.value.value, single=item.tag in singles),
            format_status(item.value.status),
        ]
        for item in values
    )
    for fields in chain([["time", "tag", "value", "status"]], rows):
        writer.writerow(fields)
        yield out.getvalue()
        out.seek(0)
        out.truncate()


def _merged_json(values: Iterator[_Labelled], singles: set[str], width: int) -> Iterator[str]:
    for item in values:
        yield json.dumps({"tag": item.tag} | _json_fields(item.value, item.tag in singles))


_MERGED_FORMATS = {
    HistoryFormat.TABLE: _merged_table,
    HistoryFormat.CSV: _merged_csv,
    HistoryFormat.JSON: _merged_json,
}


def _data_type(history: StoredHistory, ref: TagRef, own: str) -> str:
    """The tag's stored data type; StorageError naming what the database holds if none."""
    data_type = history.data_type(ref.key, gateway=ref.gateway)
    if data_type is not None:
        return data_type
    if ref.gateway == own:
        raise StorageError(
            f"no history for tag {ref.key!r}: it is not in the database's tags table"
        )
    known = ", ".join(repr(name) for name in history.gateways() if name) or "none"
    raise StorageError(
        f"no history for tag '{ref}': gateway {ref.gateway!r} has no such tag in this "
        f"database (gateways with tags here: {known})"
    )


def history_lines(
    storage: StorageConfig,
    refs: Sequence[TagRef],
    start: float | None = None,
    end: float | None = None,
    *,
    own: str,
    format: HistoryFormat = HistoryFormat.TABLE,
    limit: int | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[str]:
    """Header then one line per value of `refs` in [start, end), oldest first.

    `own`: this gateway's name (its missing tags get the single-gateway message).
    One tag: time, value, status. Several: time, tag, value, status, merged by time
    (each tag streams page by page; equal times keep the order of `refs`).
    """
    if not refs:
        raise ValueError("history_lines needs at least one tag")
    if limit is not None:
        page_size = max(1, min(page_size, limit))
    with read_only(storage, holds="history", up_to_date=True) as history:
        singles = {str(r) for r in refs if _data_type(history, r, own) == DataType.FLOAT32}
        if len(refs) == 1:
            (ref,) = refs
            values = history.values(ref.key, start, end, gateway=ref.gateway, page_size=page_size)
            if limit is not None:
                values = islice(values, limit)
            yield from _FORMATS[format](values, bool(singles))
            return
        streams = [_labelled(history, ref, start, end, page_size) for ref in refs]
        merged: Iterator[_Labelled] = heapq.merge(
            *streams, key=lambda item: item.value.source_time or 0.0
        )
        if limit is not None:
            merged = islice(merged, limit)
        width = max(len("tag"), *(len(str(ref)) for ref in refs))
        yield from _MERGED_FORMATS[format](merged, singles, width)


def _labelled(
    history: StoredHistory, ref: TagRef, start: float | None, end: float | None, page_size: int
) -> Iterator[_Labelled]:
    label = str(ref)
    for value in history.values(ref.key, start, end, gateway=ref.gateway, page_size=page_size):
        yield _Labelled(label, value)
