"""The bus never blocks the publisher; overflow is explicit and counted."""

from __future__ import annotations

import asyncio
import logging

import pytest

from gateway.bus import Bus, OverflowPolicy
from gateway.model import Status, TagValue


def _batch(n: int, size: int = 1) -> list[TagValue]:
    return [TagValue(f"d.t{i}", n, Status.GOOD, 0.0, 0.0) for i in range(size)]


async def test_every_subscriber_gets_every_batch_in_order() -> None:
    bus = Bus()
    first, second = bus.subscribe("a"), bus.subscribe("b")
    for n in range(3):
        bus.publish(_batch(n))
    assert [b[0].value for b in await first.get_many()] == [0, 1, 2]
    assert [b[0].value for b in await second.get_many()] == [0, 1, 2]


async def test_empty_batches_are_not_published() -> None:
    bus = Bus()
    sub = bus.subscribe("a")
    bus.publish([])
    assert len(sub) == 0
    assert bus.published_batches == 0


async def test_drop_oldest_keeps_newest_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    bus = Bus()
    sub = bus.subscribe("slow", maxsize=2, policy=OverflowPolicy.DROP_OLDEST)
    with caplog.at_level(logging.WARNING):
        for n in range(5):
            bus.publish(_batch(n, size=3))
    assert [b[0].value for b in sub.get_nowait()] == [3, 4]
    assert (sub.dropped_batches, sub.dropped_values) == (3, 9)
    assert "consumer slow is too slow" in caplog.text
    assert caplog.text.count("too slow") == 1  # rate-limited


async def test_drop_newest_keeps_queued() -> None:
    bus = Bus()
    sub = bus.subscribe("ordered", maxsize=2, policy=OverflowPolicy.DROP_NEWEST)
    for n in range(5):
        bus.publish(_batch(n))
    assert [b[0].value for b in sub.get_nowait()] == [0, 1]
    assert sub.dropped_batches == 3


async def test_a_slow_consumer_does_not_affect_a_fast_one() -> None:
    bus = Bus()
    slow = bus.subscribe("slow", maxsize=1)
    fast = bus.subscribe("fast", maxsize=100)
    for n in range(50):
        bus.publish(_batch(n))
    assert len(fast.get_nowait()) == 50
    assert slow.dropped_batches == 49


async def test_waiting_consumer_wakes_on_publish_and_stops_on_close() -> None:
    bus = Bus()
    sub = bus.subscribe("a")
    received: list[int] = []

    async def consume() -> None:
        async for batch in sub:
            received.append(int(batch[0].value or 0))

    async with asyncio.TaskGroup() as group:
        group.create_task(consume())
        await asyncio.sleep(0)  # let the consumer start waiting
        bus.publish(_batch(1))
        bus.publish(_batch(2))
        bus.close()
    assert received == [1, 2]
