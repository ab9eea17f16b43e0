"""The data-change fast path over the wire: clients get every change, exactly.

A plain asyncua server with the gateway's fast path installed (as
OpcUaServer does), values stored as the publisher stores them, and two
clients' subscriptions on the same node (the DataValue's encoding is shared
between them): each receives every change with its value, status and both
timestamps unchanged, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest_asyncio
from asyncua import Client, Node, Server, ua

from gateway.opcua.datachange import install, store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Changes:
    """Every DataValue a subscription delivers, in order; `until(n)` waits for n of them."""

    def __init__(self) -> None:
        self.values: list[ua.DataValue] = []
        self._more = asyncio.Event()

    def datachange_notification(self, node: Node, value: Any, data: Any) -> None:
        self.values.append(data.monitored_item.Value)
        self._more.set()

    async def until(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.values) < count:
                self._more.clear()
                await self._more.wait()


@pytest_asyncio.fixture
async def server() -> AsyncIterator[Server]:
    server = Server()
    await server.init()
    server.set_endpoint("opc.tcp://127.0.0.1:0")
    install(server.iserver)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def _changes() -> list[ua.DataValue]:
    values: list[ua.DataValue] = []
    for n in range(40):
        stamp = T0 + timedelta(seconds=n)
        if n % 10 == 7:
            variant = ua.Variant(None, ua.VariantType.Null)
            code = ua.StatusCode(ua.StatusCodes.BadNoCommunication)
        else:
            variant = ua.Variant(
                1.0 + n * 0.5, ua.VariantType.Double
            )  # never 0.0, the initial value
            code = ua.StatusCode(
                ua.StatusCodes.UncertainNoCommunicationLastUsableValue if n % 10 == 3 else 0
            )
        server_stamp = stamp + timedelta(microseconds=250)
        values.append(
            ua.DataValue(
                variant, StatusCode=code, SourceTimestamp=stamp, ServerTimestamp=server_stamp
            )
        )
    return values


def _fields(value: ua.DataValue) -> tuple[Any, ...]:
    def naive(stamp: datetime | None) -> datetime | None:
        return stamp.replace(tzinfo=None) if stamp is not None else None

    assert value.Value is not None
    assert value.StatusCode is not None
    return (
        value.Value.Value,
        value.Value.VariantType,
        value.StatusCode.value,
        naive(value.SourceTimestamp),
        naive(value.ServerTimestamp),
    )


async def test_two_clients_get_every_change_exactly(server: Server) -> None:
    objects = server.nodes.objects
    variable = await objects.add_variable(ua.NodeId("x", 1), "x", ua.Variant(0.0))
    attribute = server.iserver.aspace[variable.nodeid].attributes[ua.AttributeIds.Value]
    url = f"opc.tcp://127.0.0.1:{server.bserver.port}"
    sent = _changes()
    received: list[Changes] = []
    async with Client(url, timeout=5) as first, Client(url, timeout=5) as second:
        for client in (first, second):
            changes = Changes()
            subscription = await client.create_subscription(50, changes)
            await subscription.subscribe_data_change(
                client.get_node(variable.nodeid), queuesize=100
            )
            received.append(changes)
        for changes in received:
            await changes.until(1)  # the initial value
        subscriptions = server.iserver.subscription_service.subscriptions.values()
        assert all(isinstance(s._pop_triggered_datachanges, partial) for s in subscriptions)
        for value in sent:
            await store(attribute, value)
        for changes in received:
            await changes.until(1 + len(sent))
    expected = [_fields(value) for value in sent]
    for changes in received:
        assert [_fields(value) for value in changes.values[1:]] == expected
