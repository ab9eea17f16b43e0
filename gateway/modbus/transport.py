"""What carries Modbus requests: the interface pollers, links and the writer see.

`ModbusTransport` is all they know of a connection: connect, close, one
request at a time under its `lock`, reads and writes by table, unit id and
address. Modbus TCP (`client.ModbusClient`) implements it, RTU and RTU over
TCP (`rtuline.RtuLine`, a line shared by unit ids) the same, and so does the
tests' in-memory transport (the idea of httpx's MockTransport).

`PduRequests` is the Modbus application layer every framing shares: it
builds each request PDU, checks the answer strictly against it (`pdu.py`)
and drops the connection after a malformed one, since the stream may be out
of sync. A framing adds `_exchange` (one request PDU to a unit, its response
PDU back, framing and ids checked, within the timeout) and `_drop`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Protocol

from gateway.config import DeviceConfig
from gateway.errors import DeviceTimeout, MalformedResponse
from gateway.modbus.pdu import (
    check_read_response,
    check_write_response,
    read_request,
    write_coil_request,
    write_coils_request,
    write_register_request,
    write_registers_request,
)
from gateway.model import Table

__all__ = ["ModbusTransport", "PduRequests", "TransportFactory", "no_response"]

#: Function codes above this one write: their outcome is unknown after a timeout.
_LAST_READ_FUNCTION = 4


class ModbusTransport(Protocol):
    """One connection to one or more Modbus units.

    Failures are DeviceErrors: DeviceTimeout, DeviceUnreachable (the request
    never got an answer; the connection is gone), MalformedResponse (the
    answer did not fit; the connection is dropped), ModbusException (the unit
    answered with an exception; the connection stays). Writes are never
    retried: a timed-out write's outcome is unknown.
    """

    @property
    def where(self) -> str:
        """Where the units are, for messages: `10.0.0.5:502`, `/dev/ttyUSB0`."""
        ...

    @property
    def connected(self) -> bool:
        """True while the connection is open and usable."""
        ...

    @property
    def lock(self) -> asyncio.Lock:
        """Held for each request, and across a read-modify-write."""
        ...

    async def connect(self) -> None:
        """Open the connection unless it is open."""
        ...

    async def close(self) -> None:
        """Close the connection (idempotent); an outstanding request fails."""
        ...

    async def read(
        self, table: Table, unit: int, address: int, count: int, *, timeout: float
    ) -> bytes:
        """`count` registers (raw wire bytes) or bits (packed bytes) of `table`."""
        ...

    async def write_coil(self, unit: int, address: int, value: bool, *, timeout: float) -> None:
        """FC05."""
        ...

    async def write_register(self, unit: int, address: int, value: int, *, timeout: float) -> None:
        """FC06."""
        ...

    async def write_coils(
        self, unit: int, address: int, values: Sequence[bool], *, timeout: float
    ) -> None:
        """FC15."""
        ...

    async def write_registers(
        self, unit: int, address: int, values: Sequence[int], *, timeout: float
    ) -> None:
        """FC16."""
        ...


#: The transport of one link: (a device on it, the link's connect timeout) → transport.
TransportFactory = Callable[[DeviceConfig, float], ModbusTransport]


class PduRequests(ABC):
    """Reads and writes as request PDUs over `_exchange`, answers checked strictly."""

    __slots__ = ()

    @abstractmethod
    async def _exchange(self, unit: int, pdu: bytes, seconds: float) -> bytes:
        """Send one request PDU to `unit`; its response PDU (ids and framing checked)
        within `seconds`, else DeviceTimeout."""

    @abstractmethod
    def _drop(self) -> None:
        """After a malformed answer: drop the connection (the stream may be out of sync)."""

    async def read(
        self, table: Table, unit: int, address: int, count: int, *, timeout: float
    ) -> bytes:
        """Read `count` registers (raw wire bytes) or bits (packed bytes) from `table`."""
        function = table.read_function
        pdu = await self._exchange(unit, read_request(function, address, count), timeout)
        try:
            return check_read_response(function, count, pdu)
        except MalformedResponse:
            self._drop()
            raise

    async def write_coil(self, unit: int, address: int, value: bool, *, timeout: float) -> None:
        """FC05; never retried."""
        await self._write(unit, write_coil_request(address, value), timeout)

    async def write_register(self, unit: int, address: int, value: int, *, timeout: float) -> None:
        """FC06; never retried."""
        await self._write(unit, write_register_request(address, value), timeout)

    async def write_coils(
        self, unit: int, address: int, values: Sequence[bool], *, timeout: float
    ) -> None:
        """FC15; never retried."""
        await self._write(unit, write_coils_request(address, values), timeout)

    async def write_registers(
        self, unit: int, address: int, values: Sequence[int], *, timeout: float
    ) -> None:
        """FC16; never retried."""
        await self._write(unit, write_registers_request(address, values), timeout)

    async def _write(self, unit: int, request: bytes, timeout: float) -> None:
        pdu = await self._exchange(unit, request, timeout)
        try:
            check_write_response(request, pdu)
        except MalformedResponse:
            self._drop()
            raise


def no_response(where: str, seconds: float, function: int) -> DeviceTimeout:
    """The error of a request that got no answer in time, the same from every transport."""
    outcome = "; the write's outcome is unknown" if function > _LAST_READ_FUNCTION else ""
    return DeviceTimeout(
        f"no response from {where} within {seconds:g} s (function {function}){outcome}"
    )
