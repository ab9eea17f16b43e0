"""Subscription, monitored-item and publish services of an activated session.

Every call names subscriptions by id; `Subscriptions` answers only for the
calling session's own (Bad_SubscriptionIdInvalid otherwise). Calls with more
monitored items than `max_monitored_items_per_call` are refused whole
(Bad_TooManyOperations), empty ones with Bad_NothingToDo.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from asyncua import ua
from asyncua.common.utils import ServiceError

from gateway.opcua.stack.publishing import PendingPublish
from gateway.opcua.stack.sessions import Session
from gateway.opcua.stack.subscriptions import answer_timed_out
from gateway.ua.wire import StatusCodes

if TYPE_CHECKING:
    from gateway.opcua.stack.connection import Connection
    from gateway.opcua.stack.context import StackContext

__all__ = [
    "create_monitored_items",
    "create_subscription",
    "delete_monitored_items",
    "delete_subscriptions",
    "modify_monitored_items",
    "modify_subscription",
    "publish",
    "republish",
    "set_monitoring_mode",
    "set_publishing_mode",
    "transfer_subscriptions",
]


def _check_count(context: StackContext, count: int) -> None:
    if count == 0:
        raise ServiceError(StatusCodes.BadNothingToDo)
    if count > context.limits.max_monitored_items_per_call:
        raise ServiceError(StatusCodes.BadTooManyOperations)


async def create_subscription(
    context: StackContext, session: Session, params: ua.CreateSubscriptionParameters
) -> ua.CreateSubscriptionResponse:
    response = ua.CreateSubscriptionResponse()
    response.Parameters = await context.subscriptions.create(session, params)
    return response


async def modify_subscription(
    context: StackContext, session: Session, params: ua.ModifySubscriptionParameters
) -> ua.ModifySubscriptionResponse:
    response = ua.ModifySubscriptionResponse()
    response.Parameters = context.subscriptions.modify(session, params)
    return response


async def set_publishing_mode(
    context: StackContext, session: Session, params: ua.SetPublishingModeParameters
) -> ua.SetPublishingModeResponse:
    response = ua.SetPublishingModeResponse()
    response.Parameters.Results = await context.subscriptions.set_publishing_mode(session, params)
    return response


async def delete_subscriptions(
    context: StackContext, session: Session, params: ua.DeleteSubscriptionsParameters
) -> ua.DeleteSubscriptionsResponse:
    response = ua.DeleteSubscriptionsResponse()
    response.Results = await context.subscriptions.delete(session, list(params.SubscriptionIds))
    return response


async def transfer_subscriptions(
    context: StackContext, session: Session, params: ua.TransferSubscriptionsParameters
) -> ua.TransferSubscriptionsResponse:
    response = ua.TransferSubscriptionsResponse()
    response.Parameters.Results = await context.subscriptions.transfer(session, params)
    return response


async def create_monitored_items(
    context: StackContext, session: Session, params: ua.CreateMonitoredItemsParameters
) -> ua.CreateMonitoredItemsResponse:
    _check_count(context, len(params.ItemsToCreate))
    items = context.subscriptions.items_of(session, params.SubscriptionId)
    response = ua.CreateMonitoredItemsResponse()
    response.Results = await items.create_monitored_items(params)
    return response


async def modify_monitored_items(
    context: StackContext, session: Session, params: ua.ModifyMonitoredItemsParameters
) -> ua.ModifyMonitoredItemsResponse:
    _check_count(context, len(params.ItemsToModify))
    items = context.subscriptions.items_of(session, params.SubscriptionId)
    response = ua.ModifyMonitoredItemsResponse()
    response.Results = await items.modify(params)
    return response


async def set_monitoring_mode(
    context: StackContext, session: Session, params: ua.SetMonitoringModeParameters
) -> ua.SetMonitoringModeResponse:
    _check_count(context, len(params.MonitoredItemIds))
    items = context.subscriptions.items_of(session, params.SubscriptionId)
    response = ua.SetMonitoringModeResponse()
    response.Parameters.Results = await items.set_monitoring_mode(
        params.MonitoringMode, list(params.MonitoredItemIds)
    )
    return response


async def delete_monitored_items(
    context: StackContext, session: Session, params: ua.DeleteMonitoredItemsParameters
) -> ua.DeleteMonitoredItemsResponse:
    _check_count(context, len(params.MonitoredItemIds))
    items = context.subscriptions.items_of(session, params.SubscriptionId)
    response = ua.DeleteMonitoredItemsResponse()
    response.Results = items.delete_monitored_items(list(params.MonitoredItemIds))
    return response


async def republish(
    context: StackContext, session: Session, params: ua.RepublishParameters
) -> ua.RepublishResponse:
    response = ua.RepublishResponse()
    response.NotificationMessage = context.subscriptions.republish(session, params)
    return response


async def publish(
    context: StackContext,
    connection: Connection,
    session: Session,
    params: ua.PublishParameters,
    *,
    header: Any,
    request_id: int,
) -> None:
    """Queue a Publish request, or answer it at once from a subscription that waits for one.

    The answer is sent by the subscription (Owner.forward), later or now; a request
    beyond the session's bound pushes out the oldest (Bad_TooManyPublishRequests).
    """
    subscriptions = context.subscriptions
    results = subscriptions.acknowledge(session, list(params.SubscriptionAcknowledgements or []))
    mine = subscriptions.of_session(session)
    if not mine:
        raise ServiceError(StatusCodes.BadNoSubscription)
    now = time.monotonic()
    request = PendingPublish(
        request_handle=header.RequestHandle,
        request_id=request_id,
        timeout_hint_ms=int(header.TimeoutHint or 0),
        received=now,
        results=results,
        connection=connection,
    )
    queue = session.publish
    while (waiting := queue.next_waiting()) is not None:
        subscription = subscriptions.owned(session, waiting)
        if subscription is not None and await subscription.publish_results(request):  # type: ignore[arg-type]
            return
    bound = min(len(mine) + 10, context.limits.max_publish_requests)
    if len(queue.requests) >= bound:
        oldest = queue.evict(now, answer_timed_out)
        if oldest is not None:
            oldest.connection.send_fault(
                oldest.request_handle, oldest.request_id, StatusCodes.BadTooManyPublishRequests
            )
    queue.requests.append(request)
