"""Issue 14, finding 3: a viewer (or anonymous) client freezing `gateway run` with one request.

Part of the attack suite (issue 14); run it with `pytest tests/security` or
`pytest -m security` (test_attack_sessions.py says more). The attacker is the
cheapest session there is: anonymous on a None channel in the demo
configuration, the viewer over SignAndEncrypt in the secure one.
"""

from __future__ import annotations

import pytest
from asyncua import ua
from attackkit import Gateway, Identity, rss_peak
from healthkit import healthy
from uaclients import low_privilege_client
from uarequests import (
    Outcome,
    call,
    create_items,
    create_subscription,
    delete_subscriptions,
    monitoring,
)

pytestmark = [pytest.mark.security, pytest.mark.asyncio(loop_scope="module")]

QUEUE = "127.0.0.8"
FLOOD = "127.0.0.9"
ITEMS = 10_000
HUGE_QUEUE = 1_000_000_000
#: Required: revised queue sizes at most this.
QUEUE_LIMIT = 1000
#: The flood: this many monitored items in batches, and the RSS growth allowed for it.
FLOOD_ITEMS = 300_000
RSS_GROWTH_LIMIT_MB = 300.0
LIMIT_CODES = (ua.StatusCodes.BadTooManyMonitoredItems, ua.StatusCodes.BadTooManyOperations)


def _check(service: str, outcome: Outcome) -> list[str]:
    """What is wrong with the answer to 10,000 items asking for a queue of 1e9."""
    if not outcome.status.is_good():
        return [f"{service}: {outcome.status.name}"]
    problems = []
    bad = {r.StatusCode.name for r in outcome.results if not r.StatusCode.is_good()}
    if bad or len(outcome.results) != ITEMS:
        problems.append(f"{service}: {len(outcome.results)} results, not Good: {bad}")
    largest = max((r.RevisedQueueSize for r in outcome.results), default=0)
    if largest > QUEUE_LIMIT:
        problems.append(f"{service}: queue size revised to {largest}, not at most {QUEUE_LIMIT}")
    return problems


async def test_ten_thousand_items_with_a_huge_queue_are_clamped(
    gateway: Gateway, identity: Identity
) -> None:
    """Finding 3 (a): CreateMonitoredItems, then ModifyMonitoredItems, of 10,000 items.

    Both ask for a queue size of 1e9. Required: both complete with every item
    Good (10,000 items are within the limits), RevisedQueueSize is at most
    1000 for every item on create and on modify, and the healthy client and
    PLC checks hold during both (ModifyMonitoredItems took 11.4 s: quadratic).
    """
    async with (
        healthy(gateway, identity),
        low_privilege_client(gateway, identity, source=QUEUE) as attacker,
    ):
        subscription = await create_subscription(attacker, 1000)
        assert subscription.status.is_good(), subscription.status
        subscription_id = subscription.response.Parameters.SubscriptionId
        problems: list[str] = []
        try:
            created = await create_items(attacker, subscription_id, ITEMS, queue_size=HUGE_QUEUE)
            problems += _check("CreateMonitoredItems", created)
            items = [
                ua.MonitoredItemModifyRequest(
                    MonitoredItemId=result.MonitoredItemId,
                    RequestedParameters=monitoring(index + 1, HUGE_QUEUE),
                )
                for index, result in enumerate(created.results)
            ]
            parameters = ua.ModifyMonitoredItemsParameters(
                SubscriptionId=subscription_id,
                TimestampsToReturn=ua.TimestampsToReturn.Both,
                ItemsToModify=items,
            )
            request = ua.ModifyMonitoredItemsRequest(Parameters=parameters)
            modified = await call(attacker, request, ua.ModifyMonitoredItemsResponse, timeout=30)
            problems += _check("ModifyMonitoredItems", modified)
        finally:
            await delete_subscriptions(attacker, [subscription_id])
        assert not problems, "\n".join(problems)


async def test_monitored_items_are_limited_per_session(
    fresh_gateway: Gateway, identity: Identity
) -> None:
    """Finding 3 (b): 300,000 monitored items on one session, in batches of 10,000.

    Required: after a bound, the gateway refuses more, with
    Bad_TooManyMonitoredItems per item (or Bad_TooManyOperations as the
    service result of a call too large); every item before the bound is
    Good; the gateway's RSS (sampled) grows by less than 300 MB; and the
    healthy client and PLC checks hold. (Today all 300,000 were accepted,
    costing +390 MB that was never returned.)
    """
    gateway = fresh_gateway
    before = gateway.rss_mb()
    async with (
        healthy(gateway, identity),
        low_privilege_client(gateway, identity, source=FLOOD) as attacker,
    ):
        subscription = await create_subscription(attacker, 1000)
        assert subscription.status.is_good(), subscription.status
        subscription_id = subscription.response.Parameters.SubscriptionId
        accepted, refusal = 0, None
        problems: list[str] = []
        async with rss_peak(gateway) as peak:
            while accepted < FLOOD_ITEMS and refusal is None and not problems:
                if peak.mb - before >= RSS_GROWTH_LIMIT_MB:
                    break  # failed already: no need to go on to 300,000
                batch = await create_items(
                    attacker, subscription_id, ITEMS, first_handle=accepted + 1
                )
                codes = [r.StatusCode for r in batch.results]
                limited = [c for c in [batch.status, *codes] if c.value in LIMIT_CODES]
                refusal = limited[0] if limited else None
                good = sum(1 for code in codes if code.is_good())
                if refusal is None and (not batch.status.is_good() or good != ITEMS):
                    names = {c.name for c in codes if not c.is_good()}
                    problems.append(f"after {accepted} items: {batch.status.name}, {names}")
                accepted += good
        if refusal is None and not problems:
            problems.append(f"{accepted} monitored items accepted, none refused")
        growth = peak.mb - before
        if growth >= RSS_GROWTH_LIMIT_MB:
            problems.append(f"RSS grew by {growth:.0f} MB for {accepted} items")
        assert not problems, "\n".join(problems)
