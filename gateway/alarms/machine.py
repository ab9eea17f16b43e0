"""One alarm's ISA-18.2 state machine (pure: no I/O, the time is passed in).

The machine is fed input values (`update`), told when time passed (`tick`)
and acknowledged (`acknowledge`); each returns the resulting changes as
(snapshot, transition) pairs, which the engine journals and hands on.

Delays: a condition that would escalate the alarm (activate it, or move it
to a more severe limit) must hold continuously for `delay` before it takes
effect, and one that would de-escalate it (clear it, or high_high → high)
for `off_delay`. Because the bus publishes only changes, a value that stays
put past a limit would never be seen again: the pending change carries a due
time, exposed as `deadline`, and the engine calls `tick` at that time.

Acknowledgement: an escalation (normal → active, high → high_high, high →
low) makes the alarm unacknowledged again, as a new, worse condition that an
operator must see; a de-escalation (high_high → high) does not, as in OPC UA
ExclusiveLimitAlarms where the less severe limit is the same alarm calming down.

Quality: an input that is not Good keeps the state (no false clear, no false
trip), cancels what is pending, and is shown in `snapshot.quality`
(Transition.QUALITY, not journaled). The first Good value evaluates afresh.
A quality alarm is the exception: the quality is what it watches.

Time-driven kinds (stale, quality, a decaying rate; kinds.py) say when their
target may change with no input (`Rule.wakeup`); `deadline` includes it, so
the engine's timer calls `tick` then, as for a delay. A deviation alarm also
takes its reference tag's values (`update_reference`).

Shelving and out of service (Part 9): a shelved alarm is evaluated as ever
and only marked (`snapshot.shelving`); a one-shot shelve ends when the alarm
clears, a timed one at its time (part of `deadline`). A disabled alarm is out
of service: it goes to NORMAL, inputs are only remembered, and Enable
evaluates the last one afresh.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import NamedTuple

from gateway.alarms.kinds import HIGH, DeviationRule, StaleRule, rule_for
from gateway.alarms.messages import MessageFormat
from gateway.alarms.model import AlarmSnapshot, AlarmState, Shelving, Transition
from gateway.alarms.rules import DISCRETE, Condition, is_escalation, side
from gateway.config.alarms import AlarmConfig, AlarmKind
from gateway.errors import AlarmAlreadyAcked, AlarmShelvingRefused
from gateway.model import DataType, Status, Value

__all__ = ["AlarmMachine", "Change"]

#: Limit keys, least severe first on each side.
_SEVERITY_ORDER = ("low", "low_low", "high", "high_high")


class Change(NamedTuple):
    """One change of an alarm: its new snapshot, and why."""

    snapshot: AlarmSnapshot
    transition: Transition


class _Direction(Enum):
    ON = "on"  # an escalation, waiting for `delay`
    OFF = "off"  # a de-escalation, waiting for `off_delay`


@dataclass(frozen=True, slots=True)
class _Pending:
    direction: _Direction
    due: float


class AlarmMachine:
    """The state of one configured alarm and the rules that move it."""

    def __init__(
        self,
        alarm: AlarmConfig,
        *,
        now: float,
        unit: str | None = None,
        data_type: DataType | None = None,
        scan_interval: float | None = None,
    ) -> None:
        self.alarm = alarm
        self._rule = rule_for(
            alarm, now=now, single=data_type is DataType.FLOAT32, scan_interval=scan_interval
        )
        self._format = MessageFormat(alarm, self._rule, unit=unit, data_type=data_type)
        self._active: Condition = None  # the condition in force while active
        self._pending: _Pending | None = None
        self._input: Value | None = None  # the last Good input value
        self._evaluated_at = now  # a rule's wakeup at or before this is spent
        self._snapshot = AlarmSnapshot(
            name=alarm.name,
            tag=alarm.tag,
            kind=alarm.kind,
            state=AlarmState.NORMAL,
            severity=alarm.severity,
            message="",
            limit=None,
            value=None,
            quality=Status.BAD_WAITING_FOR_INITIAL_DATA,
            time=now,
        )

    @property
    def snapshot(self) -> AlarmSnapshot:
        return self._snapshot

    @property
    def deadline(self) -> float | None:
        """When a pending (delayed) change falls due, a time-driven rule may change its
        mind, or a timed shelve ends; None when only an input can change anything."""
        times = [self._snapshot.shelved_until]
        if self._snapshot.enabled:
            times.append(None if self._pending is None else self._pending.due)
            wakeup = self._rule.wakeup(self._active)
            if wakeup is not None and wakeup > self._evaluated_at:
                times.append(wakeup)
        return min((t for t in times if t is not None), default=None)

    # -- inputs -----------------------------------------------------------------------------

    def update(self, value: Value | None, status: Status, now: float) -> list[Change]:
        """A new input value with its quality."""
        changes: list[Change] = []
        if status != self._snapshot.quality:
            self._snapshot = replace(self._snapshot, quality=status)
            changes.append(Change(self._snapshot, Transition.QUALITY))
        if status.is_good:
            self._input = value
        if not self._rule.observe(value, status, now) or not self._snapshot.enabled:
            self._pending = None  # a delay counts only while the condition is seen to hold
            return changes
        changes.extend(self._evaluate(now))
        return changes

    def update_reference(self, value: Value | None, status: Status, now: float) -> list[Change]:
        """A new value of a deviation alarm's reference tag (other kinds ignore it)."""
        if not isinstance(self._rule, DeviationRule):
            return []
        observed = self._rule.observe_reference(value, status)
        if not observed or not self._snapshot.quality.is_good or not self._snapshot.enabled:
            self._pending = None
            return []
        return self._evaluate(now)

    def tick(self, now: float) -> list[Change]:
        """Time passed: end a timed shelve, apply a pending change or a rule's wakeup."""
        due = self.deadline
        if due is None or now < due:
            return []
        changes: list[Change] = []
        until = self._snapshot.shelved_until
        if until is not None and until <= now:
            changes.append(self._unshelved(None, "timed shelve expired", now))
        if self._snapshot.enabled:
            changes.extend(self._evaluate(now))
        return changes

    # -- shelving and out of service ----------------------------------------------------

    def shelve(
        self, shelving: Shelving, *, until: float | None, user: str, reason: str, now: float
    ) -> Change:
        """Shelve one-shot (until it clears) or timed (until `until`); refused when shelved."""
        if self._snapshot.shelving is not Shelving.UNSHELVED:
            raise AlarmShelvingRefused(
                f"alarm {self.alarm.name!r} is shelved already ({self._snapshot.shelving})",
                "already shelved",
            )
        if shelving is Shelving.TIMED and (until is None or until <= now):
            raise AlarmShelvingRefused("a timed shelve needs a time in the future", "bad time")
        self._snapshot = replace(
            self._snapshot,
            shelving=shelving,
            shelved_until=until if shelving is Shelving.TIMED else None,
            time=now,
            user=user,
            comment=reason,
        )
        return Change(self._snapshot, Transition.SHELVED)

    def unshelve(self, *, user: str, reason: str, now: float) -> Change:
        """An operator's unshelve; refused when not shelved."""
        if self._snapshot.shelving is Shelving.UNSHELVED:
            raise AlarmShelvingRefused(f"alarm {self.alarm.name!r} is not shelved", "not shelved")
        return self._unshelved(user, reason, now)

    def set_enabled(self, enabled: bool, *, user: str, reason: str, now: float) -> list[Change]:
        """Disable (out of service: to NORMAL) or enable (the last input evaluated afresh)."""
        if self._snapshot.enabled is enabled:
            shown = "enabled" if enabled else "disabled"
            raise AlarmShelvingRefused(
                f"alarm {self.alarm.name!r} is {shown} already", f"already {shown}"
            )
        self._pending = None
        transition = Transition.ENABLED if enabled else Transition.DISABLED
        if not enabled:
            self._active = None
        state = self._snapshot.state if enabled else AlarmState.NORMAL
        self._snapshot = replace(
            self._snapshot, enabled=enabled, state=state, time=now, user=user, comment=reason
        )
        changes = [Change(self._snapshot, transition)]
        if enabled and self._snapshot.quality.is_good:
            changes.extend(self._evaluate(now))
        return changes

    def _unshelved(self, user: str | None, reason: str, now: float) -> Change:
        self._snapshot = replace(
            self._snapshot,
            shelving=Shelving.UNSHELVED,
            shelved_until=None,
            time=now,
            user=user,
            comment=reason,
        )
        return Change(self._snapshot, Transition.UNSHELVED)

    def cancel_pending(self) -> None:
        """Forget a pending delayed change (the next input value starts afresh)."""
        self._pending = None

    def acknowledge(self, user: str, comment: str, now: float) -> Change:
        """An operator's acknowledgement; AlarmAlreadyAcked when there is nothing to ack."""
        state = self._snapshot.state
        if state is AlarmState.UNACK:
            new = AlarmState.ACKED
        elif state is AlarmState.RTN_UNACK:
            new = AlarmState.NORMAL
        else:
            shown = "normal" if state is AlarmState.NORMAL else "acknowledged already"
            raise AlarmAlreadyAcked(f"alarm {self.alarm.name!r} is {shown}: nothing to acknowledge")
        self._snapshot = replace(self._snapshot, state=new, time=now, user=user, comment=comment)
        return Change(self._snapshot, Transition.ACKNOWLEDGED)

    def restore(
        self,
        state: AlarmState,
        limit: str | None,
        *,
        value: Value | None,
        message: str,
        time: float,
        shelving: Shelving = Shelving.UNSHELVED,
        shelved_until: float | None = None,
        enabled: bool = True,
    ) -> Change | None:
        """Take back a state journaled before a restart (None when it is NORMAL,
        unshelved and enabled: nothing to take back).

        The alarm is not re-raised: the first Good value evaluates it as if it
        had never stopped (still beyond the limit → no change). A limit that is
        no longer configured is replaced by the nearest one; the value then decides.
        A shelve or a disable is kept; a timed shelve that ran out meanwhile ends
        at the first tick.
        """
        if shelving is Shelving.TIMED and shelved_until is None:
            shelving = Shelving.UNSHELVED
        self._snapshot = replace(
            self._snapshot,
            shelving=shelving,
            shelved_until=shelved_until if shelving is Shelving.TIMED else None,
            enabled=enabled,
        )
        if state is AlarmState.NORMAL or not enabled:
            return Change(self._snapshot, Transition.RESTORED) if self._snapshot.silenced else None
        condition = self._restorable(limit)
        self._active = condition if state.active else None
        shown: str | None = None
        if self.alarm.kind.limited:
            shown = condition if state.active or limit == condition else None
        if isinstance(self._rule, StaleRule) and state.active:
            self._rule.restore(value, time)
        self._snapshot = replace(
            self._snapshot, state=state, limit=shown, value=value, message=message, time=time
        )
        return Change(self._snapshot, Transition.RESTORED)

    # -- the rules --------------------------------------------------------------------------

    def _evaluate(self, now: float) -> list[Change]:
        self._evaluated_at = now
        target = self._rule.target(self._input, self._active, now)
        if target == self._active:
            self._pending = None
            return []
        direction = _Direction.ON if is_escalation(self._active, target) else _Direction.OFF
        if self._pending is None or self._pending.direction is not direction:
            delay = self.alarm.delay if direction is _Direction.ON else self.alarm.off_delay
            self._pending = _Pending(direction, now + delay)
        if now < self._pending.due:
            return []
        self._pending = None
        change = self._apply(target, now)
        if change.transition is Transition.CLEARED and self._snapshot.shelving is Shelving.ONESHOT:
            return [change, self._unshelved(None, "one-shot shelve ended: the alarm cleared", now)]
        return [change]

    def _apply(self, target: Condition, now: float) -> Change:
        old, state = self._active, self._snapshot.state
        if target is None:
            transition = Transition.CLEARED
            state = AlarmState.RTN_UNACK if state is AlarmState.UNACK else AlarmState.NORMAL
            shown = self._snapshot.limit
        else:
            transition = Transition.ACTIVATED if old is None else Transition.LIMIT_CHANGED
            if is_escalation(old, target):
                state = AlarmState.UNACK
            shown = target if self.alarm.kind.limited else None
        condition = target if target is not None else (old if old is not None else shown)
        if target is None and self.alarm.message is not None and self._snapshot.message:
            # A configured text describes the alarm ("… above {limit}"): rendered again
            # with a value back inside it would contradict itself, so the clear keeps it.
            message = self._snapshot.message
        else:
            message = self._format.render(self._input, condition, active=target is not None)
        self._active = target
        self._snapshot = replace(
            self._snapshot,
            state=state,
            limit=shown,
            value=self._input,
            message=message,
            time=now,
            user=None,
            comment=None,
        )
        return Change(self._snapshot, transition)

    def _restorable(self, limit: str | None) -> str:
        if not self.alarm.kind.limited:
            return DISCRETE
        if self.alarm.kind is not AlarmKind.LIMIT:
            return HIGH
        configured = [key for key in _SEVERITY_ORDER if key in self.alarm.limits]
        if limit in configured:
            return configured[configured.index(limit)]
        same = [key for key in configured if limit is not None and side(key) == side(limit)]
        # The most severe on the same side, else any: the first value re-evaluates anyway.
        return (same or configured)[-1]
