"""The RTU side of a simulated slave: frames requests, paces answers, applies RTU faults.

`RtuResponder` is one line end's worth of protocol, fed the bytes that arrive
and handed a `write` for the bytes to send; the serial and RTU-over-TCP
servers (rtuserving.py) wire it to a pseudo-terminal, a serial port or a TCP
connection. Like a real slave on a multi-drop line it

- finds a request's end by its length (from the function code and, for
  FC15/16, the byte count), or by t3.5 of silence for a function it does not
  know; a frame with a bad CRC is dropped unanswered, and so is a request for
  a unit id that is not on this line;
- executes a broadcast (unit 0) write on every unit and answers nothing;
- answers after the time the exchange takes on a real line: the request on
  the wire, t3.5, the answer on the wire (`delay` of a slow fault on top);
  answers leave one at a time, in order, as on a half-duplex bus.

Faults (faults.py) per answer: hang (none), slow, bad CRC, garbage, a wrong
unit id, half a frame (close_mid), offline (silence).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from gateway.config.lines import LAST_UNIT
from gateway.finetimer import FineTimer
from gateway.rtuframe import (
    BROADCAST,
    MAX_FRAME,
    LineTiming,
    crc_ok,
    frame,
    request_length,
)
from simulators.faults import FaultSet, Reaction
from simulators.server import ModbusSlave

__all__ = ["RtuResponder"]

log = logging.getLogger(__name__)


class RtuResponder:
    """RTU framing and paced answers for one end of a line (see the module docstring)."""

    def __init__(
        self,
        slave: ModbusSlave,
        timing: LineTiming,
        write: Callable[[bytes], None],
        *,
        close: Callable[[], None] | None = None,
    ) -> None:
        self._slave = slave
        self._timing = timing
        self._write = write
        self._close = close
        self._buffer = bytearray()
        self._silence: asyncio.TimerHandle | None = None
        self._answers: deque[tuple[float, bytes, bool]] = deque()  # (due, bytes, close after)
        self._timer: FineTimer | None = None  # made on first use: it needs the running loop
        self._armed = False
        self._free_at = 0.0  # when the line is free for the next answer
        #: Requests framed, and frames dropped for a bad CRC.
        self.requests = 0
        self.bad_frames = 0

    @property
    def faults(self) -> FaultSet:
        return self._slave.faults

    def feed(self, data: bytes) -> None:
        """Bytes arrived from the master."""
        buffer = self._buffer
        buffer += data
        while buffer:
            size = request_length(buffer)
            if size is None:
                if len(buffer) > MAX_FRAME:  # no frame is this long: noise
                    buffer.clear()
                    return
                self._wait_for_silence()  # an unknown function: only silence ends it
                return
            if len(buffer) < size:
                return
            request = bytes(buffer[:size])
            del buffer[:size]
            self._handle(request)

    def close(self) -> None:
        """The line end is gone: no more answers."""
        if self._silence is not None:
            self._silence.cancel()
        if self._timer is not None:
            self._timer.close()
        self._silence = self._timer = None
        self._armed = False
        self._answers.clear()
        self._buffer.clear()

    def _wait_for_silence(self) -> None:
        if self._silence is not None:
            self._silence.cancel()
        loop = asyncio.get_running_loop()
        self._silence = loop.call_later(self._timing.t35, self._silent)

    def _silent(self) -> None:
        self._silence = None
        request, self._buffer = bytes(self._buffer), bytearray()
        if request:
            self._handle(request)

    def _handle(self, request: bytes) -> None:
        if not crc_ok(request):
            self.bad_frames += 1
            self._buffer.clear()  # out of step: what follows is not a frame start either
            return
        self.requests += 1
        unit, pdu = request[0], request[1:-2]
        faults = self._slave.faults
        if faults.offline:
            return
        if unit == BROADCAST:
            for unit_id in self._slave.units:
                self._slave.respond(unit_id, pdu)  # writes act on every unit; reads do nothing
            return
        if unit not in self._slave.units or unit > LAST_UNIT:
            return  # another slave's address: silence, as on a multi-drop line
        reaction = faults.reaction(unit)
        if reaction.hang:
            return
        answer = self._answer(unit, pdu, reaction)
        timing = self._timing
        now = time.perf_counter()
        start = max(now + timing.frame_time(len(request)) + timing.t35, self._free_at)
        due = start + timing.frame_time(len(answer)) + reaction.delay
        self._free_at = due
        self._answers.append((due, answer, reaction.close_mid))
        if not self._armed:
            self._arm()

    def _answer(self, unit: int, pdu: bytes, reaction: Reaction) -> bytes:
        if reaction.garbage:
            return self._slave.faults.garbage(reaction.garbage)
        answer_unit = unit % LAST_UNIT + 1 if reaction.wrong_unit else unit
        data = frame(answer_unit, self._slave.respond(unit, pdu))
        if reaction.bad_crc:
            data = data[:-1] + bytes((data[-1] ^ 0xFF,))
        if reaction.close_mid:
            data = data[: len(data) // 2]
        return data

    def _arm(self) -> None:
        # A timerfd, not call_later: the loop's millisecond timers would make each answer
        # up to a millisecond late, 10% of an exchange at 115200 baud.
        if self._timer is None:
            self._timer = FineTimer(self._send_due)
        self._armed = True
        self._timer.arm(self._answers[0][0])

    def _send_due(self) -> None:
        self._armed = False
        # Checked again: without a timerfd the loop's timers may fire a little early.
        while self._answers and self._answers[0][0] <= time.perf_counter():
            _, data, close_after = self._answers.popleft()
            self._write(data)
            if close_after and self._close is not None:
                self._close()
                return
        if self._answers:
            self._arm()
