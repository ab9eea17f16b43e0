"""Alarm message text (pure): the configured template, or a default, filled in.

Every placeholder of MESSAGE_FIELDS is filled: {alarm} the alarm's name,
{device}, {tag} (the alarm's `tag:` reference, device.tag), {value} the input
value, {unit} the tag's unit ("" when none), {limit} the value of the limit in
force (the last active one once cleared; the `equals` value of a discrete
alarm), {severity}. Numbers are shown readably: a float32 tag's value with
float32's shortest digits (123.456, not 123.45600128173828), other floats with
at most 10 significant digits, so scaling noise (23.400000000000002) is gone.

A placeholder may carry a format spec, applied to the number itself:
`{value:.1f}`, `{limit:.0f}`. A spec the value cannot take at run time (`{value:d}`
on a scaled, hence float, value) falls back to the readable text: a message
never stops an alarm.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any

from gateway.alarms.rules import Condition, Rule, side
from gateway.codec import float32_text
from gateway.config.alarms import AlarmConfig, AlarmKind
from gateway.model import DataType, Value

__all__ = ["MessageFormat", "duration_text", "format_value"]

_SPACES = re.compile(r"  +")


@dataclass(frozen=True, slots=True)
class _Field:
    """A placeholder's readable text and, for a number, the number a format spec applies to."""

    text: str
    number: int | float | None = None


class _Formatter(string.Formatter):
    """`{value}` → the readable text; `{value:.1f}` → the number formatted by the spec."""

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if isinstance(value, _Field) and conversion is not None:
            return super().convert_field(value.text, conversion)
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        if not isinstance(value, _Field):
            return super().format_field(value, format_spec)
        if format_spec:
            # A precision or a number type (`.1f`, `d`, `e`, `%`) is for the number;
            # width and alignment alone (`>8`) for the readable text.
            numeric = "." in format_spec or format_spec[-1] in _NUMBER_TYPES
            order = (value.number, value.text) if numeric else (value.text, value.number)
            for candidate in order:
                if candidate is None:
                    continue
                try:
                    return format(candidate, format_spec)
                except (ValueError, TypeError):
                    continue
        return value.text


_FORMATTER = _Formatter()
_NUMBER_TYPES = frozenset("bcdeEfFgGnoxX%")


def _field(value: Value | None, *, single: bool = False) -> _Field:
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    return _Field(format_value(value, single=single), number)


def format_value(value: Value | None, *, single: bool = False) -> str:
    """Readable text for a value; `single`: it came from a float32."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if single:
            return float32_text(value).removesuffix(".0")
        return f"{value:.10g}"
    return str(value)


class MessageFormat:
    """Renders one alarm's message for a value and the condition in force."""

    def __init__(
        self, alarm: AlarmConfig, rule: Rule, *, unit: str | None, data_type: DataType | None
    ) -> None:
        self.alarm = alarm
        self.rule = rule
        self.unit = unit or ""
        self.single = data_type is DataType.FLOAT32

    def render(self, value: Value | None, condition: Condition, *, active: bool) -> str:
        """The message for `value` with `condition` in force (or last in force)."""
        alarm = self.alarm
        limit = self.rule.threshold(condition)
        fields = {
            "alarm": _Field(alarm.name),
            "device": _Field(alarm.device_name),
            "tag": _Field(alarm.tag),
            "value": _field(value, single=self.single),
            "unit": _Field(self.unit),
            "limit": _field(limit),
            "severity": _Field(str(alarm.severity), alarm.severity),
        }
        template = alarm.message
        if template is None:
            template = self._default(condition, active=active)
        try:
            text = _FORMATTER.vformat(template, (), fields)
        except (KeyError, IndexError, ValueError, AttributeError):  # not a valid template
            text = template  # the config check refuses these; never stop the alarm over one
        # An empty {unit} must not leave "95  above": collapse what it leaves behind.
        return _SPACES.sub(" ", text).strip()

    def _default(self, condition: Condition, *, active: bool) -> str:
        quantity = "{tag} {value} {unit}"
        kind = self.alarm.kind
        if kind is AlarmKind.DISCRETE:
            return "{tag} is {value}" if active else "{tag} back to normal: {value}"
        if kind is not AlarmKind.LIMIT:
            return _KIND_DEFAULTS[kind][active].replace("{per}", self._per())
        if condition is None:
            return quantity
        if not active:
            return quantity + f" back within the {condition} limit {{limit}}"
        where = "above" if side(condition) == "high" else "below"
        return quantity + f" {where} the {condition} limit {{limit}}"

    def _per(self) -> str:
        """The time unit of a rate ("1s", "1m") or a deviation's reference tag, for defaults."""
        if self.alarm.rate_of_change is not None:
            return duration_text(self.alarm.rate_of_change.per)
        if self.alarm.deviation is not None:
            return self.alarm.deviation.from_tag
        if self.alarm.stale is not None:
            return duration_text(self.alarm.stale)
        if self.alarm.quality is not None:
            return duration_text(self.alarm.quality)
        return ""


def duration_text(seconds: float) -> str:
    """A duration as a person writes it: 1s, 90s, 10m, 2h, 250ms."""
    for unit, size in (("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{seconds / size:g}{unit}"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


#: Default messages of the abnormal-state kinds, inactive and active; {per} is the
#: rate's time unit, the deviation's reference tag, or the stale/quality time.
_KIND_DEFAULTS: dict[AlarmKind, dict[bool, str]] = {
    AlarmKind.RATE_OF_CHANGE: {
        True: "{tag} changes faster than {limit} {unit} per {per}: now {value} {unit}",
        False: "{tag} {value} {unit} changes within {limit} {unit} per {per} again",
    },
    AlarmKind.DEVIATION: {
        True: "{tag} {value} {unit} deviates from {per} by more than {limit} {unit}",
        False: "{tag} {value} {unit} back within {limit} {unit} of {per}",
    },
    AlarmKind.STALE: {
        True: "{tag} frozen at {value} {unit} for {per}",
        False: "{tag} changing again: {value} {unit}",
    },
    AlarmKind.QUALITY: {
        True: "{tag} not Good for {per}",
        False: "{tag} Good again: {value} {unit}",
    },
}
