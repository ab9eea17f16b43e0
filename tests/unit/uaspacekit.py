"""Standard nodes for unit tests of the gateway's node factory: the few a tree needs.

Real asyncua records, no server: a type's BrowseName, DisplayName and NodeClass
are what the factory reads from the nodes it links to.
"""

from __future__ import annotations

from asyncua import ua
from asyncua.server.address_space import AddressSpace, AttributeValue, NodeData

__all__ = ["add_standard_node"]

_V = ua.VariantType


def add_standard_node(
    aspace: AddressSpace, identifier: int, name: str, node_class: ua.NodeClass
) -> None:
    """A namespace-0 node with its names and class, as the standard address space has."""
    node = NodeData(ua.NodeId(identifier))
    attributes = {
        ua.AttributeIds.BrowseName: ua.Variant(ua.QualifiedName(name, 0), _V.QualifiedName),
        ua.AttributeIds.DisplayName: ua.Variant(ua.LocalizedText(name), _V.LocalizedText),
        ua.AttributeIds.NodeClass: ua.Variant(int(node_class), _V.Int32),
    }
    for attribute, variant in attributes.items():
        node.attributes[attribute] = AttributeValue(ua.DataValue(variant))
    aspace[node.nodeid] = node
