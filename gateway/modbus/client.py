"""Modbus TCP client: one connection, one request in flight, strict about answers.

Why not pymodbus's client (measured with pymodbus 3.16 on this project's
machine): it accepts a response with transaction id 0, a wrong function code
or a short payload without complaint; it runs its own background reconnect,
which fights the poller's backoff and demotion state machine; its retries
apply to writes too (a timed-out write must never be resent: its outcome is
unknown); and it costs about twice the CPU per request of a plain
`asyncio.Protocol` client (82 against 39 µs per 125-register read with
uvloop, 125 against 75 µs without). This module is that plain client.

Rules:
- The caller owns reconnection: any failure that may leave the stream out of
  sync (malformed frame, timeout, cancellation, unexpected bytes) *resets* the
  connection (closes it), and the next request fails with `DeviceUnreachable`
  until the caller's backoff calls `connect()` again. A Modbus exception
  response is a well-formed answer and keeps the connection.
- One request in flight per connection; callers hold `lock` per request (and
  across a read-modify-write). A second concurrent request is a bug and
  raises `RuntimeError`.
- The hot path creates one future and one timer handle per request, no task.
- The receive buffer never holds more than one frame (260 bytes): a header
  with a bad protocol id or length resets at once, and a complete frame is
  consumed or rejected, so an endless stream of bytes cannot grow memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from types import TracebackType
from typing import Self, cast

from gateway.errors import DeviceError, DeviceTimeout, DeviceUnreachable, MalformedResponse
from gateway.modbus.clock import LOOP_CLOCK, CallLater, Clock, call_later_on, timeout
from gateway.modbus.pdu import MAX_MBAP_LENGTH, MBAP, MBAP_SIZE, MIN_MBAP_LENGTH
from gateway.modbus.transport import PduRequests, no_response

__all__ = ["ModbusClient", "open_tcp"]

_MAX_TID = 0xFFFF  # transaction ids run 1..65535; 0 is never sent


class ModbusClient(PduRequests):
    """A Modbus TCP master on one connection (a `ModbusTransport`).

    `requests`, `bytes_sent` and `bytes_received` count over the client's life
    (across reconnects). Timeouts run on `clock`.
    """

    def __init__(
        self, host: str, port: int, *, connect_timeout: float, clock: Clock = LOOP_CLOCK
    ) -> None:
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.lock = asyncio.Lock()
        self.requests = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        self.where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._clock = clock
        self._call_later: CallLater = clock.call_later  # per loop once connected
        self._conn: _Connection | None = None
        self._tid = 0

    def __repr__(self) -> str:
        return f"<ModbusClient {self.where} connected={self.connected}>"

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        """True while the connection is open and usable."""
        conn = self._conn
        return conn is not None and conn.open

    async def connect(self) -> None:
        """Open the connection unless it is open; failures name host:port."""
        if self.connected:
            return
        await self.close()  # let a reset connection finish closing: no socket outlives it
        loop = asyncio.get_running_loop()
        conn = _Connection(self, loop)
        try:
            async with timeout(self._clock, self.connect_timeout):
                await open_tcp(self.host, self.port, self.where, lambda: conn)
        except TimeoutError:
            raise DeviceTimeout(
                f"connect to {self.where} timed out after {self.connect_timeout:g} s"
            ) from None
        self._conn = conn
        self._call_later = call_later_on(self._clock, loop)

    async def close(self) -> None:
        """Close the connection (idempotent); an outstanding request fails as unreachable."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.reset(DeviceUnreachable(f"connection to {self.where} closed by the gateway"))
            await conn.closed

    def _drop(self) -> None:
        """After a malformed response: the stream may be out of sync."""
        if self._conn is not None:
            self._conn.reset(None)

    async def _exchange(self, unit: int, pdu: bytes, seconds: float) -> bytes:
        """Send one request PDU and return the response PDU (ids already checked)."""
        conn = self._conn
        if conn is None or not conn.open:
            raise DeviceUnreachable(f"not connected to {self.where}")
        if conn.waiter is not None:
            raise RuntimeError(
                "ModbusClient: a request is already in flight on this connection; "
                "hold client.lock around each request"
            )
        tid = self._tid = self._tid % _MAX_TID + 1
        frame = MBAP.pack(tid, 0, len(pdu) + 1, unit) + pdu
        self.requests += 1
        self.bytes_sent += len(frame)
        waiter = conn.send(tid, unit, frame)
        timer = self._call_later(seconds, conn.time_out, waiter, seconds, pdu[0])
        try:
            return await waiter
        except asyncio.CancelledError:  # the request stays in flight: its answer must not linger
            conn.reset(DeviceUnreachable(f"request to {self.where} cancelled"))
            raise
        finally:
            timer.cancel()


async def open_tcp(
    host: str, port: int, where: str, protocol_factory: Callable[[], asyncio.Protocol]
) -> asyncio.Transport:
    """A TCP connection with Nagle off (the caller bounds the time); failures name `where`.

    Modbus TCP and RTU over TCP connect alike.
    """
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await loop.create_connection(protocol_factory, host, port)
    except TimeoutError:  # before OSError (TimeoutError is one): the caller's timeout
        raise
    except OSError as exc:
        raise DeviceUnreachable(f"connect to {where} failed: {_reason(exc)}") from exc
    except UnicodeError as exc:  # the resolver refuses the name itself ("plc..local")
        raise DeviceUnreachable(f"connect to {where} failed: invalid host name ({exc})") from exc
    sock = transport.get_extra_info("socket")
    # asyncio and uvloop set it already; say so explicitly. A dead socket
    # fails here too, but the first request reports that in our terms.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return transport


class _Connection(asyncio.Protocol):
    """Frames responses and matches them to the one outstanding request."""

    __slots__ = (
        "_buffer",
        "_client",
        "_tid",
        "_transport",
        "_unit",
        "closed",
        "loop",
        "open",
        "waiter",
    )

    def __init__(self, client: ModbusClient, loop: asyncio.AbstractEventLoop) -> None:
        self._client = client
        self.loop = loop
        self.open = False
        self.closed: asyncio.Future[None] = loop.create_future()
        self.waiter: asyncio.Future[bytes] | None = None
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._tid = 0
        self._unit = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, though uvloop's does not subclass asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)
        self.open = True

    def connection_lost(self, exc: Exception | None) -> None:
        detail = f": {_reason(exc)}" if isinstance(exc, OSError) else ""
        self.reset(DeviceUnreachable(f"connection to {self._client.where} lost{detail}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def eof_received(self) -> bool:
        """A half-closed peer will never answer: fail now rather than at the timeout."""
        self.reset(DeviceUnreachable(f"{self._client.where} closed the connection"))
        return False

    def send(self, tid: int, unit: int, frame: bytes) -> asyncio.Future[bytes]:
        assert self._transport is not None
        self._tid = tid
        self._unit = unit
        waiter = self.waiter = self.loop.create_future()
        self._transport.write(frame)
        return waiter

    def time_out(self, waiter: asyncio.Future[bytes], timeout: float, function: int) -> None:
        if waiter is self.waiter:
            self.reset(no_response(self._client.where, timeout, function))

    def reset(self, error: DeviceError | None) -> None:
        """Fail the outstanding request (if any) with `error` and drop the connection."""
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error or DeviceUnreachable("connection reset"))
        self.open = False
        self._buffer.clear()
        if self._transport is not None:
            self._transport.abort()  # connection_lost follows and resolves `closed`
        elif not self.closed.done():
            self.closed.set_result(None)  # never connected: nothing will follow

    def data_received(self, data: bytes) -> None:
        if not self.open:
            return
        self._client.bytes_received += len(data)
        if self._buffer:
            self._buffer += data
            data = bytes(self._buffer)
            self._buffer.clear()
        waiter = self.waiter
        if waiter is None:
            self._malformed(f"{len(data)} bytes arrived with no request outstanding")
            return
        if len(data) < MBAP_SIZE:
            self._buffer += data
            return
        tid, protocol, length, unit = MBAP.unpack_from(data)
        if protocol != 0:
            self._malformed(f"protocol id {protocol} in the MBAP header, expected 0")
            return
        if not MIN_MBAP_LENGTH <= length <= MAX_MBAP_LENGTH:
            self._malformed(f"MBAP length {length} outside {MIN_MBAP_LENGTH}..{MAX_MBAP_LENGTH}")
            return
        end = MBAP_SIZE - 1 + length
        if len(data) < end:
            self._buffer += data
            return
        if tid != self._tid:
            self._malformed(f"transaction id {tid} in the response to request {self._tid}")
            return
        if unit != self._unit:
            self._malformed(f"unit id {unit} in the response to a request for unit {self._unit}")
            return
        self.waiter = None
        if not waiter.done():  # done: the caller was cancelled; it resets the connection
            waiter.set_result(data[MBAP_SIZE:end])
        if len(data) > end:
            self._malformed(f"{len(data) - end} bytes followed the response")

    def _malformed(self, what: str) -> None:
        self.reset(MalformedResponse(f"{what} (from {self._client.where})"))


def _reason(exc: OSError) -> str:
    """A short reason for a socket error, without asyncio's wrapping."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if exc.errno is not None and exc.errno > 0:
        return os.strerror(exc.errno).lower()
    return exc.strerror or str(exc)  # e.g. a resolver error: "Name or service not known"
