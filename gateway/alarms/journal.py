"""Alarm snapshots ⇄ journal events (pure), and what the engine needs of a journal.

Every journaled transition is written with the state it leads to and the
limit in force, so that the latest event of an alarm is its state: that is
what a restart restores from. Events written before those columns existed
(schema 0001) carry no state; it is inferred from the transition.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Protocol

from gateway.alarms.model import AlarmSnapshot, AlarmState, Shelving, Transition
from gateway.model import DataType, Value
from gateway.storage.rows import AlarmEvent, OutboxMessage

__all__ = ["AlarmJournal", "event_of", "journaled_shelving", "journaled_state", "typed_value"]


class AlarmJournal(Protocol):
    """Where transitions go and states come back from (the Historian is one)."""

    def record_alarm(self, event: AlarmEvent) -> None: ...

    async def alarm_states(self, alarms: Iterable[str] | None = None) -> dict[str, AlarmEvent]: ...


def event_of(
    snapshot: AlarmSnapshot,
    transition: Transition,
    notifications: tuple[OutboxMessage, ...] = (),
) -> AlarmEvent:
    """The journal event for a journaled transition, with the outbox messages it sends."""
    return AlarmEvent(
        alarm=snapshot.name,
        time=snapshot.time,
        transition=transition.value,
        severity=snapshot.severity,
        message=snapshot.message,
        value=snapshot.value,
        user=snapshot.user,
        comment=snapshot.comment,
        state=snapshot.state.value,
        limit=snapshot.limit,
        shelving=snapshot.shelving.value,
        shelved_until=snapshot.shelved_until,
        enabled=snapshot.enabled,
        notifications=notifications,
    )


def journaled_state(event: AlarmEvent) -> AlarmState:
    """The state an alarm was left in by its latest journal event."""
    try:
        return AlarmState(event.state_after)
    except ValueError:  # a state this gateway does not know: as if none was recorded
        return AlarmState(replace(event, state=None).state_after)


def journaled_shelving(event: AlarmEvent) -> Shelving:
    """The shelving an alarm was left in (events from before revision 0004: none)."""
    try:
        return Shelving(event.shelving or Shelving.UNSHELVED)
    except ValueError:
        return Shelving.UNSHELVED


def typed_value(value: Value | None, data_type: DataType | None) -> Value | None:
    """A journaled value (stored as a double) back as the tag's type."""
    if not isinstance(value, float) or data_type is None:
        return value
    if data_type is DataType.BOOL:
        return value != 0
    if data_type.is_integer and value.is_integer():
        return int(value)
    return value
