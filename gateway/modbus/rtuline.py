"""Modbus RTU on a byte stream: one line (a serial port, or TCP to a converter), many units.

`RtuLine` is a `ModbusTransport` whose requests go, one at a time under its
`lock` (FIFO, so the devices on a line take turns), to the units on one line.
Framing rules (gateway/rtuframe.py has the arithmetic):

- A request is `unit, PDU, CRC`. Its answer is read by the length the request
  implies (`response_length`), or 5 bytes once the function code says it is
  an exception: never by waiting for silence, since USB adapters deliver bytes
  in bursts (16 ms on an FTDI chip by default) with gaps longer than t3.5.
- Before each request the line stays quiet for t3.5 (serial only: a converter
  keeps its own line's gaps) plus the previous unit's `turnaround`, counted
  from the answer's last byte. The gap is waited on a timerfd
  (gateway/finetimer.py: t3.5 is 1.75 ms, the loop's timers are
  millisecond-grained) whose callback sends the request, so the caller's task
  wakes once per exchange, for the answer.
- Bad CRC, a wrong unit id or function code, a frame cut short at the timeout,
  a frame longer than its request implies, a wrong echo: counted in `counters`,
  the request fails with MalformedResponse and the line is flushed: what still
  arrives is dropped, and the next request waits until the line has been silent
  for t3.5 (the resynchronisation silence is for). A timeout flushes the same
  way, since its answer may still come. The line itself stays open: one unit's
  fault is not its neighbours', and a dead unit costs each scan its timeout.
- Bytes that arrive with no request outstanding are stale (a late answer, line
  noise) and dropped as they come, so nothing stale is read as the next answer;
  over TCP they are what a converter still held from an earlier request.
- A broadcast (unit 0) is a write nobody answers: sent, then the line is held
  for the frame's time on the wire plus the turnaround, the slaves' time to act.
- `echo`: adapters that hear their own transmission get each request's echo
  checked and dropped before the answer.

The receive buffer never holds more than one frame plus an echo: a peer that
sends more is cut off at that bound and the request fails as a long frame.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, cast

from gateway.errors import DeviceError, DeviceTimeout, DeviceUnreachable, MalformedResponse
from gateway.finetimer import FineTimer
from gateway.modbus.clock import (
    LOOP_CLOCK,
    CallLater,
    Clock,
    LoopClock,
    Timer,
    call_later_on,
    timeout,
)
from gateway.modbus.transport import PduRequests, no_response
from gateway.rtuframe import (
    BROADCAST,
    EXCEPTION_FRAME,
    MAX_FRAME,
    LineTiming,
    crc_ok,
    frame,
    response_length,
)

__all__ = ["BROADCAST_TURNAROUND", "RESYNC_SILENCE_TCP", "LineCounters", "Opener", "RtuLine"]

#: Opens the line's byte stream, its bytes going to the protocol the factory makes.
Opener = Callable[[Callable[[], asyncio.Protocol]], Awaitable[asyncio.BaseTransport]]

#: After a broadcast, the slaves' time to act unless the device sets `turnaround`
#: (the Modbus serial line spec suggests 100 to 200 ms).
BROADCAST_TURNAROUND = 0.1
#: Over TCP the converter's line speed is unknown: the silence that resynchronises.
RESYNC_SILENCE_TCP = 0.02

_EXCEPTION_BIT = 0x80
#: Request frames remembered per line: more than a line's scan sends (a line carries
#: at most 247 units); past it the cache starts again.
_FRAME_CACHE = 1024


@dataclass(slots=True)
class LineCounters:
    """What went wrong on a line, by kind, over its life (across reconnects)."""

    requests: int = 0
    broadcasts: int = 0
    timeouts: int = 0
    bad_crc: int = 0
    wrong_unit: int = 0
    wrong_function: int = 0
    short_frames: int = 0
    long_frames: int = 0
    bad_echo: int = 0
    stale_bytes: int = 0  # arrived with no request outstanding, dropped


class RtuLine(PduRequests):
    """The units on one RTU line (a `ModbusTransport`); the line stays open across their faults."""

    def __init__(
        self,
        where: str,
        opener: Opener,
        *,
        connect_timeout: float,
        timing: LineTiming | None = None,
        turnarounds: Mapping[int, float] | None = None,
        echo: bool = False,
        clock: Clock = LOOP_CLOCK,
    ) -> None:
        """`timing`: the serial line's, or None over TCP (the converter paces its line)."""
        self.where = where
        self.lock = asyncio.Lock()
        self.counters = LineCounters()
        self.connect_timeout = connect_timeout
        self.timing = timing
        self._opener = opener
        self._turnarounds = dict(turnarounds or {})
        self._echo = echo
        self._clock = clock
        self._call_later: CallLater = clock.call_later
        self._gap = timing.t35 if timing is not None else 0.0
        self._silence = timing.t35 if timing is not None else RESYNC_SILENCE_TCP
        self._protocol: _LineProtocol | None = None
        self._quiet_at = 0.0  # perf time before which the next request must not go
        self._dirty = False  # flushed after a fault: wait for silence first
        self._last_byte = 0.0  # perf time the last byte arrived
        self._request: _Request | None = None  # the one request, waiting for the line or sent
        # The hot path reads the clock without a method call in between where it can.
        self._perf: Callable[[], float] = (
            time.perf_counter if isinstance(clock, LoopClock) else clock.perf
        )
        #: (unit, request PDU) → (frame, answer length): pollers send the same requests
        #: every scan, so each frame's CRC is computed once.
        self._frames: dict[tuple[int, bytes], tuple[bytes, int]] = {}
        self._gap_timer: _GapTimer | None = None
        # One timer watches the requests' deadlines, moved only when a request's is earlier:
        # a timer made and cancelled per exchange costs more than the exchange's framing.
        self._watchdog: Timer | None = None
        self._watch_at = 0.0  # perf time the watchdog fires

    def __repr__(self) -> str:
        return f"<RtuLine {self.where} connected={self.connected}>"

    @property
    def connected(self) -> bool:
        protocol = self._protocol
        return protocol is not None and protocol.open

    async def connect(self) -> None:
        """Open the line unless it is open; failures name the port or host:port."""
        if self.connected:
            return
        await self.close()
        protocol = _LineProtocol(self)
        try:
            async with timeout(self._clock, self.connect_timeout):
                stream = await self._opener(lambda: protocol)
        except TimeoutError:
            raise DeviceTimeout(
                f"opening {self.where} timed out after {self.connect_timeout:g} s"
            ) from None
        except OSError as exc:  # the openers word their errors (port, host:port, reason)
            raise DeviceUnreachable(str(exc)) from exc
        if not protocol.open:  # the serial library calls connection_made a little later
            protocol.connection_made(stream)
        self._protocol = protocol
        self._call_later = call_later_on(self._clock, asyncio.get_running_loop())
        if self._gap_timer is None:
            self._gap_timer = _gap_timer(self._clock, self._send_when_free)
        self._dirty = False

    async def close(self) -> None:
        """Close the line (idempotent); an outstanding request fails as unreachable."""
        protocol, self._protocol = self._protocol, None
        gap_timer, self._gap_timer = self._gap_timer, None
        if gap_timer is not None:
            gap_timer.close()
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            watchdog.cancel()
        if protocol is not None:
            protocol.shut(DeviceUnreachable(f"{self.where} closed by the gateway"))
            await protocol.closed

    def _drop(self) -> None:
        """After a malformed answer: flush, and resynchronise before the next request."""
        self._dirty = True

    def turnaround(self, unit: int) -> float:
        """The pause after a request to `unit` (its device's `turnaround`)."""
        default = BROADCAST_TURNAROUND if unit == BROADCAST else 0.0
        return self._turnarounds.get(unit, default)

    async def _exchange(self, unit: int, pdu: bytes, seconds: float) -> bytes:
        """Send one request and return its answer's PDU (unit, function, CRC checked).

        The request is sent once the line is free: at once, or by the gap timer's
        callback, so the task sleeps once per exchange (until the answer), not twice.
        """
        protocol = self._protocol
        if protocol is None or not protocol.open:
            raise DeviceUnreachable(f"{self.where} is not open")
        if self._request is not None or protocol.waiter is not None:
            raise RuntimeError("RtuLine: a request is already in flight; hold line.lock")
        known = self._frames.get((unit, pdu))
        if known is None:
            known = self._frame_of(unit, pdu)
        waiter: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        request = _Request(
            waiter, known[0], unit, pdu[0], known[1], self._perf() + seconds, seconds
        )
        self._request = request
        self._send_when_free()
        answered = False
        try:
            answer = await waiter
            answered = True
            return answer
        except asyncio.CancelledError:
            if request.sent:  # the answer may still come: flush it
                protocol.abandon()
                self._dirty = True
            raise
        finally:
            self._request = None
            if request.sent:
                # The gap runs from the answer's last byte, not from this task's wake-up.
                ended = self._last_byte if answered else self._perf()
                self._quiet_at = ended + self._gap + self._turnarounds.get(unit, 0.0)
            elif self._gap_timer is not None:
                self._gap_timer.disarm()

    def _frame_of(self, unit: int, pdu: bytes) -> tuple[bytes, int]:
        """The request's frame and its answer's length, remembered (a bounded cache)."""
        if unit == BROADCAST:
            raise DeviceError(f"unit 0 is broadcast on {self.where}: it is written, never read")
        known = frame(unit, pdu), response_length(pdu)
        if len(self._frames) >= _FRAME_CACHE:
            self._frames.clear()
        self._frames[unit, pdu] = known
        return known

    def _send_when_free(self) -> None:
        """Send the waiting request if the line is free, else arm the gap timer to come back."""
        request = self._request
        if request is None or request.sent:
            return
        now = self._perf()
        free_at = self._quiet_at
        if self._dirty:
            free_at = max(free_at, self._last_byte + self._silence)
        if now < free_at:
            if free_at > request.deadline:  # noise that never stops: a line we cannot use now
                self._fail_unsent(
                    MalformedResponse(
                        f"{self.where} never went silent for {self._silence * 1000:g} ms "
                        f"(function {request.function}); bytes keep arriving with no request"
                    )
                )
            elif self._gap_timer is not None:
                self._gap_timer.arm(free_at)
            return
        self._dirty = False
        protocol = self._protocol
        if protocol is None or not protocol.open:
            self._fail_unsent(DeviceUnreachable(f"{self.where} is not open"))
            return
        request.sent = True
        self.counters.requests += 1
        protocol.send(request, self._echo)
        if self._watchdog is None or self._watch_at > request.deadline:
            self._watch(request.deadline - now)

    def _watch(self, delay: float) -> None:
        """(Re)arm the watchdog to look at the request in flight `delay` seconds from now."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._watch_at = self._perf() + delay
        self._watchdog = self._call_later(delay, self._watched)

    def _watched(self) -> None:
        """The watchdog fired: time the request out if its deadline passed, else wait on."""
        self._watchdog = None
        request, protocol = self._request, self._protocol
        if request is None or not request.sent or protocol is None:
            return  # the next request arms it again
        left = request.deadline - self._perf()
        if left > 0:  # a later request, or the loop's timer a little early
            self._watch(left)
            return
        protocol.time_out(request.waiter, request.seconds, request.function)

    def _fail_unsent(self, error: DeviceError) -> None:
        """A request still waiting for the line fails (the line went, or never fell silent)."""
        request = self._request
        if request is not None and not request.sent and not request.waiter.done():
            request.waiter.set_exception(error)

    async def _write(self, unit: int, request: bytes, timeout: float) -> None:
        """A write; to unit 0 a broadcast: sent, then the slaves get their turnaround."""
        if unit != BROADCAST:
            await super()._write(unit, request, timeout)
            return
        clock = self._clock
        await self._line_free(clock.perf() + timeout, request[0])
        protocol = self._ready()
        data = frame(BROADCAST, request)
        self.counters.requests += 1
        self.counters.broadcasts += 1
        protocol.transmit(data, self._echo)
        on_wire = self.timing.frame_time(len(data)) if self.timing is not None else 0.0
        self._quiet_at = clock.perf() + on_wire + self.turnaround(BROADCAST) + self._gap
        await clock.sleep(on_wire + self.turnaround(BROADCAST))

    def _ready(self) -> _LineProtocol:
        protocol = self._protocol
        if protocol is None or not protocol.open:
            raise DeviceUnreachable(f"{self.where} is not open")
        return protocol

    async def _line_free(self, deadline: float, function: int) -> None:
        """Wait out the gap and turnaround, and after a fault a silence of t3.5."""
        clock = self._clock
        while True:
            now = clock.perf()
            free_at = self._quiet_at
            if self._dirty:
                free_at = max(free_at, self._last_byte + self._silence)
            if now >= free_at:
                self._dirty = False
                return
            if free_at > deadline:  # noise that never stops: a line we cannot use now
                raise MalformedResponse(
                    f"{self.where} never went silent for {self._silence * 1000:g} ms "
                    f"(function {function}); bytes keep arriving with no request"
                )
            await clock.sleep(free_at - now)

    def _received_stale(self, count: int) -> None:
        self.counters.stale_bytes += count
        self._last_byte = self._clock.perf()
        self._dirty = True

    def _malformed(self, counter: str, what: str) -> MalformedResponse:
        setattr(self.counters, counter, getattr(self.counters, counter) + 1)
        self._dirty = True
        return MalformedResponse(f"{what} (from {self.where})")


class _GapTimer(Protocol):
    """Calls back when the line is free: `FineTimer`, or `_ClockTimer` on a test's clock."""

    def arm(self, at: float) -> None: ...

    def disarm(self) -> None: ...

    def close(self) -> None: ...


class _ClockTimer:
    """`FineTimer`'s interface on any `Clock` (the tests' fake one), at its resolution."""

    __slots__ = ("_callback", "_clock", "_timer")

    def __init__(self, clock: Clock, callback: Callable[[], object]) -> None:
        self._clock = clock
        self._callback = callback
        self._timer: Timer | None = None

    def arm(self, at: float) -> None:
        self.disarm()
        self._timer = self._clock.call_later(at - self._clock.perf(), self._fire)

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        self.disarm()

    def _fire(self) -> None:
        self._timer = None
        self._callback()


def _gap_timer(clock: Clock, callback: Callable[[], object]) -> _GapTimer:
    """A timerfd-precise timer on the loop's clock (t3.5 is 1.75 ms: the loop's own
    millisecond timers would add up to a millisecond to each gap); the clock's otherwise."""
    return FineTimer(callback) if isinstance(clock, LoopClock) else _ClockTimer(clock, callback)


@dataclass(slots=True, eq=False)
class _Request:
    """The request on the line: waiting for the gap to pass, then sent and awaiting its answer."""

    waiter: asyncio.Future[bytes]
    frame: bytes
    unit: int
    function: int
    expected: int  # bytes of the normal answer frame
    deadline: float  # perf time
    seconds: float
    sent: bool = False


class _LineProtocol(asyncio.Protocol):
    """Frames the answer to the one outstanding request; drops everything else."""

    __slots__ = (
        "_buffer",
        "_echo",
        "_expected",
        "_function",
        "_line",
        "_transport",
        "_unit",
        "closed",
        "open",
        "waiter",
    )

    def __init__(self, line: RtuLine) -> None:
        self._line = line
        self.open = False
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiter: asyncio.Future[bytes] | None = None
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._echo = b""
        self._unit = 0
        self._function = 0
        self._expected = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._transport is None:  # once, though the serial library may call it late
            self._transport = cast(asyncio.Transport, transport)
            self.open = True

    def connection_lost(self, exc: Exception | None) -> None:
        detail = f": {exc}" if exc is not None else ""
        self._fail(DeviceUnreachable(f"{self._line.where} lost{detail}"))
        self.open = False
        if not self.closed.done():
            self.closed.set_result(None)

    def eof_received(self) -> bool:
        """A converter that closes its side will not answer: fail now, not at the timeout."""
        self.shut(DeviceUnreachable(f"{self._line.where} closed the connection"))
        return False

    def shut(self, error: DeviceError) -> None:
        self._fail(error)
        self.open = False
        if self._transport is not None:
            self._transport.abort()  # connection_lost follows and resolves `closed`
        elif not self.closed.done():
            self.closed.set_result(None)

    def transmit(self, data: bytes, echo: bool) -> None:
        assert self._transport is not None
        self._buffer.clear()
        self._echo = data if echo else b""
        self._transport.write(data)

    def send(self, request: _Request, echo: bool) -> None:
        """Write `request`'s frame; its answer, when framed, resolves its waiter."""
        self._unit = request.unit
        self._function = request.function
        self._expected = request.expected
        self.waiter = request.waiter
        assert self._transport is not None
        self._buffer.clear()
        self._echo = request.frame if echo else b""
        self._transport.write(request.frame)

    def abandon(self) -> None:
        """The caller gave up: whatever still arrives for it is stale."""
        self.waiter = None
        self._buffer.clear()

    def time_out(self, waiter: asyncio.Future[bytes], seconds: float, function: int) -> None:
        if waiter is not self.waiter:
            return
        line = self._line
        got = len(self._buffer)
        if got and not self._echo:
            self._fail(
                line._malformed(
                    "short_frames",
                    f"short frame: {got} of {self._expected} bytes within {seconds:g} s",
                )
            )
            return
        line.counters.timeouts += 1
        line._dirty = True
        self._fail(no_response(line.where, seconds, function))

    def _fail(self, error: DeviceError) -> None:
        waiter, self.waiter = self.waiter, None
        self._buffer.clear()
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        elif waiter is None:  # the line went while a request waited for its gap
            self._line._fail_unsent(error)

    def data_received(self, data: bytes) -> None:
        line = self._line
        if self.waiter is None and not self._echo:
            line._received_stale(len(data))
            return
        line._last_byte = line._clock.perf()
        buffer = self._buffer
        buffer += data
        if self._echo:
            if not self._take_echo():
                return
            if self.waiter is None:  # a broadcast's echo: nothing else is expected
                if buffer:
                    line._received_stale(len(buffer))
                    buffer.clear()
                return
        if len(buffer) > MAX_FRAME:
            self._fail(line._malformed("long_frames", f"more than {MAX_FRAME} bytes in a frame"))
            return
        if len(buffer) < 2:
            return
        unit, function = buffer[0], buffer[1]
        if unit != self._unit:
            self._fail(
                line._malformed(
                    "wrong_unit", f"unit id {unit} in the answer to a request for unit {self._unit}"
                )
            )
            return
        if function == self._function:
            need = self._expected
        elif function == self._function | _EXCEPTION_BIT:
            need = EXCEPTION_FRAME
        else:
            self._fail(
                line._malformed(
                    "wrong_function",
                    f"function code {function:#04x} in the answer to {self._function:#04x}",
                )
            )
            return
        if len(buffer) < need:
            return
        if len(buffer) > need:
            self._fail(
                line._malformed("long_frames", f"{len(buffer)} bytes where the answer has {need}")
            )
            return
        if not crc_ok(buffer):
            self._fail(line._malformed("bad_crc", f"bad CRC in a {need}-byte answer"))
            return
        waiter, self.waiter = self.waiter, None
        pdu = bytes(buffer[1:-2])
        buffer.clear()
        if waiter is not None and not waiter.done():
            waiter.set_result(pdu)

    def _take_echo(self) -> bool:
        """Strip the request's echo from the buffer's front; False while it is incomplete."""
        echo, buffer = self._echo, self._buffer
        size = min(len(echo), len(buffer))
        if buffer[:size] != echo[:size]:
            self._echo = b""
            error = self._line._malformed("bad_echo", "the adapter's echo differs from the request")
            self._fail(error)
            return False
        if size < len(echo):
            return False
        del buffer[:size]
        self._echo = b""
        return True
