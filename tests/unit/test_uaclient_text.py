"""NODE arguments and command-line values of the client commands (pure parsing)."""

from __future__ import annotations

import math

import pytest
from asyncua import ua

from gateway.uaclient.convert import parse_value
from gateway.uaclient.nodetext import NodeRef, format_node, parse_node
from gateway.uaclient.uanames import format_value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("boiler.temperature", NodeRef("boiler.temperature", "s", "boiler.temperature")),
        ("ns=2;s=boiler.temp", NodeRef("ns=2;s=boiler.temp", "s", "boiler.temp", 2)),
        ("ns=3;i=17", NodeRef("ns=3;i=17", "i", "17", 3)),
        ("i=2253", NodeRef("i=2253", "i", "2253", 0)),
        ("s=Objects", NodeRef("s=Objects", "s", "Objects", 0)),
        (
            "nsu=urn:x:y;s=a;b",
            NodeRef("nsu=urn:x:y;s=a;b", "s", "a;b", None, "urn:x:y"),
        ),
        ("  plc._Status.State ", NodeRef("plc._Status.State", "s", "plc._Status.State")),
    ],
)
def test_node_forms(text: str, expected: NodeRef) -> None:
    parsed = parse_node(text)
    assert parsed == expected
    assert parsed.friendly is (expected.namespace_index is None and expected.namespace_uri is None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty node id"),
        ("ns=x;s=a", "is not a node id"),
        ("nsu=urn:x", "is not a node id"),
        ("i=abc", "must be a whole number"),
    ],
)
def test_malformed_node_ids(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_node(text)


@pytest.mark.parametrize(
    ("kind", "identifier", "namespace", "text"),
    [
        ("s", "boiler.temp", 2, "boiler.temp"),  # the gateway's namespace: bare
        ("s", "boiler.temp", 3, "ns=3;s=boiler.temp"),
        ("i", "2253", 0, "i=2253"),
        ("s", "i=5", 2, "ns=2;s=i=5"),  # would read back as a numeric id
        ("s", "ns=1;s=x", 2, "ns=2;s=ns=1;s=x"),
    ],
)
def test_printed_node_ids_read_back(kind: str, identifier: str, namespace: int, text: str) -> None:
    printed = format_node(kind, identifier, namespace, gateway_namespace=2)
    assert printed == text
    again = parse_node(printed)
    assert (again.kind, again.identifier) == (kind, identifier)
    assert again.namespace_index == (None if printed == identifier else namespace)


@pytest.mark.parametrize(
    ("text", "type_name", "value"),
    [
        ("true", "Boolean", True),
        ("FALSE", "Boolean", False),
        ("1", "Boolean", True),
        ("0", "Boolean", False),
        ("-32768", "Int16", -32768),
        ("65535", "UInt16", 65535),
        ("0x1F", "UInt16", 31),
        ("007", "Int32", 7),
        ("18446744073709551615", "UInt64", 2**64 - 1),
        ("62.5", "Float", 62.5),
        ("-1e300", "Double", -1e300),
        ("hello world", "String", "hello world"),
    ],
)
def test_values_convert_to_the_node_type(
    text: str, type_name: str, value: bool | int | float | str
) -> None:
    converted = parse_value(text, type_name)
    assert converted == value
    assert type(converted) is type(value)


def test_float_accepts_nan() -> None:
    assert math.isnan(float(parse_value("nan", "Float")))


@pytest.mark.parametrize(
    ("text", "type_name", "message"),
    [
        ("yes please", "Boolean", "expected a Boolean"),
        ("2", "Boolean", "expected a Boolean"),
        ("32768", "Int16", "outside the Int16 range -32768..32767"),
        ("-1", "UInt32", "outside the UInt32 range"),
        ("1.5", "Int32", "expected a whole number (Int32)"),
        ("1e39", "Float", "outside the Float (float32) range"),
        ("warm", "Double", "expected a number (Double)"),
        ("x", "DateTime", "cannot be written from the command line"),
    ],
)
def test_values_that_do_not_fit(text: str, type_name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_value(text, type_name)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (b"\x01\xab", "0x01ab"),  # an EventId, not a Python bytes literal
        (ua.StatusCode(ua.StatusCodes.BadNoCommunication), "Bad_NoCommunication"),
        (ua.StatusCode(0), "Good"),
        (ua.NodeId(2782, 0), "i=2782"),
        (ua.NodeId("boiler.water_temperature", 2), "ns=2;s=boiler.water_temperature"),
        (ua.LocalizedText(""), '""'),
        (ua.Argument(), "(Argument)"),
    ],
)
def test_values_of_other_types_print_readably(value: object, text: str) -> None:
    assert format_value(value) == text


@pytest.mark.parametrize(
    ("value", "variant", "text"),
    [
        (29 * 0.1, ua.VariantType.Double, "2.9"),  # 2.9000000000000004: a scaled register
        (0.1 + 0.2, ua.VariantType.Double, "0.3"),
        (54.400000000000006, ua.VariantType.Double, "54.4"),
        (1 / 3, ua.VariantType.Double, "0.333333333333333"),  # 15 digits, no more
        (123456789.123, ua.VariantType.Double, "123456789.123"),
        (1e300, ua.VariantType.Double, "1e+300"),
        (float("nan"), ua.VariantType.Double, "nan"),
        (-0.0, ua.VariantType.Double, "-0.0"),
        (2.9000000953674316, ua.VariantType.Float, "2.9"),  # float32's shortest digits
        (21.5, None, "21.5"),  # no type known: a double
    ],
)
def test_numbers_show_the_digits_of_their_own_type(
    value: float, variant: ua.VariantType | None, text: str
) -> None:
    assert format_value(value, variant) == text
