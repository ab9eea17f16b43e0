"""Nodes and references written straight into asyncua's AddressSpace (for conditions.py).

asyncua's AddNodes path costs about 0.4 ms a node and scans the parent's
references on every add: measured, 1000 alarms of about 35 nodes each took
18 s. Like nodes.py for the tags, `NodeTree` writes `NodeData` records and
their references directly, O(1) each, and shares constant attributes (the
names too: every condition repeats the same member names) and reference
descriptions between nodes (nothing writes them: client users are never
asyncua admins, so only Value attributes are writable, and those are each
node's own). 1000 limit alarms take about 0.7 s and 80 MB.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from asyncua import ua
from asyncua.server.address_space import AddressSpace, AttributeValue, NodeData

from gateway.errors import GatewayError
from gateway.opcua.stack.properties import add_reference
from gateway.ua.wire import AttributeIds, ObjectIds, node_id

__all__ = ["OBJECT", "Constant", "NodeTree"]

_V = ua.VariantType
_O = ObjectIds

_A = AttributeIds


#: A constant attribute: (attribute, value, VariantType); equal ones share one object.
Constant = tuple[AttributeIds, Hashable, ua.VariantType]


class NodeTree:
    """Adds nodes below existing ones and links existing nodes, in one AddressSpace."""

    def __init__(self, aspace: AddressSpace) -> None:
        self.aspace = aspace
        self._constants: dict[Constant, AttributeValue] = {}
        self._ids: dict[int, ua.NodeId] = {}
        self._refs: dict[tuple[ua.NodeId, int, bool], ua.ReferenceDescription] = {}
        self._name_attributes: dict[
            tuple[str, int], tuple[ua.LocalizedText, AttributeValue, AttributeValue]
        ] = {}
        self._description_attribute = AttributeValue(
            ua.DataValue(ua.Variant(ua.LocalizedText(), _V.LocalizedText))
        )

    def has(self, nodeid: ua.NodeId) -> bool:
        """True when the address space holds `nodeid` (a standard node may be missing
        from asyncua's nodeset, which can be older than its generated ids)."""
        return nodeid in self.aspace

    def node(self, nodeid: ua.NodeId) -> NodeData:
        """An existing node (KeyError if there is none)."""
        return self.aspace[nodeid]

    def add(
        self,
        parent: NodeData,
        nodeid: ua.NodeId,
        name: ua.QualifiedName,
        kind: tuple[int, int],
        constants: Sequence[Constant],
    ) -> NodeData:
        """A node below `parent` (reference type and type definition from `kind`).

        A node with a Value attribute among `constants` gets its own, null Value.
        """
        if nodeid in self.aspace:
            raise GatewayError(f"duplicate OPC UA NodeId {nodeid.to_string()}")
        ref_type, type_id = kind
        display, browse_attribute, display_attribute = self._names(name)
        attributes = {c[0]: self._constant(c) for c in (*_COMMON, *constants)}
        attributes[_A.Description] = self._description_attribute
        attributes[_A.NodeId] = AttributeValue(ua.DataValue(ua.Variant(nodeid, _V.NodeId)))
        attributes[_A.BrowseName] = browse_attribute
        attributes[_A.DisplayName] = display_attribute
        if _A.Value in attributes:
            attributes[_A.Value] = AttributeValue(ua.DataValue())
        node = NodeData(nodeid)
        node.attributes = attributes
        node_class = ua.NodeClass.Variable if _A.Value in attributes else ua.NodeClass.Object
        add_reference(
            parent,
            ua.ReferenceDescription(
                ReferenceTypeId=self._id(ref_type),
                IsForward=True,
                NodeId=nodeid,
                BrowseName=name,
                DisplayName=display,
                NodeClass=node_class,
                TypeDefinition=self._id(type_id),
            ),
        )
        node.references = [
            self._description(parent.nodeid, ref_type, forward=False),
            self._description(self._id(type_id), _O.HasTypeDefinition, forward=True),
        ]
        self.aspace[nodeid] = node
        return node

    def link(
        self, source: ua.NodeId, ref_type: int, target: ua.NodeId, *, inverse: bool = True
    ) -> None:
        """source → target, and target → source as the inverse reference."""
        add_reference(self.aspace[source], self._description(target, ref_type, forward=True))
        if inverse:
            add_reference(self.aspace[target], self._description(source, ref_type, forward=False))

    def _names(
        self, name: ua.QualifiedName
    ) -> tuple[ua.LocalizedText, AttributeValue, AttributeValue]:
        """DisplayName and the BrowseName and DisplayName attributes, shared by every node
        of that name (each condition's members repeat the same few dozen names)."""
        key = (name.Name, name.NamespaceIndex)
        found = self._name_attributes.get(key)
        if found is None:
            display = ua.LocalizedText(name.Name)
            found = self._name_attributes[key] = (
                display,
                AttributeValue(ua.DataValue(ua.Variant(name, _V.QualifiedName))),
                AttributeValue(ua.DataValue(ua.Variant(display, _V.LocalizedText))),
            )
        return found

    def _id(self, identifier: int) -> ua.NodeId:
        found = self._ids.get(identifier)
        if found is None:
            found = self._ids[identifier] = node_id(identifier)
        return found

    def _constant(self, constant: Constant) -> AttributeValue:
        found = self._constants.get(constant)
        if found is None:
            _, value, variant = constant
            found = self._constants[constant] = AttributeValue(
                ua.DataValue(ua.Variant(value, variant))
            )
        return found

    def _description(
        self, target: ua.NodeId, ref_type: int, *, forward: bool
    ) -> ua.ReferenceDescription:
        """A reference to `target`; the same object for every equal one (never mutated)."""
        key = (target, ref_type, forward)
        found = self._refs.get(key)
        if found is not None:
            return found
        node = self.aspace[target]

        def read(attribute: AttributeIds) -> Any:
            variant = self.aspace.read_attribute_value(target, attribute).Value
            return None if variant is None else variant.Value

        has_type = self._id(_O.HasTypeDefinition)
        type_definition = next(
            (r.NodeId for r in node.references if r.IsForward and r.ReferenceTypeId == has_type),
            self._id(0),
        )
        found = self._refs[key] = ua.ReferenceDescription(
            ReferenceTypeId=self._id(ref_type),
            IsForward=forward,
            NodeId=target,
            BrowseName=read(_A.BrowseName),
            DisplayName=read(_A.DisplayName),
            NodeClass=ua.NodeClass(read(_A.NodeClass)),
            TypeDefinition=type_definition,
        )
        return found


_COMMON: tuple[Constant, ...] = (
    (_A.WriteMask, 0, _V.UInt32),
    (_A.UserWriteMask, 0, _V.UInt32),
)
OBJECT: tuple[Constant, ...] = (
    (_A.NodeClass, int(ua.NodeClass.Object), _V.Int32),
    (_A.EventNotifier, 0, _V.Byte),
)
