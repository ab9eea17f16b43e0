"""The data-change fast path (gateway/opcua/stack/monitored.py) against asyncua's own code.

The fast path reproduces asyncua 2.1's `datachange_callback` without the
deep copy and with notifications encoded once per value; the adapter's
`Subscription._pop_triggered_datachanges` sends them pre-encoded. These
tests check that for the same values it queues and sends exactly what
asyncua's own `datachange_callback` and `_pop_triggered_datachanges` do.
(That the asyncua internals it reproduces are unchanged is checked by
test_opcua_stack_gate.py, which fingerprints stack/gate.INTERNALS.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import Any

import pytest
from asyncua import Server, ua
from asyncua.server.internal_server import InternalServer
from asyncua.server.internal_subscription import InternalSubscription
from asyncua.ua.ua_binary import struct_to_binary

from gateway.config import Role
from gateway.opcua.guards import ServerLimits
from gateway.opcua.stack import Node, ValueSlot, gate
from gateway.opcua.stack.monitored import Items, _Notification, encode_datachanges, notify, store
from gateway.opcua.stack.sessions import Session, SessionState
from gateway.opcua.stack.subscriptions import Subscription, Subscriptions
from gateway.opcua.users import Identity
from gateway.ua.wire import token_id

T0 = datetime(2026, 1, 1, tzinfo=UTC)
GOOD = ua.StatusCode(ua.StatusCodes.Good)
UNCERTAIN = ua.StatusCode(ua.StatusCodes.UncertainNoCommunicationLastUsableValue)
BAD = ua.StatusCode(ua.StatusCodes.BadNoCommunication)
NODE = ua.NodeId("x", 1)
LIMITS = ServerLimits()


def _value(value: float | None, code: ua.StatusCode, second: int) -> ua.DataValue:
    variant = (
        ua.Variant(None, ua.VariantType.Null)
        if value is None
        else ua.Variant(value, ua.VariantType.Double)
    )
    stamp = T0 + timedelta(seconds=second)
    return ua.DataValue(
        variant,
        StatusCode=code,
        SourceTimestamp=stamp,
        ServerTimestamp=stamp + timedelta(milliseconds=5),
    )


#: Same value again, a small and a large step, status changes, Bad without value.
SEQUENCE = [
    _value(1.0, GOOD, 1),
    _value(1.0, GOOD, 2),
    _value(1.2, GOOD, 3),
    _value(2.0, GOOD, 4),
    _value(2.0, UNCERTAIN, 5),
    _value(None, BAD, 6),
    _value(None, BAD, 7),
    _value(3.0, GOOD, 8),
    _value(3.1, GOOD, 9),
    _value(3.1, GOOD, 10),
]
#: Indexes of SEQUENCE after which both subscriptions publish.
PUBLISH_AFTER = {1, 4, 5, 9}

StatusValue = ua.DataChangeTrigger.StatusValue
ABSOLUTE = ua.DeadbandType.Absolute
#: (filter, requested queue size, mode). The adapter revises 0 to 1 (OPC 10000-4 §7.21);
#: the reference item is given the queue size the adapter granted.
CONFIGS: list[tuple[ua.DataChangeFilter | None, int, ua.MonitoringMode]] = [
    (None, 1, ua.MonitoringMode.Reporting),
    (None, 3, ua.MonitoringMode.Reporting),
    (None, 0, ua.MonitoringMode.Reporting),
    (None, 100, ua.MonitoringMode.Reporting),  # every change of SEQUENCE stays queued
    (ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.Status), 1, ua.MonitoringMode.Reporting),
    (
        ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp),
        2,
        ua.MonitoringMode.Reporting,
    ),
    (
        ua.DataChangeFilter(Trigger=StatusValue, DeadbandType=ABSOLUTE, DeadbandValue=0.5),
        2,
        ua.MonitoringMode.Reporting,
    ),
    (None, 1, ua.MonitoringMode.Disabled),
]


def test_fast_path_is_on_for_the_pinned_asyncua() -> None:
    assert version("asyncua").startswith(gate.ASYNCUA_SERIES)
    assert gate.SUPPORTED
    assert gate.FAST


@pytest.fixture
async def iserver() -> AsyncIterator[InternalServer]:
    """asyncua's internal server with just the monitored node (no standard address
    space: nothing here needs it, and loading it takes seconds)."""
    server = Server()
    _add_variable(server.iserver, NODE)
    yield server.iserver
    service = server.iserver.subscription_service
    await service.delete_subscriptions(list(service.subscriptions))


@pytest.fixture
async def adapter(iserver: InternalServer) -> AsyncIterator[Subscriptions]:
    """The adapter's subscriptions on the same address space (what StackServer builds)."""
    subscriptions = Subscriptions(iserver.subscription_service, iserver.aspace, LIMITS)
    yield subscriptions
    await subscriptions.stop_all()


def _session() -> Session:
    """An activated session without a connection: its subscriptions never get a Publish
    request, so nothing is published unless a test pops the queue itself."""
    return Session(
        session_id=ua.NodeId(1_000_000, 1),
        auth_token=token_id(b"\x01" * 32),
        name="test",
        peer="127.0.0.1:1",
        timeout=60.0,
        channel_certificate=None,
        nonce=b"\x00" * 32,
        last_activity=time.monotonic(),
        identity=Identity("op", Role.OPERATOR),
        state=SessionState.ACTIVATED,
    )


PARAMS = ua.CreateSubscriptionParameters(
    RequestedPublishingInterval=60_000,
    RequestedLifetimeCount=1000,
    RequestedMaxKeepAliveCount=100,
    PublishingEnabled=True,
)


def _item_request(
    flt: ua.DataChangeFilter | None, queue_size: int, mode: ua.MonitoringMode
) -> ua.MonitoredItemCreateRequest:
    return ua.MonitoredItemCreateRequest(
        ItemToMonitor=ua.ReadValueId(NodeId=NODE, AttributeId=ua.AttributeIds.Value),
        MonitoringMode=mode,
        RequestedParameters=ua.MonitoringParameters(
            ClientHandle=7, SamplingInterval=0.0, QueueSize=queue_size, Filter=flt
        ),
    )


def _callbacks(iserver: InternalServer, service: object) -> dict[int, Any]:
    """The node's datachange callbacks that belong to `service` (a subscription's items)."""
    slot = iserver.aspace[NODE].attributes[ua.AttributeIds.Value]
    return {
        handle: callback
        for handle, callback in slot.datachange_callbacks.items()
        if getattr(callback, "__self__", None) is service
    }


async def _fast(
    iserver: InternalServer,
    adapter: Subscriptions,
    flt: ua.DataChangeFilter | None,
    queue_size: int,
    mode: ua.MonitoringMode,
) -> tuple[Subscription, ValueSlot, int]:
    """The adapter's subscription with one item, alone on its own attribute (so `notify`
    calls only its callback), and the queue size the adapter granted."""
    session = _session()
    created = await adapter.create(session, PARAMS)
    subscription = adapter.owned(session, created.SubscriptionId)
    assert isinstance(subscription, Subscription)
    items = adapter.items_of(session, created.SubscriptionId)
    assert type(items) is Items
    request = ua.CreateMonitoredItemsParameters(
        SubscriptionId=created.SubscriptionId,
        ItemsToCreate=[_item_request(flt, queue_size, mode)],
    )
    [result] = await items.create_monitored_items(request)
    assert result.StatusCode.is_good()
    attribute = ValueSlot(ua.DataValue())
    attribute.datachange_callbacks.update(_callbacks(iserver, items))
    [callback] = attribute.datachange_callbacks.values()
    assert callback.__func__ is Items.datachange_callback  # what `notify` short-cuts
    return subscription, attribute, result.RevisedQueueSize


async def _reference(
    iserver: InternalServer,
    flt: ua.DataChangeFilter | None,
    queue_size: int,
    mode: ua.MonitoringMode,
) -> tuple[InternalSubscription, int, Any]:
    """asyncua's own subscription (never handed a Publish request), its item's handle and
    datachange callback."""

    async def published(*_: Any) -> None:
        raise AssertionError("nothing publishes without a Publish request")

    service = iserver.subscription_service
    created = await service.create_subscription(
        PARAMS, published, ua.NodeId(1), request_callback=lambda _: None
    )
    isub = service.subscriptions[created.SubscriptionId]
    request = ua.CreateMonitoredItemsParameters(
        SubscriptionId=created.SubscriptionId,
        ItemsToCreate=[_item_request(flt, queue_size, mode)],
    )
    [result] = await service.create_monitored_items(request)
    assert result.StatusCode.is_good()
    [(handle, callback)] = _callbacks(iserver, isub.monitored_item_srv).items()
    _report_null_changes(isub.monitored_item_srv)
    return isub, handle, callback


def _report_null_changes(service: Any) -> None:
    """asyncua's deadband subtracts a null (Bad) value and loses the notification; the
    adapter reports a change to or from a null value (see the test below). The reference
    gets the same rule, so everything else is compared with asyncua's own code."""
    original = service._is_deadband_exceeded

    def deadband(values: Any, flt: Any) -> bool:
        pair = (values.current_dvalue, values.old_dvalue)
        if any(v is None or v.Value is None or v.Value.Value is None for v in pair):
            return True
        return bool(original(values, flt))

    service._is_deadband_exceeded = deadband


def _queued(isub: InternalSubscription) -> list[tuple[int, ua.DataValue]]:
    queue = isub._triggered_datachanges
    return [(item.ClientHandle, item.Value) for items in queue.values() for item in items]


@pytest.mark.parametrize(("flt", "queue_size", "mode"), CONFIGS)
async def test_fast_path_queues_and_sends_what_asyncua_does(
    iserver: InternalServer,
    adapter: Subscriptions,
    flt: ua.DataChangeFilter | None,
    queue_size: int,
    mode: ua.MonitoringMode,
) -> None:
    fast, attribute, granted = await _fast(iserver, adapter, flt, queue_size, mode)
    assert granted == max(1, queue_size)
    reference, ref_handle, ref_callback = await _reference(iserver, flt, granted, mode)
    assert _queued(fast) == _queued(reference), "the initial value"
    published = 0
    for index, value in enumerate(SEQUENCE):
        await ref_callback(ref_handle, value)
        await notify(attribute, value)
        assert _queued(fast) == _queued(reference), f"after value {index}"
        if index in PUBLISH_AFTER:
            expected = ua.PublishResult()
            reference._pop_triggered_datachanges(expected)
            sent = ua.PublishResult()
            fast._pop_triggered_datachanges(sent)
            assert fast._triggered_datachanges == {}
            sent.NotificationMessage.PublishTime = expected.NotificationMessage.PublishTime
            assert struct_to_binary(sent) == struct_to_binary(expected), f"after value {index}"
            published += len(expected.NotificationMessage.NotificationData)
    assert published or mode == ua.MonitoringMode.Disabled


async def test_store_sets_the_value_and_notifies_every_item_of_the_node(
    iserver: InternalServer, adapter: Subscriptions
) -> None:
    """`store` on the node's own Value: the adapter's items take the fast path, asyncua's
    the generic one, and both queue the stored DataValue."""
    fast, _, _ = await _fast(iserver, adapter, None, 10, ua.MonitoringMode.Reporting)
    reference, _, _ = await _reference(iserver, None, 10, ua.MonitoringMode.Reporting)
    slot = iserver.aspace[NODE].attributes[ua.AttributeIds.Value]
    value = _value(42.0, GOOD, 1)
    await store(slot, value)
    assert slot.value is value
    assert _queued(fast)[-1] == (7, value)
    assert _queued(fast)[-1][1] is value  # shared, not copied
    [[*_, last]] = fast._triggered_datachanges.values()
    assert type(last) is _Notification  # queued with its binary form
    assert _queued(reference)[-1] == (7, value)


async def test_a_deadband_item_still_reports_the_status_going_bad_and_back(
    iserver: InternalServer, adapter: Subscriptions, caplog: pytest.LogCaptureFixture
) -> None:
    """A Bad value carries no value (DESIGN.md §7). A deadband applies to value changes
    only; a status change is always reported (OPC 10000-4 §7.22.2). A client with an
    absolute deadband must see the tag go Bad and come back, and the log gets no
    traceback for it."""
    flt = ua.DataChangeFilter(Trigger=StatusValue, DeadbandType=ABSOLUTE, DeadbandValue=0.5)
    fast, attribute, _ = await _fast(iserver, adapter, flt, 10, ua.MonitoringMode.Reporting)
    caplog.set_level(logging.INFO)
    good, bad, back = _value(2.0, GOOD, 1), _value(None, BAD, 2), _value(3.0, GOOD, 3)
    for value in (good, bad, back):
        await notify(attribute, value)
    queued = [value for _, value in _queued(fast)][1:]  # after the initial value
    assert [v.StatusCode for v in queued] == [GOOD, BAD, GOOD]
    assert queued == [good, bad, back]
    tracebacks = [r for r in caplog.records if r.exc_info is not None]
    assert not tracebacks, [r.getMessage() for r in tracebacks]


def _add_variable(iserver: InternalServer, nodeid: ua.NodeId) -> None:
    """A Double variable, as the adapter's NodeFactory makes them (Value and DataType)."""
    node = Node(nodeid)
    node.attributes[ua.AttributeIds.Value] = ValueSlot(
        ua.DataValue(ua.Variant(0.0, ua.VariantType.Double))
    )
    node.attributes[ua.AttributeIds.DataType] = ValueSlot(
        ua.DataValue(ua.Variant(ua.NodeId(ua.ObjectIds.Double), ua.VariantType.NodeId))
    )
    iserver.aspace[nodeid] = node


def test_pre_encoded_notification_is_byte_for_byte_asyncuas() -> None:
    values = [
        _value(1.5, GOOD, 1),
        _value(None, BAD, 2),
        ua.DataValue(ua.Variant("text", ua.VariantType.String), ServerTimestamp=T0),
        ua.DataValue(ua.Variant(True, ua.VariantType.Boolean), StatusCode=UNCERTAIN),
    ]
    notifications = [ua.MonitoredItemNotification(n, v) for n, v in enumerate(values)]
    encoded = [_Notification(n, v) for n, v in enumerate(values)]
    for item in encoded:
        item.binary = struct_to_binary(ua.MonitoredItemNotification(item.ClientHandle, item.Value))
    # Pre-encoded and plain notifications mixed, as after an item is created.
    queued: dict[int, list[ua.MonitoredItemNotification]] = {
        1: list(encoded[:2]),
        2: notifications[2:3],
        3: list(encoded[3:]),
    }
    sent = ua.PublishResult()
    encode_datachanges(queued, sent)
    expected = ua.PublishResult()
    mixed = [*notifications[:2], notifications[2], notifications[3]]
    expected.NotificationMessage.NotificationData.append(
        ua.DataChangeNotification(MonitoredItems=mixed)
    )
    sent.NotificationMessage.PublishTime = expected.NotificationMessage.PublishTime
    assert struct_to_binary(sent) == struct_to_binary(expected)
