"""Variable nodes whose property nodes are made when asked for, not stored (issue 21).

Every numeric tag has EngineeringUnits and/or EURange property nodes. Stored
as asyncua stores nodes (a `NodeData`, its NodeId and name, a reference list,
a reference each way) they cost, with the variables' own reference lists,
0.97 KB of heap per tag (traced at 10k tags, docs/performance.md), for
nodes that hold nothing of their own: the value of a property is shared
by every tag with the same unit or range, and its NodeId, BrowseName and
DisplayName follow from the tag's NodeId.

So a `VariableNode` keeps only which properties it has (`PropertyKind`s,
one tuple shared by every tag with the same unit and range) and the node map
(`NodeMap`, installed as asyncua's `AddressSpace._nodes`) makes a property's
node when a service asks for it by NodeId (`__missing__`, `get`, `in`); the
variable's `references` lists the HasProperty references, made when read.
Clients see the same nodes, attributes and references as when they were
stored: nothing is written to them (clients are never asyncua admins, and
only tags take writes), so a node made again is the same node. A property
node is not kept once the request that asked for it is answered: nothing is
cached, so nothing grows with what clients read. Datachange callbacks on a
property's Value go to the shared Value attribute, as they did before.

A variable's own references (its parent, its type) are one tuple shared by
every variable with the same parent and type; references added later (an
alarm's HasCondition) go through `add_reference`.
"""

from __future__ import annotations

from typing import Any

from asyncua import ua
from asyncua.server.address_space import AddressSpace, NodeData

from gateway.opcua.stack.attributes import NodeAttributes, name_of
from gateway.ua.wire import ObjectIds, node_id

__all__ = [
    "NodeMap",
    "PropertyKind",
    "VariableNode",
    "add_reference",
    "install",
    "node_map",
    "nodes_of",
]

_HAS_PROPERTY = node_id(ObjectIds.HasProperty)
_HAS_TYPE_DEFINITION = node_id(ObjectIds.HasTypeDefinition)
_PROPERTY_TYPE = node_id(ObjectIds.PropertyType)
_VARIABLE = ua.NodeClass.Variable


class _ReadOnly(list[ua.ReferenceDescription]):
    """A variable's references as made for one reading: changing them is an error."""

    def _refuse(self, *_: object, **__: object) -> None:
        raise TypeError("a tag variable's references are made when read: use add_reference")

    append = extend = insert = remove = pop = clear = sort = reverse = _refuse  # type: ignore[assignment]
    __setitem__ = __delitem__ = __iadd__ = _refuse  # type: ignore[assignment]


class PropertyKind:
    """One standard property with one value (EURange [0, 500], EngineeringUnits kPa),
    shared by every variable that has it; its nodes are made from it on demand."""

    __slots__ = ("attributes", "browse_name", "display_name", "name", "type_ref")

    def __init__(
        self, name: str, attributes: NodeAttributes, type_ref: ua.ReferenceDescription
    ) -> None:
        self.name = name
        #: Shared by every node of this kind: NodeId and names are derived from the
        #: NodeId read (attributes.py), the Value is the shared one.
        self.attributes = attributes
        self.browse_name = ua.QualifiedName(name, 0)
        self.display_name = ua.LocalizedText(name)
        self.type_ref = type_ref  # HasTypeDefinition → PropertyType

    def forward(self, variable: ua.NodeId) -> ua.ReferenceDescription:
        """variable → property (HasProperty), as Browse returns it."""
        return ua.ReferenceDescription(
            ReferenceTypeId=_HAS_PROPERTY,
            IsForward=True,
            NodeId=property_id(variable, self.name),
            BrowseName=self.browse_name,
            DisplayName=self.display_name,
            NodeClass=_VARIABLE,
            TypeDefinition=_PROPERTY_TYPE,
        )


def property_id(variable: ua.NodeId, name: str) -> ua.NodeId:
    """`ns;s=<device>.<tag>.<name>`."""
    return node_id(f"{variable.Identifier!s}.{name}", variable.NamespaceIndex)


class VariableNode(NodeData):
    """A variable node: shared attributes and references, properties made when asked for."""

    __slots__ = ("_base", "_extra", "properties")

    def __init__(
        self,
        nodeid: ua.NodeId,
        attributes: NodeAttributes,
        base: tuple[ua.ReferenceDescription, ...],
    ) -> None:
        super().__init__(nodeid)
        # asyncua annotates a dict; it only reads attributes with in, [] and get.
        self.attributes = attributes  # type: ignore[assignment]
        #: parent ← variable, variable → type: shared by the parent's variables of one type.
        self._base = base
        #: Its properties, in the order Browse lists them.
        self.properties: tuple[PropertyKind, ...] = ()
        self._extra: list[ua.ReferenceDescription] | None = None

    @property
    def base(self) -> tuple[ua.ReferenceDescription, ...]:
        """Its own references: to its parent (inverse) and to its type."""
        return self._base

    def sibling(self, nodeid: ua.NodeId, attributes: NodeAttributes) -> VariableNode:
        """A variable under the same parent with the same type and properties."""
        node = VariableNode(nodeid, attributes, self._base)
        node.properties = self.properties
        return node

    @property
    def references(self) -> list[ua.ReferenceDescription]:
        """Its references, as stored nodes list them: parent, type, properties, then any
        added later. Made each time, so read-only: add references with `add_reference`
        (asyncua's own node management, for admin sessions only, would change a copy:
        it fails instead, loudly)."""
        refs = list(self._base)
        nodeid = self.nodeid
        refs += [kind.forward(nodeid) for kind in self.properties]
        if self._extra:
            refs += self._extra
        return _ReadOnly(refs)

    @references.setter
    def references(self, refs: list[ua.ReferenceDescription]) -> None:
        """NodeData's constructor sets an empty list; anything else would lose the
        properties' references or list them twice, so it is refused."""
        if refs:
            raise TypeError("a tag variable's references are made when read: use add_reference")
        self._base = ()
        self._extra = None

    def add_reference(self, ref: ua.ReferenceDescription) -> None:
        if self._extra is None:
            self._extra = []
        self._extra.append(ref)

    def property_node(self, name: str, nodeid: ua.NodeId) -> NodeData | None:
        """The node of its property `name` (at `nodeid`), made now; None if it has none."""
        for kind in self.properties:
            if kind.name == name:
                break
        else:
            return None
        node = NodeData(nodeid)
        node.attributes = kind.attributes  # type: ignore[assignment]
        node.references = [self._inverse(), kind.type_ref]
        return node

    def _inverse(self) -> ua.ReferenceDescription:
        """property → variable (HasProperty, inverse)."""
        nodeid = self.nodeid
        name = name_of(nodeid)
        type_definition = next(
            (
                ref.NodeId
                for ref in self._base
                if ref.IsForward and ref.ReferenceTypeId == _HAS_TYPE_DEFINITION
            ),
            node_id(0),
        )
        return ua.ReferenceDescription(
            ReferenceTypeId=_HAS_PROPERTY,
            IsForward=False,
            NodeId=nodeid,
            BrowseName=ua.QualifiedName(name, nodeid.NamespaceIndex),
            DisplayName=ua.LocalizedText(name),
            NodeClass=_VARIABLE,
            TypeDefinition=type_definition,
        )


def add_reference(node: NodeData, ref: ua.ReferenceDescription) -> None:
    """Append `ref` to `node`'s references (a `VariableNode` makes its list when read)."""
    if isinstance(node, VariableNode):
        node.add_reference(ref)
    else:
        node.references.append(ref)


class NodeMap(dict[ua.NodeId, NodeData]):
    """asyncua's node map: the stored nodes, and the property nodes of variables made
    when asked for. `[]` is dict's own lookup (a miss calls `__missing__`); `get` and
    `in` add one Python call. Iterating and `len` see the stored nodes only."""

    def __missing__(self, key: ua.NodeId) -> NodeData:
        node = self._load(key)
        if node is None:
            raise KeyError(key)
        return node

    def get(self, key: ua.NodeId, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or self._load(key) is not None

    def _load(self, key: object) -> NodeData | None:
        """A node that is not stored: a variable's property, made now."""
        if not isinstance(key, ua.NodeId) or key.NamespaceIndex == 0:
            return None
        identifier = key.Identifier
        if not isinstance(identifier, str):
            return None
        parent, dot, name = identifier.rpartition(".")
        if not dot:
            return None
        variable = dict.get(self, node_id(parent, key.NamespaceIndex))
        if not isinstance(variable, VariableNode):
            return None
        return variable.property_node(name, key)


def nodes_of(aspace: AddressSpace) -> dict[ua.NodeId, NodeData]:
    """The address space's node map (asyncua's private `_nodes`)."""
    return aspace._nodes


def install(aspace: AddressSpace, nodes: NodeMap) -> None:
    """Serve `aspace`'s nodes from `nodes` (what asyncua's `load_aspace_shelf` does)."""
    aspace._nodes = nodes


def node_map(aspace: AddressSpace) -> NodeMap:
    """`aspace`'s node map, made a `NodeMap` (holding the same nodes) if it is not one."""
    nodes = nodes_of(aspace)
    if not isinstance(nodes, NodeMap):
        nodes = NodeMap(nodes)
        install(aspace, nodes)
    return nodes
