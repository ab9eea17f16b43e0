"""The alarm model: limits, equals, rate of change, deviation, stale or quality.

An alarm is exactly one kind, decided here once, so the alarm engine can
branch on `kind` without re-reading which keys were given. Whether the tag
exists and has a suitable type is checked across the file in checks.py.
"""

from __future__ import annotations

import itertools
import string
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, field_validator, model_validator

from gateway.config.types import NAME_PATTERN, ConfigModel, Duration, Name, NonNegativeDuration
from gateway.config.validation import raise_located
from gateway.config.yamlsource import KeyPath

__all__ = [
    "LIMIT_KEYS",
    "MESSAGE_FIELDS",
    "AlarmConfig",
    "AlarmKind",
    "DeviationConfig",
    "RateOfChangeConfig",
]

#: Limit keys from lowest to highest: configured limits must be in this order.
LIMIT_KEYS = ("low_low", "low", "high", "high_high")
#: Placeholders an alarm message may use; the alarm engine fills every one of them.
MESSAGE_FIELDS = ("alarm", "device", "tag", "value", "unit", "limit", "severity")


class AlarmKind(StrEnum):
    """What an alarm watches; decided once from which keys are given."""

    LIMIT = "limit"  # thresholds (high_high … low_low)
    DISCRETE = "discrete"  # equals one value
    RATE_OF_CHANGE = "rate_of_change"  # |Δvalue/Δt| above a limit
    DEVIATION = "deviation"  # |tag − another tag| above a limit
    STALE = "stale"  # a Good value unchanged for a time (a frozen sensor)
    QUALITY = "quality"  # the input not Good for a time (comm loss, device failure)

    @property
    def limited(self) -> bool:
        """True for the kinds served as exclusive limit alarms (with a LimitState)."""
        return self in (AlarmKind.LIMIT, AlarmKind.RATE_OF_CHANGE, AlarmKind.DEVIATION)

    @property
    def needs_number(self) -> bool:
        """True for the kinds that need a numeric input tag."""
        return self.limited


class RateOfChangeConfig(ConfigModel):
    """`rate_of_change: {per: 1s, limit: 5.0}`: |Δvalue/Δt| above `limit` per `per`."""

    per: Duration = Field(description="The time unit of `limit`: 1s, 1m, 1h (more than 0).")
    limit: float = Field(gt=0, description="Largest change allowed per `per`, in the tag's units.")


class DeviationConfig(ConfigModel):
    """`deviation: {from: boiler.setpoint, limit: 5.0}`: |tag − from| above `limit`."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", coerce_numbers_to_str=True, populate_by_name=True
    )

    from_tag: str = Field(
        alias="from", description="The reference tag as `<device>.<tag>` (numeric)."
    )
    limit: float = Field(gt=0, description="Largest difference allowed, in the tag's units.")

    @field_validator("from_tag")
    @classmethod
    def _reference(cls, value: str) -> str:
        return _tag_reference(value)


#: The keys that choose an alarm's kind, besides the limits.
_KIND_KEYS = ("equals", "rate_of_change", "deviation", "stale", "quality")


def _parse_equals(value: Any) -> Any:
    # A plain bool | float union would report each member's failure separately.
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        try:
            return float(lowered)
        except ValueError:
            pass
    raise ValueError(f"expected true, false or a number, got {value!r}")


class AlarmConfig(ConfigModel):
    """One alarm (docs/alarms.md): limits or equals, never both."""

    name: Name = Field(
        description="Alarm name, unique in the file; the OPC UA condition is `Alarms.<name>`."
    )
    tag: str = Field(
        description="The input tag as `<device>.<tag>`; numeric for a limit alarm, bool or "
        "numeric for a discrete one."
    )
    high_high: float | None = Field(
        default=None, description="Highest limit; must be above `high` when both are set."
    )
    high: float | None = Field(
        default=None, description="High limit; must be above `low` when both are set."
    )
    low: float | None = Field(
        default=None, description="Low limit; must be above `low_low` when both are set."
    )
    low_low: float | None = Field(default=None, description="Lowest limit.")
    deadband: float = Field(
        default=0.0,
        ge=0,
        description="Hysteresis of a limit alarm: the value must come back this far inside "
        "the limit to return to normal.",
    )
    delay: NonNegativeDuration = Field(
        default=0.0,
        description="On-delay: activating (or moving to a more severe limit) takes effect "
        "only once the condition held this long; 0: at once.",
    )
    off_delay: NonNegativeDuration = Field(
        default=0.0,
        description="Off-delay: returning to normal (or to a less severe limit) takes effect "
        "only once the condition held this long; 0: at once.",
    )
    severity: int = Field(
        default=500, ge=1, le=1000, description="OPC UA event severity, 1 (low) to 1000."
    )
    message: str | None = Field(
        default=None,
        description="Event message template; placeholders: "
        + ", ".join(f"{{{name}}}" for name in MESSAGE_FIELDS)
        + " (write {{ and }} for literal braces). Unset: the gateway writes one naming the "
        "tag, its value and the limit.",
    )
    rate_of_change: RateOfChangeConfig | None = Field(
        default=None,
        description="Makes a rate-of-change alarm: `{per: 1s, limit: 5.0}`, active while the "
        "tag changes faster than `limit` per `per` (either way); `deadband` applies to the rate.",
    )
    deviation: DeviationConfig | None = Field(
        default=None,
        description="Makes a deviation alarm: `{from: <device>.<tag>, limit: 5.0}`, active while "
        "|tag − from| exceeds `limit`; `deadband` applies to the difference.",
    )
    stale: Duration | None = Field(
        default=None,
        description="Makes a stale alarm: active once a Good value has not changed for this "
        "long (a frozen sensor); must be longer than the tag's scan interval.",
    )
    quality: NonNegativeDuration | None = Field(
        default=None,
        description="Makes a quality alarm: active once the tag has not been Good for this "
        "long (communication lost, device failure); 0: at once.",
    )
    equals: Annotated[bool | float | None, BeforeValidator(_parse_equals)] = Field(
        default=None,
        description="Makes a discrete alarm: active while the tag equals this value (true or "
        "false for a bool tag, a number for a numeric one). Not together with limits.",
    )

    @field_validator("tag")
    @classmethod
    def _tag_reference(cls, value: str) -> str:
        return _tag_reference(value)

    @model_validator(mode="after")
    def _check(self) -> AlarmConfig:
        raise_located(type(self).__name__, self._problems(), self.name)
        return self

    def _problems(self) -> list[tuple[KeyPath, str]]:
        problems = self._kind_problems()
        limits = self.limits
        ordered = list(limits.items())
        for (below, low), (key, value) in itertools.pairwise(ordered):
            if not low < value:
                problems.append(((key,), f"must be above {below} ({low:g}), got {value:g}"))
        if self.message is not None:
            problem = _template_problem(self.message)
            if problem:
                problems.append((("message",), problem))
        return problems

    def _kind_problems(self) -> list[tuple[KeyPath, str]]:
        given = [key for key in _KIND_KEYS if getattr(self, key) is not None]
        if self.limits:
            given.insert(0, "limits")
        if not given:
            return [
                (
                    (),
                    "an alarm needs limits (high_high, high, low, low_low), equals, "
                    "rate_of_change, deviation, stale or quality",
                )
            ]
        if len(given) > 1:
            shown = " and ".join(given)
            return [((given[1],), f"an alarm is one kind, but {shown} are given: make two alarms")]
        kind = self.kind
        threshold = self._threshold()
        if threshold is not None and self.deadband >= threshold:
            return [
                (
                    ("deadband",),
                    f"must be below the {kind} limit ({threshold:g}), got {self.deadband:g}",
                )
            ]
        if kind in (AlarmKind.STALE, AlarmKind.QUALITY) and self.deadband:
            return [(("deadband",), f"a {kind} alarm has no deadband")]
        return []

    def _threshold(self) -> float | None:
        if self.rate_of_change is not None:
            return self.rate_of_change.limit
        if self.deviation is not None:
            return self.deviation.limit
        return None

    @property
    def kind(self) -> AlarmKind:
        """Which key chose the kind: limits by default."""
        if self.equals is not None:
            return AlarmKind.DISCRETE
        if self.rate_of_change is not None:
            return AlarmKind.RATE_OF_CHANGE
        if self.deviation is not None:
            return AlarmKind.DEVIATION
        if self.stale is not None:
            return AlarmKind.STALE
        if self.quality is not None:
            return AlarmKind.QUALITY
        return AlarmKind.LIMIT

    @property
    def limits(self) -> dict[str, float]:
        """The configured limits, lowest first (keys from LIMIT_KEYS)."""
        values = {key: getattr(self, key) for key in LIMIT_KEYS}
        return {key: value for key, value in values.items() if value is not None}

    @property
    def condition_limits(self) -> dict[str, float]:
        """The limits an OPC UA limit alarm shows: the configured ones, or a rate of
        change's or a deviation's one limit as `high` (it applies to a magnitude)."""
        threshold = self._threshold()
        return self.limits if threshold is None else {"high": threshold}

    @property
    def device_name(self) -> str:
        """The device part of `tag`."""
        return self.tag.partition(".")[0]

    @property
    def tag_name(self) -> str:
        """The tag part of `tag`."""
        return self.tag.partition(".")[2]


def _tag_reference(value: str) -> str:
    device, dot, tag = value.partition(".")
    if not (dot and NAME_PATTERN.fullmatch(device) and NAME_PATTERN.fullmatch(tag)):
        raise ValueError(f"expected '<device>.<tag>', got {value!r}")
    return value


def _template_problem(template: str) -> str | None:
    """Why the message template would fail at runtime, found now instead."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"invalid message template: {exc} (write {{{{ and }}}} for literal braces)"
    for _text, field, spec, _conversion in parts:
        if field is None:
            continue
        shown = f"{{{field}}}" if field else "{}"
        if field not in MESSAGE_FIELDS:
            return f"unknown placeholder {shown} (use {', '.join(MESSAGE_FIELDS)})"
        if spec and not _usable_spec(spec):
            return f"invalid format spec {spec!r} in {shown} (e.g. {{value:.1f}})"
    return None


def _usable_spec(spec: str) -> bool:
    """True when a number or a text can take the format spec (the engine uses whichever fits)."""
    if "{" in spec:
        return False  # nested placeholders: not supported
    for sample in (1.5, 1, "text"):
        try:
            format(sample, spec)
        except (ValueError, TypeError):
            continue
        return True
    return False
