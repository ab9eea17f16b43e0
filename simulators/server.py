"""A small asyncio Modbus TCP slave: MBAP framing, several unit ids, faults.

Why not the pymodbus server: measured with pymodbus 3.16.1, its server sends a
delayed answer with the *next* request's transaction id (so a slow-response
fault corrupts the stream), answers only the first of two pipelined requests,
needs private datastore internals for fast bulk updates (the public
`async_setValues` took 34 ms per tick for 100 x 2,000 registers) and spent
about 3.5 times the CPU per request of this server (~170 µs against ~50 µs). Its
old datastore classes are deprecated for v4 as well. pymodbus remains the
gateway's *client* library; this module is the serving side.

What it does: function codes 1, 2, 3, 4, 5, 6, 15 and 16 against one
`RegisterImage` per unit id; exception 01 for an unknown function, 02 for an
address outside the image, 03 for a bad quantity or malformed request, 0B for
an unknown unit id. Requests pipelined on one connection are all answered, in
order. Faults come from a `FaultSet`: hang, delay, exception ranges, cutting a
reply in half, and going offline (listener closed, connections dropped).

There are no tasks: the listener and connections are protocol callbacks and
delayed replies wait for a loop timer, cancelled when the connection goes away.
"""

from __future__ import annotations

import asyncio
import logging
import random
import struct
import time
from collections import deque
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Protocol, Self, cast

from gateway.model import Table
from simulators.faults import FaultSet, Reaction
from simulators.image import RegisterImage
from simulators.pdu import Request, exception_pdu, execute, parse_request

__all__ = ["GATEWAY_TARGET_FAILED", "Connection", "ModbusSlave", "WriteListener"]

log = logging.getLogger(__name__)

#: Exception 0B: the unit id has no device behind this port.
GATEWAY_TARGET_FAILED = 0x0B

#: Called after a master's write is stored: (unit id, table, address, count).
WriteListener = Callable[[int, Table, int, int], None]


class Connection(Protocol):
    """An open connection of a slave: what `drop_connections` needs."""

    def abort(self) -> None: ...


#: A request waiting for its delayed answer: transaction id, unit id, PDU, reaction.
_Pending = tuple[int, int, bytes, Reaction]

_MBAP = struct.Struct(">HHHB")  # transaction id, protocol id, length, unit id
_MBAP_SIZE = 6  # the bytes before the counted part (unit id + PDU)
_MIN_LENGTH = 2  # unit id + function code
_MAX_LENGTH = 254  # unit id + the largest PDU (253 bytes)


class ModbusSlave:
    """One TCP port serving the register images of several unit ids.

    Use as an async context manager, or `start()`/`stop()`. With port 0 the
    OS picks a free port; `port` tells which once listening, and a slave that
    goes offline and back listens on the same port again.
    """

    def __init__(
        self,
        units: Mapping[int, RegisterImage],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultSet | None = None,
        on_write: WriteListener | None = None,
    ) -> None:
        self.units = units
        self.host = host
        self.faults = faults if faults is not None else FaultSet(random.Random(0))
        self.on_write = on_write
        self._port = port
        self._server: asyncio.Server | None = None
        self._connections: set[Connection] = set()
        self._running = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The TCP port (the OS's choice once listening when 0 was asked for)."""
        return self._port

    @property
    def where(self) -> str:
        """Where masters reach the slave, for people: host:port (a serial slave: its port)."""
        return f"{self.host}:{self._port}"

    @property
    def listening(self) -> bool:
        return self._server is not None

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    async def start(self) -> None:
        """Begin serving; the listener opens unless a fault keeps the slave offline."""
        self._running = True
        await self.sync_listener()

    async def stop(self) -> None:
        """Close the listener and every connection."""
        self._running = False
        await self._close_listener()

    async def sync_listener(self) -> None:
        """Open or close the listener to match the faults (offline, restart downtime)."""
        if self._running and not self.faults.offline:
            if self._server is None:
                await self._open_listener()
        else:
            await self._close_listener()

    def drop_connections(self) -> None:
        """Abort every open connection (the listener stays as it is)."""
        for connection in list(self._connections):
            connection.abort()

    async def _open_listener(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._new_connection, self.host, self._port, reuse_address=True
        )
        self._port = self._server.sockets[0].getsockname()[1]

    def _new_connection(self) -> asyncio.Protocol:
        """The protocol of one accepted connection (RTU over TCP frames differently)."""
        return _Connection(self)

    async def _close_listener(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self.drop_connections()
        if server is not None:
            await server.wait_closed()

    def respond(self, unit_id: int, pdu: bytes) -> bytes:
        """The response PDU to one request PDU; a write is stored and reported."""
        image = self.units.get(unit_id)
        if image is None:
            return exception_pdu(pdu[0], GATEWAY_TARGET_FAILED)
        request = parse_request(pdu)
        if not isinstance(request, Request):
            return exception_pdu(pdu[0], request)
        code = self.faults.exception(unit_id, request.table, request.address, request.count)
        if code is not None:
            return exception_pdu(request.function, code)
        response = execute(image, request)
        if request.is_write and response[0] == request.function and self.on_write is not None:
            self._report_write(unit_id, request)
        return response

    def _report_write(self, unit_id: int, request: Request) -> None:
        assert self.on_write is not None
        try:
            self.on_write(unit_id, request.table, request.address, request.count)
        except Exception:  # a listener's bug must not cut the master's connection
            log.exception("write listener failed for unit %d %s", unit_id, request)

    def _register(self, connection: Connection) -> None:
        self._connections.add(connection)

    def _unregister(self, connection: Connection) -> None:
        self._connections.discard(connection)


class _Connection(asyncio.Protocol):
    """One master's connection: frames requests, applies hang/delay/cut faults.

    Answers leave in request order, like a PLC that serves one request at a
    time: a delayed answer holds back those behind it. They wait in a queue
    with one loop timer for its head, cancelled when the connection goes.
    """

    def __init__(self, slave: ModbusSlave) -> None:
        self._slave = slave
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiting: deque[tuple[float, _Pending]] = deque()  # (due, request)
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's is not an asyncio.Transport subclass, so no isinstance).
        self._transport = cast(asyncio.Transport, transport)
        self._slave._register(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiting.clear()
        self._slave._unregister(self)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= _MBAP.size and not self._closing:
            tid, protocol, length, unit_id = _MBAP.unpack_from(self._buffer)
            if protocol != 0 or not _MIN_LENGTH <= length <= _MAX_LENGTH:
                log.debug("dropping connection: not Modbus TCP framing")
                self.abort()  # the stream cannot be resynchronised
                return
            end = _MBAP_SIZE + length
            if len(self._buffer) < end:
                return
            pdu = bytes(self._buffer[_MBAP.size : end])
            del self._buffer[:end]
            self._handle(tid, unit_id, pdu)

    @property
    def _closing(self) -> bool:
        return self._transport is None or self._transport.is_closing()

    def _handle(self, tid: int, unit_id: int, pdu: bytes) -> None:
        reaction = self._slave.faults.reaction(unit_id)
        if reaction.hang:
            return
        if reaction.delay <= 0 and not self._waiting:
            self._reply(tid, unit_id, pdu, reaction)
            return
        self._waiting.append((time.monotonic() + reaction.delay, (tid, unit_id, pdu, reaction)))
        if self._timer is None:
            self._arm()

    def _arm(self) -> None:
        due, _ = self._waiting[0]
        delay = max(0.0, due - time.monotonic())
        self._timer = asyncio.get_running_loop().call_later(delay, self._answer_due)

    def _answer_due(self) -> None:
        self._timer = None
        # time.monotonic, not loop.time: uvloop's millisecond timers may fire a little early.
        while self._waiting and self._waiting[0][0] <= time.monotonic():
            _, request = self._waiting.popleft()
            self._reply(*request)
        if self._waiting and not self._closing:
            self._arm()

    def _reply(self, tid: int, unit_id: int, pdu: bytes, reaction: Reaction) -> None:
        if self._closing:
            return
        assert self._transport is not None
        response = self._slave.respond(unit_id, pdu)
        frame = _MBAP.pack(tid, 0, len(response) + 1, unit_id) + response
        if reaction.close_mid:
            self._transport.write(frame[: len(frame) // 2])
            self._transport.close()  # flushes the half frame, then FIN
            return
        self._transport.write(frame)
