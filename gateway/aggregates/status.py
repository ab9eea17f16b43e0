"""StatusCodes of aggregate results (OPC UA Part 4 §7.39, Part 13 §5.3).

A result's code is a severity (Good, Uncertain_DataSubNormal, Bad_NoData…)
plus historian information bits, valid when InfoType says "DataValue".
"""

from __future__ import annotations

__all__ = [
    "BAD",
    "BAD_AGGREGATE_INVALID_INPUTS",
    "BAD_NO_DATA",
    "CALCULATED",
    "GOOD",
    "INTERPOLATED",
    "MULTIPLE_VALUES",
    "PARTIAL",
    "UNCERTAIN",
    "UNCERTAIN_DATA_SUB_NORMAL",
    "describe_status",
    "is_bad",
    "is_good",
    "is_uncertain",
    "with_bits",
]

GOOD = 0x00000000
UNCERTAIN = 0x40000000
UNCERTAIN_DATA_SUB_NORMAL = 0x40A40000
BAD = 0x80000000
BAD_NO_DATA = 0x809B0000
BAD_AGGREGATE_INVALID_INPUTS = 0x80D60000

#: InfoType = DataValue: the low bits below carry historian information.
_INFO_DATA_VALUE = 0x0400
CALCULATED = 0x0001
INTERPOLATED = 0x0002
PARTIAL = 0x0004
MULTIPLE_VALUES = 0x0010

_NAMES = {
    GOOD: "Good",
    UNCERTAIN: "Uncertain",
    UNCERTAIN_DATA_SUB_NORMAL: "UncertainDataSubNormal",
    BAD: "Bad",
    BAD_NO_DATA: "BadNoData",
    BAD_AGGREGATE_INVALID_INPUTS: "BadAggregateInvalidInputs",
}
_BITS = ((CALCULATED, "Calculated"), (INTERPOLATED, "Interpolated"), (PARTIAL, "Partial"))


def is_good(code: int) -> bool:
    return code >> 30 == 0


def is_uncertain(code: int) -> bool:
    return code >> 30 == 1


def is_bad(code: int) -> bool:
    return code >> 30 >= 2


def with_bits(severity: int, bits: int) -> int:
    """`severity` with historian bits (and InfoType DataValue when any is set)."""
    return severity | bits | _INFO_DATA_VALUE if bits else severity


def describe_status(code: int) -> str:
    """'UncertainDataSubNormal, Calculated, Partial' — the notation of Part 13's tables."""
    severity = code & 0xFFFF0000
    parts = [_NAMES.get(severity, f"0x{severity:08X}")]
    if code & _INFO_DATA_VALUE:
        parts += [name for bit, name in _BITS if code & bit]
        if code & MULTIPLE_VALUES:
            parts.append("MultipleValues")
    return ", ".join(parts)
