"""The transport of an RTU link: a serial port or a TCP connection to a converter.

Apart from gateway/modbus/lines.py so that a gateway of Modbus TCP devices
only never imports the RTU framing, the serial port adapter and crcmod:
lines.py imports this module the first time a link is RTU.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from gateway.config import DeviceConfig, Transport
from gateway.modbus.client import open_tcp
from gateway.modbus.clock import Clock
from gateway.modbus.rtuline import Opener, RtuLine
from gateway.rtuframe import LineTiming
from gateway.serialio import PortSettings, open_serial

__all__ = ["rtu_transport"]


def rtu_transport(devices: Sequence[DeviceConfig], connect_timeout: float, clock: Clock) -> RtuLine:
    """The line for RTU or RTU-over-TCP devices (the first device's settings: the config
    checks make every device on a line agree)."""
    head = devices[0]
    turnarounds = {d.unit_id: d.turnaround for d in devices if d.turnaround is not None}
    serial = head.serial
    if head.transport is Transport.RTU:
        assert serial is not None  # the config's rule
        assert serial.port is not None
        settings = PortSettings(
            serial.port, serial.baudrate, serial.parity.value, serial.stop_bits, serial.data_bits
        )
        timing = LineTiming.of(
            serial.baudrate, serial.data_bits, serial.parity.value != "none", serial.stop_bits
        )

        return RtuLine(
            serial.port,
            _serial_opener(settings),
            connect_timeout=connect_timeout,
            timing=timing,
            turnarounds=turnarounds,
            echo=serial.echo,
            clock=clock,
        )
    return RtuLine(
        head.where,
        _tcp_opener(head.host, head.port, head.where),
        connect_timeout=connect_timeout,
        turnarounds=turnarounds,
        clock=clock,
    )


def _serial_opener(settings: PortSettings) -> Opener:
    async def open_port(factory: Callable[[], asyncio.Protocol]) -> asyncio.BaseTransport:
        return await open_serial(settings, factory)

    return open_port


def _tcp_opener(host: str, port: int, where: str) -> Opener:
    async def connect(factory: Callable[[], asyncio.Protocol]) -> asyncio.BaseTransport:
        return await open_tcp(host, port, where, factory)

    return connect
