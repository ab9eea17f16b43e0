"""Tag data types → OPC UA VariantType, DataType NodeId and a value converter.

asyncua serialises a Variant by its VariantType and silently refuses writes
whose VariantType differs from the node's, so every value served is converted
here to the exact Python type its VariantType encodes. Scaled integer tags
publish Double: `raw * scale + offset` is fractional even when raw is whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from asyncua import ua

from gateway.model import DataType, Value
from gateway.tags import Tag
from gateway.ua.wire import node_id

__all__ = ["UaType", "ua_type"]


@dataclass(frozen=True, slots=True)
class UaType:
    """How one tag's values travel in OPC UA."""

    variant: ua.VariantType
    convert: Callable[[Value], Value]

    @property
    def data_type(self) -> ua.NodeId:
        """Built-in DataType NodeIds equal their VariantType number (Part 6, 5.1.2)."""
        return node_id(int(self.variant))

    @property
    def is_numeric(self) -> bool:
        return self.variant not in (ua.VariantType.Boolean, ua.VariantType.String)


_V = ua.VariantType
_INTEGER: dict[DataType, ua.VariantType] = {
    DataType.INT16: _V.Int16,
    DataType.UINT16: _V.UInt16,
    DataType.INT32: _V.Int32,
    DataType.UINT32: _V.UInt32,
    DataType.INT64: _V.Int64,
    DataType.UINT64: _V.UInt64,
    DataType.BCD16: _V.UInt16,
    DataType.BCD32: _V.UInt32,
}

_BOOL = UaType(_V.Boolean, bool)
_STRING = UaType(_V.String, str)
_FLOAT = UaType(_V.Float, float)
_DOUBLE = UaType(_V.Double, float)
_INTEGERS = {data_type: UaType(variant, int) for data_type, variant in _INTEGER.items()}


def ua_type(tag: Tag) -> UaType:
    """The OPC UA type a tag is served with (see the module docstring for scaling)."""
    data_type = tag.data_type
    if data_type is DataType.BOOL:
        return _BOOL
    if data_type is DataType.STRING:
        return _STRING
    if data_type is DataType.FLOAT32:
        return _FLOAT
    if data_type is DataType.FLOAT64 or tag.encoding.is_scaled:
        return _DOUBLE
    return _INTEGERS[data_type]
