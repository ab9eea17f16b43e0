"""A scripted raw Modbus TCP slave for tests of how the gateway copes with bad peers.

Each request is parsed from its MBAP frame and handed to the test's `script`,
which decides the raw bytes sent back (any bytes at all: lies in the header,
split frames, garbage), or silence, and what becomes of the socket afterwards.
Every connection is recorded, so tests can wait until the slave saw a close
and assert that none leaks. Handler tasks are named ``fakeslave-…`` so tests
can tell them from tasks the code under test might leak.

    async with FakeSlave(lambda req: answer(req, b"\\x03\\x02\\x00\\x07")) as slave:
        client = ModbusClient("127.0.0.1", slave.port, connect_timeout=1)
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, Self

__all__ = [
    "FakeConnection",
    "FakeRequest",
    "FakeSlave",
    "Reply",
    "Script",
    "answer",
    "frame",
    "registers_script",
    "tasks_outside_fakeslave",
]

_MBAP = struct.Struct(">HHHB")
_TASK_PREFIX = "fakeslave-"


@dataclass(frozen=True, slots=True)
class FakeRequest:
    """One request as the slave received it; `connection` counts from 0."""

    tid: int
    unit: int
    pdu: bytes
    connection: int


@dataclass(frozen=True, slots=True)
class Reply:
    """What to send (`segments`, written one by one, `gap` seconds apart) and then do.

    after: keep the socket open, ``close`` it (FIN), ``eof`` (half-close: FIN
    but keep reading) or ``abort`` it.
    """

    segments: Iterable[bytes] = ()
    after: Literal["keep", "close", "eof", "abort"] = "keep"
    gap: float = 0.0


#: Decides the reply to a request: segments to send, a Reply, or None for silence.
Script = Callable[[FakeRequest], "Reply | list[bytes] | None"]


def frame(
    tid: int, unit: int, pdu: bytes, *, protocol: int = 0, length: int | None = None
) -> bytes:
    """An MBAP frame; `protocol` and `length` can lie."""
    return _MBAP.pack(tid, protocol, len(pdu) + 1 if length is None else length, unit) + pdu


def answer(request: FakeRequest, pdu: bytes) -> list[bytes]:
    """A well-framed answer to `request` carrying `pdu`."""
    return [frame(request.tid, request.unit, pdu)]


def registers_script(request: FakeRequest) -> list[bytes]:
    """A well-behaved slave: register n holds n, bits alternate, writes are echoed."""
    function, address, count = struct.unpack_from(">BHH", request.pdu)
    if function in (3, 4):
        data = struct.pack(f">{count}H", *((address + i) & 0xFFFF for i in range(count)))
    elif function in (1, 2):
        data = bytes([0x55]) * ((count + 7) // 8)
        if count % 8:
            data = data[:-1] + bytes([data[-1] & (0xFF >> (8 - count % 8))])
    elif function in (5, 6):
        return answer(request, request.pdu)
    else:
        return answer(request, request.pdu[:5])
    return answer(request, bytes([function, len(data)]) + data)


def tasks_outside_fakeslave() -> set[asyncio.Task[object]]:
    """The running tasks, minus the fake slave's own connection handlers."""
    return {t for t in asyncio.all_tasks() if not t.get_name().startswith(_TASK_PREFIX)}


@dataclass(eq=False)
class FakeConnection:
    """One accepted connection and the requests seen on it."""

    index: int
    writer: asyncio.StreamWriter
    requests: list[FakeRequest] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_closed(self, timeout: float = 2.0) -> None:
        """Until the peer closed (or the slave dropped) this connection."""
        async with asyncio.timeout(timeout):
            await self.closed.wait()


class FakeSlave:
    """A listening socket on 127.0.0.1 whose answers come from `script`."""

    def __init__(self, script: Script = registers_script) -> None:
        self.script = script
        self.connections: list[FakeConnection] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[object]] = set()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for connection in self.connections:
            connection.writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None, "use the slave inside `async with`"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def open_connections(self) -> int:
        return sum(not c.closed.is_set() for c in self.connections)

    @property
    def requests(self) -> list[FakeRequest]:
        """Every request received, over all connections, in order of arrival per connection."""
        return [r for c in self.connections for r in c.requests]

    async def wait_connections_closed(self, timeout: float = 2.0) -> None:
        """Until every connection accepted so far has closed."""
        for connection in self.connections:
            await connection.wait_closed(timeout)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        task.set_name(f"{_TASK_PREFIX}{len(self.connections)}")
        self._tasks.add(task)
        connection = FakeConnection(len(self.connections), writer)
        self.connections.append(connection)
        try:
            while await self._one_request(connection, reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Ending normally: asyncio 3.11's stream server calls task.exception()
            # on the handler, which raises (and logs) for a cancelled task.
            pass
        finally:
            writer.transport.abort()
            connection.closed.set()
            self._tasks.discard(task)

    async def _one_request(
        self, connection: FakeConnection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Serve one request; False once the connection is done."""
        header = await reader.readexactly(_MBAP.size)
        tid, _protocol, length, unit = _MBAP.unpack(header)
        pdu = await reader.readexactly(max(length - 1, 0))
        request = FakeRequest(tid, unit, pdu, connection.index)
        connection.requests.append(request)
        reply = self.script(request)
        if reply is None:
            return True
        if isinstance(reply, list):
            reply = Reply(reply)
        for i, segment in enumerate(reply.segments):
            if i and reply.gap:
                await asyncio.sleep(reply.gap)  # pacing, so the client reads them apart
            writer.write(segment)
            await writer.drain()
        if reply.after == "eof":
            writer.write_eof()
        elif reply.after == "close":
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            return False
        elif reply.after == "abort":
            return False
        return True
