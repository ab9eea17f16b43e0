"""The acquisition engine: one poller task per device, a tag index, writes.

`Acquisition` is an async context manager that owns a TaskGroup with one
polling task per device; leaving it cancels the pollers and closes their
connections. Device start times are staggered across the shortest scan
interval so a hundred devices do not all send their first request at once.
"""

from __future__ import annotations

import asyncio
import random
from types import TracebackType
from typing import Self

from gateway.bus import Bus
from gateway.config import DeviceConfig, GatewayConfig
from gateway.errors import WriteRejected
from gateway.modbus.health import DeviceHealth, RetryPolicy
from gateway.modbus.poller import DevicePoller
from gateway.model import Status, TagValue, Value
from gateway.tags import Tag, build_tags

__all__ = ["Acquisition", "retry_policy"]


def retry_policy(device: DeviceConfig) -> RetryPolicy:
    """The device's reconnect and demotion settings."""
    return RetryPolicy(
        reconnect_min=device.reconnect_min,
        reconnect_max=device.reconnect_max,
        demote_after=device.demote_after,
        demote_for=device.demote_for,
    )


class Acquisition:
    """Polls every configured device and publishes changed values on `bus`."""

    def __init__(self, config: GatewayConfig, bus: Bus, *, seed: int | None = None) -> None:
        self.bus = bus
        rng = random.Random(seed)
        self._tags: dict[str, Tag] = {}
        self._pollers: dict[str, DevicePoller] = {}
        count = len(config.devices)
        for index, device in enumerate(config.devices):
            tags = build_tags(device)
            self._tags.update((tag.key, tag) for tag in tags)
            fastest = min((tag.scan_interval for tag in tags), default=device.scan_interval)
            self._pollers[device.name] = DevicePoller(
                device,
                tags,
                bus,
                policy=retry_policy(device),
                start_delay=fastest * index / count,
                rng=random.Random(rng.random()),
            )
        self._group: asyncio.TaskGroup | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Self:
        if self._group is not None:
            raise RuntimeError("Acquisition is already running")
        group = asyncio.TaskGroup()
        await group.__aenter__()
        self._group = group
        self._tasks = [
            group.create_task(poller.run(), name=f"poll {name}")
            for name, poller in self._pollers.items()
        ]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        group, self._group = self._group, None
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        if group is not None:
            await group.__aexit__(exc_type, exc, traceback)

    @property
    def tags(self) -> dict[str, Tag]:
        """Every tag by key (`device.tag`)."""
        return self._tags

    def health(self, device: str) -> DeviceHealth:
        return self._pollers[device].health

    @property
    def healths(self) -> list[DeviceHealth]:
        return [poller.health for poller in self._pollers.values()]

    def snapshot(self) -> list[TagValue]:
        """Current value and status of every tag."""
        return [value for poller in self._pollers.values() for value in poller.snapshot()]

    async def write(self, key: str, value: Value) -> None:
        """Write a tag by key; see DevicePoller.write for the errors."""
        tag = self._tags.get(key)
        if tag is None:
            raise WriteRejected(Status.BAD_NOT_WRITABLE, f"no tag {key!r}")
        await self._pollers[tag.device].write(tag, value)
