"""One status, time or value as the history and alarm tables write it (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.codec import float32_text
from gateway.model import Status, Value

__all__ = ["format_status", "format_time", "format_value"]


def format_status(status: Status) -> str:
    """OPC UA spelling: Good, Uncertain_NoCommunicationLastUsableValue, Bad_Timeout…"""
    severity, _, rest = status.name.partition("_")
    words = "".join(word.capitalize() for word in rest.split("_"))
    return severity.capitalize() + (f"_{words}" if words else "")


def format_time(seconds: float | None) -> str:
    """ISO 8601 in UTC with microseconds; empty for no time."""
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds")


def format_value(value: Value | None, *, single: bool = False) -> str:
    """`single`: the tag is a float32, shown with float32's shortest digits."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return float32_text(value) if single else repr(value)
    return str(value)
