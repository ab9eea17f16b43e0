"""The names in a parent's references to the gateway's nodes (gateway/opcua/stack/nodes.py).

Equal names share their QualifiedName and LocalizedText (devices of one
model repeat their tags' names), within a bounded cache. Real asyncua
records, no server: tests/integration/test_opcua_space.py checks what a
client browses.
"""

from __future__ import annotations

import pytest
from asyncua import ua
from asyncua.server.address_space import AddressSpace
from uaspacekit import add_standard_node

from gateway.opcua.stack import nodes as nodes_module
from gateway.opcua.stack.nodes import NodeFactory, Ref

NS = 2
_O = ua.ObjectIds


@pytest.fixture
def factory() -> NodeFactory:
    aspace = AddressSpace()
    add_standard_node(aspace, _O.ObjectsFolder, "Objects", ua.NodeClass.Object)
    add_standard_node(aspace, _O.BaseObjectType, "BaseObjectType", ua.NodeClass.ObjectType)
    variable_type = ua.NodeClass.VariableType
    add_standard_node(aspace, _O.BaseDataVariableType, "BaseDataVariableType", variable_type)
    return NodeFactory(aspace)


def _device(factory: NodeFactory, name: str, tags: list[str]) -> list[ua.ReferenceDescription]:
    objects = factory.node(ua.NodeId(_O.ObjectsFolder))
    device = factory.add_object(objects, ua.NodeId(name, NS), ref_type=Ref.ORGANIZES)
    for tag in tags:
        factory.add_variable(device, ua.NodeId(f"{name}.{tag}", NS), None, ua.NodeId(_O.Double))
    forward = [ref for ref in device.references if ref.IsForward]
    return [ref for ref in forward if ref.ReferenceTypeId == Ref.HAS_COMPONENT]


def test_equal_tag_names_share_their_reference_names(factory: NodeFactory) -> None:
    first = _device(factory, "plc1", ["temp", "mode"])
    second = _device(factory, "plc2", ["temp", "mode"])
    for ref in (*first, *second):
        name = str(ref.NodeId.Identifier).rpartition(".")[2]
        assert ref.BrowseName == ua.QualifiedName(name, NS)
        assert ref.DisplayName == ua.LocalizedText(name)
    for mine, theirs in zip(first, second, strict=True):
        assert mine.NodeId != theirs.NodeId
        assert mine.BrowseName is theirs.BrowseName
        assert mine.DisplayName is theirs.DisplayName


def test_the_shared_names_are_bounded(
    factory: NodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nodes_module, "OWN_NAMES_KEPT", 3)
    (first,) = _device(factory, "plc1", ["temp"])  # the device's name and its tag's
    _device(factory, "plc2", ["mode", "level"])  # four names: the cache started over
    (again,) = _device(factory, "plc3", ["temp"])
    assert again.BrowseName == first.BrowseName
    assert again.BrowseName is not first.BrowseName
