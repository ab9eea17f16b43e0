"""The acquisition engine: one poller task per device, a tag index, writes.

`Acquisition` is a Part (gateway.lifecycle) that owns a TaskGroup with one
polling task per device, and every device's `Link` (connection); leaving it
cancels the pollers, then closes the links. Devices naming the same
`connection` (and reaching the same host:port), and RTU devices on one serial
port or one converter, share one link (lines.py). Device start
times are staggered across the shortest scan interval (at most
`FIRST_SCAN_SPREAD_MAX`) so a hundred devices do not all send their first
request at once.

Each link's transport comes from `transport` (by default the devices'
own: Modbus TCP, RTU on a serial port, RTU over TCP; the tests pass an
in-memory one) and every poller and link keeps time on
`clock` (the event loop's by default; the tests pass a fake one).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Self

from gateway.bus import Bus
from gateway.config import DeviceConfig, GatewayConfig
from gateway.errors import WriteRejected
from gateway.lifecycle import Part, task_group
from gateway.modbus.client import ModbusClient
from gateway.modbus.clock import LOOP_CLOCK, Clock
from gateway.modbus.health import DeviceHealth, RetryPolicy
from gateway.modbus.lines import LineFactory, group_links, line_transport
from gateway.modbus.link import Link
from gateway.modbus.poller import DevicePoller
from gateway.modbus.transport import ModbusTransport, TransportFactory
from gateway.model import Status, TagValue, Value
from gateway.tags import Tag, build_tags

__all__ = ["FIRST_SCAN_SPREAD_MAX", "Acquisition", "retry_policy", "tcp_transport"]

#: Seconds over which the devices' first requests are spread, at most. Spread over
#: a whole 1 s interval, the last of ten devices served its first Good value 0.9 s
#: after the first one, most of the 10k-tag start-up (docs/performance.md); a
#: quarter second still keeps a hundred first requests 2.5 ms apart. Later scans
#: are spread over each device's own interval by its phase, as before.
FIRST_SCAN_SPREAD_MAX = 0.25


def tcp_transport(device: DeviceConfig, connect_timeout: float) -> ModbusTransport:
    """Modbus TCP to the device's host and port."""
    return ModbusClient(device.host, device.port, connect_timeout=connect_timeout)


def retry_policy(device: DeviceConfig) -> RetryPolicy:
    """The device's reconnect and demotion settings."""
    return RetryPolicy(
        reconnect_min=device.reconnect_min,
        reconnect_max=device.reconnect_max,
        demote_after=device.demote_after,
        demote_for=device.demote_for,
    )


class Acquisition(Part):
    """Polls every configured device and publishes changed values on `bus`."""

    def __init__(
        self,
        config: GatewayConfig,
        bus: Bus,
        *,
        seed: int | None = None,
        transport: TransportFactory | None = None,
        clock: Clock = LOOP_CLOCK,
    ) -> None:
        self.bus = bus
        rng = random.Random(seed)
        self._tags: dict[str, Tag] = {}
        self._pollers: dict[str, DevicePoller] = {}
        addresses: dict[int, int] = {}  # shared while building only
        device_tags = [build_tags(device, addresses) for device in config.devices]
        del addresses
        # The runtime tags exist: links and pollers keep each device's settings only,
        # so the per-tag models can go once the caller lets go of them.
        devices = [device.without_tags() for device in config.devices]
        links = group_links(devices, _line_factory(transport, clock), clock)
        self._links = list({id(link): link for link in links.values()}.values())
        count = len(devices)
        # Spread first requests over the fastest scan interval of all devices, so a
        # slowly scanned device still reads within that interval of start-up, and
        # within FIRST_SCAN_SPREAD_MAX, so every device is served soon after start.
        spread = min(
            (
                min((tag.scan_interval for tag in tags), default=device.scan_interval)
                for device, tags in zip(devices, device_tags, strict=True)
            ),
            default=1.0,
        )
        spread = min(spread, FIRST_SCAN_SPREAD_MAX)
        for index, (device, tags) in enumerate(zip(devices, device_tags, strict=True)):
            self._tags.update((tag.key, tag) for tag in tags)
            self._pollers[device.name] = DevicePoller(
                device,
                tags,
                bus,
                link=links[device.name],
                policy=retry_policy(device),
                start_delay=spread * index / count,
                # …and later scans over each device's own intervals, so a hundred
                # devices scanned every second do not all poll in one 100 ms window.
                phase=index / count,
                rng=random.Random(rng.random()),
                clock=clock,
            )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Self]:
        """Poll every device until the block ends; then cancel the pollers, close the links."""
        try:
            async with task_group() as group:
                tasks = [
                    group.create_task(poller.run(), name=f"poll {name}")
                    for name, poller in self._pollers.items()
                ]
                try:
                    yield self
                finally:
                    for task in tasks:  # pollers never end on their own
                        task.cancel()
        finally:
            for link in self._links:  # pollers are done: nobody uses a link any more
                await link.close()

    @property
    def tags(self) -> dict[str, Tag]:
        """Every tag by key (`device.tag`)."""
        return self._tags

    def health(self, device: str) -> DeviceHealth:
        return self._pollers[device].health

    def link(self, device: str) -> Link:
        """The device's connection (the same object for devices sharing one)."""
        return self._pollers[device].link

    @property
    def healths(self) -> list[DeviceHealth]:
        return [poller.health for poller in self._pollers.values()]

    def snapshot(self) -> list[TagValue]:
        """Current value and status of every tag."""
        return [value for poller in self._pollers.values() for value in poller.snapshot()]

    def current(self, keys: Iterable[str]) -> list[TagValue]:
        """Current value and status of the given tags, in order; KeyError for an unknown key."""
        tags, pollers = self._tags, self._pollers
        return [pollers[tags[key].device].current(key) for key in keys]

    async def write(self, key: str, value: Value) -> None:
        """Write a tag by key; see DevicePoller.write for the errors."""
        tag = self._tags.get(key)
        if tag is None:
            raise WriteRejected(Status.BAD_NOT_WRITABLE, f"no tag {key!r}")
        await self._pollers[tag.device].write(tag, value)


def _line_factory(transport: TransportFactory | None, clock: Clock) -> LineFactory:
    """The devices' own transports, or `transport` (a test's) for the first device of a link."""
    if transport is None:
        return lambda devices, connect_timeout: line_transport(devices, connect_timeout, clock)
    return lambda devices, connect_timeout: transport(devices[0], connect_timeout)
