"""The data-change fast path (gateway/opcua/datachange.py) against asyncua's own code.

The fast path reproduces asyncua 2.1 internals without the deep copy and
with notifications encoded once per value: these tests fail when asyncua
changes those internals, and check that for the same values it queues and
sends exactly what asyncua's own `datachange_callback` does.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import Any

import pytest
from asyncua import Server, ua
from asyncua.server.address_space import AttributeValue
from asyncua.server.internal_server import InternalServer
from asyncua.server.internal_subscription import InternalSubscription
from asyncua.server.monitored_item_service import (
    MonitoredItemData,
    MonitoredItemService,
    MonitoredItemValues,
)
from asyncua.server.subscription_service import SubscriptionService
from asyncua.ua.ua_binary import struct_to_binary

from gateway.opcua import datachange
from gateway.opcua.datachange import notify, pop_datachanges

#: sha256 (first 16 hex digits) of the asyncua 2.1.0 code the fast path reproduces
#: or relies on. A mismatch means asyncua changed: re-read the method, update
#: datachange.py to match, then the digest here.
ASYNCUA_SOURCES: dict[Callable[..., Any], str] = {
    MonitoredItemService.datachange_callback: "d4468698f4d16058",
    MonitoredItemService._is_data_changed: "57a0bdefa822c5a7",
    MonitoredItemService._is_deadband_exceeded: "fb9fddc7656a226a",
    MonitoredItemValues.set_current_datavalue: "df9d5e87226514b2",
    MonitoredItemData.__init__: "fdb383c82ecbe4d6",
    InternalSubscription._enqueue_event: "e69c7f033b26833b",
    InternalSubscription.enqueue_datachange_event: "83acd6e086d9b1c9",
    InternalSubscription._trigger_publish: "ef1353aab64eccc0",
    InternalSubscription._pop_triggered_datachanges: "a80b640757b67c29",
    InternalSubscription._pop_publish_result: "69f19425a51ca326",
    SubscriptionService.create_subscription: "284f2d45908fcafe",
}

T0 = datetime(2026, 1, 1, tzinfo=UTC)
GOOD = ua.StatusCode(ua.StatusCodes.Good)
UNCERTAIN = ua.StatusCode(ua.StatusCodes.UncertainNoCommunicationLastUsableValue)
BAD = ua.StatusCode(ua.StatusCodes.BadNoCommunication)


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
CONFIGS: list[tuple[ua.DataChangeFilter | None, int, ua.MonitoringMode]] = [
    (None, 1, ua.MonitoringMode.Reporting),
    (None, 3, ua.MonitoringMode.Reporting),
    (None, 0, ua.MonitoringMode.Reporting),
    (ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.Status), 1, ua.MonitoringMode.Reporting),
    (
        ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp),
        2,
        ua.MonitoringMode.Reporting,
    ),
    (
        ua.DataChangeFilter(Trigger=StatusValue, DeadbandType=1, DeadbandValue=0.5),
        2,
        ua.MonitoringMode.Reporting,
    ),
    (None, 1, ua.MonitoringMode.Disabled),
]


def _digest(function: Callable[..., Any]) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def test_fast_path_is_on_for_the_pinned_asyncua() -> None:
    assert version("asyncua").startswith(datachange.ASYNCUA_SERIES)
    assert datachange.FAST


@pytest.mark.parametrize("function", list(ASYNCUA_SOURCES), ids=lambda f: f.__qualname__)
def test_asyncua_internals_are_unchanged(function: Callable[..., Any]) -> None:
    assert _digest(function) == ASYNCUA_SOURCES[function], (
        f"asyncua's {function.__qualname__} changed: check gateway/opcua/datachange.py"
    )


@pytest.fixture
async def iserver() -> AsyncIterator[InternalServer]:
    server = Server()
    await server.init()
    yield server.iserver
    service = server.iserver.subscription_service
    await service.delete_subscriptions(list(service.subscriptions))


async def _subscription(
    iserver: InternalServer,
    node: ua.NodeId,
    flt: ua.DataChangeFilter | None,
    queue_size: int,
    mode: ua.MonitoringMode,
) -> tuple[InternalSubscription, int]:
    """A client-like subscription (never handed a Publish request) and its item's handle."""

    async def published(*_: Any) -> None:
        raise AssertionError("nothing publishes without a Publish request")

    params = ua.CreateSubscriptionParameters(
        RequestedPublishingInterval=60_000,
        RequestedLifetimeCount=1000,
        RequestedMaxKeepAliveCount=100,
        PublishingEnabled=True,
    )
    service = iserver.subscription_service
    created = await service.create_subscription(
        params, published, ua.NodeId(1), request_callback=lambda _: None
    )
    isub = service.subscriptions[created.SubscriptionId]
    item = ua.MonitoredItemCreateRequest(
        ItemToMonitor=ua.ReadValueId(NodeId=node, AttributeId=ua.AttributeIds.Value),
        MonitoringMode=mode,
        RequestedParameters=ua.MonitoringParameters(
            ClientHandle=7, SamplingInterval=0.0, QueueSize=queue_size, Filter=flt
        ),
    )
    request = ua.CreateMonitoredItemsParameters(
        SubscriptionId=created.SubscriptionId, ItemsToCreate=[item]
    )
    [result] = await service.create_monitored_items(request)
    assert result.StatusCode.is_good()
    [handle] = isub.monitored_item_srv._monitored_datachange
    return isub, handle


def _queued(isub: InternalSubscription) -> list[tuple[int, ua.DataValue]]:
    queue = isub._triggered_datachanges
    return [(item.ClientHandle, item.Value) for items in queue.values() for item in items]


@pytest.mark.parametrize(("flt", "queue_size", "mode"), CONFIGS)
async def test_fast_path_queues_and_sends_what_asyncua_does(
    iserver: InternalServer,
    flt: ua.DataChangeFilter | None,
    queue_size: int,
    mode: ua.MonitoringMode,
) -> None:
    node = ua.NodeId("x", 1)
    await _add_variable(iserver, node)
    reference, ref_handle = await _subscription(iserver, node, flt, queue_size, mode)
    fast, fast_handle = await _subscription(iserver, node, flt, queue_size, mode)
    # The fast path's item alone on an attribute: `notify` calls only its callback.
    attribute = AttributeValue(ua.DataValue())
    attribute.datachange_callbacks[fast_handle] = fast.monitored_item_srv.datachange_callback
    published = 0
    for index, value in enumerate(SEQUENCE):
        # asyncua's deadband subtracts from a null value: a TypeError, which its
        # write_attribute_value (and the fast path) log and go on.
        with contextlib.suppress(TypeError):
            await reference.monitored_item_srv.datachange_callback(ref_handle, value)
        await notify(attribute, value)
        assert _queued(fast) == _queued(reference), f"after value {index}"
        if index in PUBLISH_AFTER:
            expected = ua.PublishResult()
            reference._pop_triggered_datachanges(expected)
            sent = ua.PublishResult()
            pop_datachanges(fast, sent)
            sent.NotificationMessage.PublishTime = expected.NotificationMessage.PublishTime
            assert struct_to_binary(sent) == struct_to_binary(expected), f"after value {index}"
            published += len(expected.NotificationMessage.NotificationData)
    assert published or mode == ua.MonitoringMode.Disabled


async def _add_variable(iserver: InternalServer, node: ua.NodeId) -> None:
    attributes = ua.VariableAttributes(
        DisplayName=ua.LocalizedText("x"),
        Value=ua.Variant(0.0, ua.VariantType.Double),
        DataType=ua.NodeId(ua.ObjectIds.Double),
    )
    item = ua.AddNodesItem(
        RequestedNewNodeId=node,
        BrowseName=ua.QualifiedName("x", 1),
        NodeClass=ua.NodeClass.Variable,
        ParentNodeId=ua.NodeId(ua.ObjectIds.ObjectsFolder),
        ReferenceTypeId=ua.NodeId(ua.ObjectIds.HasComponent),
        TypeDefinition=ua.NodeId(ua.ObjectIds.BaseDataVariableType),
        NodeAttributes=attributes,
    )
    [result] = iserver.node_mgt_service.add_nodes([item])
    assert result.StatusCode.is_good()


def test_pre_encoded_notification_is_byte_for_byte_asyncuas() -> None:
    values = [
        _value(1.5, GOOD, 1),
        _value(None, BAD, 2),
        ua.DataValue(ua.Variant("text", ua.VariantType.String), ServerTimestamp=T0),
        ua.DataValue(ua.Variant(True, ua.VariantType.Boolean), StatusCode=UNCERTAIN),
    ]
    notifications = [ua.MonitoredItemNotification(n, v) for n, v in enumerate(values)]
    encoded = [datachange._Notification(n, v) for n, v in enumerate(values)]
    for item in encoded:
        item.binary = struct_to_binary(ua.MonitoredItemNotification(item.ClientHandle, item.Value))
    isub = InternalSubscription.__new__(InternalSubscription)
    # Pre-encoded and plain notifications mixed, as after an item is created.
    isub._triggered_datachanges = {1: encoded[:2], 2: notifications[2:3], 3: encoded[3:]}
    sent = ua.PublishResult()
    pop_datachanges(isub, sent)
    assert isub._triggered_datachanges == {}
    expected = ua.PublishResult()
    mixed = [*notifications[:2], notifications[2], notifications[3]]
    expected.NotificationMessage.NotificationData.append(
        ua.DataChangeNotification(MonitoredItems=mixed)
    )
    sent.NotificationMessage.PublishTime = expected.NotificationMessage.PublishTime
    assert struct_to_binary(sent) == struct_to_binary(expected)
