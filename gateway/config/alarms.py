"""The alarm model: a limit alarm on a numeric tag, or a discrete (equals) alarm.

An alarm is exactly one kind, decided here once, so the alarm engine can
branch on `kind` without re-reading which keys were given. Whether the tag
exists and has a suitable type is checked across the file in checks.py.
"""

from __future__ import annotations

import itertools
import string
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator, model_validator

from gateway.config.types import NAME_PATTERN, ConfigModel, Name, NonNegativeDuration
from gateway.config.validation import raise_located
from gateway.config.yamlsource import KeyPath

__all__ = ["LIMIT_KEYS", "MESSAGE_FIELDS", "AlarmConfig", "AlarmKind"]

#: Limit keys from lowest to highest: configured limits must be in this order.
LIMIT_KEYS = ("low_low", "low", "high", "high_high")
#: Placeholders an alarm message may use; the alarm engine fills every one of them.
MESSAGE_FIELDS = ("alarm", "device", "tag", "value", "unit", "limit", "severity")


class AlarmKind(StrEnum):
    """Limit alarms compare against thresholds; discrete alarms against one value."""

    LIMIT = "limit"
    DISCRETE = "discrete"


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
    equals: Annotated[bool | float | None, BeforeValidator(_parse_equals)] = Field(
        default=None,
        description="Makes a discrete alarm: active while the tag equals this value (true or "
        "false for a bool tag, a number for a numeric one). Not together with limits.",
    )

    @field_validator("tag")
    @classmethod
    def _tag_reference(cls, value: str) -> str:
        device, dot, tag = value.partition(".")
        if not (dot and NAME_PATTERN.fullmatch(device) and NAME_PATTERN.fullmatch(tag)):
            raise ValueError(f"expected '<device>.<tag>', got {value!r}")
        return value

    @model_validator(mode="after")
    def _check(self) -> AlarmConfig:
        raise_located(type(self).__name__, self._problems(), self.name)
        return self

    def _problems(self) -> list[tuple[KeyPath, str]]:
        problems: list[tuple[KeyPath, str]] = []
        limits = self.limits
        if self.equals is not None and limits:
            problems.append(
                (("equals",), "a discrete alarm (equals) cannot also have limits; make two alarms")
            )
        elif self.equals is None and not limits:
            problems.append(((), "an alarm needs limits (high_high, high, low, low_low) or equals"))
        ordered = list(limits.items())
        for (below, low), (key, value) in itertools.pairwise(ordered):
            if not low < value:
                problems.append(((key,), f"must be above {below} ({low:g}), got {value:g}"))
        if self.message is not None:
            problem = _template_problem(self.message)
            if problem:
                problems.append((("message",), problem))
        return problems

    @property
    def kind(self) -> AlarmKind:
        """Discrete when `equals` is set, otherwise a limit alarm."""
        return AlarmKind.LIMIT if self.equals is None else AlarmKind.DISCRETE

    @property
    def limits(self) -> dict[str, float]:
        """The configured limits, lowest first (keys from LIMIT_KEYS)."""
        values = {key: getattr(self, key) for key in LIMIT_KEYS}
        return {key: value for key, value in values.items() if value is not None}

    @property
    def device_name(self) -> str:
        """The device part of `tag`."""
        return self.tag.partition(".")[0]

    @property
    def tag_name(self) -> str:
        """The tag part of `tag`."""
        return self.tag.partition(".")[2]


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
