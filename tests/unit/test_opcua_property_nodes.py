"""Property nodes made on demand by the node map (gateway/opcua/stack/properties.py).

Real asyncua records, no server: tests/integration/test_opcua_properties.py
checks what a client sees.
"""

from __future__ import annotations

import pytest
from asyncua import ua
from asyncua.server.address_space import AddressSpace, AttributeValue, NodeData

from gateway.opcua.stack.attributes import NodeAttributes
from gateway.opcua.stack.properties import (
    NodeMap,
    PropertyKind,
    VariableNode,
    add_reference,
    node_map,
    nodes_of,
)

NS = 2
_O = ua.ObjectIds


def _ref(target: ua.NodeId, ref_type: int, *, forward: bool) -> ua.ReferenceDescription:
    return ua.ReferenceDescription(
        ReferenceTypeId=ua.NodeId(ref_type), IsForward=forward, NodeId=target
    )


TYPE_REF = _ref(ua.NodeId(_O.AnalogItemType), _O.HasTypeDefinition, forward=True)
PARENT_REF = _ref(ua.NodeId("plc", NS), _O.HasComponent, forward=False)
PROPERTY_TYPE_REF = _ref(ua.NodeId(_O.PropertyType), _O.HasTypeDefinition, forward=True)


def _kind(name: str, value: object) -> PropertyKind:
    template = {ua.AttributeIds.Value: AttributeValue(ua.DataValue(ua.Variant(value)))}
    return PropertyKind(name, NodeAttributes(template, None), PROPERTY_TYPE_REF)


RANGE = _kind("EURange", 1.0)
UNITS = _kind("EngineeringUnits", "kPa")


def _variable(identifier: str, *kinds: PropertyKind) -> VariableNode:
    node = VariableNode(ua.NodeId(identifier, NS), NodeAttributes({}, None), (PARENT_REF, TYPE_REF))
    node.properties = kinds
    return node


@pytest.fixture
def nodes() -> NodeMap:
    found = NodeMap()
    for node in (
        _variable("plc.temp", RANGE, UNITS),
        _variable("plc.mode"),
        NodeData(ua.NodeId("plc", NS)),
    ):
        found[node.nodeid] = node
    return found


def test_a_property_is_made_on_each_lookup_and_never_stored(nodes: NodeMap) -> None:
    nodeid = ua.NodeId("plc.temp.EngineeringUnits", NS)
    node = nodes[nodeid]
    assert node.nodeid == nodeid
    assert node.attributes is UNITS.attributes  # the shared attributes and Value
    inverse, type_ref = node.references
    assert (inverse.ReferenceTypeId, inverse.IsForward, inverse.NodeId) == (
        ua.NodeId(_O.HasProperty),
        False,
        ua.NodeId("plc.temp", NS),
    )
    assert (inverse.BrowseName, inverse.DisplayName.Text) == (ua.QualifiedName("temp", NS), "temp")
    assert inverse.TypeDefinition == ua.NodeId(_O.AnalogItemType)
    assert type_ref is PROPERTY_TYPE_REF
    assert nodeid in nodes
    assert nodes.get(nodeid) is not None
    assert len(nodes) == 3
    assert not dict.__contains__(nodes, nodeid)


@pytest.mark.parametrize(
    "nodeid",
    [
        ua.NodeId("plc.mode.EURange", NS),  # a variable without properties
        ua.NodeId("plc.temp.Nope", NS),
        ua.NodeId("plc.EURange", NS),  # the parent is an object
        ua.NodeId("plc.temp.EURange.EURange", NS),
        ua.NodeId("plc.temp.EURange", NS + 1),
        ua.NodeId("nodots", NS),
        ua.NodeId(7, NS),
        ua.NodeId(2253),
    ],
)
def test_properties_that_do_not_exist_are_missing(nodes: NodeMap, nodeid: ua.NodeId) -> None:
    assert nodeid not in nodes
    assert nodes.get(nodeid) is None
    with pytest.raises(KeyError):
        nodes[nodeid]


def test_a_variable_lists_its_references_in_stored_order() -> None:
    variable = _variable("plc.temp", RANGE, UNITS)
    condition = _ref(ua.NodeId("Alarms.hi", NS), _O.HasCondition, forward=True)
    add_reference(variable, condition)
    refs = variable.references
    assert refs[:2] == [PARENT_REF, TYPE_REF]
    assert [(r.NodeId, r.BrowseName, r.NodeClass, r.TypeDefinition) for r in refs[2:4]] == [
        (
            ua.NodeId(f"plc.temp.{name}", NS),
            ua.QualifiedName(name, 0),
            ua.NodeClass.Variable,
            ua.NodeId(_O.PropertyType),
        )
        for name in ("EURange", "EngineeringUnits")
    ]
    assert refs[4:] == [condition]
    # Made for each reading: changing them would change nothing, so it is an error.
    with pytest.raises(TypeError, match="add_reference"):
        refs.append(condition)
    with pytest.raises(TypeError, match="add_reference"):
        variable.references = [condition]
    assert len(variable.references) == 5


def test_add_reference_appends_to_a_stored_node() -> None:
    node = NodeData(ua.NodeId("plc", NS))
    add_reference(node, PARENT_REF)
    assert node.references == [PARENT_REF]


def test_an_address_space_gets_a_node_map_with_its_nodes() -> None:
    aspace = AddressSpace()
    standard = NodeData(ua.NodeId(_O.ObjectsFolder))
    aspace[standard.nodeid] = standard
    nodes = node_map(aspace)
    assert nodes_of(aspace) is nodes
    assert nodes[standard.nodeid] is standard
    assert node_map(aspace) is nodes  # installed once
