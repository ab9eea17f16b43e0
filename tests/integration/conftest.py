"""Fixtures shared by the integration tests: Modbus clients and waiting without sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from eventually import eventually as poll_eventually
from pkikit import use_root
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.framer import FramerType

#: Connect to a Modbus TCP slave: (port, host=..., timeout=...) → a connected client.
ClientFactory = Callable[..., Awaitable[AsyncModbusTcpClient]]
#: Poll a condition until it holds: (predicate, timeout=..., message=...) → None.
WaitUntil = Callable[..., Awaitable[None]]


@pytest.fixture(scope="session", autouse=True)
def _pki_root(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The kits' certificate folders go under this session's temporary folder (pkikit)."""
    use_root(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def modbus_client() -> AsyncIterator[ClientFactory]:
    """Connected pymodbus clients without retries or background reconnects, closed afterwards.

    Retries and reconnects are off so a test sees each failure exactly once.
    """
    clients: list[AsyncModbusTcpClient] = []

    async def connect(
        port: int, host: str = "127.0.0.1", timeout: float = 1.0, *, rtu: bool = False
    ) -> AsyncModbusTcpClient:
        """`rtu`: RTU frames over TCP (a serial converter in transparent mode)."""
        framer = FramerType.RTU if rtu else FramerType.SOCKET
        client = AsyncModbusTcpClient(
            host, port=port, framer=framer, timeout=timeout, retries=0, reconnect_delay=0
        )
        clients.append(client)
        assert await client.connect(), f"could not connect to {host}:{port}"
        return client

    yield connect
    for client in clients:
        client.close()


async def wait_until(
    predicate: Callable[[], Any],
    timeout: float = 5.0,
    message: str = "condition",
    interval: float = 0.01,
) -> None:
    """Poll `predicate` (sync or async) until truthy; fail the test after `timeout` s."""
    await poll_eventually(predicate, timeout=timeout, what=message, interval=interval)


@pytest.fixture
def eventually() -> WaitUntil:
    """`await eventually(lambda: ..., timeout=5)`: poll-until-with-timeout, no fixed sleeps."""
    return wait_until
