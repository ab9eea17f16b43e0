"""Simulated slaves that speak RTU: on a serial line, or over TCP like a serial converter.

Both are `ModbusSlave`s (the same units, faults, write listener and start/stop
that `SimulatedSlave` drives), with `RtuResponder` doing the framing:

- `RtuOverTcpSlave` listens like a Modbus TCP slave, but each connection
  carries RTU frames (no MBAP header, no transaction id), paced at the
  converter's line speed;
- `RtuSerialSlave` holds one end of a line: a pseudo-terminal pair it makes
  (the gateway opens the other end, `path`), or a device path it opens through
  gateway/serialio.py (one end of a socat pair, a real adapter). A serial line
  cannot refuse a master: offline and a restart's downtime make it silent.

Neither runs a task: bytes arrive in reader callbacks and answers leave on
fine-grained loop timers (gateway/finetimer.py), cancelled when the slave stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tty
from collections.abc import Callable, Mapping
from types import TracebackType

from gateway.config.serial import Transport
from gateway.rtuframe import LineTiming
from gateway.serialio import PortSettings, open_serial
from simulators.faults import FaultSet
from simulators.image import RegisterImage
from simulators.lineconfig import PTY, LineConfig
from simulators.rtuslave import RtuResponder
from simulators.server import ModbusSlave, WriteListener

__all__ = ["RtuOverTcpSlave", "RtuSerialSlave", "make_server"]

log = logging.getLogger(__name__)


def make_server(
    transport: Transport,
    line: LineConfig,
    units: Mapping[int, RegisterImage],
    *,
    host: str,
    port: int,
    faults: FaultSet,
    on_write: WriteListener | None,
) -> ModbusSlave:
    """The server of a slave by its transport (Modbus TCP, RTU over TCP, RTU)."""
    if transport is Transport.RTU:
        return RtuSerialSlave(units, line=line, faults=faults, on_write=on_write)
    kind = RtuOverTcpSlave if transport is Transport.RTU_OVER_TCP else ModbusSlave
    server = kind(units, host=host, port=port, faults=faults, on_write=on_write)
    if isinstance(server, RtuOverTcpSlave):
        server.timing = _timing(line)
    return server


def _timing(line: LineConfig) -> LineTiming:
    return LineTiming(line.baudrate, line.bits_per_char)


class RtuOverTcpSlave(ModbusSlave):
    """A TCP port serving RTU frames, like a serial converter in its transparent mode."""

    timing = LineTiming(19200, 11)

    def _new_connection(self) -> asyncio.Protocol:
        return _RtuConnection(self)


class _RtuConnection(asyncio.Protocol):
    def __init__(self, slave: RtuOverTcpSlave) -> None:
        self._slave = slave
        self._transport: asyncio.Transport | None = None
        self._responder: RtuResponder | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # a stream transport
        self._responder = RtuResponder(
            self._slave, self._slave.timing, self._send, close=self.abort
        )
        self._slave._register(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._responder is not None:
            self._responder.close()
        self._slave._unregister(self)

    def data_received(self, data: bytes) -> None:
        if self._responder is not None:
            self._responder.feed(data)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def _send(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)


class RtuSerialSlave(ModbusSlave):
    """Units on a serial line: a pseudo-terminal pair, or a device path (see the module)."""

    def __init__(
        self,
        units: Mapping[int, RegisterImage],
        *,
        line: LineConfig,
        faults: FaultSet | None = None,
        on_write: WriteListener | None = None,
    ) -> None:
        super().__init__(units, faults=faults, on_write=on_write)
        self.line = line
        self.timing = _timing(line)
        self.path = "" if line.port == PTY else line.port
        self._end: _LineEnd | None = None

    @property
    def where(self) -> str:
        return self.path or "(pseudo-terminal, not open)"

    @property
    def listening(self) -> bool:
        return self._end is not None

    @property
    def responder(self) -> RtuResponder | None:
        return self._end.responder if self._end is not None else None

    async def start(self) -> None:
        """Open the line end (a new pseudo-terminal pair, or the device path) unless open.

        A restart (stop, then start) keeps the line end: the master's port stays valid.
        """
        if self._end is not None:
            return
        responder = RtuResponder(self, self.timing, self._send)
        if self.line.port == PTY:
            end: _LineEnd = _PtyEnd(responder, self.line.link)
        else:
            end = _PortEnd(responder)
            settings = PortSettings(
                self.line.port,
                self.line.baudrate,
                self.line.parity.value,
                self.line.stop_bits,
                self.line.data_bits,
            )
            await end.open(settings)
        self._end = end
        self.path = end.path or self.path

    async def stop(self) -> None:
        """Drop the answers in flight; the line end stays open until the slave is left."""
        self.drop_connections()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        end, self._end = self._end, None
        if end is not None:
            await end.close()

    async def sync_listener(self) -> None:
        """A serial line stays open: offline is silence (the responder checks the faults)."""

    def drop_connections(self) -> None:
        """Nothing to drop on a serial line: answers in flight are discarded."""
        if self._end is not None:
            self._end.responder.close()

    def _send(self, data: bytes) -> None:
        if self._end is not None:
            self._end.send(data)


class _LineEnd:
    """One end of a serial line: bytes in to the responder, bytes out."""

    path = ""

    def __init__(self, responder: RtuResponder) -> None:
        self.responder = responder

    def send(self, data: bytes) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        self.responder.close()


class _PtyEnd(_LineEnd):
    """The master end of a pseudo-terminal pair; `path` is the end the gateway opens.

    The simulator keeps the other end open too, so the pair survives the
    gateway closing and reopening it; both ends are raw (no echo, no line
    editing), as a serial port is.
    """

    def __init__(self, responder: RtuResponder, link: str | None) -> None:
        super().__init__(responder)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        tty.setraw(self._master)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self._link = link
        if link is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(link)
            os.symlink(self.path, link)
        asyncio.get_running_loop().add_reader(self._master, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # EIO while no one holds the other end: nothing to read
            return
        if data:
            self.responder.feed(data)

    def send(self, data: bytes) -> None:
        try:
            os.write(self._master, data)
        except (BlockingIOError, InterruptedError):
            log.debug("%s: the master does not read; %d bytes lost", self.path, len(data))
        except OSError as exc:
            log.debug("%s: write failed (%s)", self.path, exc)

    async def close(self) -> None:
        await super().close()
        asyncio.get_running_loop().remove_reader(self._master)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self._link is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._link)


class _PortEnd(_LineEnd):
    """A device path opened through the serial adapter."""

    def __init__(self, responder: RtuResponder) -> None:
        super().__init__(responder)
        self._transport: asyncio.Transport | None = None
        self._feeder: _Feeder | None = None

    async def open(self, settings: PortSettings) -> None:
        self.path = settings.path
        self._transport = await open_serial(settings, self._protocol)

    def _protocol(self) -> asyncio.Protocol:
        self._feeder = _Feeder(self.responder.feed)
        return self._feeder

    def send(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    async def close(self) -> None:
        await super().close()
        if self._transport is not None and self._feeder is not None:
            self._transport.close()
            await self._feeder.closed  # the port is free again when this returns


class _Feeder(asyncio.Protocol):
    def __init__(self, feed: Callable[[bytes], None]) -> None:
        self._feed = feed
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        self._feed(data)
