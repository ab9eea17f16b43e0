"""RtuLine's framing on a fake clock: answers by length, faults counted, the line resynchronised.

Every exchange runs on a FakeClock over an in-memory line (memoryline.py), so
the times asserted (gaps, turnaround, t3.5 silence, timeouts) are exact.
"""

from __future__ import annotations

import struct
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fakeclock import FakeClock
from memoryline import Chunks, MemoryLine

from gateway.errors import DeviceError, DeviceTimeout, MalformedResponse, ModbusException
from gateway.modbus.rtuline import BROADCAST_TURNAROUND, RESYNC_SILENCE_TCP, RtuLine
from gateway.model import Table
from gateway.rtuframe import LineTiming, frame

TIMING = LineTiming(19200)  # 11 bits a character: 0.573 ms; t3.5 = 2.005 ms


def run(test: Callable[[FakeClock, MemoryLine], Awaitable[Any]]) -> Any:
    clock = FakeClock()
    line = MemoryLine(clock, timing=TIMING)
    image = line.slave(1)
    image.set_registers(Table.HOLDING_REGISTER, 0, [0x1234, 0x5678, 7])
    line.slave(2).set_registers(Table.HOLDING_REGISTER, 0, [2, 2, 2])

    async def main() -> Any:
        return await test(clock, line)

    return clock.run(main())


async def read(rtu: RtuLine, unit: int = 1, count: int = 2, timeout: float = 0.5) -> bytes:
    await rtu.connect()
    return await rtu.read(Table.HOLDING_REGISTER, unit, 0, count, timeout=timeout)


def answer_of(unit: int, payload: bytes, function: int = 3) -> bytes:
    return frame(unit, bytes((function, len(payload))) + payload)


def test_an_answer_is_read_by_its_length_at_the_time_the_line_brings_it() -> None:
    async def body(clock: FakeClock, line: MemoryLine) -> None:
        rtu = line.transport()
        start = clock.now()
        assert await read(rtu) == bytes.fromhex("12345678")
        # 8-byte request, t3.5, 9-byte answer: nothing waited for a silence after it.
        assert clock.now() - start == pytest.approx(TIMING.frame_time(17) + TIMING.t35)
        assert line.sent[0].data == frame(1, bytes.fromhex("0300000002"))

    run(body)


def test_bursts_with_gaps_longer_than_t35_still_make_one_answer() -> None:
    """A USB adapter delivers in 16 ms bursts: silence must not end the frame."""

    async def body(clock: FakeClock, line: MemoryLine) -> None:
        line.bursts, line.burst_size = 0.016, 3
        rtu = line.transport()
        assert await read(rtu, count=3) == bytes.fromhex("123456780007")
        assert rtu.counters.short_frames == rtu.counters.stale_bytes == 0

    run(body)


def test_an_exception_answer_is_five_bytes() -> None:
    async def body(clock: FakeClock, line: MemoryLine) -> None:
        rtu = line.transport()
        await rtu.connect()
        with pytest.raises(ModbusException) as caught:  # address 200 is outside the image
            await rtu.read(Table.HOLDING_REGISTER, 1, 200, 1, timeout=0.5)
        assert caught.value.code == 2
        assert await read(rtu) == bytes.fromhex("12345678")  # the line is in step

    run(body)


def _faulty(answer: bytes, *, extra: Chunks = ()) -> Callable[[int, bytes], Chunks]:
    return lambda unit, request: [(0.01, answer), *extra]


@pytest.mark.parametrize(
    ("answer", "counter", "words"),
    [
        (answer_of(1, b"\x12\x34\x56\x78")[:-1] + b"\x00", "bad_crc", "bad CRC"),
        (answer_of(2, b"\x12\x34\x56\x78"), "wrong_unit", "unit id 2 in the answer"),
        (frame(1, b"\x04\x04\x12\x34\x56\x78"), "wrong_function", "function code 0x04"),
        (answer_of(1, b"\x12\x34\x56\x78") + b"\x00", "long_frames", "10 bytes where"),
        (answer_of(1, b"\x12\x34\x56\x78")[:5], "short_frames", "short frame: 5 of 9"),
    ],
    ids=["bad-crc", "wrong-unit", "wrong-function", "long", "short"],
)
def test_a_bad_frame_is_counted_and_the_line_resynchronises(
    answer: bytes, counter: str, words: str
) -> None:
    async def body(clock: FakeClock, line: MemoryLine) -> None:
        rtu = line.transport()
        line.script = _faulty(answer)
        with pytest.raises(MalformedResponse, match=words):
            await read(rtu)
        assert getattr(rtu.counters, counter) == 1
        assert rtu.connected  # the line stays open: the fault was one unit's
        failed_at = clock.now()
        line.script = line.paced
        assert await read(rtu) == bytes.fromhex("12345678")
        # The next request waited for t3.5 of silence after the last byte.
        assert line.sent[-1].at - failed_at >= 0
        assert line.opens == 1

    run(body)


def test_bytes_after_a_bad_frame_push_the_next_request_back_until_silence() -> None:
    async def body(clock: FakeClock, line: MemoryLine) -> None:
        rtu = line.transport()
        garbage = [(0.01 + 0.001 * i, b"\xff") for i in range(20)]  # 20 ms of noise
        line.script = lambda unit, request: garbage
        with pytest.raises(MalformedResponse):  # 0xff is not unit 1
            await read(rtu)
        line.script = line.paced
        await read(rtu)
        last_noise = line.sent[0].at + 0.01 + 0.019
        assert line.sent[-1].at == pytest.approx(last_noise + TIMING.t35)
        assert rtu.counters.stale_bytes == 18  # the first two made the bad frame

    run(body)


def test_a_timeout_keeps_the_line_and_a_late_answer_is_dropped() -> None:
    async def body(clock: FakeClock, line: MemoryLine) -> None:
        rtu = line.transport()
        late = answer_of(1, b"\x99\x99\x99\x99")
        line.script = lambda unit, request: [(0.3, late)]
        with pytest.raises(DeviceTimeout, match=r"no response from memory-line within 0\.2 s"):
            await read(rtu, timeout=0.2)
        assert rtu.counters.timeouts == 1
        assert rtu.connected
        line.script = line.paced
        await clock.sleep(0.2)  # a poller backs off: the late answer arrives meanwhile
        assert rtu.counters.stale_bytes == len(late)
        assert await read(rtu) == bytes.fromhex("12345678")

    run(body)


def test_stale_bytes_before_a_request_are_drained_over_tcp() -> None:
    async def body(clock: FakeClock, line: MemoryLine) -> None:
        rtu = line.transport(tcp=True)
        await rtu.connect()
        line.deliver(answer_of(1, b"\x00\x00\x00\x00"))  # a converter's leftover
        await clock.sleep(0.05)
        assert await read(rtu) == bytes.fromhex("12345678")
        assert rtu.counters.stale_bytes == 9
        assert line.sent[0].at >= clock.now() - 1  # sent once silent for the resync time

    run(body)


def test_noise_that_never_stops_fails_the_request_within_its_timeout() -> None:
    async def body(clock: FakeClock, line: MemoryLine) -> None:
        rtu = line.transport()
        await rtu.connect()
        for index in range(400):
            line.deliver(b"\x55", 0.001 * index)
        await clock.sleep(0.0005)
        start = clock.now()
        with pytest.raises(MalformedResponse, match="never went silent"):
            await read(rtu, timeout=0.1)
        assert clock.now() - start <= 0.1
        assert not line.sent

    run(body)


def test_requests_keep_t35_and_the_units_turnaround_apart() -> None:
    async def body(clock: FakeClock, line: MemoryLine) -> None:
        rtu = line.transport(turnarounds={1: 0.03})
        await read(rtu, unit=1)
        answered = clock.now()
        await read(rtu, unit=2)
        assert line.sent[1].at == pytest.approx(answered + TIMING.t35 + 0.03)
        answered = clock.now()
        await read(rtu, unit=1)  # unit 2 has no turnaround
        assert line.sent[2].at == pytest.approx(answered + TIMING.t35)

    run(body)


def test_over_tcp_there_is_no_gap_of_our_own() -> None:
    async def body(clock: FakeClock, line: MemoryLine) -> None:
        rtu = line.transport(tcp=True)
        await read(rtu)
        answered = clock.now()
        await read(rtu)
        assert line.sent[1].at == answered
        assert RESYNC_SILENCE_TCP > 0

    run(body)


def test_a_broadcast_write_waits_the_turnaround_and_reaches_every_unit() -> None:
    async def body(clock: FakeClock, line: MemoryLine) -> None:
        rtu = line.transport()
        await rtu.connect()
        start = clock.now()
        await rtu.write_registers(0, 10, [42, 43], timeout=0.5)
        request = line.sent[0].data
        assert clock.now() - start == pytest.approx(
            TIMING.frame_time(len(request)) + BROADCAST_TURNAROUND
        )
        for unit in (1, 2):
            assert line.slave(unit).registers(Table.HOLDING_REGISTER, 10, 2) == [42, 43]
        assert rtu.counters.broadcasts == 1
        with pytest.raises(DeviceError, match="broadcast"):
            await rtu.read(Table.HOLDING_REGISTER, 0, 0, 1, timeout=0.5)

    run(body)


def test_writes_are_echoed_back_by_the_unit() -> None:
    async def body(clock: FakeClock, line: MemoryLine) -> None:
        rtu = line.transport()
        await rtu.connect()
        await rtu.write_register(1, 5, 0xBEEF, timeout=0.5)
        await rtu.write_coil(1, 3, True, timeout=0.5)
        await rtu.write_coils(1, 8, [True, False, True], timeout=0.5)
        image = line.slave(1)
        assert image.registers(Table.HOLDING_REGISTER, 5, 1) == [0xBEEF]
        assert image.bits(Table.COIL, 3, 1) == [True]
        assert image.bits(Table.COIL, 8, 3) == [True, False, True]

    run(body)


def test_an_adapters_echo_is_checked_and_dropped() -> None:
    async def body(clock: FakeClock, line: MemoryLine) -> None:
        line.echo = True
        rtu = line.transport(echo=True)
        assert await read(rtu) == bytes.fromhex("12345678")
        await rtu.write_registers(0, 20, [1], timeout=0.5)  # a broadcast's echo too
        assert await read(rtu) == bytes.fromhex("12345678")
        assert rtu.counters.stale_bytes == 0
        line.echo = False
        line.script = lambda unit, request: [(0.0, b"\x00" * len(request))]
        with pytest.raises(MalformedResponse, match="echo"):
            await read(rtu)
        assert rtu.counters.bad_echo == 1

    run(body)


def test_a_second_request_in_flight_is_a_bug() -> None:
    async def body(clock: FakeClock, line: MemoryLine) -> None:
        import asyncio

        rtu = line.transport()
        await rtu.connect()
        first = asyncio.ensure_future(read(rtu))
        await clock.sleep(0.0025)  # past the first request's gap: it is in flight
        with pytest.raises(RuntimeError, match=r"hold line\.lock"):
            await read(rtu)
        assert await first == bytes.fromhex("12345678")

    run(body)


def test_the_receive_buffer_is_bounded() -> None:
    async def body(clock: FakeClock, line: MemoryLine) -> None:
        rtu = line.transport()
        huge = struct.pack(">BBB", 1, 3, 250) + bytes(300)
        line.script = _faulty(huge)
        with pytest.raises(MalformedResponse):
            await read(rtu, count=125)
        assert rtu.counters.long_frames + rtu.counters.bad_crc >= 1

    run(body)


def test_a_request_waiting_for_its_gap_fails_at_once_when_the_line_closes() -> None:
    async def body(clock: FakeClock, line: MemoryLine) -> None:
        import asyncio

        rtu = line.transport(turnarounds={1: 0.5})
        await read(rtu)  # unit 1's turnaround holds the line for 0.5 s after its answer
        waiting = asyncio.ensure_future(read(rtu, unit=2, timeout=2.0))
        await clock.sleep(0.1)
        assert len(line.sent) == 1  # still waiting for the gap
        closed_at = clock.now()
        await rtu.close()
        with pytest.raises(DeviceError, match="closed by the gateway"):
            await waiting
        assert clock.now() == closed_at
        assert len(line.sent) == 1

    run(body)


def test_a_request_cancelled_during_its_gap_is_never_sent() -> None:
    async def body(clock: FakeClock, line: MemoryLine) -> None:
        import asyncio

        rtu = line.transport(turnarounds={1: 0.5})
        await read(rtu)
        waiting = asyncio.ensure_future(read(rtu, unit=2, timeout=2.0))
        await clock.sleep(0.1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await clock.sleep(1.0)  # past the gap: the cancelled request's timer must not fire
        assert len(line.sent) == 1
        assert rtu.counters.requests == 1
        assert await read(rtu, unit=2) == bytes.fromhex("00020002")

    run(body)


def test_request_frames_are_remembered_per_unit_within_a_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gateway.modbus import rtuline

    monkeypatch.setattr(rtuline, "_FRAME_CACHE", 2)

    async def body(clock: FakeClock, line: MemoryLine) -> None:
        rtu = line.transport()
        await rtu.connect()
        for unit, address in ((1, 0), (2, 0), (1, 1), (1, 0), (2, 0)):
            await rtu.read(Table.HOLDING_REGISTER, unit, address, 1, timeout=0.5)
        # The same PDU to two units makes two frames; each frame as rtuframe makes it.
        assert [sent.data for sent in line.sent] == [
            frame(1, bytes.fromhex("0300000001")),
            frame(2, bytes.fromhex("0300000001")),
            frame(1, bytes.fromhex("0300010001")),
            frame(1, bytes.fromhex("0300000001")),
            frame(2, bytes.fromhex("0300000001")),
        ]
        assert len(rtu._frames) <= 2

    run(body)


def test_each_request_times_out_at_its_own_deadline_whatever_came_before() -> None:
    """One watchdog serves the line's requests: it must fire for the earliest deadline."""

    async def body(clock: FakeClock, line: MemoryLine) -> None:
        rtu = line.transport()
        answer = answer_of(1, b"\x12\x34\x56\x78")
        line.script = lambda unit, request: [(0.5, answer)]  # a slow unit
        assert await read(rtu, timeout=5.0) == bytes.fromhex("12345678")
        start = clock.now()
        with pytest.raises(DeviceTimeout, match=r"within 0\.2 s"):  # earlier than the last
            await read(rtu, timeout=0.2)
        assert clock.now() - start == pytest.approx(0.2)  # the gap counts in the timeout
        await clock.sleep(1.0)  # the late answer comes and goes
        start = clock.now()
        assert await read(rtu, timeout=1.0) == bytes.fromhex("12345678")  # later: not cut short
        assert clock.now() - start == pytest.approx(0.5)
        assert rtu.counters.timeouts == 1

    run(body)
