"""The Modbus client over real TCP against a scripted fake slave (and the simulators).

Every failure case asserts the exception type, whether the connection was
reset (the stream may be out of sync) or kept (a Modbus exception is a proper
answer), and that no task or socket leaks. Each test runs on asyncio's loop
and on uvloop. When a timeout fires is checked on a fake clock that the test
advances (the sockets stay real): exact, however busy the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from bothloops import (  # noqa: F401 - fixture, marks and guard test shared
    event_loop_policy,
    pytestmark,
    test_runs_on_the_intended_loop,
)
from eventually import eventually
from fakeclock import FakeClock
from fakeslave import (
    FakeRequest,
    FakeSlave,
    Reply,
    answer,
    frame,
    registers_script,
    tasks_outside_fakeslave,
)

from gateway.errors import DeviceTimeout, DeviceUnreachable, MalformedResponse, ModbusException
from gateway.modbus.client import ModbusClient
from gateway.modbus.clock import LOOP_CLOCK as LOOP
from gateway.model import Table
from simulators.image import RegisterImage
from simulators.server import ModbusSlave

HR = Table.HOLDING_REGISTER
TIMEOUT = 1.0  # generous: only the timeout tests wait it out, and they use SHORT
SHORT = 0.2
JUST_BEFORE = SHORT - 1e-6  # on a fake clock: a timeout must not fire a microsecond early


def _open_sockets() -> int:
    """Sockets this process holds (Linux); other fds are the loops' own business."""
    count = 0
    with contextlib.suppress(FileNotFoundError):
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


async def _eventually(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    """Poll until `predicate` holds (fails the test after `timeout`)."""
    await eventually(predicate, timeout=timeout, interval=0.002)


@pytest.fixture
async def slave() -> AsyncIterator[FakeSlave]:
    sockets = _open_sockets()
    async with FakeSlave() as fake:
        yield fake
    await _eventually(lambda: _open_sockets() <= sockets)  # no socket of the test outlives it


@contextlib.asynccontextmanager
async def session(slave: FakeSlave, clock: FakeClock | None = None) -> AsyncIterator[ModbusClient]:
    """A connected client (its timeouts on `clock` if given); on a clean exit: closed,
    seen closed by the slave, no task leaked."""
    tasks = tasks_outside_fakeslave()
    client = ModbusClient("127.0.0.1", slave.port, connect_timeout=TIMEOUT, clock=clock or LOOP)
    await client.connect()
    try:
        yield client
    finally:
        await client.close()
    await slave.wait_connections_closed()
    assert slave.open_connections == 0
    assert tasks_outside_fakeslave() == tasks


async def assert_reset(client: ModbusClient, slave: FakeSlave) -> None:
    assert not client.connected
    await slave.connections[-1].wait_closed()
    with pytest.raises(DeviceUnreachable, match="not connected"):
        await client.read(HR, 1, 0, 1, timeout=TIMEOUT)


async def assert_kept(client: ModbusClient, slave: FakeSlave) -> None:
    assert client.connected
    slave.script = registers_script
    assert await client.read(HR, 1, 7, 1, timeout=TIMEOUT) == b"\x00\x07"
    assert len(slave.connections) == 1


def good(request: FakeRequest) -> bytes:
    """The well-formed answer's frame."""
    return b"".join(registers_script(request))


def good_list(request: FakeRequest) -> list[bytes]:
    return registers_script(request)


def pdu_of(request: FakeRequest) -> bytes:
    return good(request)[7:]


def registers(address: int, count: int) -> bytes:
    return struct.pack(f">{count}H", *range(address, address + count))


# ---------------------------------------------------------------- happy paths


async def test_reads_every_table(slave: FakeSlave) -> None:
    async with session(slave) as client:
        assert await client.read(HR, 1, 100, 125, timeout=TIMEOUT) == registers(100, 125)
        assert await client.read(Table.INPUT_REGISTER, 1, 0, 3, timeout=TIMEOUT) == registers(0, 3)
        assert await client.read(Table.COIL, 1, 0, 2000, timeout=TIMEOUT) == b"\x55" * 250
        assert await client.read(Table.DISCRETE_INPUT, 1, 0, 3, timeout=TIMEOUT) == b"\x05"
        assert [r.pdu[0] for r in slave.requests] == [3, 4, 1, 2]
        assert [r.tid for r in slave.requests] == [1, 2, 3, 4]
        assert client.requests == 4
        assert client.bytes_sent == 4 * 12
        assert client.bytes_received == (9 + 250) + (9 + 6) + (9 + 250) + (9 + 1)
    assert not client.connected


async def test_transaction_ids_wrap_skipping_zero(slave: FakeSlave) -> None:
    async with session(slave) as client:
        client._tid = 0xFFFE
        for _ in range(3):
            await client.read(HR, 1, 0, 1, timeout=TIMEOUT)
        assert [r.tid for r in slave.requests] == [0xFFFF, 1, 2]


async def test_connect_is_idempotent_and_reconnects_after_close(slave: FakeSlave) -> None:
    async with session(slave) as client:
        await client.connect()
        assert len(slave.connections) == 1
        await client.close()
        await client.close()
        assert not client.connected
        await client.connect()
        assert await client.read(HR, 1, 1, 1, timeout=TIMEOUT) == b"\x00\x01"
        assert len(slave.connections) == 2


async def test_context_manager() -> None:
    async with FakeSlave() as fake, ModbusClient("127.0.0.1", fake.port, connect_timeout=1) as c:
        assert await c.read(HR, 1, 5, 1, timeout=TIMEOUT) == b"\x00\x05"
    assert not c.connected
    await fake.wait_connections_closed()


# ---------------------------------------------------------------- malformed responses


def _lying(change: Callable[[FakeRequest], bytes]) -> Callable[[FakeRequest], list[bytes]]:
    return lambda request: [change(request)]


MALFORMED: dict[str, tuple[Callable[[FakeRequest], bytes], str]] = {
    "wrong transaction id": (
        lambda r: frame(r.tid + 1, r.unit, pdu_of(r)),
        "transaction id 2 in the response to request 1",
    ),
    "transaction id 0": (
        lambda r: frame(0, r.unit, pdu_of(r)),
        "transaction id 0 in the response to request 1",
    ),
    "wrong unit id": (lambda r: frame(r.tid, 9, pdu_of(r)), "unit id 9 .* for unit 1"),
    "wrong function code": (
        lambda r: frame(r.tid, r.unit, b"\x04" + pdu_of(r)[1:]),
        "function code 0x04 in the response to 0x03",
    ),
    "protocol id not 0": (lambda r: frame(r.tid, r.unit, pdu_of(r), protocol=1), "protocol id 1"),
    "MBAP length 1": (lambda r: frame(r.tid, r.unit, b"", length=1), "MBAP length 1 outside"),
    "MBAP length 255": (lambda r: frame(r.tid, r.unit, b"", length=255), "MBAP length 255"),
    "byte count inconsistent with data": (
        lambda r: frame(r.tid, r.unit, b"\x03\x04" + registers(0, 3)),
        "byte count 4 but 6 data bytes follow",
    ),
    "more registers than asked": (
        lambda r: frame(r.tid, r.unit, b"\x03\x06" + registers(0, 3)),
        "3 registers .* for 2 registers asked",
    ),
    "fewer registers than asked": (
        lambda r: frame(r.tid, r.unit, b"\x03\x02" + registers(0, 1)),
        "1 registers .* for 2 registers asked",
    ),
    "MBAP length smaller than the frame": (
        lambda r: frame(r.tid, r.unit, pdu_of(r), length=4),
        "byte count 4 but 1 data bytes follow",
    ),
    "exception response with extra bytes": (
        lambda r: frame(r.tid, r.unit, b"\x83\x02\x00"),
        "exception response .* 3 bytes",
    ),
}


@pytest.mark.parametrize("case", MALFORMED)
async def test_malformed_response_resets(slave: FakeSlave, case: str) -> None:
    change, message = MALFORMED[case]
    slave.script = _lying(change)
    async with session(slave) as client:
        with pytest.raises(MalformedResponse, match=message):
            await client.read(HR, 1, 0, 2, timeout=TIMEOUT)
        await assert_reset(client, slave)
        # The caller's backoff reconnects; the new connection works.
        slave.script = registers_script
        await client.connect()
        assert await client.read(HR, 1, 0, 2, timeout=TIMEOUT) == registers(0, 2)


async def test_mbap_length_larger_than_frame_then_silence_times_out(slave: FakeSlave) -> None:
    slave.script = _lying(lambda r: frame(r.tid, r.unit, pdu_of(r), length=20))
    clock = FakeClock()
    async with session(slave, clock) as client:
        request = asyncio.create_task(client.read(HR, 1, 0, 2, timeout=SHORT))
        await _eventually(lambda: client.bytes_received > 0)  # the start of the frame is in
        await _times_out_at_short(clock, client, request)
        with pytest.raises(DeviceTimeout, match=r"within 0\.2 s"):
            await request
        await assert_reset(client, slave)


async def _times_out_at_short(
    clock: FakeClock, client: ModbusClient, request: asyncio.Task[bytes]
) -> None:
    """The request's timeout fires when its clock reaches SHORT, not a microsecond before."""
    assert clock.pending == 1  # the request's timer
    clock.advance(JUST_BEFORE)
    assert client.connected
    assert not request.done()
    clock.advance(SHORT - JUST_BEFORE)
    assert not client.connected  # reset by the timeout, at once
    assert clock.pending == 0


async def test_frame_split_into_one_byte_segments(slave: FakeSlave) -> None:
    slave.script = lambda r: Reply([bytes([b]) for b in good(r)], gap=0.001)
    async with session(slave) as client:
        assert await client.read(HR, 1, 10, 4, timeout=TIMEOUT) == registers(10, 4)
        await assert_kept(client, slave)


async def test_two_frames_in_one_segment_deliver_the_first_then_reset(slave: FakeSlave) -> None:
    slave.script = lambda r: [good(r) + frame(r.tid + 1, r.unit, pdu_of(r))]
    async with session(slave) as client:
        assert await client.read(HR, 1, 0, 2, timeout=TIMEOUT) == registers(0, 2)
        await assert_reset(client, slave)


@pytest.mark.parametrize("gap", [0.0, 0.01], ids=["same segment", "later segment"])
async def test_trailing_garbage_resets_after_delivering(slave: FakeSlave, gap: float) -> None:
    slave.script = lambda r: Reply([good(r), b"\xde\xad\xbe\xef"], gap=gap)
    async with session(slave) as client:
        assert await client.read(HR, 1, 0, 2, timeout=TIMEOUT) == registers(0, 2)
        await _eventually(lambda: not client.connected)
        await assert_reset(client, slave)


def _flood(head: bytes) -> Iterator[bytes]:
    yield head
    for _ in range(160):  # 10 MiB, far more than any buffer may hold
        yield b"\xa5" * 65536


@pytest.mark.parametrize("valid_header", [False, True])
async def test_garbage_flood_is_bounded(slave: FakeSlave, valid_header: bool) -> None:
    def script(r: FakeRequest) -> Reply:
        head = frame(r.tid, r.unit, b"", length=254) if valid_header else b""
        return Reply(_flood(head))

    slave.script = script
    async with session(slave) as client:
        with pytest.raises(MalformedResponse):
            await client.read(HR, 1, 0, 2, timeout=TIMEOUT)
        await assert_reset(client, slave)
        assert client.bytes_received < 1 << 20  # read stopped at the first bad frame


# ---------------------------------------------------------------- lost and silent peers


async def test_half_open_peer_times_out_without_spinning(slave: FakeSlave) -> None:
    slave.script = lambda r: None
    async with session(slave) as client:
        cpu = time.process_time()
        with pytest.raises(DeviceTimeout):
            await client.read(HR, 1, 0, 2, timeout=SHORT)
        assert time.process_time() - cpu < 0.1  # waiting costs no CPU
        await assert_reset(client, slave)
        assert len(slave.requests) == 1


async def test_half_open_peer_times_out_exactly_at_the_timeout(slave: FakeSlave) -> None:
    slave.script = lambda r: None
    clock = FakeClock()
    async with session(slave, clock) as client:
        request = asyncio.create_task(client.read(HR, 1, 0, 2, timeout=SHORT))
        await _eventually(lambda: len(slave.requests) == 1)
        await _times_out_at_short(clock, client, request)
        with pytest.raises(DeviceTimeout, match=r"no response from 127\.0\.0\.1:\d+ within 0\.2 s"):
            await request
        await assert_reset(client, slave)


@pytest.mark.parametrize("after", ["eof", "close", "abort"])
async def test_peer_closing_fails_the_request_at_once(slave: FakeSlave, after: str) -> None:
    slave.script = lambda r: Reply([good(r)[:5]], after=after)  # type: ignore[arg-type]
    clock = FakeClock()  # never advanced: the request's 5 s never pass
    async with session(slave, clock) as client:
        with pytest.raises(DeviceUnreachable):
            await client.read(HR, 1, 0, 2, timeout=5.0)
        assert clock.pending == 0  # the timer of the request, never due, is cancelled
        await assert_reset(client, slave)


async def test_late_answer_is_never_taken_for_the_next_request(slave: FakeSlave) -> None:
    slave.script = lambda r: Reply([b"", good(r)], gap=SHORT + 0.1) if r.connection == 0 else None
    async with session(slave) as client:
        with pytest.raises(DeviceTimeout):
            await client.read(HR, 1, 0, 2, timeout=SHORT)
        assert not client.connected
        slave.script = registers_script
        await client.connect()
        assert await client.read(HR, 1, 40, 2, timeout=TIMEOUT) == registers(40, 2)


async def test_cancelled_request_resets(slave: FakeSlave) -> None:
    slave.script = lambda r: None
    async with session(slave) as client:
        task = asyncio.create_task(client.read(HR, 1, 0, 2, timeout=TIMEOUT))
        await _eventually(lambda: len(slave.requests) == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await assert_reset(client, slave)


async def test_close_fails_the_outstanding_request(slave: FakeSlave) -> None:
    slave.script = lambda r: None
    async with session(slave) as client:
        task = asyncio.create_task(client.read(HR, 1, 0, 2, timeout=TIMEOUT))
        await _eventually(lambda: len(slave.requests) == 1)
        await client.close()
        with pytest.raises(DeviceUnreachable, match="closed by the gateway"):
            await task


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_connection_refused() -> None:
    port = _free_port()
    client = ModbusClient("127.0.0.1", port, connect_timeout=TIMEOUT)
    with pytest.raises(DeviceUnreachable, match=f"127.0.0.1:{port} failed: connection refused"):
        await client.connect()
    assert not client.connected
    await client.close()


async def test_connect_timeout() -> None:
    # A listener that never accepts, its backlog full: the next SYN goes unanswered.
    with socket.socket() as listener, contextlib.ExitStack() as held:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(4):
            sock = held.enter_context(socket.socket())
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                sock.connect(("127.0.0.1", port))
        clock = FakeClock()
        client = ModbusClient("127.0.0.1", port, connect_timeout=SHORT, clock=clock)
        connecting = asyncio.create_task(client.connect())
        await _eventually(lambda: clock.pending == 1)  # the connect's deadline is set
        clock.advance(JUST_BEFORE)
        assert clock.pending == 1
        assert not connecting.done()
        clock.advance(SHORT - JUST_BEFORE)
        with pytest.raises(DeviceTimeout, match=f"connect to 127.0.0.1:{port} timed out"):
            await connecting
        assert not client.connected


# ---------------------------------------------------------------- exceptions, writes, misuse


@pytest.mark.parametrize("code", [0x01, 0x02, 0x03, 0x04, 0x06, 0x0A, 0x0B])
async def test_exception_responses_keep_the_connection(slave: FakeSlave, code: int) -> None:
    slave.script = lambda r: answer(r, bytes([r.pdu[0] | 0x80, code]))
    async with session(slave) as client:
        with pytest.raises(ModbusException, match=f"{code:02X}") as info:
            await client.read(HR, 1, 0, 2, timeout=TIMEOUT)
        assert info.value.code == code
        with pytest.raises(ModbusException) as info:
            await client.write_register(1, 0, 5, timeout=TIMEOUT)
        assert info.value.code == code
        await assert_kept(client, slave)


async def test_writes_send_the_right_pdus_and_check_echoes(slave: FakeSlave) -> None:
    async with session(slave) as client:
        await client.write_coil(1, 0x00AC, True, timeout=TIMEOUT)
        await client.write_register(1, 1, 0x0003, timeout=TIMEOUT)
        await client.write_coils(1, 0x0013, [True, False, True, True], timeout=TIMEOUT)
        await client.write_registers(1, 1, [0x000A, 0x0102], timeout=TIMEOUT)
        assert [r.pdu.hex(" ") for r in slave.requests] == [
            "05 00 ac ff 00",
            "06 00 01 00 03",
            "0f 00 13 00 04 01 0d",
            "10 00 01 00 02 04 00 0a 01 02",
        ]
        await assert_kept(client, slave)


@pytest.mark.parametrize("function", [5, 6, 15, 16])
async def test_bad_write_echo_resets(slave: FakeSlave, function: int) -> None:
    slave.script = lambda r: answer(r, r.pdu[:3] + b"\x77" + r.pdu[4:5])
    async with session(slave) as client:
        with pytest.raises(MalformedResponse, match="write echo"):
            await _write(client, function)
        await assert_reset(client, slave)


async def _write(client: ModbusClient, function: int) -> None:
    if function == 5:
        await client.write_coil(1, 3, True, timeout=SHORT)
    elif function == 6:
        await client.write_register(1, 3, 0x1234, timeout=SHORT)
    elif function == 15:
        await client.write_coils(1, 3, [True, True], timeout=SHORT)
    else:
        await client.write_registers(1, 3, [1, 2], timeout=SHORT)


@pytest.mark.parametrize("function", [5, 6, 15, 16])
async def test_timed_out_write_is_never_resent(slave: FakeSlave, function: int) -> None:
    slave.script = lambda r: None
    async with session(slave) as client:
        with pytest.raises(DeviceTimeout, match="outcome is unknown"):
            await _write(client, function)
        await assert_reset(client, slave)
        assert [r.pdu[0] for r in slave.requests] == [function]
        assert len(slave.connections) == 1
        assert client.requests == 1


async def test_concurrent_requests_without_the_lock_are_refused(slave: FakeSlave) -> None:
    slave.script = lambda r: Reply([b"", good(r)], gap=0.1) if r.tid == 1 else good_list(r)
    async with session(slave) as client:
        first = asyncio.create_task(client.read(HR, 1, 0, 2, timeout=TIMEOUT))
        await _eventually(lambda: client.requests == 1)
        with pytest.raises(RuntimeError, match="already in flight"):
            await client.read(HR, 1, 0, 2, timeout=TIMEOUT)
        assert await first == registers(0, 2)

        async def locked(address: int) -> bytes:
            async with client.lock:
                return await client.read(HR, 1, address, 2, timeout=TIMEOUT)

        results = await asyncio.gather(*(locked(a) for a in range(10)))
        assert results == [registers(a, 2) for a in range(10)]


# ---------------------------------------------------------------- interop


async def test_interop_with_the_simulated_slave() -> None:
    image = RegisterImage(200)
    image.set_registers(HR, 10, [1, 2, 0xFFFF])
    image.set_bits(Table.COIL, 0, [True, False, True])
    async with (
        ModbusSlave({1: image}) as sim,
        ModbusClient("127.0.0.1", sim.port, connect_timeout=TIMEOUT) as client,
    ):
        assert await client.read(HR, 1, 10, 3, timeout=TIMEOUT) == bytes.fromhex("0001 0002 ffff")
        assert await client.read(Table.COIL, 1, 0, 3, timeout=TIMEOUT) == b"\x05"
        await client.write_registers(1, 20, [7, 8], timeout=TIMEOUT)
        await client.write_register(1, 22, 9, timeout=TIMEOUT)
        await client.write_coils(1, 5, [True, True], timeout=TIMEOUT)
        await client.write_coil(1, 0, False, timeout=TIMEOUT)
        assert image.registers(HR, 20, 3) == [7, 8, 9]
        assert image.bits(Table.COIL, 0, 7) == [False, False, True, False, False, True, True]
        with pytest.raises(ModbusException) as info:
            await client.read(HR, 1, 199, 2, timeout=TIMEOUT)
        assert info.value.code == 0x02
        with pytest.raises(ModbusException) as info:
            await client.read(HR, 2, 0, 1, timeout=TIMEOUT)
        assert info.value.code == 0x0B
        assert client.connected
