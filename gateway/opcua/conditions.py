"""Condition nodes for the alarms (docs/opcua.md): one condition object per alarm.

    Alarms                                   ns;s=Alarms
    └── <alarm>                              ns;s=Alarms.<alarm>
        ├── Active, Acked, Severity, Message plain variables for simple clients
        ├── EventId, EventType, SourceNode, SourceName, Time, ReceiveTime,
        │   ConditionClassId/Name, ConditionName, BranchId, Retain, ClientUserId,
        │   InputNode, SuppressedOrShelved                       (properties)
        ├── EnabledState, AckedState, ActiveState  (+ .Id)        (two-state variables)
        ├── ShelvingState.CurrentState (+ .Id), .UnshelveTime    (ShelvedStateMachine)
        ├── Quality, LastSeverity, Comment  (+ .SourceTimestamp)  (condition variables)
        ├── LimitState.CurrentState (+ .Id), HighHighLimit...    (limit alarms)
        ├── NormalState                                          (discrete alarms)
        ├── Acknowledge, Enable, Disable  → the type's method nodes, shared
        └── ShelvingState → OneShotShelve(2), TimedShelve(2), Unshelve(2), shared

The condition is an ExclusiveLimitAlarmType (limit alarms), an
ExclusiveRateOfChangeAlarmType or ExclusiveDeviationAlarmType (one HighLimit,
on the magnitude; a deviation's SetpointNode is its `from` tag), or an
OffNormalAlarmType (discrete, stale, quality). A standard member's NodeId is
`Alarms.<alarm>.` + its event field path with `/` → `.`, so the event fields
(condition_events.py) and the nodes that mirror them share one table.
BaseEventType's Message and Severity are not members: their NodeIds belong to
the plain `.Message` (String) and `.Severity` variables of the contract.

The references make events findable: Server HasNotifier → device,
device HasEventSource → tag, tag HasCondition → condition. Nodes are written
straight into the address space (the adapter's NodeTree), as for the tags.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from asyncua import ua

from gateway.config import AlarmConfig, AlarmKind
from gateway.errors import GatewayError
from gateway.opcua.stack import OBJECT, Constant, NodeTree
from gateway.ua.wire import AttributeIds, ObjectIds, node_id

__all__ = [
    "CONDITION_METHODS",
    "CONDITION_TYPES",
    "LIMIT_PROPERTIES",
    "SHELVING_METHODS",
    "ConditionInfo",
    "Member",
    "build_conditions",
]

_V = ua.VariantType
_O = ObjectIds

#: Config limit key → (LimitAlarmType property, ExclusiveLimitStateMachineType state).
LIMIT_PROPERTIES: dict[str, tuple[str, int]] = {
    "high_high": ("HighHighLimit", _O.ExclusiveLimitStateMachineType_HighHigh),
    "high": ("HighLimit", _O.ExclusiveLimitStateMachineType_High),
    "low": ("LowLimit", _O.ExclusiveLimitStateMachineType_Low),
    "low_low": ("LowLowLimit", _O.ExclusiveLimitStateMachineType_LowLow),
}


class Kind(Enum):
    """How a member hangs below its parent, and its type definition."""

    PROPERTY = (_O.HasProperty, _O.PropertyType)
    TWO_STATE = (_O.HasComponent, _O.TwoStateVariableType)
    CONDITION_VARIABLE = (_O.HasComponent, _O.ConditionVariableType)
    FINITE_STATE = (_O.HasComponent, _O.FiniteStateVariableType)
    STATE_MACHINE = (_O.HasComponent, _O.ExclusiveLimitStateMachineType)  # an object
    SHELVING = (_O.HasComponent, _O.ShelvedStateMachineType)  # an object
    PLAIN = (_O.HasComponent, _O.BaseDataVariableType)  # gateway namespace names


@dataclass(frozen=True, slots=True)
class Member:
    """One node below a condition, named by its event field path ("ActiveState/Id")."""

    path: str
    kind: Kind
    variant: ua.VariantType = _V.Null
    data_type: int = 0
    dynamic: bool = True  # rewritten on every event (constants are written once)


_DATE = (_V.DateTime, _O.UtcTime)
_TEXT = (_V.LocalizedText, _O.LocalizedText)
_BOOL = (_V.Boolean, _O.Boolean)
_ID = (_V.NodeId, _O.NodeId)
_P, _TWO, _CV = Kind.PROPERTY, Kind.TWO_STATE, Kind.CONDITION_VARIABLE


def _member(path: str, kind: Kind, types: tuple[int, int], *, dynamic: bool = True) -> Member:
    return Member(path, kind, ua.VariantType(types[0]), types[1], dynamic)


#: Members of every condition, parents before children.
COMMON_MEMBERS: tuple[Member, ...] = (
    _member("Active", Kind.PLAIN, _BOOL),
    _member("Acked", Kind.PLAIN, _BOOL),
    _member("Severity", Kind.PLAIN, (_V.UInt16, _O.UInt16)),
    _member("Message", Kind.PLAIN, (_V.String, _O.String)),
    _member("EventId", _P, (_V.ByteString, _O.ByteString)),
    _member("EventType", _P, _ID, dynamic=False),
    _member("SourceNode", _P, _ID, dynamic=False),
    _member("SourceName", _P, (_V.String, _O.String), dynamic=False),
    _member("Time", _P, _DATE),
    _member("ReceiveTime", _P, _DATE),
    _member("ConditionClassId", _P, _ID, dynamic=False),
    _member("ConditionClassName", _P, _TEXT, dynamic=False),
    _member("ConditionName", _P, (_V.String, _O.String), dynamic=False),
    _member("BranchId", _P, _ID, dynamic=False),
    _member("Retain", _P, _BOOL),
    _member("EnabledState", _TWO, _TEXT),
    _member("EnabledState/Id", _P, _BOOL),
    _member("Quality", _CV, (_V.StatusCode, _O.StatusCode)),
    _member("Quality/SourceTimestamp", _P, _DATE),
    _member("LastSeverity", _CV, (_V.UInt16, _O.UInt16)),
    _member("LastSeverity/SourceTimestamp", _P, _DATE),
    _member("Comment", _CV, _TEXT),
    _member("Comment/SourceTimestamp", _P, _DATE),
    _member("ClientUserId", _P, (_V.String, _O.String)),
    _member("AckedState", _TWO, _TEXT),
    _member("AckedState/Id", _P, _BOOL),
    _member("ActiveState", _TWO, _TEXT),
    _member("ActiveState/Id", _P, _BOOL),
    _member("InputNode", _P, _ID, dynamic=False),
    _member("SuppressedOrShelved", _P, _BOOL),
    Member("ShelvingState", Kind.SHELVING),
    _member("ShelvingState/CurrentState", Kind.FINITE_STATE, _TEXT),
    _member("ShelvingState/CurrentState/Id", _P, _ID),
    _member("ShelvingState/UnshelveTime", _P, (_V.Double, _O.Duration)),
)

_LIMIT_STATE: tuple[Member, ...] = (
    Member("LimitState", Kind.STATE_MACHINE),
    _member("LimitState/CurrentState", Kind.FINITE_STATE, _TEXT),
    _member("LimitState/CurrentState/Id", _P, _ID),
)


@dataclass(slots=True)
class ConditionInfo:
    """What is fixed about one alarm's condition: its nodes, source and members."""

    config: AlarmConfig
    nodeid: ua.NodeId
    type_id: ua.NodeId
    source: ua.NodeId  # the tag's node (SourceNode, InputNode)
    device: ua.NodeId  # the device object: a second event notifier
    members: tuple[Member, ...]
    member_ids: dict[str, ua.NodeId] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.name

    def member_id(self, path: str) -> ua.NodeId:
        return self.member_ids[path]


#: Methods of every condition, on the condition object.
CONDITION_METHODS = (
    _O.AcknowledgeableConditionType_Acknowledge,
    _O.ConditionType_Enable,
    _O.ConditionType_Disable,
)
#: Methods of the ShelvingState object (Part 9 §5.8.10; the "2" forms take a comment).
SHELVING_METHODS = (
    _O.AlarmConditionType_ShelvingState_OneShotShelve,
    _O.AlarmConditionType_ShelvingState_TimedShelve,
    _O.AlarmConditionType_ShelvingState_Unshelve,
    _O.AlarmConditionType_ShelvingState_OneShotShelve2,
    _O.AlarmConditionType_ShelvingState_TimedShelve2,
    _O.AlarmConditionType_ShelvingState_Unshelve2,
)

#: The Part 9 type of each alarm kind.
CONDITION_TYPES: dict[AlarmKind, int] = {
    AlarmKind.LIMIT: _O.ExclusiveLimitAlarmType,
    AlarmKind.RATE_OF_CHANGE: _O.ExclusiveRateOfChangeAlarmType,
    AlarmKind.DEVIATION: _O.ExclusiveDeviationAlarmType,
    AlarmKind.DISCRETE: _O.OffNormalAlarmType,
    AlarmKind.STALE: _O.OffNormalAlarmType,
    AlarmKind.QUALITY: _O.OffNormalAlarmType,
}


def _members(alarm: AlarmConfig) -> tuple[Member, ...]:
    if not alarm.kind.limited:
        return (*COMMON_MEMBERS, _member("NormalState", _P, _ID, dynamic=False))
    limits = tuple(
        _member(LIMIT_PROPERTIES[key][0], _P, (_V.Double, _O.Double), dynamic=False)
        for key in alarm.condition_limits
    )
    extra: tuple[Member, ...] = ()
    if alarm.kind is AlarmKind.DEVIATION:  # ExclusiveDeviationAlarmType: the reference's node
        extra = (_member("SetpointNode", _P, _ID, dynamic=False),)
    return (*COMMON_MEMBERS, *_LIMIT_STATE, *limits, *extra)


_A = AttributeIds
_READ_ONLY = ua.AccessLevel.CurrentRead.mask


@functools.cache
def _variable(member: Member) -> tuple[Constant, ...]:
    return (
        (_A.NodeClass, int(ua.NodeClass.Variable), _V.Int32),
        (_A.Value, None, _V.Null),  # replaced by each node's own, null until the first state
        (_A.DataType, node_id(member.data_type), _V.NodeId),
        (_A.ValueRank, -1, _V.Int32),
        (_A.AccessLevel, _READ_ONLY, _V.Byte),
        (_A.UserAccessLevel, _READ_ONLY, _V.Byte),
        (_A.MinimumSamplingInterval, 0.0, _V.Double),
        (_A.Historizing, False, _V.Boolean),
    )


async def build_conditions(
    tree: NodeTree,
    alarms: Sequence[AlarmConfig],
    *,
    folder: ua.NodeId,
    namespace_index: int,
) -> list[ConditionInfo]:
    """Add a condition object per alarm below `folder`, with its members and references.

    Yields to the event loop between alarms, so the pollers keep their scans.
    """
    try:
        return await _build(tree, alarms, folder, namespace_index)
    except KeyError as missing:  # a source tag or device not in the address space
        raise GatewayError(f"cannot build the OPC UA alarm conditions: no node {missing}") from None


async def _build(
    tree: NodeTree, alarms: Sequence[AlarmConfig], folder: ua.NodeId, ns: int
) -> list[ConditionInfo]:
    infos: list[ConditionInfo] = []
    notifiers: dict[ua.NodeId, None] = {}
    sources: dict[tuple[ua.NodeId, ua.NodeId], None] = {}
    parent_node = tree.node(folder)
    for alarm in alarms:
        type_id = CONDITION_TYPES[alarm.kind]
        info = ConditionInfo(
            config=alarm,
            nodeid=node_id(f"Alarms.{alarm.name}", ns),
            type_id=node_id(type_id),
            source=node_id(alarm.tag, ns),
            device=node_id(alarm.device_name, ns),
            members=_members(alarm),
        )
        condition = tree.add(
            parent_node,
            info.nodeid,
            ua.QualifiedName(alarm.name, ns),
            (_O.Organizes, type_id),
            OBJECT,
        )
        nodes = {"": condition}
        for member in info.members:
            parent_path, _, name = member.path.rpartition("/")
            nodeid = node_id(f"Alarms.{alarm.name}.{member.path.replace('/', '.')}", ns)
            browse_name = ua.QualifiedName(name, ns if member.kind is Kind.PLAIN else 0)
            is_object = member.kind in (Kind.STATE_MACHINE, Kind.SHELVING)
            constants = OBJECT if is_object else _variable(member)
            nodes[member.path] = tree.add(
                nodes[parent_path], nodeid, browse_name, member.kind.value, constants
            )
            info.member_ids[member.path] = nodeid
        # The type's methods, shared: clients call them on the condition (Acknowledge,
        # Enable, Disable) or on its ShelvingState (the shelving methods).
        for method in CONDITION_METHODS:
            tree.link(info.nodeid, _O.HasComponent, node_id(method), inverse=False)
        shelving = info.member_id("ShelvingState")
        for method in SHELVING_METHODS:
            if tree.has(node_id(method)):  # the "2" forms are answered even when not browsable
                tree.link(shelving, _O.HasComponent, node_id(method), inverse=False)
        tree.link(info.source, _O.HasCondition, info.nodeid)
        notifiers[info.device] = None
        sources[(info.device, info.source)] = None
        infos.append(info)
        await asyncio.sleep(0)
    for device in notifiers:
        tree.link(node_id(_O.Server), _O.HasNotifier, device)
    for device, source in sources:
        tree.link(device, _O.HasEventSource, source)
    return infos
