"""Bounded fan-out of value batches from the pollers to every consumer.

Polling never waits for a consumer: `publish` is synchronous and O(consumers).
Each subscription has its own bounded queue and an explicit overflow policy;
every dropped batch and value is counted and logged (rate-limited), never
silent. A batch is one scan's changed values of one device.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from enum import StrEnum

from gateway.model import TagValue

__all__ = ["Batch", "Bus", "OverflowPolicy", "Subscription"]

log = logging.getLogger(__name__)

Batch = Sequence[TagValue]

#: Seconds between two log lines about drops on one subscription.
_DROP_LOG_INTERVAL = 10.0


class OverflowPolicy(StrEnum):
    """What a full subscription queue does with a new batch."""

    DROP_OLDEST = "drop_oldest"  # keep the newest data (live views, OPC UA)
    DROP_NEWEST = "drop_newest"  # keep what is queued (ordered consumers)


class Subscription:
    """One consumer's bounded queue of batches."""

    def __init__(self, name: str, maxsize: int, policy: OverflowPolicy) -> None:
        if maxsize < 1:
            raise ValueError("a subscription queue holds at least one batch")
        self.name = name
        self.maxsize = maxsize
        self.policy = policy
        self.dropped_batches = 0
        self.dropped_values = 0
        self.delivered_batches = 0
        self._queue: deque[Batch] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._last_drop_log = float("-inf")

    def __len__(self) -> int:
        return len(self._queue)

    def _offer(self, batch: Batch) -> None:
        if self._closed:
            return
        if len(self._queue) >= self.maxsize:
            if self.policy is OverflowPolicy.DROP_OLDEST:
                self._count_drop(self._queue.popleft())
            else:
                self._count_drop(batch)
                return
        self._queue.append(batch)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _count_drop(self, batch: Batch) -> None:
        self.dropped_batches += 1
        self.dropped_values += len(batch)
        now = time.monotonic()
        if now - self._last_drop_log >= _DROP_LOG_INTERVAL:
            self._last_drop_log = now
            log.warning(
                "consumer %s is too slow: queue of %d batches full (%s); "
                "%d batches / %d values dropped so far",
                self.name,
                self.maxsize,
                self.policy,
                self.dropped_batches,
                self.dropped_values,
            )

    def get_nowait(self) -> list[Batch]:
        """Every queued batch, oldest first (empty list when none)."""
        batches = list(self._queue)
        self._queue.clear()
        self.delivered_batches += len(batches)
        return batches

    async def get_many(self) -> list[Batch]:
        """Wait until at least one batch is queued, then return all of them.

        Returns an empty list once the subscription is closed and drained.
        """
        while not self._queue:
            if self._closed:
                return []
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self.get_nowait()

    async def __aiter__(self) -> AsyncIterator[Batch]:
        while batches := await self.get_many():
            for batch in batches:
                yield batch

    @property
    def closed(self) -> bool:
        """Whether `close` was called (what is queued may still be drained)."""
        return self._closed

    def close(self) -> None:
        """No more batches will come; waiting consumers drain and stop."""
        self._closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class Bus:
    """Fan-out of batches to subscriptions; publishing never blocks."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self.published_batches = 0
        self.published_values = 0

    def subscribe(
        self,
        name: str,
        *,
        maxsize: int = 1024,
        policy: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
    ) -> Subscription:
        """A new consumer queue; it sees batches published from now on."""
        subscription = Subscription(name, maxsize, policy)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscription.close()
        self._subscriptions.remove(subscription)

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(self._subscriptions)

    def publish(self, batch: Batch) -> None:
        """Hand one batch to every consumer; empty batches are not published."""
        if not batch:
            return
        self.published_batches += 1
        self.published_values += len(batch)
        for subscription in self._subscriptions:
            subscription._offer(batch)

    def close(self) -> None:
        """End every subscription (shutdown: consumers drain what is queued)."""
        for subscription in self._subscriptions:
            subscription.close()
