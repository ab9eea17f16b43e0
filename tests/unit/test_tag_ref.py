"""`gateway history`'s TAG: device.tag of this gateway, or GATEWAY/device.tag of another."""

from __future__ import annotations

import pytest

from gateway.present.history import TagRef, parse_tag_ref


def test_a_plain_tag_is_this_gateways() -> None:
    assert parse_tag_ref("boiler.temp", "line1") == TagRef("line1", "boiler.temp")


def test_a_gateway_prefix_names_another_gateway() -> None:
    ref = parse_tag_ref("line2/boiler.temp", "line1")
    assert ref == TagRef("line2", "boiler.temp")
    assert str(ref) == "line2/boiler.temp"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/boiler.temp", "the gateway name is empty"),
        ("a/b/boiler.temp", "at most one '/'"),
        ("line2/boiler", r"expected \[GATEWAY/\]device\.tag"),
        ("boiler.", r"expected \[GATEWAY/\]device\.tag"),
        (".temp", r"expected \[GATEWAY/\]device\.tag"),
        ("line 2/boiler.temp", "is not a valid name"),
    ],
)
def test_malformed_references_say_what_is_expected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_tag_ref(text, "line1")
