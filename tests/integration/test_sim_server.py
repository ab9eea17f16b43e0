"""The simulators' Modbus TCP slave over real TCP: tables, unit ids, writes, framing."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest
from bothloops import (  # noqa: F401 - fixture, marks and guard test shared
    event_loop_policy,
    pytestmark,
    test_runs_on_the_intended_loop,
)
from conftest import ClientFactory, WaitUntil

from gateway.model import Table
from simulators.image import RegisterImage
from simulators.server import ModbusSlave

HR, IR, CO, DI = Table.HOLDING_REGISTER, Table.INPUT_REGISTER, Table.COIL, Table.DISCRETE_INPUT


def image_with(marker: int) -> RegisterImage:
    """A 100-address image whose contents say which unit it belongs to."""
    image = RegisterImage(100)
    image.set_registers(HR, 0, [marker * 1000 + i for i in range(100)])
    image.set_registers(IR, 0, [marker * 2000 + i for i in range(100)])
    image.set_bits(CO, 0, [i % 3 == 0 for i in range(100)])
    image.set_bits(DI, 0, [i % marker == 0 for i in range(100)])
    return image


@pytest.fixture
async def slave() -> AsyncIterator[ModbusSlave]:
    async with ModbusSlave({1: image_with(1), 7: image_with(7)}, port=0) as server:
        yield server


async def raw_exchange(port: int, payload: bytes, expect: int) -> bytes:
    """Send raw bytes and read exactly `expect` bytes of answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(expect), 2)
    finally:
        writer.close()


def frame(tid: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


async def test_listens_on_the_port_the_os_chose(slave: ModbusSlave) -> None:
    assert slave.listening
    assert slave.port > 0


async def test_reads_each_table(slave: ModbusSlave, modbus_client: ClientFactory) -> None:
    client = await modbus_client(slave.port)
    holding = await client.read_holding_registers(10, count=3, device_id=1)
    inputs = await client.read_input_registers(98, count=2, device_id=1)
    coils = await client.read_coils(0, count=7, device_id=1)
    discrete = await client.read_discrete_inputs(0, count=8, device_id=7)
    assert holding.registers == [1010, 1011, 1012]
    assert inputs.registers == [2098, 2099]
    assert coils.bits[:7] == [True, False, False, True, False, False, True]
    assert discrete.bits[:8] == [True] + [False] * 6 + [True]


async def test_serves_several_unit_ids_and_refuses_unknown_ones(
    slave: ModbusSlave, modbus_client: ClientFactory
) -> None:
    client = await modbus_client(slave.port)
    first = await client.read_holding_registers(0, count=1, device_id=1)
    seventh = await client.read_holding_registers(0, count=1, device_id=7)
    unknown = await client.read_holding_registers(0, count=1, device_id=2)
    assert (first.registers, seventh.registers) == ([1000], [7000])
    assert unknown.isError()
    assert unknown.exception_code == 0x0B


async def test_addresses_past_the_image_get_exception_02(
    slave: ModbusSlave, modbus_client: ClientFactory
) -> None:
    client = await modbus_client(slave.port)
    response = await client.read_holding_registers(95, count=10, device_id=1)
    assert response.isError()
    assert response.exception_code == 0x02
    write = await client.write_register(100, 1, device_id=1)
    assert write.exception_code == 0x02


async def test_writes_land_in_the_image_and_are_reported_after_storing(
    modbus_client: ClientFactory,
) -> None:
    image = RegisterImage(50)
    seen: list[tuple[int, Table, int, int, list[int] | list[bool]]] = []

    def on_write(unit_id: int, table: Table, address: int, count: int) -> None:
        stored = (
            image.bits(table, address, count)
            if table.is_bit
            else image.registers(table, address, count)
        )
        seen.append((unit_id, table, address, count, stored))

    async with ModbusSlave({3: image}, on_write=on_write) as server:
        client = await modbus_client(server.port)
        assert not (await client.write_coil(4, True, device_id=3)).isError()
        assert not (await client.write_register(5, 0xABCD, device_id=3)).isError()
        assert not (await client.write_coils(10, [True, False, True], device_id=3)).isError()
        assert not (await client.write_registers(20, [1, 2, 3], device_id=3)).isError()
        assert (await client.read_holding_registers(20, count=3, device_id=3)).registers == [
            1,
            2,
            3,
        ]
    assert seen == [
        (3, CO, 4, 1, [True]),
        (3, HR, 5, 1, [0xABCD]),
        (3, CO, 10, 3, [True, False, True]),
        (3, HR, 20, 3, [1, 2, 3]),
    ]


async def test_pipelined_requests_are_all_answered_in_order(slave: ModbusSlave) -> None:
    requests = frame(1, 1, struct.pack(">BHH", 3, 0, 1)) + frame(2, 7, struct.pack(">BHH", 4, 1, 1))
    answer = await raw_exchange(slave.port, requests, 2 * 11)
    assert answer == (
        frame(1, 1, bytes([3, 2]) + struct.pack(">H", 1000))
        + frame(2, 7, bytes([4, 2]) + struct.pack(">H", 14001))
    )


async def test_a_request_split_across_segments_is_reassembled(slave: ModbusSlave) -> None:
    request = frame(9, 1, struct.pack(">BHH", 3, 2, 1))
    reader, writer = await asyncio.open_connection("127.0.0.1", slave.port)
    try:
        writer.write(request[:5])
        await writer.drain()
        writer.write(request[5:])
        answer = await asyncio.wait_for(reader.readexactly(11), 2)
    finally:
        writer.close()
    assert answer == frame(9, 1, bytes([3, 2]) + struct.pack(">H", 1002))


@pytest.mark.parametrize(
    ("pdu", "reply"),
    [
        (bytes([0x07]), bytes([0x87, 0x01])),
        (struct.pack(">BHH", 3, 0, 0), bytes([0x83, 0x03])),
        (struct.pack(">BHH", 3, 0, 126), bytes([0x83, 0x03])),
        (struct.pack(">BHH", 5, 0, 0x00FF), bytes([0x85, 0x03])),
    ],
)
async def test_bad_requests_get_exception_answers(
    slave: ModbusSlave, pdu: bytes, reply: bytes
) -> None:
    answer = await raw_exchange(slave.port, frame(5, 1, pdu), 9)
    assert answer == frame(5, 1, reply)


async def test_a_non_modbus_stream_is_disconnected(
    slave: ModbusSlave, eventually: WaitUntil
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", slave.port)
    writer.write(b"GET / HTTP/1.1\r\n\r\n")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 2) == b""  # closed without an answer
    writer.close()
    await eventually(lambda: slave.connection_count == 0, message="the connection to go")


async def test_stop_closes_the_port() -> None:
    server = ModbusSlave({1: RegisterImage(4)})
    await server.start()
    port = server.port
    await server.stop()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
