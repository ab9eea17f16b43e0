"""Retention: delete readings and alarm events older than the configured age, in chunks.

The latest event of each alarm is never deleted: it holds the alarm's state.

A gateway deletes only its own rows (`gateway`), by its own retention: in a
database shared by a fleet each gateway keeps its history as configured.

Each call deletes at most `chunk` rows in one short transaction, so the
writer's batches (queued on the same storage thread) get in between and no
lock is held for long. Readings are deleted tag by tag along the primary
key (tag_id, ts): the boundary of a chunk is found by an index lookup, and
no index on time alone is needed (which would slow every insert).
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection, Engine

from gateway.storage.errors import mapped_errors
from gateway.storage.schema import alarm_events, readings, tags

__all__ = ["TAGS_PER_TRANSACTION", "delete_expired_events", "delete_expired_readings"]

#: Tags with expired rows visited per transaction.
TAGS_PER_TRANSACTION = 1000


def _delete_tag(connection: Connection, tag_id: int, cutoff: int, budget: int) -> int:
    """Delete up to `budget` of the tag's rows older than `cutoff` (oldest first)."""
    boundary = connection.execute(
        select(readings.c.ts)
        .where(readings.c.tag_id == tag_id, readings.c.ts < cutoff)
        .order_by(readings.c.ts)
        .offset(budget - 1)
        .limit(1)
    ).scalar()
    limit = readings.c.ts <= boundary if boundary is not None else readings.c.ts < cutoff
    result = connection.execute(delete(readings).where(readings.c.tag_id == tag_id, limit))
    return int(result.rowcount)


def delete_expired_readings(
    engine: Engine, cutoff: int, chunk: int, resume_from: int = 0, *, gateway: str
) -> tuple[int, int | None]:
    """Delete up to `chunk` readings with ts < `cutoff` (µs) in one transaction.

    Visits tags with id ≥ `resume_from`; returns (rows deleted, the tag id to
    resume from, or None once every tag has been visited).
    """
    with mapped_errors("deleting old readings"), engine.begin() as connection:
        # Only tags holding expired rows: one statement whose per-tag index
        # seeks run inside the database, instead of two statements per tag from
        # Python (100k tags kept a core busy for half a minute on every pass).
        expired = (
            select(readings.c.ts)
            .where(readings.c.tag_id == tags.c.id, readings.c.ts < cutoff)
            .exists()
        )
        tag_ids = (
            connection.execute(
                select(tags.c.id)
                .where(tags.c.gateway == gateway, tags.c.id >= resume_from, expired)
                .order_by(tags.c.id)
                .limit(TAGS_PER_TRANSACTION)
            )
            .scalars()
            .all()
        )
        budget = chunk
        for tag_id in tag_ids:
            budget -= _delete_tag(connection, tag_id, cutoff, budget)
            if budget == 0:
                return chunk, tag_id  # the tag may hold more
    if len(tag_ids) < TAGS_PER_TRANSACTION:
        return chunk - budget, None
    return chunk - budget, tag_ids[-1] + 1


def delete_expired_events(engine: Engine, cutoff: int, chunk: int, *, gateway: str) -> int:
    """Delete up to `chunk` alarm events with ts < `cutoff` (µs); return how many.

    The latest event of each alarm is kept however old: it is the alarm's state,
    which a restart restores (an alarm active for longer than the retention
    would otherwise come back as normal).
    """
    own = alarm_events.c.gateway == gateway
    latest = select(func.max(alarm_events.c.id)).where(own).group_by(alarm_events.c.alarm)
    oldest = (
        select(alarm_events.c.id)
        .where(own, alarm_events.c.ts < cutoff, alarm_events.c.id.not_in(latest))
        .order_by(alarm_events.c.ts)
        .limit(chunk)
    )
    with mapped_errors("deleting old alarm events"), engine.begin() as connection:
        ids = connection.execute(oldest).scalars().all()
        if not ids:
            return 0
        connection.execute(delete(alarm_events).where(alarm_events.c.id.in_(ids)))
    return len(ids)
