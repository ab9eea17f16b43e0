"""`watch`: data changes of nodes and events of the Server object, as plain records.

One subscription carries both. The first notification of each node is its
current value, and a ConditionRefresh replays the alarms active (or not yet
acknowledged) when watching starts: both are `initial`, and `count` stops
after that many changes and events after those. Events are selected by
browse path, so any event type works and fields a type lacks (ActiveState of
a plain event) simply stay empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asyncua import ua
from asyncua.common.subscription import DataChangeEvent, OpcEvent, StatusChangeEvent
from asyncua.ua.uaerrors import UaError

from gateway.errors import ClientError
from gateway.ua.wire import AttributeIds, ObjectIds, StatusCodes, node_id
from gateway.uaclient.session import Session
from gateway.uaclient.uanames import format_time, format_value, status_name

__all__ = ["Change", "Event", "watch"]

#: Event fields selected, by browse path below the event.
EVENT_FIELDS: tuple[tuple[str, ...], ...] = (
    ("EventType",),
    ("Time",),
    ("SourceName",),
    ("Severity",),
    ("Message",),
    ("ConditionName",),
    ("ActiveState", "Id"),
    ("AckedState", "Id"),
    ("ActiveState", "TransitionTime"),
    ("AckedState", "TransitionTime"),
    ("SuppressedOrShelved",),
    ("EnabledState", "Id"),
)


@dataclass(frozen=True, slots=True)
class Change:
    """One data change of a watched node."""

    time: str
    node: str
    value: str
    status: str
    initial: bool


@dataclass(frozen=True, slots=True)
class Event:
    """One event from the Server object; Active/Acked are '' when the event has none.

    `transition` says what this event of a condition reports, in the alarm
    journal's words: `activated`, `cleared` or `acknowledged` when its ActiveState
    or AckedState changed at the event's Time, else the state, `active` or
    `inactive` (a limit or quality change). A condition keeps its configured
    message when it clears ("… above 8.5"): the word says it is over.
    """

    time: str
    source: str
    severity: str
    message: str
    condition: str
    active: str
    acked: str
    initial: bool
    transition: str = ""
    shelved: bool = False  # SuppressedOrShelved: an operator set the alarm aside
    disabled: bool = False  # EnabledState false: out of service


#: Sampling as fast as the server publishes values (our server pushes them).
_FASTEST: Any = 0.0

_REFRESH_START = node_id(ObjectIds.RefreshStartEventType)
_REFRESH_END = node_id(ObjectIds.RefreshEndEventType)
#: The severity bit of a status code: set for Bad.
_BAD = 0x80000000
_CONDITION_REFRESH = node_id(ObjectIds.ConditionType_ConditionRefresh)

Emit = Callable[[Change | Event], None]


async def watch(
    session: Session,
    nodes: Sequence[tuple[str, ua.NodeId]],
    *,
    emit: Emit,
    interval_ms: float,
    events: bool = True,
    count: int | None = None,
    duration: float | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Subscribe and emit until `count` changes, `duration` seconds or `stop`; return changes."""
    if not nodes and not events:
        raise ClientError("nothing to watch: give a NODE or leave events on")
    names = {nodeid: text for text, nodeid in nodes}
    client = session.client
    subscription = await client.create_subscription(interval_ms, None)
    aiter(subscription)  # the iterator queue must exist before the first notification
    changes = 0
    async with subscription:
        if nodes:
            handles = await subscription.subscribe_data_change(
                [client.get_node(nodeid) for _, nodeid in nodes], sampling_interval=_FASTEST
            )
            for (text, _), handle in zip(nodes, handles, strict=True):
                if isinstance(handle, ua.StatusCode):
                    raise ClientError(f"cannot watch {text}: {status_name(int(handle.value))}")
        if events:
            await subscription.subscribe_events(node_id(ObjectIds.Server), evfilter=_event_filter())
            await _refresh(session, subscription.subscription_id)
        seen: set[ua.NodeId] = set()
        refreshing = False
        deadline = None if duration is None else time.monotonic() + duration
        while count is None or changes < count:
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                break
            item = await _next(subscription, timeout, stop)
            if item is None:
                break
            if isinstance(item, DataChangeEvent):
                changed = item.node.nodeid
                initial = changed not in seen
                seen.add(changed)
                emit(_change(names.get(changed) or session.text(changed), item, initial))
                changes += 0 if initial else 1
            elif isinstance(item, OpcEvent):
                kind = getattr(item.event, "EventType", None)
                if kind in (_REFRESH_START, _REFRESH_END):
                    refreshing = kind == _REFRESH_START
                    continue
                emit(_event(item.event, refreshing))
                changes += 0 if refreshing else 1
            elif isinstance(item, StatusChangeEvent):
                code = int(item.notification.Status.value)
                if code & _BAD:  # Bad_Shutdown: the connection is lost; Bad_Timeout...
                    raise ClientError(_ended(session.options.url, code))
    return changes


def _ended(url: str, code: int) -> str:
    if (code & 0xFFFF0000) == StatusCodes.BadShutdown:
        return f"lost the connection to {url}"
    return f"the server ended the subscription on {url} ({status_name(code)})"


async def _next(subscription: Any, timeout: float | None, stop: asyncio.Event | None) -> Any:
    """The next notification, or None when time is up or `stop` is set."""
    if stop is None:
        try:
            return await subscription.next_event(timeout)
        except StopAsyncIteration:  # the subscription was closed
            return None
    got: list[Any] = []
    failed: list[Exception] = []

    async def get() -> None:
        try:
            got.append(await subscription.next_event(timeout))
        except StopAsyncIteration:  # the subscription was closed
            pass
        except Exception as error:  # raised below as itself, not in an ExceptionGroup
            failed.append(error)

    async with asyncio.TaskGroup() as group:
        getter = group.create_task(get(), name="next notification")
        stopped = group.create_task(stop.wait(), name="stop")
        await asyncio.wait({getter, stopped}, return_when=asyncio.FIRST_COMPLETED)
        getter.cancel()
        stopped.cancel()
    if failed:
        raise failed[0]
    return got[0] if got else None


def _change(node: str, item: DataChangeEvent, initial: bool) -> Change:
    value: Any = item.data.monitored_item.Value
    code = value.StatusCode
    variant = value.Value.VariantType if value.Value is not None else None
    when = value.SourceTimestamp or value.ServerTimestamp or datetime.now(UTC)
    return Change(
        time=format_time(when),
        node=node,
        value=format_value(item.value, variant),
        status=status_name(int(code.value) if code is not None else 0),
        initial=initial,
    )


async def _refresh(session: Session, subscription_id: int | None) -> None:
    """Ask for the alarms already active; a server without conditions just says no."""
    condition_type = session.client.get_node(node_id(ObjectIds.ConditionType))
    argument = ua.Variant(subscription_id, ua.VariantType.UInt32)
    with contextlib.suppress(UaError):
        await condition_type.call_method(
            node_id(ObjectIds.ConditionType_ConditionRefresh), argument
        )


def _event(event: Any, initial: bool) -> Event:
    def field(name: str) -> Any:
        return getattr(event, name, None)

    def state(name: str) -> str:
        value = field(name)
        return "" if value is None else str(bool(value)).lower()

    severity = field("Severity")
    return Event(
        transition=_transition(field),
        time=format_time(field("Time") or datetime.now(UTC)),
        source=format_value(field("SourceName")),
        severity="-" if severity is None else str(severity),
        message=format_value(field("Message")),
        condition="" if field("ConditionName") is None else format_value(field("ConditionName")),
        active=state("ActiveState/Id"),
        acked=state("AckedState/Id"),
        initial=initial,
        shelved=field("SuppressedOrShelved") is True,
        disabled=field("EnabledState/Id") is False,
    )


def _transition(field: Callable[[str], Any]) -> str:
    """activated / cleared / acknowledged, or the state when neither changed ('' if none)."""
    active, acked = field("ActiveState/Id"), field("AckedState/Id")
    if active is None:
        return ""  # not a condition's event
    when = field("Time")
    if when is not None and field("ActiveState/TransitionTime") == when:
        return "activated" if active else "cleared"
    if when is not None and acked and field("AckedState/TransitionTime") == when:
        return "acknowledged"
    return "active" if active else "inactive"


def _event_filter() -> ua.EventFilter:
    event_filter = ua.EventFilter()
    for path in EVENT_FIELDS:
        operand = ua.SimpleAttributeOperand()
        operand.TypeDefinitionId = node_id(ObjectIds.BaseEventType)
        operand.BrowsePath = [ua.QualifiedName(part, 0) for part in path]
        operand.AttributeId = AttributeIds.Value
        event_filter.SelectClauses.append(operand)
    return event_filter
