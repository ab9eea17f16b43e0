"""Events into subscriptions: alarm events to every subscription, ConditionRefresh to one.

The gateway describes an event as its fields (path → Variant); asyncua's
`Event` and the subscriptions' event items stay here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

from asyncua import ua
from asyncua.common.events import Event

from gateway.opcua.stack.monitored import Items
from gateway.opcua.stack.subscriptions import Subscriptions
from gateway.ua.wire import StatusCodes

__all__ = ["EventSink", "EventTarget", "Fields"]

#: An event's fields: BrowsePath ("EventId", "ActiveState/Id") → Variant.
Fields = Mapping[str, ua.Variant]


def _event(fields: Fields, notifier: ua.NodeId) -> Event:
    event = Event(notifier)
    for path, variant in fields.items():
        event.add_property(path, variant.Value, variant.VariantType)
    return event


@dataclass(frozen=True, slots=True)
class EventTarget:
    """The event items of one subscription (or one of its items), for ConditionRefresh."""

    items: Items
    item: int | None
    notifiers: tuple[ua.NodeId, ...]

    async def send(self, fields: Fields, notifier: ua.NodeId) -> None:
        await self.items.trigger_event(_event(fields, notifier), self.item)


class EventSink:
    """Sends events to the subscriptions of one server."""

    def __init__(self, subscriptions: Subscriptions) -> None:
        self._subscriptions = subscriptions

    async def broadcast(self, fields: Fields, notifiers: tuple[ua.NodeId, ...]) -> None:
        """One event (one EventId) reported through each notifier, to every subscription."""
        event = _event(fields, notifiers[0])
        for notifier in notifiers:
            reported = copy.copy(event)
            reported.emitting_node = notifier
            await self._subscriptions.trigger_event(reported)

    def target(
        self, session_id: ua.NodeId, subscription_id: int, item: int | None
    ) -> EventTarget | int:
        """The caller's subscription's event items, or the status code refusing the call."""
        subscription = self._subscriptions.owned_by_session_id(session_id, subscription_id)
        if subscription is None:
            return StatusCodes.BadSubscriptionIdInvalid
        notifiers = subscription.items.event_notifiers(item)
        if notifiers is None:
            return StatusCodes.BadMonitoredItemIdInvalid
        return EventTarget(subscription.items, item, tuple(notifiers))
