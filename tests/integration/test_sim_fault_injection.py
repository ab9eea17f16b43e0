"""Every fault of a simulated slave, switched at run time or scheduled, over real TCP."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import yaml
from bothloops import (  # noqa: F401 - fixture, marks and guard test shared
    event_loop_policy,
    pytestmark,
    test_runs_on_the_intended_loop,
)
from conftest import ClientFactory, WaitUntil
from pymodbus.exceptions import ModbusIOException

from gateway.model import Table
from simulators.plant import Plant
from simulators.runtime import RunningPlant, run_plant
from simulators.slave import SimulatedSlave

#: How early the loop's timers may fire against time.monotonic (millisecond clocks).
TIMER_SLACK = 0.002

PLANT = """
name: faults
tick: 100ms
slaves:
  - name: plc
    port: 0
    units:
      - unit_id: 1
        size: 100
        points:
          - {name: setpoint, table: holding_register, address: 0, type: uint16, value: 500}
          - {name: level, table: holding_register, address: 1, type: float32}
          - {name: inflow, table: holding_register, address: 3, type: float32, value: 1.0}
          - {name: pump, table: coil, address: 0, value: true}
        models:
          - {kind: tank, level: level, inflow: inflow, max: 1000, initial_level: 10}
      - unit_id: 2
        points:
          - {name: other, table: holding_register, address: 0, type: uint16, value: 42}
"""


def make_plant(text: str = PLANT, **slave_keys: Any) -> Plant:
    data = yaml.safe_load(text)
    data["slaves"][0].update(slave_keys)
    return Plant.model_validate(data)


@pytest.fixture
async def running() -> AsyncIterator[RunningPlant]:
    async with run_plant(make_plant(), autotick=False) as plant:
        yield plant


@pytest.fixture
def plc(running: RunningPlant) -> SimulatedSlave:
    return running.slave("plc")


async def refused(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:  # accepted just as the port closed: not a refusal
        return False
    writer.close()
    return False


async def test_offline_refuses_connections_and_drops_open_ones(
    plc: SimulatedSlave, modbus_client: ClientFactory, eventually: WaitUntil
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", plc.port)
    await plc.go_offline()
    assert await refused(plc.port)
    assert await asyncio.wait_for(reader.read(), 2) == b""  # the open connection was dropped
    writer.close()
    await plc.go_online()
    client = await modbus_client(plc.port)
    assert (await client.read_holding_registers(0, count=1, device_id=1)).registers == [500]


async def test_hang_accepts_and_never_answers(
    plc: SimulatedSlave, modbus_client: ClientFactory
) -> None:
    plc.hang(unit_id=1)
    client = await modbus_client(plc.port, timeout=0.3)
    with pytest.raises(ModbusIOException):  # no answer within the client's timeout
        await client.read_holding_registers(0, count=1, device_id=1)
    other = await modbus_client(plc.port)
    assert (await other.read_holding_registers(0, count=1, device_id=2)).registers == [42]
    await plc.clear_faults()
    fresh = await modbus_client(plc.port)
    assert (await fresh.read_holding_registers(0, count=1, device_id=1)).registers == [500]


async def test_slow_answers_arrive_after_the_delay(
    plc: SimulatedSlave, modbus_client: ClientFactory
) -> None:
    client = await modbus_client(plc.port)
    plc.slow(0.2)
    started = time.monotonic()
    response = await client.read_holding_registers(0, count=1, device_id=1)
    elapsed = time.monotonic() - started
    assert response.registers == [500]
    # A lower bound only (a busy machine makes it later, never earlier); the slack is
    # the loop's millisecond timers, which may fire a little before time.monotonic says.
    assert elapsed >= 0.2 - TIMER_SLACK
    await plc.clear_faults()
    plc.slow((0.05, 0.15))
    for _ in range(3):
        started = time.monotonic()
        await client.read_holding_registers(0, count=1, device_id=1)
        assert time.monotonic() - started >= 0.05 - TIMER_SLACK


async def test_a_slow_answer_keeps_its_own_transaction_id(plc: SimulatedSlave) -> None:
    """The pymodbus server bug this slave avoids: a late answer with the next request's id."""
    plc.slow(0.1)
    reader, writer = await asyncio.open_connection("127.0.0.1", plc.port)
    try:
        for tid, function in ((1, 3), (2, 4)):
            pdu = struct.pack(">BHH", function, 0, 1)
            writer.write(struct.pack(">HHHB", tid, 0, len(pdu) + 1, 1) + pdu)
        first = await asyncio.wait_for(reader.readexactly(11), 2)
        second = await asyncio.wait_for(reader.readexactly(11), 2)
    finally:
        writer.close()
    assert (first[:2], first[7]) == (b"\x00\x01", 3)
    assert (second[:2], second[7]) == (b"\x00\x02", 4)


@pytest.mark.parametrize("code", [0x01, 0x02, 0x03, 0x04, 0x06, 0x0A, 0x0B])
async def test_exception_codes_apply_to_their_range_only(
    plc: SimulatedSlave, modbus_client: ClientFactory, code: int
) -> None:
    plc.exception(code, 10, 19, table=Table.HOLDING_REGISTER, unit_id=1)
    client = await modbus_client(plc.port)
    inside = await client.read_holding_registers(15, count=2, device_id=1)
    overlapping = await client.read_holding_registers(5, count=6, device_id=1)
    before = await client.read_holding_registers(0, count=10, device_id=1)
    after = await client.read_holding_registers(20, count=5, device_id=1)
    other_table = await client.read_input_registers(15, count=2, device_id=1)
    write = await client.write_register(12, 7, device_id=1)
    assert (inside.exception_code, overlapping.exception_code, write.exception_code) == (
        code,
        code,
        code,
    )
    assert not before.isError()
    assert not after.isError()
    assert not other_table.isError()


async def test_close_mid_response_sends_half_a_frame_then_closes(plc: SimulatedSlave) -> None:
    plc.close_mid_response()
    reader, writer = await asyncio.open_connection("127.0.0.1", plc.port)
    pdu = struct.pack(">BHH", 3, 0, 4)
    writer.write(struct.pack(">HHHB", 1, 0, len(pdu) + 1, 1) + pdu)
    received = await asyncio.wait_for(reader.read(), 2)  # until the slave closes
    writer.close()
    full_length = 7 + 2 + 2 * 4
    assert 0 < len(received) < full_length
    assert received[:2] == b"\x00\x01"


async def test_close_mid_response_fails_a_pymodbus_read(
    plc: SimulatedSlave, modbus_client: ClientFactory
) -> None:
    plc.close_mid_response(unit_id=1)
    client = await modbus_client(plc.port, timeout=0.3)
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(0, count=4, device_id=1)


async def test_restart_resets_registers_and_models_and_drops_connections(
    running: RunningPlant, plc: SimulatedSlave, modbus_client: ClientFactory
) -> None:
    client = await modbus_client(plc.port)
    assert not (await client.write_register(0, 777, device_id=1)).isError()
    await running.advance(10)  # the tank fills: 10 + 1.0 per second
    unit = plc.unit(1)
    assert unit.get("setpoint") == 777
    assert unit.get("level") == pytest.approx(11.0)
    reader, writer = await asyncio.open_connection("127.0.0.1", plc.port)
    await plc.restart()
    assert await asyncio.wait_for(reader.read(), 2) == b""  # dropped
    writer.close()
    assert unit.get("setpoint") == 500
    assert unit.get("level") == pytest.approx(10.0)
    fresh = await modbus_client(plc.port)
    assert (await fresh.read_holding_registers(0, count=1, device_id=1)).registers == [500]
    await running.advance(10)
    assert unit.get("level") == pytest.approx(11.0)  # the model starts over too


SCHEDULED = [
    {"kind": "offline", "at": "1s", "duration": "500ms"},
    {"kind": "exception", "code": 4, "start": 0, "end": 0, "at": "2s", "duration": "500ms"},
    {"kind": "hang", "unit_id": 1, "at": "3s", "duration": "500ms"},
    {"kind": "restart", "at": "4s", "duration": "300ms"},
]


async def test_scheduled_faults_start_and_end_on_plant_time(
    modbus_client: ClientFactory,
) -> None:
    plant = make_plant(faults=SCHEDULED)
    async with run_plant(plant, autotick=False) as running:
        plc = running.slave("plc")
        port = plc.port

        async def read_setpoint() -> Any:
            client = await modbus_client(port, timeout=0.2)
            return await client.read_holding_registers(0, count=1, device_id=1)

        await running.advance(10)  # t = 1.0 s: offline
        assert await refused(port)
        await running.advance(5)  # t = 1.5 s: back
        assert (await read_setpoint()).registers == [500]

        await running.advance(5)  # t = 2.0 s: exception on address 0
        assert (await read_setpoint()).exception_code == 4
        await running.advance(5)
        assert not (await read_setpoint()).isError()

        await running.advance(5)  # t = 3.0 s: unit 1 hangs
        with pytest.raises(ModbusIOException):
            await read_setpoint()
        await running.advance(5)
        assert not (await read_setpoint()).isError()

        plc.unit(1).set("setpoint", 900)
        await running.advance(5)  # t = 4.0 s: restart with 300 ms downtime
        assert await refused(port)
        assert plc.unit(1).get("setpoint") == 500
        await running.advance(3)
        assert (await read_setpoint()).registers == [500]


async def test_repeating_scheduled_faults_follow_the_ticker(
    modbus_client: ClientFactory, eventually: WaitUntil
) -> None:
    plant = make_plant(
        faults=[{"kind": "offline", "at": "200ms", "duration": "200ms", "every": "600ms"}]
    )
    plant = plant.model_copy(update={"tick": 0.05})
    async with run_plant(plant) as running:
        port = running.slave("plc").port
        await eventually(lambda: refused(port), timeout=3, message="the offline window")
        await eventually(
            lambda: running.tick_index >= 9 and not running.slave("plc").faults.offline,
            timeout=3,
            message="the window to close",
        )
        client = await modbus_client(port)
        assert not (await client.read_holding_registers(0, count=1, device_id=2)).isError()
        await eventually(lambda: refused(port), timeout=3, message="the window to repeat")
        assert running.time >= 0.8
