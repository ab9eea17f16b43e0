"""Which condition an input value puts an alarm in (pure): limits with hysteresis, equals.

A condition is a limit key ("high", "low_low", …) for a limit alarm, or
DISCRETE for a discrete alarm; None is normal. Limits are exclusive: the most
severe exceeded limit is the one in force (high_high over high, low_low over
low). A limit trips strictly beyond it (value > high, value < low) and holds,
once in force, until the value is back by the deadband (value ≤ high −
deadband, value ≥ low + deadband), so a value hovering at a limit does not
chatter. The deadband also applies when stepping down from high_high to high.

A discrete alarm on a number compares within a rounding tolerance: a scaled
value (raw 3 × scale 0.1 = 0.30000000000000004) or a float32 one
(0.30000001192092896) equals `equals: 0.3`. A NaN or a text input is not
comparable and keeps the condition, like a value that is not Good.
"""

from __future__ import annotations

import math
from typing import Protocol

from gateway.model import Status, Value

__all__ = ["DISCRETE", "Condition", "Rule", "ValueRule", "is_escalation", "side"]

#: The condition of an active discrete alarm.
DISCRETE = "equals"

Condition = str | None

#: Severity rank of each limit on its side; higher is more severe.
_RANK = {"high": 1, "high_high": 2, "low": 1, "low_low": 2, DISCRETE: 1}
_SIDE = {"high": "high", "high_high": "high", "low": "low", "low_low": "low", DISCRETE: "eq"}
#: Checking order: the most severe limit of each side first.
_ORDER = ("high_high", "high", "low_low", "low")


def is_escalation(old: Condition, new: Condition) -> bool:
    """True when `new` is more severe than `old` (activation, a higher limit, the other side).

    An escalation waits for the on-delay and makes the alarm unacknowledged
    again; anything else (back to normal, high_high → high) waits for the
    off-delay and keeps the acknowledgement.
    """
    if new is None:
        return False
    if old is None or _SIDE.get(old) != _SIDE.get(new):
        return True
    return _RANK.get(new, 0) > _RANK.get(old, 0)


def side(condition: str) -> str:
    """ "high" or "low" for a limit key, "eq" for DISCRETE."""
    return _SIDE.get(condition, "high")


class Rule(Protocol):
    """Evaluates an alarm's input against its configuration.

    `observe` takes each input (value and quality) and says whether the state
    may be evaluated now; `target` is the condition called for at `now`;
    `wakeup` is when `target` may change with no new input (a time-driven
    kind: stale, quality, a rate that decays), None when only an input can.
    """

    def observe(self, value: Value | None, status: Status, now: float) -> bool:
        """Take an input; False: not comparable (not Good), keep the state."""
        ...

    def target(self, value: Value | None, active: Condition, now: float) -> Condition:
        """The condition `value` calls for at `now`, given the condition now in force."""
        ...

    def threshold(self, condition: Condition) -> Value | None:
        """The configured value of a condition (a limit, the equals value, a time)."""
        ...

    def wakeup(self, active: Condition) -> float | None:
        """When the target may change with no new input; None: only an input changes it."""
        ...


class ValueRule:
    """A rule on the value alone: a Good input is evaluated, time plays no part."""

    def observe(self, value: Value | None, status: Status, now: float) -> bool:
        return status.is_good

    def wakeup(self, active: Condition) -> float | None:
        return None


class LimitRule(ValueRule):
    """Exclusive limits with one deadband for the return (see the module docstring)."""

    def __init__(self, limits: dict[str, float], deadband: float) -> None:
        self.limits = dict(limits)
        self.deadband = deadband
        self._checks = [(key, limits[key]) for key in _ORDER if key in limits]

    def target(self, value: Value | None, active: Condition, now: float = 0.0) -> Condition:
        if isinstance(value, str) or value is None:
            return active  # not comparable: keep the state
        number = float(value)
        if math.isnan(number):
            return active
        for key, limit in self._checks:
            held = (
                active is not None
                and side(active) == side(key)
                and _RANK[key] <= _RANK.get(active, 0)
            )
            if side(key) == "high":
                if number > limit or (held and number > limit - self.deadband):
                    return key
            elif number < limit or (held and number < limit + self.deadband):
                return key
        return None

    def threshold(self, condition: Condition) -> Value | None:
        return None if condition is None else self.limits.get(condition)


#: Relative tolerance of `equals` on a number: float64 rounding (scaling), float32 rounding.
DOUBLE_TOLERANCE = 1e-9
SINGLE_TOLERANCE = 1.2e-7  # one float32 step (2**-23) at the value's magnitude
#: Absolute tolerance, for `equals: 0` against a scaled value's leftover (5.6e-17).
_ABSOLUTE_TOLERANCE = 1e-9


class DiscreteRule(ValueRule):
    """Active while the value equals the configured value (a bool, or a number)."""

    def __init__(self, equals: bool | float, *, tolerance: float = DOUBLE_TOLERANCE) -> None:
        self.equals = equals
        self.tolerance = tolerance

    def target(self, value: Value | None, active: Condition, now: float = 0.0) -> Condition:
        if value is None or isinstance(value, str):
            return active
        if isinstance(self.equals, bool):
            matches = bool(value) is self.equals
        else:
            number = float(value)
            if math.isnan(number):
                return active
            matches = math.isclose(
                number, self.equals, rel_tol=self.tolerance, abs_tol=_ABSOLUTE_TOLERANCE
            )
        return DISCRETE if matches else None

    def threshold(self, condition: Condition) -> Value | None:
        return self.equals
