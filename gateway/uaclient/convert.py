"""Command-line text → a value of a node's built-in type, checked before it is sent.

`gateway write` reads the node's DataType first and converts here, so the
Variant carries the node's exact type (asyncua servers drop other types) and
a typo or an out-of-range number is refused locally with a clear message.
Types are named as OPC UA's VariantType (Boolean, Int16, Float...).
"""

from __future__ import annotations

import math
import struct

__all__ = ["WRITABLE_TYPES", "parse_value"]

_TRUE = frozenset({"true", "1", "on", "yes"})
_FALSE = frozenset({"false", "0", "off", "no"})

#: Integer types: name → (smallest, largest).
_INTEGERS: dict[str, tuple[int, int]] = {
    "SByte": (-(2**7), 2**7 - 1),
    "Byte": (0, 2**8 - 1),
    "Int16": (-(2**15), 2**15 - 1),
    "UInt16": (0, 2**16 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "UInt32": (0, 2**32 - 1),
    "Int64": (-(2**63), 2**63 - 1),
    "UInt64": (0, 2**64 - 1),
}
#: Every type a value can be written as from the command line.
WRITABLE_TYPES = frozenset({"Boolean", "Float", "Double", "String", *_INTEGERS})


def parse_value(text: str, type_name: str) -> bool | int | float | str:
    """`text` as a value of `type_name`; ValueError says what was expected."""
    if type_name == "Boolean":
        word = text.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ValueError(f"expected a Boolean (true/false, 1/0), got {text!r}")
    if type_name in _INTEGERS:
        return _integer(text, type_name)
    if type_name in ("Float", "Double"):
        return _real(text, type_name)
    if type_name == "String":
        return text
    raise ValueError(f"values of type {type_name} cannot be written from the command line")


def _integer(text: str, type_name: str) -> int:
    digits = text.strip()
    try:
        value = int(digits)
    except ValueError:
        try:
            value = int(digits, 0)  # 0x1F, 0b101
        except ValueError:
            raise ValueError(f"expected a whole number ({type_name}), got {text!r}") from None
    low, high = _INTEGERS[type_name]
    if not low <= value <= high:
        raise ValueError(f"{value} is outside the {type_name} range {low}..{high}")
    return value


def _real(text: str, type_name: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"expected a number ({type_name}), got {text!r}") from None
    if type_name == "Float" and math.isfinite(value):
        try:
            struct.pack("<f", value)
        except OverflowError:
            raise ValueError(f"{text} is outside the Float (float32) range") from None
    return value
