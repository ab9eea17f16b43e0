"""The wire helpers' NodeIds (gateway/ua/wire.py) against asyncua's own constructor."""

from __future__ import annotations

import dataclasses

import pytest
from asyncua import ua
from asyncua.ua.ua_binary import nodeid_to_binary

from gateway.ua.wire import STRING_NODE_ID_FIELDS, node_id


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
