"""Alarm message text (pure): the configured template, or a default, filled in.

Every placeholder of MESSAGE_FIELDS is filled: {alarm} the alarm's name,
{device}, {tag} (the alarm's `tag:` reference, device.tag), {value} the input
value, {unit} the tag's unit ("" when none), {limit} the value of the limit in
force (the last active one once cleared; the `equals` value of a discrete
alarm), {severity}. Numbers are shown readably: a float32 tag's value with
float32's shortest digits (123.456, not 123.45600128173828), other floats with
at most 10 significant digits, so scaling noise (23.400000000000002) is gone.
"""

from __future__ import annotations

import re

from gateway.alarms.rules import Condition, Rule, side
from gateway.codec import float32_text
from gateway.config.alarms import AlarmConfig, AlarmKind
from gateway.model import DataType, Value

__all__ = ["MessageFormat", "format_value"]

_SPACES = re.compile(r"  +")


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
            "alarm": alarm.name,
            "device": alarm.device_name,
            "tag": alarm.tag,
            "value": format_value(value, single=self.single),
            "unit": self.unit,
            "limit": format_value(limit),
            "severity": str(alarm.severity),
        }
        template = alarm.message
        if template is None:
            template = self._default(condition, active=active)
        text = template.format_map(fields)
        # An empty {unit} must not leave "95  above": collapse what it leaves behind.
        return _SPACES.sub(" ", text).strip()

    def _default(self, condition: Condition, *, active: bool) -> str:
        quantity = "{tag} {value} {unit}"
        if self.alarm.kind is AlarmKind.DISCRETE:
            return "{tag} is {value}" if active else "{tag} back to normal: {value}"
        if condition is None:
            return quantity
        if not active:
            return quantity + f" back within the {condition} limit {{limit}}"
        where = "above" if side(condition) == "high" else "below"
        return quantity + f" {where} the {condition} limit {{limit}}"
