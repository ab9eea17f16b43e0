"""An in-memory RTU line on a clock: the gateway's `RtuLine` against scripted slaves, no I/O.

    line = MemoryLine(clock, timing=LineTiming(19200))
    line.slave(3).put(...)                      # units answer from register images
    rtu = line.transport()                      # an RtuLine whose opener is this line
    line.script = lambda unit, request: [...]   # or any bytes, at any times

Each request frame the gateway writes is recorded (`sent`, with the clock
time) and answered by `script(unit, request_frame)`: a list of (delay, bytes)
chunks delivered to the gateway at clock time `now + delay`. The default
script is a paced slave: its answer arrives whole after the request's and the
answer's time on the wire plus t3.5 (`bursts` splits it as a USB adapter
would). `echo` makes the line hear every request first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from gateway.modbus.clock import Clock
from gateway.modbus.rtuline import RtuLine
from gateway.rtuframe import BROADCAST, LineTiming, crc_ok, frame
from simulators.image import RegisterImage
from simulators.server import ModbusSlave

__all__ = ["Chunks", "MemoryLine", "Sent"]

#: What arrives after a request: (seconds after it was written, bytes).
Chunks = list[tuple[float, bytes]]


@dataclass(frozen=True, slots=True)
class Sent:
    at: float
    data: bytes

    @property
    def unit(self) -> int:
        return self.data[0]


class MemoryLine:
    """Units on one simulated line (see the module docstring)."""

    def __init__(self, clock: Clock, *, timing: LineTiming | None = None, size: int = 100) -> None:
        self.clock = clock
        self.timing = timing or LineTiming(19200)
        self.size = size
        self.units: dict[int, RegisterImage] = {}
        self._slave = ModbusSlave(self.units)
        self.script: Callable[[int, bytes], Chunks] = self.paced
        self.bursts: float | None = None  # deliver in chunks this far apart (USB adapters)
        self.burst_size = 8
        self.echo = False
        self.hung: set[int] = set()
        self.sent: list[Sent] = []
        self.opens = 0
        self._protocol: asyncio.Protocol | None = None
        self._stream: _Stream | None = None

    def slave(self, unit: int) -> RegisterImage:
        return self.units.setdefault(unit, RegisterImage(self.size))

    def transport(self, *, echo: bool = False, turnarounds: dict[int, float] | None = None,
                  tcp: bool = False) -> RtuLine:  # fmt: skip
        """An RtuLine on this line (`tcp`: like a converter, no line timing of its own)."""
        return RtuLine(
            "memory-line",
            self._open,
            connect_timeout=1.0,
            timing=None if tcp else self.timing,
            turnarounds=turnarounds,
            echo=echo,
            clock=self.clock,
        )

    def paced(self, unit: int, request: bytes) -> Chunks:
        """A slave's answer at the time a real line would bring it; none for other units."""
        if unit not in self.units or unit in self.hung or not crc_ok(request):
            return []
        answer = frame(unit, self._slave.respond(unit, request[1:-2]))
        timing = self.timing
        done = timing.frame_time(len(request)) + timing.t35 + timing.frame_time(len(answer))
        if self.bursts is None:
            return [(done, answer)]
        step, size = self.bursts, self.burst_size
        return [
            (done + index * step, answer[start : start + size])
            for index, start in enumerate(range(0, len(answer), size))
        ]

    def deliver(self, data: bytes, delay: float = 0.0) -> None:
        """Bytes on the line from nowhere (noise, a late answer), `delay` from now."""
        self.clock.call_later(delay, self._arrive, data)

    async def _open(self, factory: Callable[[], asyncio.Protocol]) -> asyncio.BaseTransport:
        self.opens += 1
        protocol = factory()
        stream = _Stream(self, protocol)
        self._protocol, self._stream = protocol, stream
        protocol.connection_made(stream)
        return stream

    def _written(self, data: bytes) -> None:
        self.sent.append(Sent(self.clock.now(), data))
        if self.echo:
            self._arrive(data)
        unit = data[0]
        if unit == BROADCAST:
            for image in self.units.values():
                ModbusSlave({1: image}).respond(1, data[1:-2])
            return
        for delay, chunk in self.script(unit, data):
            self.deliver(chunk, delay)

    def _arrive(self, data: bytes) -> None:
        if self._protocol is not None and self._stream is not None and not self._stream.closed:
            self._protocol.data_received(data)


class _Stream(asyncio.Transport):
    def __init__(self, line: MemoryLine, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self._line = line
        self._protocol = protocol
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self.closed:
            self._line._written(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.abort()

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            asyncio.get_running_loop().call_soon(self._protocol.connection_lost, None)
