"""The rules of the abnormal-state kinds (pure): rate of change, deviation, stale, quality.

Rate of change and deviation are one-limit alarms on a derived number (the
rate, the difference), in condition "high" like a limit alarm's: they trip
strictly beyond the limit and hold until back by the deadband. Stale and
quality are discrete (condition DISCRETE) and driven by time: their state can
change with no new input, so `wakeup` says when.

Time comparisons are made as `now >= start + span`, the very sum `wakeup`
returns, so the timer that fires at `wakeup` always sees the change (no
rounding gap between "due" and "done").

Rate: the bus publishes a value only when it changes, so the time a step
took is at most one scan interval (the scan before saw the old value). The
rate of a step is |Δvalue| over min(time since the last change, scan
interval), scaled to `per`; while the value then holds, the rate over the
window since the step's start falls, and the alarm clears once it is back
by the deadband. A value that is not Good ends the history: the next Good
value starts afresh, it does not make a step across the gap.
"""

from __future__ import annotations

import math

from gateway.alarms.rules import (
    DISCRETE,
    DOUBLE_TOLERANCE,
    SINGLE_TOLERANCE,
    Condition,
    DiscreteRule,
    LimitRule,
    Rule,
)
from gateway.config.alarms import AlarmConfig, AlarmKind
from gateway.model import Status, Value

__all__ = ["DeviationRule", "QualityRule", "RateRule", "StaleRule", "rule_for"]

#: The condition of an active rate-of-change or deviation alarm (one limit, on a magnitude).
HIGH = "high"


def _number(value: Value | None) -> float | None:
    """The value as a comparable number; None for text, nothing, or NaN."""
    if value is None or isinstance(value, str):
        return None
    number = float(value)
    return None if math.isnan(number) else number


class RateRule:
    """|Δvalue/Δt| scaled to `per`, against a limit with a deadband (module docstring)."""

    def __init__(
        self, *, per: float, limit: float, deadband: float, scan_interval: float | None
    ) -> None:
        self.per = per
        self.limit = limit
        self.hold = limit - deadband  # the config keeps the deadband below the limit
        self.scan_interval = scan_interval
        self._last: tuple[float, float] | None = None  # (value, time) of the last change
        self._step: tuple[float, float] | None = None  # (|Δvalue| × per, window start)

    def observe(self, value: Value | None, status: Status, now: float) -> bool:
        number = _number(value) if status.is_good else None
        if number is None:
            self._last = self._step = None
            return False
        if self._last is not None and number != self._last[0]:
            span = now - self._last[1]
            if self.scan_interval is not None:
                span = min(span, self.scan_interval)
            if span > 0:  # two values at one instant: no rate to tell
                self._step = (abs(number - self._last[0]) * self.per, now - span)
        if self._last is None or number != self._last[0]:
            self._last = (number, now)
        return True

    def target(self, value: Value | None, active: Condition, now: float) -> Condition:
        if self._step is None:
            return None
        if self._exceeds(self.limit, now) or (active is not None and self._exceeds(self.hold, now)):
            return HIGH
        return None

    def _exceeds(self, limit: float, now: float) -> bool:
        """rate(now) = amount / (now − start) > limit  ⇔  now < start + amount / limit."""
        assert self._step is not None
        amount, start = self._step
        return now < start + amount / limit

    def rate(self, now: float) -> float | None:
        """The rate over the window of the last step at `now` (for messages and tests)."""
        if self._step is None or now <= self._step[1]:
            return None
        amount, start = self._step
        return amount / (now - start)

    def threshold(self, condition: Condition) -> Value | None:
        return self.limit

    def wakeup(self, active: Condition) -> float | None:
        if active is None or self._step is None:
            return None
        amount, start = self._step
        return start + amount / self.hold


class DeviationRule:
    """|input − reference| against a limit with a deadband; both must be Good."""

    def __init__(self, *, limit: float, deadband: float) -> None:
        self.limit = limit
        self.hold = limit - deadband
        self.reference: float | None = None  # the reference tag's last Good value

    def observe(self, value: Value | None, status: Status, now: float) -> bool:
        return status.is_good and _number(value) is not None and self.reference is not None

    def observe_reference(self, value: Value | None, status: Status) -> bool:
        """Take the reference tag's input; False when it is not comparable."""
        self.reference = _number(value) if status.is_good else None
        return self.reference is not None

    def target(self, value: Value | None, active: Condition, now: float) -> Condition:
        number = _number(value)
        if number is None or self.reference is None:
            return active
        difference = abs(number - self.reference)
        if difference > self.limit or (active is not None and difference > self.hold):
            return HIGH
        return None

    def threshold(self, condition: Condition) -> Value | None:
        return self.limit

    def wakeup(self, active: Condition) -> float | None:
        return None


class StaleRule:
    """Active once a Good value has not changed for `after` seconds; a change clears it."""

    def __init__(self, *, after: float) -> None:
        self.after = after
        self._value: Value | None = None
        self._since: float | None = None  # when the value last changed (or came back Good)

    def observe(self, value: Value | None, status: Status, now: float) -> bool:
        if not status.is_good:
            self._since = None  # not a frozen Good value: the next Good one starts afresh
            return False
        if self._since is None or value != self._value:
            self._value, self._since = value, now
        return True

    def restore(self, value: Value | None, time: float) -> None:
        """Active before a restart on `value`: the same value again keeps it stale."""
        self._value, self._since = value, time - self.after

    def target(self, value: Value | None, active: Condition, now: float) -> Condition:
        if self._since is None:
            return active
        return DISCRETE if now >= self._since + self.after else None

    def threshold(self, condition: Condition) -> Value | None:
        return self.after

    def wakeup(self, active: Condition) -> float | None:
        if active is not None or self._since is None:
            return None
        return self._since + self.after


class QualityRule:
    """Active once the input has not been Good for `after` seconds; Good clears it.

    The time counts from the start too: a device that never answers is
    "waiting for initial data", which is not Good either.
    """

    def __init__(self, *, after: float, now: float) -> None:
        self.after = after
        self._bad_since: float | None = now

    def observe(self, value: Value | None, status: Status, now: float) -> bool:
        if status.is_good:
            self._bad_since = None
        elif self._bad_since is None:
            self._bad_since = now
        return True

    def target(self, value: Value | None, active: Condition, now: float) -> Condition:
        if self._bad_since is None:
            return None
        if active is not None or now >= self._bad_since + self.after:
            return DISCRETE
        return None

    def threshold(self, condition: Condition) -> Value | None:
        return self.after

    def wakeup(self, active: Condition) -> float | None:
        if active is not None or self._bad_since is None:
            return None
        return self._bad_since + self.after


def rule_for(
    alarm: AlarmConfig, *, now: float, single: bool = False, scan_interval: float | None = None
) -> Rule:
    """The rule of a configured alarm; `single`: its tag is a float32."""
    kind = alarm.kind
    if kind is AlarmKind.RATE_OF_CHANGE:
        assert alarm.rate_of_change is not None
        return RateRule(
            per=alarm.rate_of_change.per,
            limit=alarm.rate_of_change.limit,
            deadband=alarm.deadband,
            scan_interval=scan_interval,
        )
    if kind is AlarmKind.DEVIATION:
        assert alarm.deviation is not None
        return DeviationRule(limit=alarm.deviation.limit, deadband=alarm.deadband)
    if kind is AlarmKind.STALE:
        assert alarm.stale is not None
        return StaleRule(after=alarm.stale)
    if kind is AlarmKind.QUALITY:
        assert alarm.quality is not None
        return QualityRule(after=alarm.quality, now=now)
    if kind is AlarmKind.LIMIT:
        return LimitRule(alarm.limits, alarm.deadband)
    assert alarm.equals is not None
    return DiscreteRule(alarm.equals, tolerance=SINGLE_TOLERANCE if single else DOUBLE_TOLERANCE)
