"""Typed constructors for asyncua's wire values, and its enums from their modules.

asyncua annotates NodeId, StatusCode and DataValue fields with its own wire
subclasses (`Int16`, `UInt32`, `DateTime`...), so a plain int or datetime
fails strict type checking at every call. These helpers take plain Python
values and do the one unchecked call each, in one place.

Three of them (string NodeIds, scalar Variants, DataValues: one each per tag
at start and per value served) fill asyncua's slotted dataclasses without
their `__post_init__` checks, which cost most of their time. That relies on
the classes' fields, which *_FIELDS name and tests/unit/test_ua_wire.py
compares with asyncua's after every upgrade (and the results, field by field
and encoded, with what asyncua's own constructors make).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from asyncua import ua
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes

__all__ = [
    "DATA_VALUE_FIELDS",
    "DATETIME_NULL",
    "STRING_NODE_ID_FIELDS",
    "VARIANT_FIELDS",
    "AttributeIds",
    "ObjectIds",
    "StatusCodes",
    "data_value",
    "node_id",
    "scalar_variant",
    "status_code",
    "token_id",
    "utc",
]

_NodeId: Any = ua.NodeId
_StatusCode: Any = ua.StatusCode
_STRING = ua.NodeIdType.String
_new = object.__new__

#: The fields `node_id` sets on a string NodeId, which are all of asyncua's NodeId's
#: (tests/unit/test_ua_wire.py notices another one).
STRING_NODE_ID_FIELDS = ("Identifier", "NamespaceIndex", "NodeIdType")


def node_id(identifier: int | str, namespace: int = 0) -> ua.NodeId:
    """A numeric or string NodeId (the type is given, not guessed).

    A string NodeId is made without asyncua's `__post_init__`, which checks the
    given type against the identifier by building a table each time (1.7 µs of
    the 2 µs a NodeId took; the gateway makes one per tag at start, issue 21):
    the type of a str identifier is String by definition.
    """
    if isinstance(identifier, str):
        nodeid = _new(_NodeId)
        nodeid.Identifier = identifier
        nodeid.NamespaceIndex = namespace
        nodeid.NodeIdType = _STRING
        return nodeid  # type: ignore[no-any-return]
    return _NodeId(identifier, namespace)  # type: ignore[no-any-return]


#: The fields `scalar_variant` and `data_value` set: all of asyncua's Variant's and
#: DataValue's (tests/unit/test_ua_wire.py notices another one).
VARIANT_FIELDS = ("Value", "VariantType", "Dimensions", "is_array")
DATA_VALUE_FIELDS = (
    "Encoding",
    "Value",
    "StatusCode",
    "SourceTimestamp",
    "ServerTimestamp",
    "SourcePicoseconds",
    "ServerPicoseconds",
)
_Variant: Any = ua.Variant
_DataValue: Any = ua.DataValue


def scalar_variant(value: bool | int | float | str, variant_type: ua.VariantType) -> ua.Variant:
    """`ua.Variant(value, variant_type)` for a scalar already of that type, without
    asyncua's `__post_init__` (its type guessing and checks: 1 µs of 1.2, for each value
    the gateway serves; issue 21). The caller converts the value first (datatypes.py)."""
    variant = _new(_Variant)
    variant.Value = value
    variant.VariantType = variant_type
    variant.Dimensions = None
    variant.is_array = False
    return variant  # type: ignore[no-any-return]


def data_value(
    variant: ua.Variant, status: ua.StatusCode, source: Any, server: Any
) -> ua.DataValue:
    """`ua.DataValue(variant, StatusCode=, SourceTimestamp=, ServerTimestamp=)` without
    asyncua's `__init__` and `__post_init__` (the Value is a Variant already)."""
    made = _new(_DataValue)
    made.Encoding = 0
    made.Value = variant
    made.StatusCode = status
    made.SourceTimestamp = source
    made.ServerTimestamp = server
    made.SourcePicoseconds = None
    made.ServerPicoseconds = None
    return made  # type: ignore[no-any-return]


def token_id(token: bytes) -> ua.NodeId:
    """A ByteString NodeId in namespace 0 (AuthenticationTokens)."""
    return _NodeId(token, 0, ua.NodeIdType.ByteString)  # type: ignore[no-any-return]


def status_code(code: int) -> ua.StatusCode:
    return _StatusCode(int(code))  # type: ignore[no-any-return]


#: OPC UA's null DateTime (encoded as 0): "never", e.g. a poll time before the first answer.
DATETIME_NULL = datetime(1601, 1, 1, tzinfo=UTC)


def utc(seconds: float | None) -> Any:
    """POSIX seconds → an aware UTC datetime (None stays None), for DataValue timestamps."""
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)
