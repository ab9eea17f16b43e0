"""Bulk node creation straight into asyncua's AddressSpace.

asyncua's AddNodes path handles one node per call and scans the parent's
reference list on every add (quadratic in siblings: 10k variables under one
parent took 48 s). The gateway builds a tree it fully controls, so this
module writes `NodeData` records and their `ReferenceDescription`s directly:
O(1) per node.

Memory is the other limit (100k tags within 1 GB, with the rest of the
gateway): a node's attributes are a `NodeAttributes` (attributes.py) over
one shared template per distinct attribute set. Sharing is safe because
nothing writes those attributes: client users are never asyncua admins, so
the attribute service refuses every write but Value, and the gateway never
writes them itself. Datachange callbacks a client registers stay keyed by
their own handle.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from asyncua import ua
from asyncua.server.address_space import AddressSpace, AttributeValue, NodeData

from gateway.opcua.stack.attributes import (
    DISPLAY_NAME,
    NODE_ID,
    OWN_BROWSE_NAME,
    STANDARD_BROWSE_NAME,
    NodeAttributes,
    Template,
    name_of,
)
from gateway.ua.wire import AttributeIds, ObjectIds, node_id

__all__ = ["NodeFactory", "Ref"]

_A = AttributeIds
_V = ua.VariantType


class Ref:
    """Reference type NodeIds used by the gateway tree."""

    ORGANIZES = node_id(ObjectIds.Organizes)
    HAS_COMPONENT = node_id(ObjectIds.HasComponent)
    HAS_PROPERTY = node_id(ObjectIds.HasProperty)
    HAS_TYPE_DEFINITION = node_id(ObjectIds.HasTypeDefinition)


class NodeFactory:
    """Creates objects, variables and properties in one AddressSpace, sharing constants."""

    def __init__(self, aspace: AddressSpace) -> None:
        self.aspace = aspace
        self._constants: dict[Hashable, AttributeValue] = {}
        self._templates: dict[Hashable, Template] = {}
        self._type_refs: dict[int, ua.ReferenceDescription] = {}
        self._object_refs: dict[tuple[int, object], ua.ReferenceDescription] = {}
        #: The inverse reference to the last variable that got a child (its properties).
        self._variable_ref: tuple[tuple[int, object], ua.ReferenceDescription] | None = None
        #: The node inserted last, with its names, class and type (see _inverse_ref).
        self._last: (
            tuple[NodeData, ua.QualifiedName, ua.LocalizedText, ua.NodeClass, ua.NodeId] | None
        ) = None
        self._type_ids: dict[int, ua.NodeId] = {}
        self._standard_names: dict[str, tuple[ua.QualifiedName, ua.LocalizedText]] = {}

    def node(self, nodeid: ua.NodeId) -> NodeData:
        """An existing node (KeyError if there is none)."""
        return self.aspace[nodeid]

    # -- shared pieces ----------------------------------------------------------------

    def constant(
        self, kind: str, key: Hashable, make: Callable[[], Any], variant: ua.VariantType
    ) -> AttributeValue:
        """One AttributeValue per (kind, key); `make()` builds its value the first time."""
        cache_key = (kind, key)
        found = self._constants.get(cache_key)
        if found is None:
            found = self._constants[cache_key] = AttributeValue(
                ua.DataValue(ua.Variant(make(), variant))
            )
        return found

    def _const(self, value: Any, variant: ua.VariantType) -> AttributeValue:
        return self.constant(variant.name, value, lambda: value, variant)

    def _template(self, key: Hashable, build: Callable[[], Template]) -> Template:
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = build()
        return template

    def _common(
        self, node_class: ua.NodeClass, description: str | None, standard_name: bool
    ) -> Template:
        return {
            _A.NodeId: NODE_ID,
            _A.BrowseName: STANDARD_BROWSE_NAME if standard_name else OWN_BROWSE_NAME,
            _A.DisplayName: DISPLAY_NAME,
            _A.NodeClass: self._const(int(node_class), _V.Int32),
            _A.Description: self.constant(
                "description", description, lambda: ua.LocalizedText(description), _V.LocalizedText
            ),
            _A.WriteMask: self._const(0, _V.UInt32),
            _A.UserWriteMask: self._const(0, _V.UInt32),
        }

    def type_id(self, identifier: int) -> ua.NodeId:
        """A namespace-0 NodeId, one object per identifier."""
        nodeid = self._type_ids.get(identifier)
        if nodeid is None:
            nodeid = self._type_ids[identifier] = node_id(identifier)
        return nodeid

    def _type_ref(self, type_id: int) -> ua.ReferenceDescription:
        ref = self._type_refs.get(type_id)
        if ref is None:
            type_node = self.aspace[node_id(type_id)]
            ref = self._type_refs[type_id] = ua.ReferenceDescription(
                ReferenceTypeId=Ref.HAS_TYPE_DEFINITION,
                IsForward=True,
                NodeId=type_node.nodeid,
                BrowseName=self._read(type_node, _A.BrowseName),
                DisplayName=self._read(type_node, _A.DisplayName),
                NodeClass=ua.NodeClass(self._read(type_node, _A.NodeClass)),
            )
        return ref

    def _inverse_ref(self, parent: NodeData, ref_type: ua.NodeId) -> ua.ReferenceDescription:
        """child → parent. Shared by every child of an object, and by the
        properties of a variable: they are added right after it, so its names
        come from `_last` and the second property (EngineeringUnits after
        EURange) reuses the first one's reference instead of reading them."""
        key = (id(parent), ref_type.Identifier)  # parents live as long as the factory
        ref = self._object_refs.get(key)
        if ref is not None:
            return ref
        variable_ref = self._variable_ref
        if variable_ref is not None and variable_ref[0] == key:
            return variable_ref[1]
        last = self._last
        if last is not None and last[0] is parent:
            _, browse_name, display_name, node_class, type_definition = last
        else:
            browse_name = self._read(parent, _A.BrowseName)
            display_name = self._read(parent, _A.DisplayName)
            node_class = ua.NodeClass(self._read(parent, _A.NodeClass))
            type_definition = next(
                (
                    r.NodeId
                    for r in parent.references
                    if r.IsForward and r.ReferenceTypeId == Ref.HAS_TYPE_DEFINITION
                ),
                node_id(0),
            )
        ref = ua.ReferenceDescription(
            ReferenceTypeId=ref_type,
            IsForward=False,
            NodeId=parent.nodeid,
            BrowseName=browse_name,
            DisplayName=display_name,
            NodeClass=node_class,
            TypeDefinition=type_definition,
        )
        if node_class == ua.NodeClass.Object:
            self._object_refs[key] = ref
        else:
            self._variable_ref = (key, ref)
        return ref

    def _standard_names_of(self, name: str) -> tuple[ua.QualifiedName, ua.LocalizedText]:
        names = self._standard_names.get(name)
        if names is None:
            names = self._standard_names[name] = (
                ua.QualifiedName(name, 0),
                ua.LocalizedText(name),
            )
        return names

    def _read(self, node: NodeData, attribute: AttributeIds) -> Any:
        value = self.aspace.read_attribute_value(node.nodeid, attribute).Value
        assert value is not None
        return value.Value

    # -- nodes ------------------------------------------------------------------------

    def _insert(
        self,
        parent: NodeData,
        nodeid: ua.NodeId,
        attributes: NodeAttributes,
        *,
        ref_type: ua.NodeId,
        type_id: int,
        node_class: ua.NodeClass,
        name_namespace: int,
    ) -> NodeData:
        """Store the node and link it: parent → child, child → parent, child → type."""
        node = NodeData(nodeid)
        # asyncua annotates a dict; it only reads attributes with in, [] and get.
        node.attributes = attributes  # type: ignore[assignment]
        name = name_of(nodeid)
        if name_namespace == 0:  # standard property names: one object each, shared
            browse_name, display_name = self._standard_names_of(name)
        else:
            browse_name, display_name = (
                ua.QualifiedName(name, name_namespace),
                ua.LocalizedText(name),
            )
        type_definition = self.type_id(type_id)
        parent.references.append(
            ua.ReferenceDescription(
                ReferenceTypeId=ref_type,
                IsForward=True,
                NodeId=nodeid,
                BrowseName=browse_name,
                DisplayName=display_name,
                NodeClass=node_class,
                TypeDefinition=type_definition,
            )
        )
        node.references = [self._inverse_ref(parent, ref_type), self._type_ref(type_id)]
        self.aspace[nodeid] = node
        self._last = (node, browse_name, display_name, node_class, type_definition)
        return node

    def add_object(
        self,
        parent: NodeData,
        nodeid: ua.NodeId,
        *,
        ref_type: ua.NodeId,
        type_id: int = ObjectIds.BaseObjectType,
        event_notifier: int = 0,
    ) -> NodeData:
        """An object named by the last part of its string NodeId."""
        object_class = ua.NodeClass.Object

        def build() -> Template:
            template = self._common(object_class, None, standard_name=False)
            template[_A.EventNotifier] = self._const(event_notifier, _V.Byte)
            return template

        if nodeid in self.aspace:  # a device called Devices, a tag called _Status...
            raise ValueError(f"duplicate OPC UA NodeId {nodeid.to_string()}")
        template = self._template(("object", event_notifier), build)
        return self._insert(
            parent,
            nodeid,
            NodeAttributes(template, None),
            ref_type=ref_type,
            type_id=type_id,
            node_class=object_class,
            name_namespace=nodeid.NamespaceIndex,
        )

    def add_variable(
        self,
        parent: NodeData,
        nodeid: ua.NodeId,
        value: ua.DataValue | None,
        data_type: ua.NodeId,
        *,
        ref_type: ua.NodeId = Ref.HAS_COMPONENT,
        type_id: int = ObjectIds.BaseDataVariableType,
        access: int = ua.AccessLevel.CurrentRead.mask,
        historizing: bool = False,
        sampling_ms: float = 0.0,
        description: str | None = None,
        shared_value: AttributeValue | None = None,
    ) -> tuple[NodeData, AttributeValue]:
        """A scalar variable; returns its node and its Value attribute.

        The Value is the node's own unless `shared_value` is given (constant properties).
        Variable NodeIds are not checked for duplicates: tag keys are unique by
        configuration and every other variable hangs below a checked object.
        """
        standard_name = ref_type == Ref.HAS_PROPERTY
        variable_class = ua.NodeClass.Variable

        def build() -> Template:
            template = self._common(variable_class, description, standard_name)
            template[_A.DataType] = self.constant(
                "datatype", data_type.to_string(), lambda: data_type, _V.NodeId
            )
            template[_A.ValueRank] = self._const(-1, _V.Int32)
            template[_A.AccessLevel] = self._const(access, _V.Byte)
            template[_A.UserAccessLevel] = self._const(access, _V.Byte)
            template[_A.MinimumSamplingInterval] = self._const(sampling_ms, _V.Double)
            template[_A.Historizing] = self._const(historizing, _V.Boolean)
            if shared_value is not None:
                template[_A.Value] = shared_value
            return template

        key = (
            "variable",
            data_type.Identifier,
            access,
            historizing,
            sampling_ms,
            description,
            standard_name,
            id(shared_value),
        )
        template = self._template(key, build)
        own = None if shared_value is not None else AttributeValue(value or ua.DataValue())
        node = self._insert(
            parent,
            nodeid,
            NodeAttributes(template, own),
            ref_type=ref_type,
            type_id=type_id,
            node_class=variable_class,
            name_namespace=0 if standard_name else nodeid.NamespaceIndex,
        )
        return node, own if own is not None else template[_A.Value]

    def add_property(
        self,
        parent: NodeData,
        name: str,
        make: Callable[[], Any],
        variant: ua.VariantType,
        data_type: int,
        *,
        shared_key: Hashable,
    ) -> NodeData:
        """A standard (namespace 0) property whose value is shared by every equal key.

        `make()` builds the value, only for the first node with this key.
        """
        parent_id = parent.nodeid
        nodeid = node_id(f"{parent_id.Identifier!s}.{name}", parent_id.NamespaceIndex)
        node, _ = self.add_variable(
            parent,
            nodeid,
            None,
            self.type_id(data_type),
            ref_type=Ref.HAS_PROPERTY,
            type_id=ObjectIds.PropertyType,
            shared_value=self.constant(name, shared_key, make, variant),
        )
        return node
