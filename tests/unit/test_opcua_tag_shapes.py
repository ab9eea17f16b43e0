"""A device's tags of one shape made like the first (gateway/opcua/space.py, issue 21).

`SpaceBuilder.add_device` makes the first variable of each shape in full and
the rest with `NodeFactory.add_variable_like`. Here every tag of a device is
also made in full, on a second device, and the two must read alike: every
attribute, every reference both ways, every property node. Real asyncua
records, no server: tests/integration/test_opcua_space.py checks what a
client browses.
"""

from __future__ import annotations

from typing import Any

import pytest
from asyncua import ua
from asyncua.server.address_space import AddressSpace
from uaspacekit import add_standard_node

from gateway.config import DeviceConfig
from gateway.opcua.datatypes import ua_type
from gateway.opcua.space import SpaceBuilder
from gateway.opcua.stack.nodes import NodeFactory
from gateway.tags import Tag, build_tags

NS = 2
_O = ua.ObjectIds
_VARIABLE = ua.NodeClass.Variable

#: Two or more of each shape, interleaved: type, range, unit, writable, scan interval.
TAGS: list[dict[str, Any]] = [
    {"name": "t1", "address": 0, "type": "float32", "unit": "kPa", "range": [0, 10]},
    {"name": "w1", "address": 100, "type": "int16", "writable": True},
    {"name": "t2", "address": 2, "type": "float32", "unit": "kPa", "range": [0, 10]},
    {"name": "s1", "address": 200, "type": "int16", "scale": 0.1, "unit": "degC"},
    {"name": "w2", "address": 101, "type": "int16", "writable": True},
    {"name": "b1", "address": 300, "type": "bool", "table": "coil", "description": "run"},
    {"name": "s2", "address": 201, "type": "int16", "scale": 0.1, "unit": "degC"},
    {"name": "b2", "address": 301, "type": "bool", "table": "coil", "description": "run"},
    {"name": "f1", "address": 4, "type": "float32", "scan_interval": "5s"},
    {"name": "f2", "address": 6, "type": "float32", "scan_interval": "5s"},
    {"name": "t3", "address": 8, "type": "float32", "unit": "kPa", "range": [0, 20]},
    # t1's shape with descriptions of their own, one twice, then none again
    {"name": "d1", "address": 10, "type": "float32", "unit": "kPa", "range": [0, 10],
     "description": "inlet"},
    {"name": "d2", "address": 12, "type": "float32", "unit": "kPa", "range": [0, 10],
     "description": "outlet"},
    {"name": "d3", "address": 14, "type": "float32", "unit": "kPa", "range": [0, 10],
     "description": "inlet"},
    {"name": "t4", "address": 16, "type": "float32", "unit": "kPa", "range": [0, 10]},
]  # fmt: skip


def _tags(device: str) -> tuple[Tag, ...]:
    defaults = {"table": "holding_register"}
    config = DeviceConfig.model_validate(
        {"name": device, "host": "127.0.0.1", "tags": [{**defaults, **tag} for tag in TAGS]}
    )
    return build_tags(config)


@pytest.fixture
def built() -> tuple[AddressSpace, SpaceBuilder]:
    aspace = AddressSpace()
    add_standard_node(aspace, _O.ObjectsFolder, "Objects", ua.NodeClass.Object)
    for identifier, name in (
        (_O.BaseObjectType, "BaseObjectType"),
        (_O.FolderType, "FolderType"),
    ):
        add_standard_node(aspace, identifier, name, ua.NodeClass.ObjectType)
    for identifier, name in (
        (_O.BaseDataVariableType, "BaseDataVariableType"),
        (_O.BaseAnalogType, "BaseAnalogType"),
        (_O.AnalogItemType, "AnalogItemType"),
        (_O.PropertyType, "PropertyType"),
    ):
        add_standard_node(aspace, identifier, name, ua.NodeClass.VariableType)
    builder = SpaceBuilder(NodeFactory(aspace), NS, "gw", history=True)
    builder.add_device("shaped", _tags("shaped"))
    # The same tags, every one made in full (the path of each shape's first tag).
    whole = builder._nodes.add_object(
        builder.devices,
        ua.NodeId("whole", NS),
        ref_type=ua.NodeId(_O.Organizes),
        event_notifier=ua.EventNotifier.SubscribeToEvents.mask,
    )
    for tag in _tags("whole"):
        builder._add_tag(whole, tag, ua_type(tag))
    return aspace, builder


def _relative(value: Any, device: str) -> Any:
    """A value with the device's name taken out of NodeIds and names."""
    if isinstance(value, ua.NodeId) and isinstance(value.Identifier, str):
        return ("node", value.Identifier.replace(device, "<device>", 1), value.NamespaceIndex)
    if isinstance(value, ua.QualifiedName | ua.LocalizedText):
        return repr(value).replace(device, "<device>")
    return value


def _attributes(aspace: AddressSpace, nodeid: ua.NodeId, device: str) -> dict[Any, Any]:
    node = aspace[nodeid]
    read = {}
    for attribute in ua.AttributeIds:
        if attribute in node.attributes:
            found = aspace.read_attribute_value(nodeid, attribute)
            variant = found.Value
            assert variant is not None
            read[attribute] = (variant.VariantType, _relative(variant.Value, device))
    return read


def _references(aspace: AddressSpace, nodeid: ua.NodeId, device: str) -> list[Any]:
    return [
        (
            ref.ReferenceTypeId,
            ref.IsForward,
            _relative(ref.NodeId, device),
            _relative(ref.BrowseName, device),
            _relative(ref.DisplayName, device),
            ref.NodeClass,
            _relative(ref.TypeDefinition, device),
        )
        for ref in aspace[nodeid].references
    ]


def test_tags_made_like_the_first_of_their_shape_read_as_made_in_full(
    built: tuple[AddressSpace, SpaceBuilder],
) -> None:
    aspace, _ = built
    for tag in TAGS:
        shaped = ua.NodeId(f"shaped.{tag['name']}", NS)
        whole = ua.NodeId(f"whole.{tag['name']}", NS)
        assert _attributes(aspace, shaped, "shaped") == _attributes(aspace, whole, "whole")
        assert _references(aspace, shaped, "shaped") == _references(aspace, whole, "whole")
        for name in ("EURange", "EngineeringUnits"):
            mine = ua.NodeId(f"shaped.{tag['name']}.{name}", NS)
            theirs = ua.NodeId(f"whole.{tag['name']}.{name}", NS)
            assert (mine in aspace) == (theirs in aspace)
            if mine in aspace:
                assert _attributes(aspace, mine, "shaped") == _attributes(aspace, theirs, "whole")
                assert _references(aspace, mine, "shaped") == _references(aspace, theirs, "whole")
    # The devices' references to their tags, in order (`whole` has no _Status object).
    to_tags = [
        [ref for ref in _references(aspace, ua.NodeId(name, NS), name) if ref[5] == _VARIABLE]
        for name in ("shaped", "whole")
    ]
    assert to_tags[0] == to_tags[1]
    assert [ref[2][1] for ref in to_tags[0]] == [f"<device>.{tag['name']}" for tag in TAGS]


def test_each_tag_has_its_own_value(built: tuple[AddressSpace, SpaceBuilder]) -> None:
    aspace, builder = built
    bindings = [builder.space.tags[f"shaped.{tag['name']}"] for tag in TAGS]
    assert [binding.tag.name for binding in bindings] == [tag["name"] for tag in TAGS]
    assert len({id(binding.attribute) for binding in bindings}) == len(TAGS)
    for binding in bindings:
        node = aspace[ua.NodeId(binding.tag.key, NS)]
        assert node.attributes[ua.AttributeIds.Value] is binding.attribute


def test_a_model_from_another_parent_is_refused(built: tuple[AddressSpace, SpaceBuilder]) -> None:
    aspace, builder = built
    model = aspace[ua.NodeId("shaped.t1", NS)]
    other = aspace[ua.NodeId("whole", NS)]
    new = ua.NodeId("whole.t9", NS)
    with pytest.raises(ValueError, match="is not a variable of"):
        builder._nodes.add_variable_like(other, new, model, ua.DataValue(), None)
    with pytest.raises(TypeError, match="is not a variable this factory made"):
        builder._nodes.add_variable_like(other, new, other, ua.DataValue(), None)


def test_equal_descriptions_share_one_template(built: tuple[AddressSpace, SpaceBuilder]) -> None:
    aspace, _ = built

    def template(name: str) -> object:
        return aspace[ua.NodeId(f"shaped.{name}", NS)].attributes.template  # type: ignore[attr-defined]

    assert template("d1") is template("d3")
    assert template("d1") is not template("d2")
    assert template("t1") is template("t4")
    assert template("t1") is not template("d1")
