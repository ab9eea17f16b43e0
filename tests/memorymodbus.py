"""An in-memory Modbus transport: devices answered from register images, no sockets.

The idea of httpx's MockTransport, for the pollers and links:

    network = MemoryNetwork(clock)
    plc = network.device("10.0.0.5", 502)
    plc.put(0, 21.5, DataType.FLOAT32)
    Acquisition(config, bus, transport=network.transport, clock=clock)

A `MemoryDevice` answers each request PDU of a unit from that unit's
`RegisterImage`, by the simulators' own rules (ModbusSlave.respond), after
`delay` seconds of the clock. It can be told to refuse connections, go
offline (refuse, and drop the connections it has), hang (every unit or
one), close the connection at the next request, or answer anything else
(`script`: garbage, exceptions, silence). Every request is recorded with
the clock time it arrived.

`MemoryTransport` is a real `PduRequests`: the gateway's own checks judge
each answer, a malformed one drops the connection, and timeouts and delays
run on the clock (a FakeClock in the tests), with the TCP client's words.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.codec import Encoding, encode
from gateway.config import DeviceConfig
from gateway.errors import DeviceError, DeviceUnreachable
from gateway.modbus.clock import Clock, Timer
from gateway.modbus.transport import ModbusTransport, PduRequests, no_response
from gateway.model import DataType, Table
from simulators.image import RegisterImage
from simulators.server import ModbusSlave

__all__ = ["MemoryDevice", "MemoryNetwork", "MemoryTransport", "Seen"]

#: (unit id, request PDU) → the response PDU, or None for no answer at all.
Script = Callable[[int, bytes], bytes | None]


@dataclass(frozen=True, slots=True)
class Seen:
    """A request as the device received it."""

    at: float  # clock time
    unit: int
    pdu: bytes
    connection: int  # 0 for the device's first connection, 1 for the next…

    @property
    def function(self) -> int:
        return self.pdu[0]

    @property
    def address(self) -> int:
        return int.from_bytes(self.pdu[1:3], "big")


class MemoryDevice:
    """A Modbus device (or a Modbus TCP gateway with several units) at one address."""

    def __init__(self, where: str, units: dict[int, RegisterImage]) -> None:
        self.where = where
        self.units = units
        self._slave = ModbusSlave(units)  # never started: its answers, not its sockets
        self.script: Script = self.serve
        self.delay = 0.0
        self.refusing = False
        self.hung: set[int] | None = set()  # None: every unit
        self.close_next = False
        self.requests: list[Seen] = []
        self.connections = 0
        self._open: set[MemoryTransport] = set()

    @property
    def open_connections(self) -> int:
        return len(self._open)

    def unit(self, unit: int = 1) -> RegisterImage:
        return self.units[unit]

    def put(
        self,
        address: int,
        value: Any,
        data_type: DataType = DataType.UINT16,
        *,
        table: Table = Table.HOLDING_REGISTER,
        unit: int = 1,
        **encoding: Any,
    ) -> None:
        """Store `value` as the gateway would read it (bits: a bool per address)."""
        image = self.units[unit]
        if table.is_bit:
            image.set_bits(table, address, [bool(value)])
        else:
            image.set_registers(table, address, encode(value, Encoding(data_type, **encoding)))

    def serve(self, unit: int, pdu: bytes) -> bytes:
        """The simulators' answer from the unit's image (0B for a unit that is not here)."""
        return self._slave.respond(unit, pdu)

    def hang(self, unit: int | None = None) -> None:
        """Accept requests and never answer (one unit, or every unit)."""
        if unit is None:
            self.hung = None
        elif self.hung is not None:
            self.hung.add(unit)

    def go_offline(self) -> None:
        """Refuse connections and drop the open ones (the PLC left the network)."""
        self.refusing = True
        for transport in list(self._open):
            transport.lost()

    def clear_faults(self) -> None:
        self.script = self.serve
        self.delay = 0.0
        self.refusing = False
        self.hung = set()
        self.close_next = False

    def _answers(self, unit: int) -> bool:
        return self.hung is not None and unit not in self.hung


class MemoryNetwork:
    """The devices by address, and the transports an Acquisition reaches them with."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.devices: dict[str, MemoryDevice] = {}

    def device(
        self, host: str, port: int = 502, *, units: int = 1, size: int = 200
    ) -> MemoryDevice:
        """A device at host:port with units 1..`units`, each `size` addresses per table."""
        where = f"{host}:{port}"
        device = MemoryDevice(where, {unit: RegisterImage(size) for unit in range(1, units + 1)})
        self.devices[where] = device
        return device

    def transport(self, device: DeviceConfig, connect_timeout: float) -> ModbusTransport:
        """A `TransportFactory`: a transport to the device's host:port (nobody there: refused)."""
        where = f"{device.host}:{device.port}"
        return MemoryTransport(self.devices.get(where), where, self.clock)


class MemoryTransport(PduRequests):
    """One connection to a MemoryDevice (a `ModbusTransport`)."""

    def __init__(self, device: MemoryDevice | None, where: str, clock: Clock) -> None:
        self.device = device
        self.where = where
        self.lock = asyncio.Lock()
        self._clock = clock
        self._open = False
        self._connection = -1
        self._waiter: asyncio.Future[bytes] | None = None

    @property
    def connected(self) -> bool:
        return self._open

    async def connect(self) -> None:
        if self._open:
            return
        device = self.device
        if device is None or device.refusing:
            raise DeviceUnreachable(f"connect to {self.where} failed: connection refused")
        self._connection = device.connections
        device.connections += 1
        device._open.add(self)
        self._open = True

    async def close(self) -> None:
        self._reset(DeviceUnreachable(f"connection to {self.where} closed by the gateway"))

    def lost(self) -> None:
        """The device dropped the connection."""
        self._reset(DeviceUnreachable(f"connection to {self.where} lost"))

    def _drop(self) -> None:
        self._reset(DeviceUnreachable("connection reset"))

    def _reset(self, error: DeviceError) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        self._open = False
        if self.device is not None:
            self.device._open.discard(self)

    async def _exchange(self, unit: int, pdu: bytes, seconds: float) -> bytes:
        device = self.device
        if not self._open or device is None:
            raise DeviceUnreachable(f"not connected to {self.where}")
        if self._waiter is not None:
            raise RuntimeError("a request is already in flight on this connection")
        clock = self._clock
        device.requests.append(Seen(clock.now(), unit, pdu, self._connection))
        waiter: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        timers: list[Timer] = [clock.call_later(seconds, self._time_out, waiter, seconds, pdu[0])]
        if device.close_next:
            device.close_next = False
            timers.append(clock.call_later(0, self._closed_by_peer, waiter))
        elif device._answers(unit):
            answer = device.script(unit, pdu)
            if answer is not None:
                timers.append(clock.call_later(device.delay, _resolve, waiter, answer))
        try:
            return await waiter
        except asyncio.CancelledError:  # the request stays in flight: drop the connection
            self._reset(DeviceUnreachable(f"request to {self.where} cancelled"))
            raise
        finally:
            for timer in timers:
                timer.cancel()
            if self._waiter is waiter:
                self._waiter = None

    def _time_out(self, waiter: asyncio.Future[bytes], seconds: float, function: int) -> None:
        if waiter is self._waiter:
            self._reset(no_response(self.where, seconds, function))

    def _closed_by_peer(self, waiter: asyncio.Future[bytes]) -> None:
        if waiter is self._waiter:
            self._reset(DeviceUnreachable(f"{self.where} closed the connection"))


def _resolve(waiter: asyncio.Future[bytes], answer: bytes) -> None:
    if not waiter.done():
        waiter.set_result(answer)
