"""Data changes to OPC UA monitored items without asyncua's per-item deep copy.

asyncua calls one `datachange_callback` per monitored item of a node. Its
`MonitoredItemService.datachange_callback` keeps a *deep copy* of the
DataValue in each item (`MonitoredItemValues.set_current_datavalue`), so a
caller that mutates a DataValue after writing it cannot change what the item
compares the next one with. Measured under `gateway bench fanout` (4 clients
× 10k items, 10% changing every 100 ms: 40,000 item updates/s), that copy
alone took about half of the gateway's event loop (docs/performance.md).

The publisher never mutates a DataValue it stored: it builds a new one per
value (publisher.data_value), with immutable contents (scalars, a shared
StatusCode per code, datetimes). Sharing it between the node and every
monitored item is therefore safe, so for the monitored items of asyncua's own
service this module does what `datachange_callback` does, in the same order,
minus the copy and minus one coroutine per item:

- a Disabled item is skipped; the item's previous value becomes its old one;
- the item's filter decides (asyncua's own `_is_data_changed` with the
  filter's trigger, then its `_is_deadband_exceeded`; StatusValue without a
  filter);
- a passing change is queued as a MonitoredItemNotification through the
  subscription's queue with the item's queue size (oldest dropped first), and
  an immediate publish is awaited exactly when asyncua would do one (a new
  item in the queue of a subscription without a publishing cycle).

Any other callback (another service, a subclass, a test's function) is
awaited as before.

Encoding: asyncua encodes each MonitoredItemNotification when it sends the
PublishResponse, with its generic dataclass serializer (about 4 µs each),
once per subscription. Here a notification of the fast path carries its
binary form, made from the DataValue's encoding, which is made once per
value and shared by every subscription that monitors the node. `install`
makes each client subscription of a server pop its queued data changes as
one DataChangeNotification already encoded (an ExtensionObject with the
same TypeId and body asyncua would send: byte for byte the same message);
notifications without a binary form (asyncua's own callback, on creating an
item) are encoded by asyncua's serializer there.

asyncua is pinned to 2.1 (pyproject.toml) and these are its internals:
`FAST` is False for any other version (everything then goes through asyncua
as is), and tests/unit/test_opcua_datachange.py fails when the source of the
methods reproduced here changes, so an upgrade is a conscious decision.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Callable
from functools import partial
from importlib.metadata import version
from typing import Any

from asyncua import ua
from asyncua.server.address_space import AttributeValue
from asyncua.server.internal_server import InternalServer
from asyncua.server.internal_subscription import InternalSubscription
from asyncua.server.monitored_item_service import (
    MonitoredItemData,
    MonitoredItemService,
    MonitoredItemValues,
)
from asyncua.ua.ua_binary import struct_to_binary

__all__ = ["ASYNCUA_SERIES", "FAST", "install", "notify", "pop_datachanges", "store"]

log = logging.getLogger(__name__)

#: The asyncua release series whose internals this module relies on.
ASYNCUA_SERIES = "2.1."
#: False when asyncua is not of that series, or when the environment sets
#: GATEWAY_OPCUA_FASTPATH=0 (to measure against asyncua's own path): every
#: callback is then awaited as is and subscriptions encode as asyncua does.
FAST = (
    version("asyncua").startswith(ASYNCUA_SERIES)
    and os.environ.get("GATEWAY_OPCUA_FASTPATH", "1") != "0"
)

_CALLBACK = MonitoredItemService.datachange_callback
_DISABLED = ua.MonitoringMode.Disabled
_STATUS_VALUE = ua.DataChangeTrigger.StatusValue
_TIMESTAMP = ua.DataChangeTrigger.StatusValueTimestamp
_VALUE_TRIGGERS = (_STATUS_VALUE, _TIMESTAMP)
_UINT32 = struct.Struct("<I")
_INT32 = struct.Struct("<i")
#: DataChangeNotification.DiagnosticInfos as asyncua sends it: an empty list.
_NO_DIAGNOSTICS = _INT32.pack(0)
#: The binary encoding's NodeId of DataChangeNotification.
_DATA_CHANGE_BINARY = ua.typeid_by_extension_objects[ua.DataChangeNotification]


class _Notification(ua.MonitoredItemNotification):
    """A MonitoredItemNotification that carries its binary encoding (`binary`)."""

    __slots__ = ("binary",)
    binary: bytes


def _is_data_changed(values: MonitoredItemValues, trigger: Any) -> bool:
    """asyncua's MonitoredItemService._is_data_changed, without a list per call."""
    old = values.old_dvalue
    current = values.current_dvalue
    if old is None or current is None:
        return old is not current
    if old.StatusCode != current.StatusCode:
        return True
    if trigger in _VALUE_TRIGGERS and old.Value != current.Value:
        return True
    return trigger == _TIMESTAMP and (
        old.SourceTimestamp != current.SourceTimestamp
        or old.SourcePicoseconds != current.SourcePicoseconds
    )


def _passes(
    service: MonitoredItemService, handle: int, value: ua.DataValue
) -> MonitoredItemData | None:
    """asyncua's datachange_callback up to the queue, without the deep copy.

    Returns the item's MonitoredItemData when `value` is to be notified, else None.
    """
    mid = service._monitored_datachange.get(handle)
    if mid is None:  # deleted while an earlier callback of the node was awaited
        return None
    mdata = service._monitored_items[mid]
    if mdata.mode == _DISABLED:
        return None
    values = mdata.mvalue
    values.old_dvalue = values.current_dvalue
    values.current_dvalue = value  # shared, not copied: see the module's docstring
    flt = mdata.filter
    if flt:
        if not _is_data_changed(values, flt.Trigger):
            return None
        return mdata if service._is_deadband_exceeded(values, flt) else None
    return mdata if _is_data_changed(values, _STATUS_VALUE) else None


def _enqueue(service: MonitoredItemService, mdata: MonitoredItemData, event: _Notification) -> bool:
    """InternalSubscription._enqueue_event; True: await the subscription's publish now."""
    isub = service.isub
    mid = mdata.monitored_item_id
    assert mid is not None  # set when the item was created
    queue = isub._triggered_datachanges
    items = queue.get(mid)
    if items is None:
        queue[mid] = [event]
        return isub._task is None and isub.data.RevisedPublishingInterval <= 0.0
    size = mdata.queue_size
    if size != 0 and len(items) >= size:
        items.pop(0)
    items.append(event)
    return False


async def notify(attribute: AttributeValue, value: ua.DataValue) -> None:
    """Call the attribute's datachange callbacks with `value` (already stored)."""
    encoded = b""  # the DataValue's binary form, made for the first notification
    for handle, callback in list(attribute.datachange_callbacks.items()):
        try:
            service = getattr(callback, "__self__", None)
            if not (
                FAST
                and type(service) is MonitoredItemService
                and getattr(callback, "__func__", None) is _CALLBACK
            ):
                await callback(handle, value)
                continue
            mdata = _passes(service, handle, value)
            if mdata is None:
                continue
            if not encoded:
                encoded = struct_to_binary(value)
            event = _Notification(mdata.client_handle, value)
            event.binary = _UINT32.pack(mdata.client_handle) + encoded
            if _enqueue(service, mdata, event):
                await service.isub._trigger_publish()
        except Exception:
            log.exception("OPC UA datachange callback %s failed", handle)


async def store(attribute: AttributeValue, value: ua.DataValue) -> None:
    """Store `value` as the attribute's value and notify its monitored items."""
    attribute.value = value
    if attribute.datachange_callbacks:
        await notify(attribute, value)


def _binary(item: ua.MonitoredItemNotification) -> bytes:
    if type(item) is _Notification:
        return item.binary
    return struct_to_binary(item)


def pop_datachanges(isub: InternalSubscription, result: ua.PublishResult) -> None:
    """InternalSubscription._pop_triggered_datachanges, the notification encoded once."""
    queued = isub._triggered_datachanges
    if queued:
        isub._triggered_datachanges = {}
        items = [item for sublist in queued.values() for item in sublist]
        parts = [_INT32.pack(len(items)), *map(_binary, items), _NO_DIAGNOSTICS]
        body = b"".join(parts)
        notification = ua.ExtensionObject(TypeId=_DATA_CHANGE_BINARY, Body=ua.ByteString(body))
        result.NotificationMessage.NotificationData.append(notification)


def install(iserver: InternalServer) -> None:
    """Make every client subscription of `iserver` send pre-encoded data changes."""
    if not FAST:
        return
    service = iserver.subscription_service
    create = service.create_subscription

    async def create_subscription(
        params: ua.CreateSubscriptionParameters,
        callback: Callable[..., Any],
        session_id: ua.NodeId,
        request_callback: Callable[..., Any] | None = None,
    ) -> ua.CreateSubscriptionResult:
        result = await create(params, callback, session_id, request_callback)
        isub = service.subscriptions.get(result.SubscriptionId)
        # Only a client's: a server-internal one hands its PublishResult to Python code.
        if isub is not None and isub.pub_request_callback is not None:
            isub._pop_triggered_datachanges = partial(pop_datachanges, isub)  # type: ignore[method-assign]
        return result

    service.create_subscription = create_subscription  # type: ignore[method-assign]
