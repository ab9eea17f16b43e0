"""Values ⇄ database columns (pure): where each kind of value is stored, exactly.

A row is `(tag key, ts µs, value_num, value_str, status)`. Numbers go to
`value_num` except those a double would change: integers beyond ±2^53 are
kept as text in `value_str` (with their nearest double in `value_num` for
ad-hoc SQL), and NaN, which SQLite would store as NULL, is kept as text.
Strings go to `value_str` with NUL characters (which PostgreSQL refuses in
text and which a PLC string only holds as garbage) replaced by U+FFFD.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gateway.model import DataType, Status, TagValue, Value

__all__ = [
    "AlarmEvent",
    "OutboxMessage",
    "PendingMessage",
    "Row",
    "decode_value",
    "encode_value",
    "from_us",
    "row_of",
    "status_of",
    "to_us",
]

#: (tag key, ts in µs since the epoch, value_num, value_str, status code)
Row = tuple[str, int, float | None, str | None, int]

#: Integers with a magnitude above this do not survive a round trip through a double.
_EXACT_DOUBLE = 2**53
_NAN_TEXT = "NaN"


def to_us(seconds: float) -> int:
    """POSIX seconds → integer microseconds (the storage time unit)."""
    return round(seconds * 1_000_000)


def from_us(micros: int) -> float:
    """Integer microseconds → POSIX seconds."""
    return micros / 1_000_000


def encode_value(value: Value | None) -> tuple[float | None, str | None]:
    """(value_num, value_str) for one value."""
    if value is None:
        return None, None
    if isinstance(value, str):
        return None, value.replace("\x00", "\ufffd")
    if isinstance(value, bool):
        return float(value), None
    if isinstance(value, int):
        if abs(value) > _EXACT_DOUBLE:
            return float(value), str(value)
        return float(value), None
    if math.isnan(value):
        return None, _NAN_TEXT
    return value, None


def decode_value(
    data_type: DataType, value_num: float | None, value_str: str | None
) -> Value | None:
    """The stored value as the tag's type (what `encode_value` wrote)."""
    if data_type is DataType.STRING:
        return value_str if value_str is not None else _numeric_text(value_num)
    if value_str is not None:
        if data_type.is_integer:
            try:
                return int(value_str)
            except ValueError:
                return value_str
        try:
            return float(value_str)
        except ValueError:
            return value_str
    if value_num is None:
        return None
    if data_type is DataType.BOOL:
        return value_num != 0
    if data_type.is_integer and float(value_num).is_integer():
        return int(value_num)
    return float(value_num)  # a scaled integer tag (scale 0.1) holds fractions


def _numeric_text(value_num: float | None) -> str | None:
    # A tag that became a string tag: its older numeric rows read as text.
    return None if value_num is None else f"{value_num:g}"


def row_of(value: TagValue, ts: float | None = None) -> Row:
    """The row for a published value, at `ts` (default: when the gateway saw it).

    The gateway's time is the key, not the source time: an Uncertain value keeps
    its last good source time, and the row marks when communication was lost.
    """
    number, text = encode_value(value.value)
    when = value.server_time if ts is None else ts
    return (value.tag, to_us(when), number, text, int(value.status))


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """One alarm transition for the journal (activated, cleared, acknowledged…).

    `state` (the ISA-18.2 state after the transition) and `limit` (the active or
    last active limit key) are what a restart restores an alarm from; None in
    events journaled before schema revision 0002.
    """

    alarm: str
    time: float
    transition: str
    severity: int
    message: str
    value: Value | None = None
    user: str | None = None
    comment: str | None = None
    state: str | None = None
    limit: str | None = None
    # Revision 0004: shelving ("unshelved", "oneshot", "timed"; None before it),
    # when a timed shelve ends, and out of service (None before it: enabled).
    shelving: str | None = None
    shelved_until: float | None = None
    enabled: bool | None = None
    # Written in the event's transaction to the outbox (revision 0004); never read back.
    notifications: tuple[OutboxMessage, ...] = ()

    @property
    def state_after(self) -> str:
        """`state`, or for an event from before revision 0002 the state its transition
        implies: an activation restores as active and unacknowledged (an operator looks
        once more), a clear or an acknowledgement as normal."""
        if self.state is not None:
            return self.state
        return _INFERRED_STATES.get(self.transition, "normal")


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One notification to deliver: to `channel`, about one journaled transition.

    `message_id` is stable (the receiver's idempotency key); `payload` is the
    JSON body every channel renders from.
    """

    message_id: str
    channel: str
    alarm: str
    transition: str
    time: float
    payload: str


@dataclass(frozen=True, slots=True)
class PendingMessage:
    """An outbox row as the deliverer and `gateway alarms --notifications` see it."""

    id: int
    message: OutboxMessage
    status: str  # pending, sent, failed
    attempts: int
    next_try: float
    last_error: str | None
    sent_time: float | None


#: The state after a transition, for events journaled without it (schema 0001).
_INFERRED_STATES = {"activated": "active_unacked", "limit_changed": "active_unacked"}


def status_of(code: int) -> Status:
    """The stored status code as a Status (codes are only ever written from Status)."""
    return Status(code)
