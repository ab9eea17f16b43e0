"""Readings of many tags over one time window, page by page (store and forward; blocking).

The MQTT publisher replays what a broker outage kept from its subscribers.
Each tag's rows are one index range scan of the (tag_id, ts) key, so a page
costs what it returns, whatever the table holds outside the window; a page
walks the tags in order, each oldest first, and `ReplayCursor` says where the
next page starts. Only the replaying gateway's tags are read (`gateway`): in a
database shared by a fleet, another gateway's tag of the same name is not its.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Select, select
from sqlalchemy.engine import Connection, Engine

from gateway.model import DataType, Status, TagValue, Value
from gateway.storage.errors import mapped_errors
from gateway.storage.rows import decode_value, status_of, to_us
from gateway.storage.schema import readings, tags

__all__ = ["ReplayCursor", "ReplayPage", "replay_page"]


@dataclass(frozen=True, slots=True)
class ReplayCursor:
    """Where a replay goes on: the index of the tag in the key list, and the last time read."""

    tag_index: int = 0
    after_us: int | None = None


@dataclass(frozen=True, slots=True)
class ReplayPage:
    values: list[TagValue]
    next: ReplayCursor | None  # None: the window is done


def replay_page(
    engine: Engine,
    keys: Sequence[str],
    start: float,
    end: float,
    *,
    gateway: str,
    cursor: ReplayCursor,
    limit: int,
) -> ReplayPage:
    """Up to `limit` stored values of `keys` with start < time ≤ end, tag by tag, oldest first."""
    start_us, end_us = to_us(start), to_us(end)
    values: list[TagValue] = []
    index, after = cursor.tag_index, cursor.after_us
    with mapped_errors("reading readings to replay"), engine.connect() as connection:
        ids = _tag_ids(connection, keys, gateway)
        while index < len(keys) and len(values) < limit:
            key = keys[index]
            found = ids.get(key)
            if found is None:
                index, after = index + 1, None
                continue
            tag_id, data_type = found
            query = (
                select(readings.c.ts, readings.c.value_num, readings.c.value_str, readings.c.status)
                .where(readings.c.tag_id == tag_id)
                .where(readings.c.ts > (start_us if after is None else max(after, start_us)))
                .where(readings.c.ts <= end_us)
                .order_by(readings.c.ts)
                .limit(limit - len(values))
            )
            rows = _fetch(connection, query)
            values.extend(_values(key, data_type, cast(Sequence[tuple[int, Any, Any, int]], rows)))
            if len(values) < limit:
                index, after = index + 1, None
            else:
                after = rows[-1][0]
    done = index >= len(keys)
    return ReplayPage(values, None if done else ReplayCursor(index, after))


def _fetch(connection: Connection, query: Select[Any]) -> list[Any]:
    """The driver's rows as they are: the columns need no conversion (integers, a float,
    a string), and skipping SQLAlchemy's row objects makes reading about 10% faster."""
    result = connection.execute(query)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


#: Status by stored code: one dict lookup per row instead of an enum call.
_STATUSES = {int(status): status for status in Status}


def _values(
    key: str, data_type: DataType, rows: Sequence[tuple[int, Any, Any, int]]
) -> list[TagValue]:
    """Rows as values: the hot loop of a replay (a million rows take seconds), kept lean."""
    statuses = _STATUSES
    out: list[TagValue] = []
    append = out.append
    for ts, number, text, code in rows:
        when = ts / 1_000_000
        if text is None and number is not None and data_type is not DataType.STRING:
            value: Value | None = (
                number
                if data_type is DataType.FLOAT32 or data_type is DataType.FLOAT64
                else decode_value(data_type, number, text)
            )
        else:
            value = decode_value(data_type, number, text)
        status = statuses.get(code)
        append(TagValue(key, value, status if status is not None else status_of(code), when, when))
    return out


def _tag_ids(
    connection: Connection, keys: Sequence[str], gateway: str
) -> dict[str, tuple[int, DataType]]:
    devices = {key.partition(".")[0] for key in keys}
    query = select(tags.c.id, tags.c.device, tags.c.name, tags.c.data_type).where(
        tags.c.gateway == gateway, tags.c.device.in_(devices)
    )
    rows = connection.execute(query).all()
    return {f"{row.device}.{row.name}": (row.id, DataType(row.data_type)) for row in rows}
