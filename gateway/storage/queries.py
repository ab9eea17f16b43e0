"""Reading history back: raw values by time range, latest values, the alarm journal.

Ranges are half-open, [start, end), in POSIX seconds (None = unbounded).
Long ranges are read in pages with keyset pagination: a page ends with an
opaque continuation token that holds the last key returned, so the next
page is one index range scan whatever the offset and nothing stays open
between pages (no long read transaction holding back SQLite's checkpoints).

Every query reads one gateway's rows (`gateway`: its `gateway.name`), its own
or, in a fleet's shared database, another's; a continuation token belongs to
the gateway it was issued for.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection, Engine, Row

from gateway.model import DataType, TagValue
from gateway.storage.errors import StorageError, mapped_errors
from gateway.storage.rows import AlarmEvent, decode_value, from_us, status_of, to_us
from gateway.storage.schema import alarm_events, readings, tags

__all__ = [
    "AlarmPage",
    "RawPage",
    "alarm_journal",
    "alarm_states",
    "iter_alarm_journal",
    "iter_raw",
    "latest",
    "read_raw",
]

#: Rows per query when streaming a long range.
PAGE_SIZE = 5000


@dataclass(frozen=True, slots=True)
class RawPage:
    """Values of one tag in read order; `continuation` is None when the range is done."""

    values: list[TagValue]
    continuation: str | None


@dataclass(frozen=True, slots=True)
class AlarmPage:
    events: list[AlarmEvent]
    continuation: str | None


def _encode_token(*parts: object) -> str:
    return base64.urlsafe_b64encode(json.dumps([1, *parts]).encode()).decode().rstrip("=")


def _decode_token(token: str, kind: str, subject: str) -> list[Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        parts = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error) as error:
        raise StorageError(f"invalid continuation point {token!r}") from error
    if not (isinstance(parts, list) and len(parts) >= 3 and parts[:3] == [1, kind, subject]):
        raise StorageError(f"continuation point {token!r} does not belong to this query")
    return parts[3:]


def _find_tag(connection: Connection, key: str, gateway: str) -> tuple[int, DataType]:
    device, _, name = key.partition(".")
    row = connection.execute(
        select(tags.c.id, tags.c.data_type).where(
            tags.c.gateway == gateway, tags.c.device == device, tags.c.name == name
        )
    ).first()
    if row is None:
        raise StorageError(
            f"no history for tag {key!r} of gateway {gateway!r}: it is not in the "
            "database's tags table"
        )
    return row.id, DataType(row.data_type)


def read_raw(
    engine: Engine,
    key: str,
    start: float | None = None,
    end: float | None = None,
    *,
    gateway: str,
    limit: int = PAGE_SIZE,
    continuation: str | None = None,
    reverse: bool = False,
) -> RawPage:
    """Up to `limit` values of tag `key` with start ≤ time < end, oldest first.

    `reverse`: newest first over the mirror range start < time ≤ end, so the
    time a read begins from is included either way (OPC UA's reverse reads).
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    kind = "raw-reverse" if reverse else "raw"
    after: int | None = None
    if continuation is not None:
        (after,) = _decode_token(continuation, kind, f"{gateway}/{key}")
    with mapped_errors(f"reading the history of {key}"), engine.connect() as connection:
        tag_id, data_type = _find_tag(connection, key, gateway)
        query = select(readings.c.ts, readings.c.value_num, readings.c.value_str, readings.c.status)
        query = query.where(readings.c.tag_id == tag_id)
        ts = readings.c.ts
        if reverse:
            if after is not None:
                query = query.where(ts < after)
            elif end is not None:
                query = query.where(ts <= to_us(end))
            if start is not None:
                query = query.where(ts > to_us(start))
            query = query.order_by(ts.desc())
        else:
            if after is not None:
                query = query.where(ts > after)
            elif start is not None:
                query = query.where(ts >= to_us(start))
            if end is not None:
                query = query.where(ts < to_us(end))
            query = query.order_by(ts)
        rows = connection.execute(query.limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    values = [
        TagValue(
            key,
            decode_value(data_type, row.value_num, row.value_str),
            status_of(row.status),
            from_us(row.ts),
            from_us(row.ts),
        )
        for row in rows
    ]
    token = _encode_token(kind, f"{gateway}/{key}", rows[-1].ts) if more else None
    return RawPage(values, token)


def iter_raw(
    engine: Engine,
    key: str,
    start: float | None = None,
    end: float | None = None,
    *,
    gateway: str,
    page_size: int = PAGE_SIZE,
) -> Iterator[TagValue]:
    """Every value of `key` in [start, end), fetched page by page (bounded memory)."""
    continuation: str | None = None
    while True:
        page = read_raw(
            engine, key, start, end, gateway=gateway, limit=page_size, continuation=continuation
        )
        yield from page.values
        if page.continuation is None:
            return
        continuation = page.continuation


def latest(engine: Engine, keys: Iterable[str] | None = None, *, gateway: str) -> list[TagValue]:
    """The newest stored value of each tag (of `keys`, or all), ordered by key."""
    newest = (
        select(func.max(readings.c.ts))
        .where(readings.c.tag_id == tags.c.id)
        .correlate(tags)
        .scalar_subquery()
    )
    query = (
        select(
            tags.c.device,
            tags.c.name,
            tags.c.data_type,
            readings.c.ts,
            readings.c.value_num,
            readings.c.value_str,
            readings.c.status,
        )
        .join(readings, readings.c.tag_id == tags.c.id)
        .where(tags.c.gateway == gateway, readings.c.ts == newest)
        .order_by(tags.c.device, tags.c.name)
    )
    wanted = None if keys is None else set(keys)
    with mapped_errors("reading the latest values"), engine.connect() as connection:
        rows = connection.execute(query).all()
    values = []
    for row in rows:
        key = f"{row.device}.{row.name}"
        if wanted is not None and key not in wanted:
            continue
        value = decode_value(DataType(row.data_type), row.value_num, row.value_str)
        when = from_us(row.ts)
        values.append(TagValue(key, value, status_of(row.status), when, when))
    return values


def alarm_journal(
    engine: Engine,
    start: float | None = None,
    end: float | None = None,
    *,
    gateway: str,
    alarm: str | None = None,
    limit: int = PAGE_SIZE,
    continuation: str | None = None,
) -> AlarmPage:
    """Alarm transitions with start ≤ time < end (of one alarm, or all), oldest first."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    subject = f"{gateway}/{alarm or ''}"
    query = select(alarm_events).where(alarm_events.c.gateway == gateway)
    if continuation is not None:
        after_ts, after_id = _decode_token(continuation, "alarms", subject)
        query = query.where(
            or_(
                alarm_events.c.ts > after_ts,
                and_(alarm_events.c.ts == after_ts, alarm_events.c.id > after_id),
            )
        )
    elif start is not None:
        query = query.where(alarm_events.c.ts >= to_us(start))
    if end is not None:
        query = query.where(alarm_events.c.ts < to_us(end))
    if alarm is not None:
        query = query.where(alarm_events.c.alarm == alarm)
    query = query.order_by(alarm_events.c.ts, alarm_events.c.id).limit(limit + 1)
    with mapped_errors("reading the alarm journal"), engine.connect() as connection:
        rows = connection.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    events = [_event(row) for row in rows]
    token = _encode_token("alarms", subject, rows[-1].ts, rows[-1].id) if more else None
    return AlarmPage(events, token)


def _event(row: Row[Any]) -> AlarmEvent:
    return AlarmEvent(
        alarm=row.alarm,
        time=from_us(row.ts),
        transition=row.transition,
        severity=row.severity,
        message=row.message,
        value=decode_value(DataType.FLOAT64, row.value_num, row.value_str),
        user=row.user,
        comment=row.comment,
        state=row.state,
        limit=row.limit_key,
        shelving=row.shelving,
        shelved_until=None if row.shelved_until is None else from_us(row.shelved_until),
        enabled=row.enabled,
    )


def iter_alarm_journal(
    engine: Engine,
    start: float | None = None,
    end: float | None = None,
    *,
    gateway: str,
    alarm: str | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[AlarmEvent]:
    """Every journal event in [start, end), fetched page by page (bounded memory)."""
    continuation: str | None = None
    while True:
        page = alarm_journal(
            engine,
            start,
            end,
            gateway=gateway,
            alarm=alarm,
            limit=page_size,
            continuation=continuation,
        )
        yield from page.events
        if page.continuation is None:
            return
        continuation = page.continuation


def alarm_states(
    engine: Engine, alarms: Iterable[str] | None = None, *, gateway: str
) -> dict[str, AlarmEvent]:
    """The latest journaled event of each alarm (of `alarms`, or all), by alarm name.

    "Latest" is the last inserted (highest id), not the highest time: the
    journal is written in transition order even if the clock stepped back.
    """
    newest = (
        select(func.max(alarm_events.c.id))
        .where(alarm_events.c.gateway == gateway)
        .group_by(alarm_events.c.alarm)
    )
    if alarms is not None:
        newest = newest.where(alarm_events.c.alarm.in_(list(alarms)))
    query = select(alarm_events).where(alarm_events.c.id.in_(newest))
    with mapped_errors("reading the alarm states"), engine.connect() as connection:
        rows = connection.execute(query.order_by(alarm_events.c.alarm)).all()
    return {row.alarm: _event(row) for row in rows}
