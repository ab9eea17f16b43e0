"""The gateway's address space (docs/opcua.md, "Address space"), built in bulk.

    Objects
    └── <gateway>                       ns;s=<gateway>
        ├── Devices                     ns;s=Devices          (Folder)
        │   └── <device>                ns;s=<device>         (EventNotifier set)
        │       ├── <tag>               ns;s=<device>.<tag>   (variable)
        │       │   ├── EURange         ns;s=<device>.<tag>.EURange
        │       │   └── EngineeringUnits
        │       └── _Status             ns;s=<device>._Status
        │           └── Connected, State, ...  ns;s=<device>._Status.<Field>
        └── Alarms                      ns;s=Alarms           (Folder)

Numeric tags with a `range` are AnalogItemType (whose EURange is mandatory);
numeric tags without one are its supertype BaseAnalogType, so no range is
invented. Bool and string tags are BaseDataVariableType.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from asyncua import ua

from gateway.model import Status
from gateway.opcua.datatypes import UaType, ua_type
from gateway.opcua.stack import Node, NodeFactory, Ref, ValueSlot
from gateway.opcua.units import UNECE_NAMESPACE, lookup_unit
from gateway.tags import Tag
from gateway.ua.wire import DATETIME_NULL, ObjectIds, node_id, status_code

__all__ = ["STATUS_FIELDS", "GatewaySpace", "SpaceBuilder", "TagBinding"]

_V = ua.VariantType

#: `_Status` variables: name → VariantType (docs/opcua.md, `_Status`).
STATUS_FIELDS: dict[str, ua.VariantType] = {
    "Connected": _V.Boolean,
    "State": _V.String,
    "LastError": _V.String,
    "LastPollTime": _V.DateTime,
    "ResponseTime": _V.Double,
    "Requests": _V.UInt64,
    "Errors": _V.UInt64,
}

_STATUS_INITIAL: dict[str, object] = {
    "Connected": False,
    "State": "connecting",
    "LastError": "",
    "LastPollTime": DATETIME_NULL,  # never polled: OPC UA's null DateTime, not a null Variant
    "ResponseTime": 0.0,
    "Requests": 0,
    "Errors": 0,
}


@dataclass(slots=True)
class TagBinding:
    """A tag and the Value attribute of its node."""

    tag: Tag
    ua_type: UaType
    attribute: ValueSlot


@dataclass(slots=True)
class GatewaySpace:
    """What the publisher, writes and history need from the built tree."""

    namespace_index: int
    tags: dict[str, TagBinding] = field(default_factory=dict)
    status: dict[str, dict[str, ValueSlot]] = field(default_factory=dict)

    def tag_of(self, nodeid: ua.NodeId) -> TagBinding | None:
        """The tag served at `nodeid`, or None for any other node."""
        if nodeid.NamespaceIndex != self.namespace_index or not isinstance(nodeid.Identifier, str):
            return None
        return self.tags.get(nodeid.Identifier)


def _eu_range(low: float, high: float) -> ua.Range:
    return ua.Range(Low=float(low), High=float(high))


def _eu_information(text: str) -> ua.EUInformation:
    unit = lookup_unit(text)
    return ua.EUInformation(
        NamespaceUri=UNECE_NAMESPACE,
        UnitId=unit.unit_id,
        DisplayName=ua.LocalizedText(unit.symbol),
        Description=ua.LocalizedText(unit.description),
    )


def _shape(tag: Tag, kind: UaType) -> tuple[object, ...]:
    """What a tag's variable is made of but its name, description and value: its OPC
    UA type, type definition, access, sampling interval and properties. id(kind):
    UaTypes are module constants, and hashing one would hash an enum."""
    return (id(kind), tag.range, tag.unit, tag.writable, tag.scan_interval)


class SpaceBuilder:
    """Adds the gateway tree to an AddressSpace; one `add_device` call per device."""

    def __init__(
        self, nodes: NodeFactory, namespace_index: int, gateway: str, *, history: bool
    ) -> None:
        self.space = GatewaySpace(namespace_index)
        self._history = history
        self._ns = namespace_index
        self._nodes = nodes
        self._waiting = ua.DataValue(
            ua.Variant(None, _V.Null),
            StatusCode=status_code(Status.BAD_WAITING_FOR_INITIAL_DATA),
        )
        objects = nodes.node(node_id(ObjectIds.ObjectsFolder))
        nodes = self._nodes
        self.root = nodes.add_object(objects, self._id(gateway), ref_type=Ref.ORGANIZES)
        folder = ObjectIds.FolderType
        self.devices = nodes.add_object(
            self.root, self._id("Devices"), ref_type=Ref.ORGANIZES, type_id=folder
        )
        self.alarms = nodes.add_object(
            self.root, self._id("Alarms"), ref_type=Ref.ORGANIZES, type_id=folder
        )

    def _id(self, identifier: str) -> ua.NodeId:
        return node_id(identifier, self._ns)

    def add_device(self, name: str, tags: Sequence[Tag]) -> None:
        device = self._nodes.add_object(
            self.devices,
            self._id(name),
            ref_type=Ref.ORGANIZES,
            event_notifier=ua.EventNotifier.SubscribeToEvents.mask,
        )
        #: The first variable of each tag shape on this device: the rest are made like it
        #: (with their own description, if it differs).
        models: dict[tuple[object, ...], Node] = {}
        nodes, waiting, space_tags = self._nodes, self._waiting, self.space.tags
        for tag in tags:
            kind = ua_type(tag)
            shape = _shape(tag, kind)
            model = models.get(shape)
            if model is None:
                models[shape] = self._add_tag(device, tag, kind)
            else:
                _, attribute = nodes.add_variable_like(
                    device, self._id(tag.key), model, waiting, tag.description
                )
                space_tags[tag.key] = TagBinding(tag, kind, attribute)
        self._add_status(device, name)

    def _add_tag(self, device: Node, tag: Tag, kind: UaType) -> Node:
        """The variable of `tag` and its properties, made in full (see add_device)."""
        if kind.is_numeric:
            type_id = ObjectIds.AnalogItemType if tag.range else ObjectIds.BaseAnalogType
        else:
            type_id = ObjectIds.BaseDataVariableType
        node, attribute = self._nodes.add_variable(
            device,
            self._id(tag.key),
            self._waiting,
            kind.data_type,
            type_id=type_id,
            access=self._access(tag),
            historizing=self._history,
            sampling_ms=tag.scan_interval * 1000.0,
            description=tag.description,
        )
        if kind.is_numeric and tag.range is not None:
            self._nodes.add_property(
                node,
                "EURange",
                partial(_eu_range, *tag.range),
                _V.ExtensionObject,
                ObjectIds.Range,
                shared_key=tag.range,
            )
        if kind.is_numeric and tag.unit:
            self._nodes.add_property(
                node,
                "EngineeringUnits",
                partial(_eu_information, tag.unit),
                _V.ExtensionObject,
                ObjectIds.EUInformation,
                shared_key=tag.unit,
            )
        self.space.tags[tag.key] = TagBinding(tag, kind, attribute)
        return node

    def _access(self, tag: Tag) -> int:
        access = ua.AccessLevel.CurrentRead.mask
        if self._history:
            access |= ua.AccessLevel.HistoryRead.mask
        if tag.writable:
            access |= ua.AccessLevel.CurrentWrite.mask
        return access

    def _add_status(self, device: Node, name: str) -> None:
        status_id = f"{name}._Status"
        status = self._nodes.add_object(device, self._id(status_id), ref_type=Ref.HAS_COMPONENT)
        fields: dict[str, ValueSlot] = {}
        for field_name, variant in STATUS_FIELDS.items():
            _, fields[field_name] = self._nodes.add_variable(
                status,
                self._id(f"{status_id}.{field_name}"),
                ua.DataValue(ua.Variant(_STATUS_INITIAL[field_name], variant)),
                node_id(int(variant)),
            )
        self.space.status[name] = fields
