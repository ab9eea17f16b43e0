"""The data-change fast path over the wire: clients get every change, exactly.

The gateway's own OPC UA server (the adapter's StackServer, None endpoint,
anonymous viewers), values stored as the publisher stores them
(`gateway.opcua.stack.store`), and two clients' subscriptions on the same
node (the DataValue's encoding is shared between them): each receives every
change with its value, status and both timestamps unchanged, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest_asyncio
from asyncua import Client, Node, ua

from gateway.opcua.guards import ServerLimits
from gateway.opcua.pki import Pki, TrustList
from gateway.opcua.stack import StackServer, ValueSlot, gate, store
from gateway.opcua.stack.monitored import Items
from gateway.opcua.users import Users

T0 = datetime(2026, 1, 1, tzinfo=UTC)
URI = "urn:test:fastpath"
NODE = ua.NodeId("x", 1, ua.NodeIdType.String)


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


class Served:
    """A serving StackServer with one Double variable, and that variable's Value."""

    def __init__(self, url: str, slot: ValueSlot) -> None:
        self.url = url
        self.slot = slot


@pytest_asyncio.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    pki = Pki(tmp_path / "pki")
    await asyncio.to_thread(pki.ensure, URI, "fastpath")  # RSA key generation
    server = StackServer(limits=ServerLimits())
    await server.init(
        name="fastpath",
        application_uri=URI,
        product_uri="urn:test",
        manufacturer="test",
        version="0",
        built=T0,
    )
    await server.secure(
        certificate=pki.certificate,
        private_key=pki.private_key,
        policies=[],
        allow_none=True,
        users=Users((), anonymous=True),
        trust=TrustList(pki),
    )
    factory = server.node_factory()
    objects = factory.node(ua.NodeId(ua.ObjectIds.ObjectsFolder))
    _, slot = factory.add_variable(
        objects,
        NODE,
        ua.DataValue(ua.Variant(0.0, ua.VariantType.Double)),
        ua.NodeId(ua.ObjectIds.Double),
    )
    async with server.serving("127.0.0.1", 0) as port:
        yield Served(f"opc.tcp://127.0.0.1:{port}", slot)


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


def _on_the_fast_path(slot: ValueSlot) -> bool:
    """Every monitored item of the node is the adapter's, with the callback `notify`
    short-cuts (monitored.notify's own test)."""
    callbacks = list(slot.datachange_callbacks.values())
    return bool(callbacks) and all(
        type(getattr(c, "__self__", None)) is Items
        and getattr(c, "__func__", None) is Items.datachange_callback
        for c in callbacks
    )


async def test_two_clients_get_every_change_exactly(served: Served) -> None:
    sent = _changes()
    received: list[Changes] = []
    async with (
        Client(served.url, timeout=5) as first,
        Client(served.url, timeout=5) as second,
    ):
        for client in (first, second):
            changes = Changes()
            subscription = await client.create_subscription(50, changes)
            await subscription.subscribe_data_change(client.get_node(NODE), queuesize=100)
            received.append(changes)
        for changes in received:
            await changes.until(1)  # the initial value
        assert gate.FAST
        assert len(served.slot.datachange_callbacks) == 2
        assert _on_the_fast_path(served.slot)
        for value in sent:
            await store(served.slot, value)
        for changes in received:
            await changes.until(1 + len(sent))
    expected = [_fields(value) for value in sent]
    for changes in received:
        assert _fields(changes.values[0])[:3] == (0.0, ua.VariantType.Double, 0)
        assert [_fields(value) for value in changes.values[1:]] == expected
