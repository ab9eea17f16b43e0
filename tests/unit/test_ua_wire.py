"""The wire helpers' NodeIds, Variants and DataValues (gateway/ua/wire.py) against
asyncua's own constructors, field by field and byte by byte on the wire."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from asyncua import ua
from asyncua.ua.ua_binary import nodeid_to_binary, struct_to_binary

from gateway.ua.wire import (
    DATA_VALUE_FIELDS,
    STRING_NODE_ID_FIELDS,
    VARIANT_FIELDS,
    data_value,
    node_id,
    scalar_variant,
)


def test_a_string_node_id_sets_every_field_asyncua_has() -> None:
    # node_id makes a string NodeId without asyncua's __init__: a field added upstream
    # would be left unset, so this fails first.
    assert tuple(field.name for field in dataclasses.fields(ua.NodeId)) == STRING_NODE_ID_FIELDS


@pytest.mark.parametrize("identifier", ["plc1.temp", "", "Devices", "a.b.c.EURange", "ü"])
@pytest.mark.parametrize("namespace", [0, 2, 65535])
def test_a_string_node_id_is_asyncuas(identifier: str, namespace: int) -> None:
    made = node_id(identifier, namespace)
    theirs = ua.NodeId(identifier, namespace, ua.NodeIdType.String)
    assert type(made) is ua.NodeId
    assert dataclasses.astuple(made) == dataclasses.astuple(theirs)
    assert made == theirs
    assert hash(made) == hash(theirs)
    assert made.to_string() == theirs.to_string()
    assert nodeid_to_binary(made) == nodeid_to_binary(theirs)
    assert {theirs: 1}[made] == 1


@pytest.mark.parametrize(("identifier", "namespace"), [(85, 0), (2259, 0), (70000, 3)])
def test_a_numeric_node_id_is_asyncuas(identifier: int, namespace: int) -> None:
    made = node_id(identifier, namespace)
    assert dataclasses.astuple(made) == dataclasses.astuple(ua.NodeId(identifier, namespace))


def test_a_variant_and_a_data_value_set_every_field_asyncua_has() -> None:
    assert tuple(field.name for field in dataclasses.fields(ua.Variant)) == VARIANT_FIELDS
    assert tuple(field.name for field in dataclasses.fields(ua.DataValue)) == DATA_VALUE_FIELDS


SCALARS = [
    (True, ua.VariantType.Boolean),
    (-32768, ua.VariantType.Int16),
    (2**64 - 1, ua.VariantType.UInt64),
    (21.5, ua.VariantType.Float),
    (-1e300, ua.VariantType.Double),
    ("", ua.VariantType.String),
    ("Füllstand", ua.VariantType.String),
]


@pytest.mark.parametrize(("value", "variant_type"), SCALARS)
def test_a_served_value_is_asyncuas(value: bool | int | float | str, variant_type: Any) -> None:
    stamp = datetime(2026, 12, 6, 4, 0, 0, 123456, tzinfo=UTC)
    code = ua.StatusCode(ua.StatusCodes.UncertainLastUsableValue)
    variant = scalar_variant(value, variant_type)
    theirs = ua.Variant(value, variant_type)
    assert type(variant) is ua.Variant
    assert dataclasses.astuple(variant) == dataclasses.astuple(theirs)
    made = data_value(variant, code, stamp, stamp)
    expected = ua.DataValue(theirs, StatusCode=code, SourceTimestamp=stamp, ServerTimestamp=stamp)
    assert type(made) is ua.DataValue
    assert [getattr(made, name) for name in DATA_VALUE_FIELDS] == [
        getattr(expected, name) for name in DATA_VALUE_FIELDS
    ]
    assert made == expected
    assert struct_to_binary(made) == struct_to_binary(expected)
