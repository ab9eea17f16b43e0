"""Bulk node creation straight into asyncua's AddressSpace.

asyncua's AddNodes path handles one node per call and scans the parent's
reference list on every add (quadratic in siblings: 10k variables under one
parent took 48 s). The gateway builds a tree it fully controls, so this
module writes `NodeData` records and their `ReferenceDescription`s directly:
O(1) per node.

Memory is the other limit (100k tags within 1 GB, with the rest of the
gateway): a node's attributes are a `NodeAttributes` (attributes.py) over
one shared template per distinct attribute set; a variable's own references
are one tuple shared by its siblings of one type, and its property nodes are
not stored but made when a client asks for them (properties.py). Sharing is
safe because nothing writes those attributes: client users are never asyncua admins, so
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
    ValueAttribute,
    name_of,
)
from gateway.opcua.stack.properties import PropertyKind, VariableNode, add_reference, node_map
from gateway.ua.wire import AttributeIds, ObjectIds, node_id

__all__ = ["OWN_NAMES_KEPT", "NodeFactory", "Ref"]

#: Names of the gateway's own nodes whose reference names are shared (see _own_names_of).
OWN_NAMES_KEPT = 4096

_A = AttributeIds
_V = ua.VariantType
_VARIABLE = ua.NodeClass.Variable


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
        node_map(aspace)  # serves the variables' properties
        self._constants: dict[Hashable, AttributeValue] = {}
        self._templates: dict[Hashable, Template] = {}
        self._type_refs: dict[int, ua.ReferenceDescription] = {}
        self._object_refs: dict[tuple[int, object], ua.ReferenceDescription] = {}
        #: (parent ← variable, variable → type) by the ids of the two (kept in the caches).
        self._variable_refs: dict[tuple[int, int], tuple[ua.ReferenceDescription, ...]] = {}
        self._property_kinds: dict[Hashable, PropertyKind] = {}
        self._property_sets: dict[tuple[int, ...], tuple[PropertyKind, ...]] = {}
        #: The node inserted last, with its names, class and type (see _inverse_ref).
        self._last: (
            tuple[NodeData, ua.QualifiedName, ua.LocalizedText, ua.NodeClass, ua.NodeId] | None
        ) = None
        self._type_ids: dict[int, ua.NodeId] = {}
        self._standard_names: dict[str, tuple[ua.QualifiedName, ua.LocalizedText]] = {}
        #: Recent own names (see _own_names): bounded, so unique names cost nothing lasting.
        self._own_names: dict[tuple[str, int], tuple[ua.QualifiedName, ua.LocalizedText]] = {}

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
            _A.Description: self._description(description),
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
        """child → parent, shared by every child of the parent (an object); a parent
        just added has its names in `_last` instead of reading them."""
        key = (id(parent), ref_type.Identifier)  # parents live as long as the factory
        ref = self._object_refs.get(key)
        if ref is not None:
            return ref
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
        self._object_refs[key] = ref
        return ref

    def _variable_base(
        self, inverse: ua.ReferenceDescription, type_ref: ua.ReferenceDescription
    ) -> tuple[ua.ReferenceDescription, ...]:
        key = (id(inverse), id(type_ref))  # both kept by the factory's caches
        base = self._variable_refs.get(key)
        if base is None:
            base = self._variable_refs[key] = (inverse, type_ref)
        return base

    def _standard_names_of(self, name: str) -> tuple[ua.QualifiedName, ua.LocalizedText]:
        names = self._standard_names.get(name)
        if names is None:
            names = self._standard_names[name] = (
                ua.QualifiedName(name, 0),
                ua.LocalizedText(name),
            )
        return names

    def _own_names_of(self, name: str, namespace: int) -> tuple[ua.QualifiedName, ua.LocalizedText]:
        """A parent's reference to a child names it (a QualifiedName and a LocalizedText,
        and the name itself: 150 bytes a tag). Devices of one model repeat their tags'
        names, so equal names share those objects (issue 21); nothing mutates them. The
        cache holds at most OWN_NAMES_KEPT names, then starts over, so a plant of unique
        names keeps no more than that."""
        key = (name, namespace)
        names = self._own_names.get(key)
        if names is None:
            if len(self._own_names) >= OWN_NAMES_KEPT:
                self._own_names.clear()
            names = self._own_names[key] = (
                ua.QualifiedName(name, namespace),
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
        """Store the node and link it: parent → child, child → parent, child → type.

        A variable's two references are a tuple shared with its siblings of its type."""
        name = name_of(nodeid)
        if name_namespace == 0:  # standard property names: one object each, shared
            browse_name, display_name = self._standard_names_of(name)
        else:
            browse_name, display_name = self._own_names_of(name, name_namespace)
        type_definition = self.type_id(type_id)
        add_reference(
            parent,
            ua.ReferenceDescription(
                ReferenceTypeId=ref_type,
                IsForward=True,
                NodeId=nodeid,
                BrowseName=browse_name,
                DisplayName=display_name,
                NodeClass=node_class,
                TypeDefinition=type_definition,
            ),
        )
        inverse, type_ref = self._inverse_ref(parent, ref_type), self._type_ref(type_id)
        node: NodeData
        if node_class == ua.NodeClass.Variable:
            node = VariableNode(nodeid, attributes, self._variable_base(inverse, type_ref))
        else:
            node = NodeData(nodeid)
            # asyncua annotates a dict; it only reads attributes with in, [] and get.
            node.attributes = attributes  # type: ignore[assignment]
            node.references = [inverse, type_ref]
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
        template = self._variable_template(
            data_type,
            access=access,
            historizing=historizing,
            sampling_ms=sampling_ms,
            description=description,
            standard_name=standard_name,
            shared_value=shared_value,
        )
        own = None if shared_value is not None else ValueAttribute(value or ua.DataValue())
        node = self._insert(
            parent,
            nodeid,
            NodeAttributes(template, own),
            ref_type=ref_type,
            type_id=type_id,
            node_class=ua.NodeClass.Variable,
            name_namespace=0 if standard_name else nodeid.NamespaceIndex,
        )
        return node, own if own is not None else template[_A.Value]

    def add_variable_like(
        self,
        parent: NodeData,
        nodeid: ua.NodeId,
        model: NodeData,
        value: ua.DataValue,
        description: str | None,
    ) -> tuple[NodeData, AttributeValue]:
        """A variable of `parent` with everything of `model` (a variable this factory
        made under `parent`) but its NodeId, names, description and own Value; returns
        its node and its Value attribute.

        A device's tags of one shape (type, access, unit, range...) differ only in
        those, so the second and later skip the template, reference and property
        lookups of `add_variable` (issue 21: the tag nodes of 100k tags took 1.5 s
        of CPU, 0.5 s this way). Like there, the NodeId is not checked for a duplicate.
        """
        if not isinstance(model, VariableNode) or not isinstance(model.attributes, NodeAttributes):
            raise TypeError(f"{model.nodeid} is not a variable this factory made")
        inverse, type_ref = model.base[0], model.base[1]
        if inverse.NodeId is not parent.nodeid and inverse.NodeId != parent.nodeid:
            raise ValueError(f"{model.nodeid} is not a variable of {parent.nodeid}")
        browse_name, display_name = self._own_names_of(name_of(nodeid), nodeid.NamespaceIndex)
        type_definition = type_ref.NodeId
        add_reference(
            parent,
            ua.ReferenceDescription(
                ReferenceTypeId=inverse.ReferenceTypeId,
                IsForward=True,
                NodeId=nodeid,
                BrowseName=browse_name,
                DisplayName=display_name,
                NodeClass=_VARIABLE,
                TypeDefinition=type_definition,
            ),
        )
        template = model.attributes.template
        described = self._description(description)
        if template[_A.Description] is not described:  # shared: equal ones are one object
            template = self._described(template, described)
        own = ValueAttribute(value)
        node = model.sibling(nodeid, NodeAttributes(template, own))
        self.aspace[nodeid] = node
        self._last = (node, browse_name, display_name, _VARIABLE, type_definition)
        return node, own

    def _description(self, description: str | None) -> AttributeValue:
        return self.constant(
            "description", description, lambda: ua.LocalizedText(description), _V.LocalizedText
        )

    def _described(self, template: Template, description: AttributeValue) -> Template:
        """`template` with another Description (both are kept by the factory's caches)."""
        key = ("described", id(template), id(description))
        return self._template(key, lambda: {**template, _A.Description: description})

    def _variable_template(
        self,
        data_type: ua.NodeId,
        *,
        access: int,
        historizing: bool,
        sampling_ms: float,
        description: str | None,
        standard_name: bool,
        shared_value: AttributeValue | None,
    ) -> Template:
        def build() -> Template:
            template = self._common(ua.NodeClass.Variable, description, standard_name)
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
        return self._template(key, build)

    def add_property(
        self,
        parent: NodeData,
        name: str,
        make: Callable[[], Any],
        variant: ua.VariantType,
        data_type: int,
        *,
        shared_key: Hashable,
    ) -> None:
        """A standard (namespace 0) property of the variable `parent`, with a value
        shared by every equal key; its node is made when asked for (properties.py).

        `make()` builds the value, only for the first property with this key.
        """
        if not isinstance(parent, VariableNode):
            raise TypeError(f"only variables made here have properties, not {parent.nodeid}")
        key = (name, shared_key, data_type, variant)
        kind = self._property_kinds.get(key)
        if kind is None:
            template = self._variable_template(
                self.type_id(data_type),
                access=ua.AccessLevel.CurrentRead.mask,
                historizing=False,
                sampling_ms=0.0,
                description=None,
                standard_name=True,
                shared_value=self.constant(name, shared_key, make, variant),
            )
            kind = self._property_kinds[key] = PropertyKind(
                name, NodeAttributes(template, None), self._type_ref(ObjectIds.PropertyType)
            )
        kinds = (*parent.properties, kind)
        shared = self._property_sets.get(ids := tuple(map(id, kinds)))  # kinds are kept
        if shared is None:
            shared = self._property_sets[ids] = kinds
        parent.properties = shared
