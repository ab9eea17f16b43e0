"""Engineering units and tag data types as served over OPC UA (pure mappings)."""

from __future__ import annotations

import pytest
from asyncua import ua

from gateway.codec import Encoding
from gateway.model import DataType, Table
from gateway.opcua.datatypes import ua_type
from gateway.opcua.units import lookup_unit, unit_id
from gateway.tags import Tag


@pytest.mark.parametrize(
    ("code", "expected"),
    [("CEL", 4408652), ("P1", 20529), ("MQH", 5067080), ("59", 13625)],
)
def test_unit_id_packs_the_common_code_bytes(code: str, expected: int) -> None:
    assert unit_id(code) == expected


@pytest.mark.parametrize(
    ("text", "code", "symbol"),
    [
        ("degC", "CEL", "°C"),
        ("°C", "CEL", "°C"),
        ("bar", "BAR", "bar"),
        ("kPa", "KPA", "kPa"),
        ("%", "P1", "%"),
        ("m3/h", "MQH", "m³/h"),
        ("rpm", "RPM", "rpm"),
        ("A", "AMP", "A"),
        ("V", "VLT", "V"),
        ("kW", "KWT", "kW"),
        ("Hz", "HTZ", "Hz"),
        ("m", "MTR", "m"),
        ("l", "LTR", "l"),
        ("s", "SEC", "s"),
        ("mA", "4K", "mA"),
    ],
)
def test_known_units_have_their_unece_code(text: str, code: str, symbol: str) -> None:
    unit = lookup_unit(text)
    assert (unit.code, unit.symbol, unit.unit_id) == (code, symbol, unit_id(code))


def test_unknown_units_keep_their_text_and_have_no_code() -> None:
    unit = lookup_unit("MA")  # not mA: case matters
    assert (unit.code, unit.symbol, unit.unit_id) == (None, "MA", -1)


def _tag(data_type: DataType, *, scale: float = 1.0, length: int | None = None) -> Tag:
    table = Table.COIL if data_type is DataType.BOOL else Table.HOLDING_REGISTER
    encoding = Encoding(data_type=data_type, length=length, scale=scale)
    return Tag("d", "t", table, 0, encoding, 1.0)


@pytest.mark.parametrize(
    ("data_type", "variant", "raw", "served"),
    [
        (DataType.BOOL, ua.VariantType.Boolean, True, True),
        (DataType.INT16, ua.VariantType.Int16, -5, -5),
        (DataType.UINT16, ua.VariantType.UInt16, 5, 5),
        (DataType.INT32, ua.VariantType.Int32, -70000, -70000),
        (DataType.UINT32, ua.VariantType.UInt32, 70000, 70000),
        (DataType.INT64, ua.VariantType.Int64, -(2**40), -(2**40)),
        (DataType.UINT64, ua.VariantType.UInt64, 2**40, 2**40),
        (DataType.FLOAT32, ua.VariantType.Float, 1, 1.0),
        (DataType.FLOAT64, ua.VariantType.Double, 2, 2.0),
        (DataType.BCD16, ua.VariantType.UInt16, 1234, 1234),
        (DataType.BCD32, ua.VariantType.UInt32, 12345678, 12345678),
    ],
)
def test_each_data_type_has_its_variant_and_converter(
    data_type: DataType, variant: ua.VariantType, raw: object, served: object
) -> None:
    kind = ua_type(_tag(data_type))
    assert kind.variant == variant
    assert kind.data_type == ua.NodeId(int(variant))
    converted = kind.convert(raw)  # type: ignore[arg-type]
    assert converted == served
    assert type(converted) is type(served)


def test_strings_and_scaled_integers() -> None:
    assert ua_type(_tag(DataType.STRING, length=4)).variant == ua.VariantType.String
    scaled = ua_type(_tag(DataType.INT16, scale=0.1))
    assert scaled.variant == ua.VariantType.Double
    assert scaled.convert(-12) == -12.0
    assert ua_type(_tag(DataType.FLOAT32, scale=2.0)).variant == ua.VariantType.Float
