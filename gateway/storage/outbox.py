"""The notification outbox (revision 0004): rows written with their journal event,
then taken, retried and marked by the deliverer (gateway/alarms/notify/).

Every function runs on the storage thread with the historian's engine. A row
is `pending` until it is `sent` or `failed` (a 4xx answer, or not delivered
within the give-up time); `next_try` (µs) is when a pending row is due.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, Row, func, select, update
from sqlalchemy.engine import Connection

from gateway.storage.errors import mapped_errors
from gateway.storage.rows import OutboxMessage, PendingMessage, from_us, to_us
from gateway.storage.schema import notifications

__all__ = [
    "PENDING",
    "insert_messages",
    "mark_failed",
    "mark_retry",
    "mark_sent",
    "mark_sent_through",
    "outbox_counts",
    "outbox_rows",
    "pending_digest",
    "pending_messages",
]

PENDING, SENT, FAILED = "pending", "sent", "failed"
#: A longest error text kept per row (a receiver's answer can be anything).
_ERROR_CHARS = 500


def insert_messages(
    connection: Connection, messages: Sequence[OutboxMessage], *, gateway: str
) -> None:
    """Add `gateway`'s `messages` as pending, due now (inside the caller's transaction)."""
    if not messages:
        return
    connection.execute(
        notifications.insert(),
        [
            {
                "message_id": m.message_id,
                "channel": m.channel,
                "alarm": m.alarm,
                "transition": m.transition,
                "ts": to_us(m.time),
                "payload": m.payload,
                "status": PENDING,
                "attempts": 0,
                "next_try": to_us(m.time),
                "gateway": gateway,
            }
            for m in messages
        ],
    )


def _pending(row: Row[Any]) -> PendingMessage:
    message = OutboxMessage(
        message_id=row.message_id,
        channel=row.channel,
        alarm=row.alarm,
        transition=row.transition,
        time=from_us(row.ts),
        payload=row.payload,
    )
    return PendingMessage(
        id=row.id,
        message=message,
        status=row.status,
        attempts=row.attempts,
        next_try=from_us(row.next_try),
        last_error=row.last_error,
        sent_time=None if row.sent_ts is None else from_us(row.sent_ts),
    )


def pending_messages(engine: Engine, limit: int, *, gateway: str) -> list[PendingMessage]:
    """Every pending row of `gateway`, oldest first, at most `limit` (due or not: the
    deliverer decides, so that it also knows when the next one falls due)."""
    query = (
        select(notifications)
        .where(notifications.c.gateway == gateway, notifications.c.status == PENDING)
        .order_by(notifications.c.id)
        .limit(limit)
    )
    with mapped_errors("reading the notification outbox"), engine.connect() as connection:
        return [_pending(row) for row in connection.execute(query)]


def mark_sent(engine: Engine, ids: Sequence[int], now: float, note: str | None = None) -> None:
    """Rows delivered (`note`: e.g. which digest carried them)."""
    statement = (
        update(notifications)
        .where(notifications.c.id.in_(list(ids)))
        .values(
            status=SENT,
            sent_ts=to_us(now),
            attempts=notifications.c.attempts + 1,
            last_error=note,
        )
    )
    with mapped_errors("updating the notification outbox"), engine.begin() as connection:
        connection.execute(statement)


def mark_retry(engine: Engine, ids: Sequence[int], next_try: float, error: str) -> None:
    """Rows that failed for now: one more attempt, due again at `next_try`."""
    statement = (
        update(notifications)
        .where(notifications.c.id.in_(list(ids)))
        .values(
            attempts=notifications.c.attempts + 1,
            next_try=to_us(next_try),
            last_error=error[:_ERROR_CHARS],
        )
    )
    with mapped_errors("updating the notification outbox"), engine.begin() as connection:
        connection.execute(statement)


def mark_failed(engine: Engine, ids: Sequence[int], error: str) -> None:
    """Rows given up on (a refusal, or too old): kept, with why, for `--notifications`."""
    statement = (
        update(notifications)
        .where(notifications.c.id.in_(list(ids)))
        .values(
            status=FAILED, attempts=notifications.c.attempts + 1, last_error=error[:_ERROR_CHARS]
        )
    )
    with mapped_errors("updating the notification outbox"), engine.begin() as connection:
        connection.execute(statement)


def pending_digest(
    engine: Engine, channel: str, details: int, *, gateway: str
) -> tuple[int, dict[str, int], list[OutboxMessage]] | None:
    """Every pending row of `channel` for one digest: the highest id it covers, the count
    per alarm, the newest `details` messages (oldest first); None when none is pending."""
    mine = (
        (notifications.c.gateway == gateway)
        & (notifications.c.status == PENDING)
        & (notifications.c.channel == channel)
    )
    with mapped_errors("reading the notification outbox"), engine.connect() as connection:
        last = connection.execute(select(func.max(notifications.c.id)).where(mine)).scalar()
        if last is None:
            return None
        covered = mine & (notifications.c.id <= last)
        counts = select(notifications.c.alarm, func.count()).where(covered)
        per_alarm = {
            str(row[0]): int(row[1])
            for row in connection.execute(counts.group_by(notifications.c.alarm))
        }
        newest = select(notifications).where(covered).order_by(notifications.c.id.desc())
        rows = [_pending(row).message for row in connection.execute(newest.limit(details))]
    return int(last), per_alarm, rows[::-1]


def mark_sent_through(
    engine: Engine, channel: str, last: int, now: float, note: str, *, gateway: str
) -> int:
    """Every pending row of `channel` up to id `last` delivered (by one digest)."""
    statement = (
        update(notifications)
        .where(
            (notifications.c.gateway == gateway)
            & (notifications.c.status == PENDING)
            & (notifications.c.channel == channel)
            & (notifications.c.id <= last)
        )
        .values(status=SENT, sent_ts=to_us(now), attempts=notifications.c.attempts + 1,
                last_error=note)
    )  # fmt: skip
    with mapped_errors("updating the notification outbox"), engine.begin() as connection:
        return int(connection.execute(statement).rowcount)


def outbox_rows(engine: Engine, limit: int, *, gateway: str) -> list[PendingMessage]:
    """`gateway`'s newest `limit` rows of every status, newest first (for people)."""
    query = (
        select(notifications)
        .where(notifications.c.gateway == gateway)
        .order_by(notifications.c.id.desc())
        .limit(limit)
    )
    with mapped_errors("reading the notification outbox"), engine.connect() as connection:
        return [_pending(row) for row in connection.execute(query)]


def outbox_counts(engine: Engine, *, gateway: str) -> dict[str, int]:
    """How many of `gateway`'s rows are pending, sent, failed."""
    query = (
        select(notifications.c.status, func.count())
        .where(notifications.c.gateway == gateway)
        .group_by(notifications.c.status)
    )
    with mapped_errors("reading the notification outbox"), engine.connect() as connection:
        counts = {PENDING: 0, SENT: 0, FAILED: 0}
        counts.update({str(row[0]): int(row[1]) for row in connection.execute(query)})
        return counts
