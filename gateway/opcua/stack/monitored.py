"""Monitored items of one subscription: bounded, linear, and fed by the data-change fast path.

asyncua's MonitoredItemService looked an item up by scanning every item
(ModifyMonitoredItems over 10,000 items took 11.4 s; deleting them all on
session close was quadratic too), accepted any queue size (1e9 on modify),
any number of items (300,000: +390 MB never returned) and any filter (see
filters.py), and made one never-freed logger per subscription id. `Items`
keeps an index from item to data-change handle, takes every new item from
a quota (per subscription, session, identity and server) and gives it back
on delete, clamps queue sizes on create and on modify, and checks filters.

The fast path (`notify`): asyncua's `datachange_callback` keeps a *deep copy*
of every DataValue in each item; measured under `gateway bench fanout`
(4 clients × 10k items, 10% changing every 100 ms) that copy alone took
about half of the event loop. The publisher never mutates a DataValue it
stored (publisher.data_value builds a new one per value), so `notify` shares
it between the node and every item, decides as asyncua does (a Disabled
item is skipped; the filter's trigger, then its deadband), queues the
notification with its binary form (the DataValue encoded once per value for
every subscription), and `Subscription._pop_triggered_datachanges` sends the
queued notifications as one pre-encoded DataChangeNotification, byte for
byte what asyncua would send. GATEWAY_OPCUA_FASTPATH=0 turns it off.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Sequence
from typing import Any, Protocol

from asyncua import ua
from asyncua.server.address_space import AddressSpace, AttributeValue
from asyncua.server.monitored_item_service import (
    MonitoredItemData,
    MonitoredItemService,
    MonitoredItemValues,
    WhereClauseEvaluator,
)
from asyncua.ua.ua_binary import struct_to_binary

from gateway.opcua.guards.limits import ServerLimits
from gateway.opcua.stack import gate
from gateway.opcua.stack.attributes import ValueAttribute
from gateway.opcua.stack.filters import check_data_filter, check_event_filter
from gateway.ua.wire import AttributeIds, StatusCodes, status_code

__all__ = ["ItemQuota", "Items", "encode_datachanges", "notify", "store"]

log = logging.getLogger(__name__)
#: One logger for every subscription's items (asyncua made one per subscription id).
_ITEMS_LOG = logging.getLogger("gateway.opcua.items")

#: Items handled between two yields to the event loop in a big call (about 10 ms of work).
_YIELD_EVERY = 256
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


class ItemQuota(Protocol):
    """Monitored items a subscription may still create (subscriptions.py keeps the counts)."""

    def take(self, wanted: int) -> int:
        """How many of `wanted` new items are granted (and counted)."""
        ...

    def give_back(self, count: int) -> None: ...


class _SafeWhereClause(WhereClauseEvaluator):
    """asyncua's evaluator on a checked filter (filters.py); a field an event lacks
    makes the filter select nothing for that event, without a log line per event."""

    def eval(self, event: Any) -> bool:
        if not self.elements:
            return True
        try:
            return bool(self._eval_el(0, event))
        except Exception:
            return False


def _result(code: int) -> ua.MonitoredItemCreateResult:
    result = ua.MonitoredItemCreateResult()
    result.StatusCode = status_code(code)
    return result


class Items(MonitoredItemService):
    """The monitored items of one subscription (see the module docstring)."""

    def __init__(
        self, isub: Any, aspace: AddressSpace, limits: ServerLimits, quota: ItemQuota
    ) -> None:
        # MonitoredItemService.__init__ without its logger per subscription id (never freed).
        self.logger = _ITEMS_LOG
        self.isub = isub
        self.aspace = aspace
        self._monitored_items: dict[int, MonitoredItemData] = {}
        self._monitored_events: dict[ua.NodeId, list[int]] = {}
        self._monitored_datachange: dict[int, int] = {}
        self._monitored_item_counter = 111
        self._handles: dict[int, int] = {}  # item id → data-change handle
        self._limits = limits
        self._quota = quota
        self._event_items = 0

    def __len__(self) -> int:
        return len(self._monitored_items)

    # -- create ---------------------------------------------------------------------------

    async def create_monitored_items(
        self, params: ua.CreateMonitoredItemsParameters
    ) -> list[ua.MonitoredItemCreateResult]:
        requests = params.ItemsToCreate
        granted = self._quota.take(len(requests))
        results: list[ua.MonitoredItemCreateResult] = []
        for index, request in enumerate(requests):
            if index >= granted:
                results.append(_result(StatusCodes.BadTooManyMonitoredItems))
                continue
            result = await self._create(request)
            if not result.StatusCode.is_good():
                self._quota.give_back(1)
            results.append(result)
            if index % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)  # pollers and other clients go on during a big call
        return results

    async def _create(self, request: ua.MonitoredItemCreateRequest) -> ua.MonitoredItemCreateResult:
        target = request.ItemToMonitor
        if target is None or target.NodeId is None:
            return _result(StatusCodes.BadNodeIdInvalid)
        if request.MonitoringMode not in ua.MonitoringMode:
            return _result(StatusCodes.BadMonitoringModeInvalid)
        flt = request.RequestedParameters.Filter
        if target.AttributeId == AttributeIds.EventNotifier:
            if self._event_items >= self._limits.max_event_items_per_subscription:
                return _result(StatusCodes.BadTooManyMonitoredItems)
            code = check_event_filter(flt, self._limits)
            if code:
                return _result(code)
            result = self._create_events_monitored_item(request)
            if result.StatusCode.is_good():
                self._event_items += 1
                mdata = self._monitored_items[result.MonitoredItemId]
                mdata.where_clause_evaluator = _SafeWhereClause(
                    _ITEMS_LOG, self.aspace, flt.WhereClause
                )
                requested = request.RequestedParameters.QueueSize
                self._clamp_queue(mdata, result, events=True, requested=requested)
            return result
        code = check_data_filter(flt, self._data_type(target.NodeId))
        if code:
            return _result(code)
        result = await self._create_data_change_monitored_item(request)
        if result.StatusCode.is_good():
            mdata = self._monitored_items[result.MonitoredItemId]
            assert mdata.callback_handle is not None
            self._handles[result.MonitoredItemId] = mdata.callback_handle
        return result

    def _revise_queue_size(self, requested: int) -> int:
        """Data-change items: 0 and 1 mean 1 (OPC 10000-4 §7.21), at most the bound."""
        return max(1, min(int(requested), self._limits.max_data_queue_size))

    def _clamp_queue(
        self, mdata: MonitoredItemData, result: Any, *, events: bool, requested: int | None = None
    ) -> None:
        bound = self._limits.max_event_queue_size if events else self._limits.max_data_queue_size
        asked = requested if requested is not None else mdata.queue_size
        size = bound if events and asked == 0 else max(1, min(int(asked), bound))
        mdata.queue_size = size
        result.RevisedQueueSize = size

    def _is_deadband_exceeded(self, values: MonitoredItemValues, flt: ua.DataChangeFilter) -> bool:
        """asyncua's check, except that a change to or from a null value (a Bad status)
        always passes: the deadband applies to value changes (OPC 10000-4 §7.22.2), and
        asyncua's subtraction of a null value raised and lost the notification."""
        current, old = values.current_dvalue, values.old_dvalue
        if any(v is None or v.Value is None or v.Value.Value is None for v in (current, old)):
            return True
        try:
            return bool(super()._is_deadband_exceeded(values, flt))
        except TypeError:
            return True

    def _data_type(self, nodeid: ua.NodeId) -> Any:
        variant = self.aspace.read_attribute_value(nodeid, AttributeIds.DataType).Value
        return None if variant is None else variant.Value

    # -- modify ---------------------------------------------------------------------------

    def modify_monitored_items(
        self, params: ua.ModifyMonitoredItemsParameters
    ) -> list[ua.MonitoredItemModifyResult]:
        return [self._modify(request) for request in params.ItemsToModify]

    async def modify(
        self, params: ua.ModifyMonitoredItemsParameters
    ) -> list[ua.MonitoredItemModifyResult]:
        """ModifyMonitoredItems, yielding to the loop every few hundred items."""
        results: list[ua.MonitoredItemModifyResult] = []
        for index, request in enumerate(params.ItemsToModify):
            results.append(self._modify(request))
            if index % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)
        return results

    def _modify(self, request: ua.MonitoredItemModifyRequest) -> ua.MonitoredItemModifyResult:
        result = ua.MonitoredItemModifyResult()
        mdata = self._monitored_items.get(request.MonitoredItemId)
        if mdata is None or mdata.read_value_id is None:
            result.StatusCode = status_code(StatusCodes.BadMonitoredItemIdInvalid)
            return result
        wanted = request.RequestedParameters
        events = mdata.read_value_id.AttributeId == AttributeIds.EventNotifier
        if events:
            code = check_event_filter(wanted.Filter, self._limits)
        else:
            code = check_data_filter(wanted.Filter, self._data_type(mdata.read_value_id.NodeId))
        if code:
            result.StatusCode = status_code(code)
            return result
        if events:
            mdata.filter = wanted.Filter
            mdata.where_clause_evaluator = _SafeWhereClause(
                _ITEMS_LOG, self.aspace, wanted.Filter.WhereClause
            )
        elif wanted.Filter is not None:
            mdata.filter = wanted.Filter
        mdata.client_handle = wanted.ClientHandle
        self._clamp_queue(mdata, result, events=events, requested=wanted.QueueSize)
        result.RevisedSamplingInterval = self.isub.data.RevisedPublishingInterval
        return result

    # -- delete ---------------------------------------------------------------------------

    def delete_monitored_items(self, ids: Sequence[int]) -> list[ua.StatusCode]:
        return [self._delete(mid) for mid in ids]

    def delete_all_monitored_items(self) -> None:
        self.delete_monitored_items(list(self._monitored_items))

    def _delete(self, mid: int) -> ua.StatusCode:
        mdata = self._monitored_items.pop(mid, None)
        if mdata is None:
            return status_code(StatusCodes.BadMonitoredItemIdInvalid)
        handle = self._handles.pop(mid, None)
        if handle is not None:
            self._monitored_datachange.pop(handle, None)
            self.aspace.delete_datachange_callback(handle)
        elif mdata.read_value_id is not None:
            self._event_items -= 1
            node = mdata.read_value_id.NodeId
            mids = self._monitored_events.get(node)
            if mids is not None and mid in mids:
                mids.remove(mid)  # at most max_event_items_per_subscription long
                if not mids:
                    del self._monitored_events[node]
        self._quota.give_back(1)
        return status_code(StatusCodes.Good)

    # -- events ---------------------------------------------------------------------------

    def event_notifiers(self, item: int | None) -> list[ua.NodeId] | None:
        """Nodes whose events the subscription (or its item `item`) receives; None: no such item."""
        if item is None:
            return list(self._monitored_events)
        found = [node for node, mids in self._monitored_events.items() if item in mids]
        return found or None


# -- the data-change fast path -----------------------------------------------------------


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


def _passes(service: Items, handle: int, value: ua.DataValue) -> MonitoredItemData | None:
    """asyncua's datachange_callback up to the queue, without the deep copy."""
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


def _enqueue(service: Items, mdata: MonitoredItemData, event: _Notification) -> bool:
    """InternalSubscription._enqueue_event; True: await the subscription's publish now."""
    isub = service.isub
    mid = mdata.monitored_item_id
    assert mid is not None  # set when the item was created
    queue = isub._triggered_datachanges
    items = queue.get(mid)
    if items is None:
        queue[mid] = [event]
        return bool(isub._task is None and isub.data.RevisedPublishingInterval <= 0.0)
    size = mdata.queue_size
    if size != 0 and len(items) >= size:
        items.pop(0)
    items.append(event)
    return False


_CALLBACK = Items.datachange_callback


async def notify(attribute: AttributeValue, value: ua.DataValue) -> None:
    """Call the attribute's datachange callbacks with `value` (already stored)."""
    encoded = b""  # the DataValue's binary form, made for the first notification
    for handle, callback in list(attribute.datachange_callbacks.items()):
        try:
            service = getattr(callback, "__self__", None)
            if not (
                gate.FAST
                and type(service) is Items
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
    if type(attribute) is ValueAttribute:  # its callbacks' dict is made only when needed
        if attribute.callbacks:
            await notify(attribute, value)
    elif attribute.datachange_callbacks:
        await notify(attribute, value)


def _binary(item: ua.MonitoredItemNotification) -> bytes:
    if type(item) is _Notification:
        return item.binary
    return struct_to_binary(item)


def encode_datachanges(
    queued: dict[int, list[ua.MonitoredItemNotification]], result: ua.PublishResult
) -> None:
    """Append the queued data changes to `result` as one pre-encoded DataChangeNotification."""
    items = [item for sublist in queued.values() for item in sublist]
    parts = [_INT32.pack(len(items)), *map(_binary, items), _NO_DIAGNOSTICS]
    notification = ua.ExtensionObject(
        TypeId=_DATA_CHANGE_BINARY, Body=ua.ByteString(b"".join(parts))
    )
    result.NotificationMessage.NotificationData.append(notification)
