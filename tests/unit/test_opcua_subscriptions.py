"""Subscription parameters revised within the server's bounds (Subscriptions.revise).

Issue 14, finding 5: a publishing interval of 0 never expired, and orphaned
subscriptions held the server-wide cap for minutes. Every revised
subscription runs a publishing cycle of at least the minimum interval, and
expires after at most `max_subscription_lifetime_ms` without a Publish
request; its keep-alive comes at least every `max_keepalive_ms`; and its
lifetime is at least three keep-alives (OPC 10000-4 §5.13.2).
"""

from __future__ import annotations

import math

import pytest
from asyncua import Server

from gateway.opcua.guards import ServerLimits
from gateway.opcua.stack.subscriptions import Subscriptions

LIMITS = ServerLimits()


@pytest.fixture(scope="module")
def subscriptions() -> Subscriptions:
    """`revise` needs only the limits; asyncua's internal server need not be started."""
    iserver = Server().iserver
    return Subscriptions(iserver.subscription_service, iserver.aspace, LIMITS)


@pytest.mark.parametrize("interval", [0.0, -1.0, -1e300, math.nan, 1.0, 49.999])
def test_a_zero_nan_negative_or_tiny_interval_becomes_the_minimum(
    subscriptions: Subscriptions, interval: float
) -> None:
    revised = subscriptions.revise(interval, 100, 10)
    assert revised.RevisedPublishingInterval == LIMITS.min_publishing_interval_ms


@pytest.mark.parametrize("interval", [1e12, 1e300, math.inf])
def test_a_huge_interval_becomes_the_maximum(subscriptions: Subscriptions, interval: float) -> None:
    revised = subscriptions.revise(interval, 100, 10)
    assert revised.RevisedPublishingInterval == LIMITS.max_publishing_interval_ms


def test_an_interval_within_the_range_is_kept(subscriptions: Subscriptions) -> None:
    revised = subscriptions.revise(500.0, 300, 10)
    assert revised.RevisedPublishingInterval == 500.0
    assert revised.RevisedMaxKeepAliveCount == 10
    assert revised.RevisedLifetimeCount == 300


def test_no_keepalive_asked_gets_a_default_and_the_lifetime_follows(
    subscriptions: Subscriptions,
) -> None:
    revised = subscriptions.revise(1_000.0, 0, 0)
    assert revised.RevisedMaxKeepAliveCount >= 1
    assert revised.RevisedLifetimeCount >= 3 * revised.RevisedMaxKeepAliveCount


INTERVALS = [
    0.0,
    math.nan,
    -5.0,
    50.0,
    100.0,
    1_000.0,
    20_000.0,
    60_000.0,
    100_000.0,
    1_000_000.0,
    1e12,
]
COUNTS = [(0, 0), (3, 1), (10, 100), (2**32 - 1, 2**32 - 1)]


@pytest.mark.parametrize("interval", INTERVALS)
@pytest.mark.parametrize(("lifetime", "keepalive"), COUNTS)
def test_revised_counts_respect_the_lifetime_and_keepalive_bounds(
    subscriptions: Subscriptions, interval: float, lifetime: int, keepalive: int
) -> None:
    revised = subscriptions.revise(interval, lifetime, keepalive)
    period = revised.RevisedPublishingInterval
    life = revised.RevisedLifetimeCount
    keep = revised.RevisedMaxKeepAliveCount
    assert LIMITS.min_publishing_interval_ms <= period <= LIMITS.max_publishing_interval_ms
    assert keep >= 1
    assert life >= 3 * keep, f"lifetime {life} < 3 × keep-alive {keep} at {period} ms"
    assert life * period <= LIMITS.max_subscription_lifetime_ms, (
        f"lives {life} × {period} ms without a Publish request, "
        f"over {LIMITS.max_subscription_lifetime_ms} ms"
    )
    assert keep * period <= LIMITS.max_keepalive_ms, (
        f"keep-alive {keep} × {period} ms, over {LIMITS.max_keepalive_ms} ms"
    )
