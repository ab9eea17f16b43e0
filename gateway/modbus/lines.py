"""Which devices share a link, and the transport each link gets.

A device has a link of its own unless it shares one:

- Modbus TCP devices naming the same `connection` (at one host:port) share a
  TCP connection (e.g. behind a Modbus TCP-to-serial gateway);
- RTU devices on one serial port share the port: it can be opened only once,
  and its line carries one request at a time;
- RTU-over-TCP devices at one converter's host:port share its TCP connection
  and the serial line behind it.

The transport of a link follows its devices' `transport`: `ModbusClient` for
Modbus TCP, `RtuLine` on a serial port (through gateway/serialio.py) or on a
TCP connection to a converter (gateway/modbus/rtulinks.py, imported only when a
link is RTU). Requests on a shared link are serialized by its
transport's lock, which asyncio hands out first come, first served: devices
polling one line take turns request by request.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

from gateway.config import DeviceConfig, Transport
from gateway.modbus.client import ModbusClient
from gateway.modbus.clock import LOOP_CLOCK, Clock
from gateway.modbus.link import Link
from gateway.modbus.transport import ModbusTransport

__all__ = ["LineFactory", "group_links", "line_transport", "link_key"]

#: The transport of one link: (its devices, the link's connect timeout) → transport.
LineFactory = Callable[[Sequence[DeviceConfig], float], ModbusTransport]


def link_key(device: DeviceConfig) -> Hashable | None:
    """What devices sharing a link have in common; None for a link of its own."""
    if device.transport is Transport.RTU and device.serial is not None:
        return (Transport.RTU, device.serial.port)
    if device.transport is Transport.RTU_OVER_TCP:
        return (Transport.RTU_OVER_TCP, device.host, device.port)
    if device.connection is not None:
        # Keyed by host and port too: a config built without the checks still never
        # sends a unit's requests to another host.
        return (Transport.TCP, device.connection, device.host, device.port)
    return None


def group_links(
    devices: Sequence[DeviceConfig], transport: LineFactory, clock: Clock = LOOP_CLOCK
) -> dict[str, Link]:
    """Each device's link, by device name (one object for devices sharing it)."""
    groups: dict[Hashable, list[DeviceConfig]] = {}
    for device in devices:
        key = link_key(device)
        groups.setdefault(key if key is not None else ("own", device.name), []).append(device)
    links: dict[str, Link] = {}
    for members in groups.values():
        # One connect timeout for the link: the most patient device's.
        connect_timeout = max(d.timeout for d in members)
        shared = Link(transport(members, connect_timeout), clock=clock)
        links.update((device.name, shared) for device in members)
    return links


def line_transport(
    devices: Sequence[DeviceConfig], connect_timeout: float, clock: Clock = LOOP_CLOCK
) -> ModbusTransport:
    """The transport for a link's devices, by their `transport` (the first device's settings:
    the config checks make every device on a line agree)."""
    head = devices[0]
    if head.transport is Transport.TCP:
        return ModbusClient(head.host, head.port, connect_timeout=connect_timeout, clock=clock)
    # RTU framing, the serial port and crcmod only for a plant that has an RTU line.
    from gateway.modbus.rtulinks import rtu_transport  # noqa: PLC0415

    return rtu_transport(devices, connect_timeout, clock)
