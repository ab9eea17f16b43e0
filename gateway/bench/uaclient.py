"""OPC UA client helpers for the benchmarks: waiting for Good values, raw subscriptions.

asyncua's client turns every notification into an event object and, in
callback mode, a task per handler call; at 10k notifications/s per client
that costs the (shared, 2-core) machine more than the gateway under test. The
benchmark subscription therefore takes the decoded PublishResult as is and
hands it to a plain function with the time it arrived: nothing is queued, so
nothing can be dropped on the client side without the benchmark counting it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.subscription import Subscription

from gateway.bench.gatewayproc import NAMESPACE
from gateway.ua.wire import AttributeIds, node_id

__all__ = [
    "PublishHandler",
    "RawSubscription",
    "posix",
    "subscribe",
    "tag_nodes",
    "wait_good",
]

#: Called with each PublishResult and the wall time (time.time()) it was handed over.
PublishHandler = Callable[[ua.PublishResult, float], None]

#: Monitored items created per CreateMonitoredItems request.
_CHUNK = 2000


def posix(stamp: datetime | None) -> float:
    """An OPC UA timestamp (naive means UTC) as POSIX seconds; NaN when absent."""
    if stamp is None:
        return float("nan")
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


async def tag_nodes(client: Client, keys: Sequence[str]) -> list[ua.NodeId]:
    """NodeIds of tags `device.tag` in the benchmark gateway's namespace."""
    ns = await client.get_namespace_index(NAMESPACE)
    return [node_id(key, ns) for key in keys]


async def wait_good(
    client: Client, nodes: Sequence[ua.NodeId], *, since: float, timeout: float
) -> tuple[float, float]:
    """Read until every node is Good; (first Good, all Good) in seconds after `since`."""
    first = 0.0
    async with asyncio.timeout(timeout):
        while True:
            values = await client.uaclient.read_attributes(list(nodes), AttributeIds.Value)
            good = [v.StatusCode is not None and v.StatusCode.is_good() for v in values]
            now = time.time() - since
            if any(good) and not first:
                first = now
            if all(good):
                return first, now
            await asyncio.sleep(0.02)


class RawSubscription(Subscription):
    """A subscription that passes each PublishResult straight to `handler`."""

    def __init__(
        self, client: Client, params: ua.CreateSubscriptionParameters, handler: PublishHandler
    ) -> None:
        super().__init__(client.uaclient.session, params, handler=_NoEvents())
        self._on_publish = handler
        #: Client handle of the first monitored item; the n-th node subscribed has first + n.
        self.first_handle = 0

    async def publish_callback(self, publish_result: ua.PublishResult) -> None:
        self._on_publish(publish_result, time.time())


class _NoEvents:
    """asyncua wants a handler object in callback mode; RawSubscription never calls it."""

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        raise AssertionError("RawSubscription passes PublishResults, never events")


async def subscribe(
    client: Client,
    nodes: Sequence[ua.NodeId],
    *,
    publishing_ms: float,
    handler: PublishHandler,
    queue_size: int = 1,
) -> RawSubscription:
    """A subscription at `publishing_ms` with one Value monitored item per node.

    `publishing_ms` 0 is a probe: the server grants its shortest interval
    (`opcua.limits.min_publishing_interval`, 1 ms in the latency bench), so the
    PublishTime is within that of the time the value reached the address space.

    Sampling interval 0: the gateway reports every change it stores (it calls
    the monitored items itself), none is sampled away.
    """
    params = ua.CreateSubscriptionParameters()
    params.RequestedPublishingInterval = publishing_ms
    params.RequestedLifetimeCount = 10_000
    # A keep-alive about every 10 s (the probe's 0 ms is granted as 1 ms in the bench).
    params.RequestedMaxKeepAliveCount = max(1, round(10_000 / (publishing_ms or 1.0)))
    params.MaxNotificationsPerPublish = 0  # no limit
    params.PublishingEnabled = True
    params.Priority = 0
    subscription = RawSubscription(client, params, handler)
    await subscription.init()
    # asyncua numbers client handles consecutively from this counter, one per item.
    subscription.first_handle = subscription._client_handle + 1
    for begin in range(0, len(nodes), _CHUNK):
        chunk = [client.get_node(node) for node in nodes[begin : begin + _CHUNK]]
        results = await subscription.subscribe_data_change(
            chunk, queuesize=queue_size, sampling_interval=ua.Double(0.0)
        )
        failed = [r for r in results if isinstance(r, ua.StatusCode)]
        if failed:
            raise RuntimeError(f"{len(failed)} monitored items refused, first: {failed[0]}")
    return subscription
