"""The alarm engine served as OPC UA Alarms & Conditions (docs/opcua.md).

`AlarmConditions` listens to the engine: every snapshot change becomes a
condition event, reported through the Server object and the alarm's device
object with one EventId, and is mirrored into the condition's member nodes
(`.Active`, `.Acked`, `.Severity`, `.Message`, ActiveState...). The engine
calls listeners synchronously, so `alarm_changed` only builds the fields and
queues them; `run` (a task of the server's TaskGroup) writes the nodes and
sends the events, in order.

The EventId of a condition's latest event identifies its current state:
Acknowledge accepts exactly that EventId (the gateway keeps no branches for
older states). asyncua has no acknowledge state machine, so the method calls
come here (see alarm_calls.py): Acknowledge goes to the engine, which journals the
session's user and the comment; ConditionRefresh replays the last event of
every retained condition to one subscription between RefreshStart and
RefreshEnd events.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from asyncua import ua

from gateway.alarms.model import AlarmListener, AlarmSnapshot, Transition
from gateway.config import AlarmConfig
from gateway.errors import AlarmAlreadyAcked, AlarmShelvingRefused, UnknownAlarm
from gateway.opcua.condition_events import (
    ConditionHistory,
    Fields,
    condition_fields,
    new_event_id,
    refresh_event,
)
from gateway.opcua.conditions import ConditionInfo, build_conditions
from gateway.opcua.stack import StackServer
from gateway.ua.wire import ObjectIds, StatusCodes, node_id

__all__ = ["QUEUE_EVENTS", "AlarmConditions", "AlarmSource", "ServiceAction"]

log = logging.getLogger(__name__)

#: Queued condition events before the oldest is dropped (counted and logged).
#: The nodes and ConditionRefresh always show the latest state regardless.
QUEUE_EVENTS = 10_000
_SERVER = node_id(ObjectIds.Server)
_V = ua.VariantType


class AlarmSource(Protocol):
    """What the conditions need of the alarm engine (gateway.alarms.AlarmEngine)."""

    def snapshots(self) -> list[AlarmSnapshot]: ...
    def add_listener(self, listener: AlarmListener) -> None: ...
    def remove_listener(self, listener: AlarmListener) -> None: ...
    def acknowledge(self, name: str, *, user: str, comment: str = "") -> AlarmSnapshot: ...
    def shelve(
        self, name: str, *, user: str, reason: str = "", duration: float | None = None
    ) -> AlarmSnapshot: ...
    def unshelve(self, name: str, *, user: str, reason: str = "") -> AlarmSnapshot: ...
    def set_enabled(
        self, name: str, enabled: bool, *, user: str, reason: str = ""
    ) -> AlarmSnapshot: ...


@dataclass(frozen=True, slots=True)
class ServiceAction:
    """What a shelving or Enable/Disable call asks: `kind` is shelve, unshelve,
    enable or disable; `duration` (seconds) makes a shelve timed."""

    kind: str
    duration: float | None = None


#: AlarmShelvingRefused.reason → the Part 9 result code.
_REFUSALS = {
    "already shelved": StatusCodes.BadConditionAlreadyShelved,
    "not shelved": StatusCodes.BadConditionNotShelved,
    "already enabled": StatusCodes.BadConditionAlreadyEnabled,
    "already disabled": StatusCodes.BadConditionAlreadyDisabled,
    "bad time": StatusCodes.BadShelvingTimeOutOfRange,
}


@dataclass(slots=True)
class _Condition:
    """One condition's fixed facts and its latest event."""

    info: ConditionInfo
    history: ConditionHistory = field(default_factory=ConditionHistory)
    fields: Fields = field(default_factory=dict)  # of the latest event (built)
    emitted: Fields = field(default_factory=dict)  # of the latest event sent (or restored)

    @property
    def event_id(self) -> bytes | None:
        variant = self.fields.get("EventId")
        return None if variant is None else bytes(variant.Value)

    @property
    def retained(self) -> bool:
        variant = self.emitted.get("Retain")
        return bool(variant is not None and variant.Value)


class AlarmConditions:
    """The conditions of every alarm: nodes, events, Acknowledge and ConditionRefresh."""

    def __init__(
        self,
        engine: AlarmSource,
        stack: StackServer,
        infos: Sequence[ConditionInfo],
    ) -> None:
        self._engine = engine
        self._stack = stack
        self._by_name = {info.name: _Condition(info) for info in infos}
        self._by_node = {c.info.nodeid: c for c in self._by_name.values()}
        self._by_shelving = {
            c.info.member_id("ShelvingState"): c
            for c in self._by_name.values()
            if "ShelvingState" in c.info.member_ids
        }
        self._queue: deque[tuple[_Condition, Fields, bool]] = deque()
        self._wake = asyncio.Event()
        self.dropped = 0  # events dropped from a full queue, since start
        self._overflowing = False

    @classmethod
    async def build(
        cls,
        engine: AlarmSource,
        stack: StackServer,
        alarms: Sequence[AlarmConfig],
        *,
        folder: ua.NodeId,
        namespace_index: int,
    ) -> AlarmConditions:
        """Add the condition nodes to the server `stack`."""
        infos = await build_conditions(
            stack.node_tree(), alarms, folder=folder, namespace_index=namespace_index
        )
        return cls(engine, stack, infos)

    # -- the engine side ----------------------------------------------------------------

    def start(self) -> None:
        """Take the engine's current states (no events) and listen from now on."""
        for snapshot in self._engine.snapshots():
            condition = self._by_name.get(snapshot.name)
            if condition is not None:
                self._update(condition, snapshot, send=False)
        self._engine.add_listener(self)

    def stop(self) -> None:
        self._engine.remove_listener(self)

    def alarm_changed(self, snapshot: AlarmSnapshot, transition: Transition) -> None:
        condition = self._by_name.get(snapshot.name)
        if condition is None:
            log.warning("OPC UA: no condition for alarm %r", snapshot.name)
            return
        # A restored state is not a new event: the nodes and ConditionRefresh show it.
        # A disabled condition sends no events but the one that disables it (Part 9).
        quiet = transition is Transition.RESTORED or (
            not snapshot.enabled and transition is not Transition.DISABLED
        )
        self._update(
            condition,
            snapshot,
            send=not quiet,
            quality_changed=transition is Transition.QUALITY,
        )

    def _update(
        self,
        condition: _Condition,
        snapshot: AlarmSnapshot,
        *,
        send: bool,
        quality_changed: bool = False,
    ) -> None:
        fields = condition_fields(
            condition.info,
            snapshot,
            condition.history,
            new_event_id(),
            quality_changed=quality_changed,
        )
        condition.fields = fields
        if not send:
            condition.emitted = fields
        if len(self._queue) >= QUEUE_EVENTS:
            self._queue.popleft()
            self.dropped += 1
            if not self._overflowing:  # one line per burst, not one per event
                self._overflowing = True
                log.warning("OPC UA: alarm event queue full: dropping the oldest events")
        self._queue.append((condition, fields, send))
        self._wake.set()

    async def run(self) -> None:
        """Write the nodes and send the events queued by `alarm_changed`, in order.

        A failure with one event (a node write, a subscription's filter) is logged
        and stays with that event: the server's TaskGroup, hence the gateway, goes on.
        """
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                condition, fields, send = self._queue.popleft()
                try:
                    await self._write_members(condition.info, fields)
                    if send:
                        condition.emitted = fields
                        await self._send(condition.info, fields)
                except Exception:
                    log.exception("OPC UA: alarm event of %s not sent", condition.info.name)
            if self._overflowing:
                self._overflowing = False
                log.warning("OPC UA: alarm event queue drained; %d event(s) dropped", self.dropped)

    async def _write_members(self, info: ConditionInfo, fields: Fields) -> None:
        for member in info.members:
            variant = fields.get(member.path)
            if variant is None:
                continue
            value = variant.Value
            if member.variant is _V.String and isinstance(value, ua.LocalizedText):
                value = value.Text or ""
            await self._stack.write_value(
                info.member_id(member.path), ua.DataValue(ua.Variant(value, member.variant))
            )

    async def _send(self, info: ConditionInfo, fields: Fields) -> None:
        await self._stack.events.broadcast(fields, (_SERVER, info.device))

    # -- methods ------------------------------------------------------------------------

    def is_condition(self, nodeid: ua.NodeId) -> bool:
        return nodeid in self._by_node

    def acknowledge(self, nodeid: ua.NodeId, event_id: bytes, comment: str, user: str) -> int:
        """Acknowledge the condition at `nodeid`; a StatusCode value (Part 9 §5.7.3)."""
        condition = self._by_node.get(nodeid)
        if condition is None:
            return StatusCodes.BadNodeIdUnknown
        if event_id != condition.event_id:
            return StatusCodes.BadEventIdUnknown
        try:
            self._engine.acknowledge(condition.info.name, user=user, comment=comment)
        except AlarmAlreadyAcked:
            return StatusCodes.BadConditionBranchAlreadyAcked
        except UnknownAlarm:
            return StatusCodes.BadNodeIdUnknown
        log.info("OPC UA: %s acknowledged %s: %r", user, condition.info.name, comment)
        return StatusCodes.Good

    def shelving_target(self, nodeid: ua.NodeId) -> str | None:
        """The alarm whose condition or ShelvingState is `nodeid`, or None."""
        condition = self._by_shelving.get(nodeid) or self._by_node.get(nodeid)
        return None if condition is None else condition.info.name

    def change_service(self, name: str, action: ServiceAction, user: str, comment: str) -> int:
        """Shelve, unshelve, enable or disable alarm `name`; a StatusCode value (Part 9 §5.8)."""
        engine = self._engine
        try:
            if action.kind == "shelve":
                engine.shelve(name, user=user, reason=comment, duration=action.duration)
            elif action.kind == "unshelve":
                engine.unshelve(name, user=user, reason=comment)
            else:
                engine.set_enabled(name, action.kind == "enable", user=user, reason=comment)
        except AlarmShelvingRefused as refused:
            return _REFUSALS.get(refused.reason, StatusCodes.BadStateNotActive)
        except UnknownAlarm:
            return StatusCodes.BadNodeIdUnknown
        log.info("OPC UA: %s %s %s: %r", user, action.kind, name, comment)
        return StatusCodes.Good

    async def refresh(self, session_id: ua.NodeId, subscription_id: int, item: int | None) -> int:
        """ConditionRefresh(2): replay retained conditions to one subscription's event items."""
        target = self._stack.events.target(session_id, subscription_id, item)
        if isinstance(target, int):
            return target
        notifiers = target.notifiers
        start = refresh_event(ObjectIds.RefreshStartEventType, "Refresh start")
        for notifier in notifiers:
            await target.send(start, notifier)
        for condition in self._by_name.values():
            if not condition.retained:
                continue
            for notifier in (_SERVER, condition.info.device):
                if notifier in notifiers:
                    await target.send(condition.emitted, notifier)
        end = refresh_event(ObjectIds.RefreshEndEventType, "Refresh end")
        for notifier in notifiers:
            await target.send(end, notifier)
        return StatusCodes.Good
