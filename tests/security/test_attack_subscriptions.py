"""Issue 14, findings 4 and 5: other sessions' subscriptions, and orphaned subscriptions.

Part of the attack suite (issue 14); run it with `pytest tests/security` or
`pytest -m security` (test_attack_sessions.py says more).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asyncua import Client, ua
from attackkit import Gateway, Identity
from healthkit import healthy
from uaclients import (
    CONNECT_TIMEOUT,
    PASSWORDS,
    DataChanges,
    bound_to,
    configure,
    legit_client,
    low_privilege_client,
    node,
    plain_client,
)
from uarequests import call, create_items, create_subscription

pytestmark = [pytest.mark.security, pytest.mark.asyncio(loop_scope="module")]

MEDDLER = "127.0.0.10"
TRANSFER = "127.0.0.11"
ORPHANS = "127.0.0.12"
#: Orphaned subscriptions the viewer tries to leave behind.
ORPHAN_LOOPS = 600


def _meddling(subscription_id: int, item: int) -> list[tuple[str, Any, type]]:
    """Every subscription and monitored-item service, aimed at someone else's subscription."""
    sid = subscription_id
    return [
        (
            "SetPublishingMode",
            ua.SetPublishingModeRequest(
                Parameters=ua.SetPublishingModeParameters(
                    PublishingEnabled=False, SubscriptionIds=[sid]
                )
            ),
            ua.SetPublishingModeResponse,
        ),
        (
            "ModifySubscription",
            ua.ModifySubscriptionRequest(
                Parameters=ua.ModifySubscriptionParameters(
                    SubscriptionId=sid,
                    RequestedPublishingInterval=60_000,
                    RequestedLifetimeCount=3,
                    RequestedMaxKeepAliveCount=1,
                    MaxNotificationsPerPublish=1,
                )
            ),
            ua.ModifySubscriptionResponse,
        ),
        (
            "SetMonitoringMode",
            ua.SetMonitoringModeRequest(
                Parameters=ua.SetMonitoringModeParameters(
                    SubscriptionId=sid,
                    MonitoringMode=ua.MonitoringMode.Disabled,
                    MonitoredItemIds=[item],
                )
            ),
            ua.SetMonitoringModeResponse,
        ),
        (
            "DeleteMonitoredItems",
            ua.DeleteMonitoredItemsRequest(
                Parameters=ua.DeleteMonitoredItemsParameters(
                    SubscriptionId=sid, MonitoredItemIds=[item]
                )
            ),
            ua.DeleteMonitoredItemsResponse,
        ),
        (
            "Republish",
            ua.RepublishRequest(
                Parameters=ua.RepublishParameters(SubscriptionId=sid, RetransmitSequenceNumber=1)
            ),
            ua.RepublishResponse,
        ),
        (
            "DeleteSubscriptions",
            ua.DeleteSubscriptionsRequest(
                Parameters=ua.DeleteSubscriptionsParameters(SubscriptionIds=[sid])
            ),
            ua.DeleteSubscriptionsResponse,
        ),
    ]


async def test_other_sessions_subscriptions_are_out_of_reach(
    gateway: Gateway, identity: Identity
) -> None:
    """Finding 4: a viewer (anonymous in the demo) aims every subscription service at
    the operator's subscription, by its real id.

    SetPublishingMode(False), ModifySubscription, CreateMonitoredItems,
    SetMonitoringMode(Disabled), DeleteMonitoredItems, Republish and
    DeleteSubscriptions. Required: each gets Bad_SubscriptionIdInvalid (as the
    service result or the result for that id), and the operator's
    subscription, the same id, still delivers a new data change afterwards.
    """
    changes = DataChanges()
    async with (
        healthy(gateway, identity),
        legit_client(gateway, identity) as operator,
        low_privilege_client(gateway, identity, source=MEDDLER) as meddler,
    ):
        subscription = await operator.create_subscription(100, changes)
        item = await subscription.subscribe_data_change(operator.get_node(node("plc.wave")))
        assert await changes.fresh(), "the operator's subscription delivers nothing"
        sid = subscription.subscription_id
        problems = []
        created = await create_items(meddler, sid, 1)
        if ua.StatusCodes.BadSubscriptionIdInvalid not in created.codes():
            problems.append(
                f"CreateMonitoredItems: {[ua.StatusCode(c).name for c in created.codes()]}"
            )
        for service, request, response_type in _meddling(sid, item):
            outcome = await call(meddler, request, response_type)
            if ua.StatusCodes.BadSubscriptionIdInvalid not in outcome.codes():
                problems.append(f"{service}: {[ua.StatusCode(c).name for c in outcome.codes()]}")
        if not await changes.fresh():
            problems.append("the operator's subscription delivered nothing within 5 s")
        if subscription.subscription_id != sid:
            problems.append("the operator's subscription stopped and had to be re-created")
        assert not problems, "\n".join(problems)


async def test_subscriptions_transfer_only_to_the_same_identity(
    gateway: Gateway, identity: Identity
) -> None:
    """Finding 4: TransferSubscriptions of the operator's subscription.

    Required: to a viewer's session (anonymous in the demo) the result for
    that subscription is Bad_UserAccessDenied; to another session of the same
    operator identity it is Good.
    """
    async with (
        healthy(gateway, identity),
        legit_client(gateway, identity) as owner,
        legit_client(gateway, identity) as colleague,
        low_privilege_client(gateway, identity, source=TRANSFER) as thief,
    ):
        subscription = await owner.create_subscription(100, DataChanges())
        await subscription.subscribe_data_change(owner.get_node(node("plc.wave")))
        parameters = ua.TransferSubscriptionsParameters(
            SubscriptionIds=[subscription.subscription_id], SendInitialValues=False
        )
        request = ua.TransferSubscriptionsRequest(Parameters=parameters)
        stolen = await call(thief, request, ua.TransferSubscriptionsResponse)
        names = [ua.StatusCode(code).name for code in stolen.codes()]
        assert ua.StatusCodes.BadUserAccessDenied in stolen.codes(), f"to the viewer: {names}"
        handed = await call(colleague, request, ua.TransferSubscriptionsResponse)
        names = [ua.StatusCode(code).name for code in handed.codes()]
        assert handed.codes() == [ua.StatusCodes.Good] * 2, f"to the same operator: {names}"


async def _viewer_channel(gateway: Gateway, identity: Identity) -> Client:
    """A secure channel of the viewer's application, without a session yet."""
    client = plain_client(gateway, 10)
    bound_to(client, ORPHANS)
    await configure(client, gateway, identity, "viewer")
    async with asyncio.timeout(CONNECT_TIMEOUT):
        await client.connect_socket()
        await client.send_hello()
        await client.open_secure_channel()
    return client


async def _orphan_one(client: Client) -> float | None:
    """CreateSession, ActivateSession, CreateSubscription(0 ms), CloseSession(keep them).

    The revised publishing interval, or None once the gateway refused a step.
    """
    try:
        await client.create_session()
        await client.activate_session(username="viewer", password=PASSWORDS["viewer"])
    except (ua.UaError, TimeoutError, ConnectionError):
        return None
    subscription = await create_subscription(client, 0)
    if not subscription.status.is_good():
        return None
    close = ua.CloseSessionRequest(DeleteSubscriptions=False)
    await call(client, close, ua.CloseSessionResponse)
    return float(subscription.response.Parameters.RevisedPublishingInterval)


async def test_orphaned_subscriptions_lock_nobody_out(
    fresh_gateway: Gateway, identity: Identity
) -> None:
    """Finding 5: the viewer loops CreateSession, ActivateSession, CreateSubscription
    (RequestedPublishingInterval 0) and CloseSession(DeleteSubscriptions=false),
    600 times or until refused, on one channel from 127.0.0.12.

    Required: the revised publishing interval of every one of them is above
    0 (clamped to a minimum); afterwards the operator can still create a
    session and a subscription that delivers, and so can a second viewer
    session; and the healthy client and PLC checks hold throughout.
    """
    gateway = fresh_gateway
    async with healthy(gateway, identity):
        client = await _viewer_channel(gateway, identity)
        intervals: list[float] = []
        try:
            for _ in range(ORPHAN_LOOPS):
                interval = await _orphan_one(client)
                if interval is None:
                    break
                intervals.append(interval)
        finally:
            client.disconnect_socket()
        problems = []
        if not intervals:
            problems.append("the viewer's first subscription was refused")
        elif min(intervals) <= 0:
            problems.append(f"a publishing interval of {min(intervals)} ms was accepted")
        for user in ("operator", "viewer"):
            try:
                async with legit_client(gateway, identity, user) as legit:
                    changes = DataChanges()
                    subscription = await legit.create_subscription(100, changes)
                    await subscription.subscribe_data_change(legit.get_node(node("plc.wave")))
                    if not await changes.fresh():
                        problems.append(f"the {user}'s new subscription delivered nothing")
            except (ua.UaError, TimeoutError, ConnectionError) as error:
                problems.append(
                    f"after {len(intervals)} orphans, the {user} was refused: {error!r}"
                )
        assert not problems, "\n".join(problems)
