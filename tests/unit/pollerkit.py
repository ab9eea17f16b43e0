"""Kit for deterministic poller tests: an Acquisition on in-memory devices and a fake clock.

Everything runs inside `FakeClock.run`: time moves only when every task
waits, so a test asserts exact times (a request at 1000.3 s, not "about
300 ms later") and passes the same way on an idle or a saturated machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from fakeclock import FakeClock
from memorymodbus import MemoryNetwork

from gateway.bus import Bus, Subscription
from gateway.config import GatewayConfig
from gateway.modbus.acquisition import Acquisition
from gateway.model import TagValue

__all__ = ["Polled", "config", "polled", "until"]


def config(devices: list[dict[str, Any]]) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {"gateway": {"name": "test"}, "opcua": {"anonymous": True}, "devices": devices}
    )


@dataclass
class Polled:
    """A running Acquisition on `network`, and what it published."""

    clock: FakeClock
    network: MemoryNetwork
    acquisition: Acquisition
    subscription: Subscription
    batches: list[list[TagValue]] = field(default_factory=list)
    values: dict[str, TagValue] = field(default_factory=dict)

    def pump(self) -> None:
        for batch in self.subscription.get_nowait():
            self.batches.append(list(batch))
            self.values.update((value.tag, value) for value in batch)

    async def until_values(
        self, predicate: Callable[[dict[str, TagValue]], bool], *, within: float, message: str
    ) -> dict[str, TagValue]:
        """The latest value per tag, once `predicate` holds for them."""

        def holds() -> bool:
            self.pump()
            return predicate(self.values)

        await until(holds, within=within, message=message)
        return self.values


@asynccontextmanager
async def polled(
    clock: FakeClock, network: MemoryNetwork, devices: list[dict[str, Any]], *, seed: int = 1
) -> AsyncIterator[Polled]:
    """An Acquisition of `devices` on `network`'s devices, on `clock`."""
    bus = Bus()
    subscription = bus.subscribe("test", maxsize=1_000_000)
    acquisition = Acquisition(
        config(devices), bus, seed=seed, transport=network.transport, clock=clock
    )
    async with acquisition:
        yield Polled(clock, network, acquisition, subscription)


async def until(predicate: Callable[[], bool], *, within: float, message: str) -> None:
    """Wait until `predicate` holds, checking every millisecond of the (fake) clock;
    fail the test after `within` seconds of it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() >= deadline:
            pytest.fail(f"not within {within:g} s: {message}")
        await asyncio.sleep(0.001)
