"""OPC UA values as a user reads them: status code names, type names, values, times."""

from __future__ import annotations

import math
from dataclasses import is_dataclass
from datetime import UTC, datetime
from typing import Any

from asyncua import ua
from asyncua.ua.status_codes import get_name_and_doc

from gateway.codec import float32_text

__all__ = ["double_text", "format_time", "format_value", "status_name", "type_name"]

_PREFIXES = ("Good", "Uncertain", "Bad")


def status_name(code: int) -> str:
    """`Bad_NoCommunication`, `Uncertain_NoCommunicationLastUsableValue`, `Good`."""
    name, _ = get_name_and_doc(int(code) & 0xFFFF0000)
    for prefix in _PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            return f"{prefix}_{name[len(prefix) :]}"
    return name


def type_name(data_type: ua.NodeId) -> str | None:
    """A built-in DataType's name (`Float`, `Int16`), None for any other type."""
    if data_type.NamespaceIndex != 0 or not isinstance(data_type.Identifier, int):
        return None
    try:
        return ua.VariantType(data_type.Identifier).name
    except ValueError:
        return None


def format_value(value: Any, variant: ua.VariantType | None = None) -> str:
    """A value as text: float32 with its shortest digits, texts and units readable."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return float32_text(value) if variant == ua.VariantType.Float else double_text(value)
    if isinstance(value, ua.LocalizedText):
        return value.Text or '""'
    if isinstance(value, ua.QualifiedName):
        return str(value.Name)
    if isinstance(value, ua.EUInformation):
        return format_value(value.DisplayName)
    if isinstance(value, ua.Range):
        return f"[{value.Low:g}, {value.High:g}]"
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, list):
        return "[" + ", ".join(format_value(item, variant) for item in value) + "]"
    if isinstance(value, str):
        return value or '""'
    if isinstance(value, bytes):  # a ByteString, e.g. an event's EventId
        return "0x" + value.hex() if value else '""'
    if isinstance(value, ua.StatusCode):
        return status_name(int(value.value))
    if isinstance(value, ua.NodeId):
        return str(value.to_string())
    if is_dataclass(value):  # a structure: its type, not a page of fields
        return f"({type(value).__name__})"
    return str(value)


def double_text(value: float) -> str:
    """A Double with at most 15 significant digits, the most a double holds for certain.

    The shortest repr of a double shows arithmetic noise in its last bits: a
    scaled register 29 × 0.1 is 2.9000000000000004. Rounded to 15 digits it is
    2.9, which differs from the value by less than one part in 10¹⁵; a float32
    gets float32's shortest digits the same way (float32_text).
    """
    if not math.isfinite(value):
        return repr(value)
    return repr(float(f"{value:.15g}"))


def format_time(moment: datetime | None) -> str:
    """UTC ISO 8601 with milliseconds and Z, or '-'."""
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
