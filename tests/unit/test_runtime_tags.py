"""Runtime tags built from the configuration (gateway/tags.py)."""

from __future__ import annotations

from gateway.config import DeviceConfig
from gateway.tags import build_tags


def _device(name: str) -> DeviceConfig:
    # int() of a text: each device gets its own int objects, as read from a file
    return DeviceConfig.model_validate(
        {
            "name": name,
            "host": "127.0.0.1",
            "tags": [
                {
                    "name": "flow",
                    "table": "holding_register",
                    "address": int("1000"),
                    "type": "float32",
                },
                {
                    "name": "level",
                    "table": "holding_register",
                    "address": int("1002"),
                    "type": "float32",
                },
            ],
        }
    )


def test_devices_built_together_share_equal_addresses() -> None:
    addresses: dict[int, int] = {}
    first = build_tags(_device("plc1"), addresses)
    second = build_tags(_device("plc2"), addresses)
    assert [tag.address for tag in first] == [1000, 1002]
    assert [tag.key for tag in second] == ["plc2.flow", "plc2.level"]
    assert all(a.address is b.address for a, b in zip(first, second, strict=True))
    apart = build_tags(_device("plc3"))
    assert apart[0].address is not first[0].address


def test_devices_built_apart_are_equal_tags() -> None:
    alone = build_tags(_device("plc1"))
    shared = build_tags(_device("plc1"), {})
    assert alone == shared
