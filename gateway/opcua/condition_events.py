"""Alarm snapshots → OPC UA condition event fields, and the refresh marker events.

One `fields` mapping (event field path → Variant) per transition serves twice:
as the event sent to subscribers (the adapter's EventSink) and as the values written into
the condition's member nodes (conditions.py names them by the same paths).
asyncua's generated event classes declare some field types as NodeIds, which
it cannot put in a Variant, so events are built here from plain `Event`s with
exactly the fields set below; a field a client selects that is not here comes
back as a null Variant.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from asyncua import ua

from gateway.alarms.model import AlarmSnapshot, Shelving
from gateway.opcua.conditions import LIMIT_PROPERTIES, ConditionInfo
from gateway.ua.wire import DATETIME_NULL, ObjectIds, node_id, status_code, utc

__all__ = [
    "ConditionHistory",
    "Fields",
    "condition_fields",
    "new_event_id",
    "refresh_event",
]

_V = ua.VariantType
Fields = dict[str, ua.Variant]

_SERVER = node_id(ObjectIds.Server)
_PROCESS_CLASS = node_id(ObjectIds.ProcessConditionClassType)
_NULL_ID = node_id(0)
_STATE_NAMES = {"high_high": "HighHigh", "high": "High", "low": "Low", "low_low": "LowLow"}


def new_event_id() -> bytes:
    """A unique EventId (Part 5: the Server makes every EventId unique)."""
    return uuid.uuid4().bytes


@dataclass(slots=True)
class ConditionHistory:
    """What a condition's next event needs from its earlier ones."""

    severity: int | None = None  # of the previous event (LastSeverity)
    active_time: float | None = None  # when ActiveState last changed
    acked_time: float | None = None  # when AckedState last changed
    active: bool | None = None
    acked: bool | None = None
    comment: str = ""  # the last acknowledgement's comment, until the next activation
    user: str = ""  # who wrote that comment (ClientUserId)
    comment_time: float | None = None
    quality_time: float | None = None  # when the input's quality last changed

    def advance(self, snapshot: AlarmSnapshot) -> None:
        """Take in a snapshot's changes of state, comment and user."""
        if snapshot.active != self.active:
            self.active_time = snapshot.time
            if snapshot.active:  # a new activation starts without the old comment
                self.comment, self.user, self.comment_time = "", "", None
        if snapshot.acked != self.acked:
            self.acked_time = snapshot.time
        self.active, self.acked = snapshot.active, snapshot.acked
        if snapshot.user is not None or snapshot.comment is not None:
            self.comment = snapshot.comment or ""
            self.user = snapshot.user or ""
            self.comment_time = snapshot.time


def condition_fields(
    info: ConditionInfo,
    snapshot: AlarmSnapshot,
    history: ConditionHistory,
    event_id: bytes,
    *,
    quality_changed: bool = False,
) -> Fields:
    """Every field of the condition's event for `snapshot`; `history` is advanced.

    `quality_changed`: the event reports a change of the input's quality only; it
    happened now, so Time and Quality's SourceTimestamp are now, while the state
    (and ActiveState's TransitionTime) keep the time of the last transition.
    """
    history.advance(snapshot)
    last_severity = history.severity if history.severity is not None else snapshot.severity
    history.severity = snapshot.severity
    if quality_changed:
        history.quality_time = time.time()
    happened = history.quality_time if quality_changed else snapshot.time
    at = utc(snapshot.time)
    active, acked = snapshot.active, snapshot.acked
    message = ua.LocalizedText(snapshot.message)
    fields: Fields = {
        "EventId": ua.Variant(event_id, _V.ByteString),
        "EventType": ua.Variant(info.type_id, _V.NodeId),
        "SourceNode": ua.Variant(info.source, _V.NodeId),
        "SourceName": ua.Variant(info.config.tag, _V.String),
        "Time": ua.Variant(utc(happened), _V.DateTime),
        "ReceiveTime": ua.Variant(utc(time.time()), _V.DateTime),
        "Message": ua.Variant(message, _V.LocalizedText),
        "Severity": ua.Variant(snapshot.severity, _V.UInt16),
        "ConditionClassId": ua.Variant(_PROCESS_CLASS, _V.NodeId),
        "ConditionClassName": ua.Variant(ua.LocalizedText("Process"), _V.LocalizedText),
        "ConditionName": ua.Variant(info.name, _V.String),
        "BranchId": ua.Variant(_NULL_ID, _V.NodeId),
        "Retain": ua.Variant(snapshot.enabled and (active or not acked), _V.Boolean),
        "EnabledState": ua.Variant(
            ua.LocalizedText("Enabled" if snapshot.enabled else "Disabled"), _V.LocalizedText
        ),
        "EnabledState/Id": ua.Variant(snapshot.enabled, _V.Boolean),
        "Quality": ua.Variant(status_code(snapshot.quality), _V.StatusCode),
        "Quality/SourceTimestamp": ua.Variant(
            utc(history.quality_time or snapshot.time), _V.DateTime
        ),
        "LastSeverity": ua.Variant(last_severity, _V.UInt16),
        "LastSeverity/SourceTimestamp": ua.Variant(at, _V.DateTime),
        "Comment": ua.Variant(ua.LocalizedText(history.comment), _V.LocalizedText),
        # Never commented: OPC UA's null DateTime (a null datetime cannot be encoded).
        "Comment/SourceTimestamp": ua.Variant(
            utc(history.comment_time) if history.comment_time is not None else DATETIME_NULL,
            _V.DateTime,
        ),
        "ClientUserId": ua.Variant(history.user, _V.String),
        "AckedState": ua.Variant(
            ua.LocalizedText("Acknowledged" if acked else "Unacknowledged"), _V.LocalizedText
        ),
        "AckedState/Id": ua.Variant(acked, _V.Boolean),
        "AckedState/TransitionTime": ua.Variant(utc(history.acked_time), _V.DateTime),
        "ActiveState": ua.Variant(
            ua.LocalizedText("Active" if active else "Inactive"), _V.LocalizedText
        ),
        "ActiveState/Id": ua.Variant(active, _V.Boolean),
        "ActiveState/TransitionTime": ua.Variant(utc(history.active_time), _V.DateTime),
        "InputNode": ua.Variant(info.source, _V.NodeId),
        "SuppressedOrShelved": ua.Variant(snapshot.shelving is not Shelving.UNSHELVED, _V.Boolean),
        "NodeId": ua.Variant(info.nodeid, _V.NodeId),  # the ConditionId
        # The gateway's plain variables (not event fields of the standard types).
        "Active": ua.Variant(active, _V.Boolean),
        "Acked": ua.Variant(acked, _V.Boolean),
    }
    fields.update(_kind_fields(info, snapshot))
    fields.update(_shelving_fields(snapshot))
    return fields


#: Shelving → (ShelvedStateMachineType state name, its state node).
_SHELVING_STATES = {
    Shelving.UNSHELVED: ("Unshelved", ObjectIds.ShelvedStateMachineType_Unshelved),
    Shelving.ONESHOT: ("OneShotShelved", ObjectIds.ShelvedStateMachineType_OneShotShelved),
    Shelving.TIMED: ("TimedShelved", ObjectIds.ShelvedStateMachineType_TimedShelved),
}


def _shelving_fields(snapshot: AlarmSnapshot) -> Fields:
    name, state = _SHELVING_STATES[snapshot.shelving]
    # UnshelveTime: milliseconds left of a timed shelve (0 otherwise), as of this event.
    left = 0.0
    if snapshot.shelved_until is not None:
        left = max(0.0, (snapshot.shelved_until - time.time()) * 1000.0)
    return {
        "ShelvingState/CurrentState": ua.Variant(ua.LocalizedText(name), _V.LocalizedText),
        "ShelvingState/CurrentState/Id": ua.Variant(node_id(state), _V.NodeId),
        "ShelvingState/UnshelveTime": ua.Variant(left, _V.Double),
    }


def _kind_fields(info: ConditionInfo, snapshot: AlarmSnapshot) -> Fields:
    config = info.config
    if not config.kind.limited:
        # NormalState names a variable holding the normal value; "not equal to
        # `equals`", "changing", "Good" is no single value, so there is none.
        return {"NormalState": ua.Variant(_NULL_ID, _V.NodeId)}
    fields: Fields = {
        LIMIT_PROPERTIES[key][0]: ua.Variant(float(value), _V.Double)
        for key, value in config.condition_limits.items()
    }
    if config.deviation is not None:
        namespace = info.source.NamespaceIndex
        fields["SetpointNode"] = ua.Variant(
            node_id(config.deviation.from_tag, namespace), _V.NodeId
        )
    limit = snapshot.limit if snapshot.active else None
    if limit in LIMIT_PROPERTIES:
        state = _STATE_NAMES[limit]
        fields["LimitState/CurrentState"] = ua.Variant(ua.LocalizedText(state), _V.LocalizedText)
        fields["LimitState/CurrentState/Id"] = ua.Variant(
            node_id(LIMIT_PROPERTIES[limit][1]), _V.NodeId
        )
        fields["ActiveState/EffectiveDisplayName"] = ua.Variant(
            ua.LocalizedText(f"{state} active"), _V.LocalizedText
        )
    else:  # no limit is active: the state machine has no current state
        fields["LimitState/CurrentState"] = ua.Variant(ua.LocalizedText(), _V.LocalizedText)
        fields["LimitState/CurrentState/Id"] = ua.Variant(_NULL_ID, _V.NodeId)
    return fields


def refresh_event(type_id: int, message: str) -> Fields:
    """A RefreshStartEvent or RefreshEndEvent from the Server object."""
    now = utc(time.time())
    return {
        "EventId": ua.Variant(new_event_id(), _V.ByteString),
        "EventType": ua.Variant(node_id(type_id), _V.NodeId),
        "SourceNode": ua.Variant(_SERVER, _V.NodeId),
        "SourceName": ua.Variant("Server", _V.String),
        "Time": ua.Variant(now, _V.DateTime),
        "ReceiveTime": ua.Variant(now, _V.DateTime),
        "Message": ua.Variant(ua.LocalizedText(message), _V.LocalizedText),
        "Severity": ua.Variant(1, _V.UInt16),
    }
