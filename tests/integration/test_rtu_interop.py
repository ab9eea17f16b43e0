"""RTU against independent implementations, so ours and theirs cannot share one mistake.

- pymodbus's RTU client reads and writes our simulator's units on a pseudo-terminal;
- the gateway polls pymodbus's RTU server at one end of a socat pair: several unit
  ids, every data type and order, writes;
- mbpoll (libmodbus, C) reads and writes our simulator with `-m rtu`;
- pymodbus's client with its RTU framer over TCP reads our RTU-over-TCP slave.

Without socat or mbpoll the test skips on a laptop and fails in CI (where
.ci/run installs both).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.datastore import (
    ModbusDeviceContext,
    ModbusSequentialDataBlock,
    ModbusServerContext,
)
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer
from rtukit import FAST, expected_values, points, polling, socat_pair, tags, wait_until

from gateway.codec import Encoding, encode
from gateway.model import ByteOrder, DataType, Status, WordOrder
from simulators.plant import Plant
from simulators.runtime import RunningPlant, run_plant

SERIAL = {"baudrate": 115200, "parity": "none"}


def plant(transport: str = "rtu") -> dict[str, Any]:
    units = [{"unit_id": unit, "points": points(unit)} for unit in (1, 2)]
    return {"name": "interop", "slaves": [{"name": "line", "transport": transport,
            "serial": SERIAL, "units": units}]}  # fmt: skip


@pytest.fixture
async def line() -> AsyncIterator[RunningPlant]:
    async with run_plant(Plant.model_validate(plant()), autotick=False) as running:
        yield running


def address_of(name: str, unit: int = 1) -> int:
    return next(p["address"] for p in points(unit) if p["name"] == name)


async def test_pymodbus_rtu_client_reads_and_writes_our_simulator(line: RunningPlant) -> None:
    slave = line.slave("line")
    client = AsyncModbusSerialClient(
        slave.where, framer=FramerType.RTU, baudrate=115200, parity="N", timeout=2, retries=0
    )
    assert await client.connect()
    try:
        for unit in (1, 2):
            response = await client.read_holding_registers(
                address_of("float32_bb"), count=2, device_id=unit
            )
            assert not response.isError()
            value = client.convert_from_registers(
                response.registers, data_type=client.DATATYPE.FLOAT32
            )
            assert value == pytest.approx(-12.5 if unit == 1 else 12.5)
        coils = await client.read_coils(3, count=1, device_id=1)
        assert coils.bits[0] is True
        inputs = await client.read_discrete_inputs(9, count=1, device_id=2)
        assert inputs.bits[0] is True
        written = await client.write_register(address_of("uint16", 2), 321, device_id=2)
        assert not written.isError()
        assert slave.unit(2).get("uint16") == 321
        wrong = await client.read_holding_registers(5000, count=1, device_id=1)
        assert wrong.isError()
        assert wrong.exception_code == 2
    finally:
        client.close()


def _context(unit: int) -> ModbusDeviceContext:
    """A pymodbus unit holding the same registers as our simulator's `unit`."""
    registers = [0] * 200
    coils = [False] * 16
    inputs = [False] * 16
    input_registers = [0] * 4
    for point in points(unit):
        if point["table"] == "coil":
            coils[point["address"]] = point["value"]
            continue
        if point["table"] == "discrete_input":
            inputs[point["address"]] = point["value"]
            continue
        encoding = Encoding(
            DataType(point["type"]),
            ByteOrder(point.get("byte_order", "big")),
            WordOrder(point.get("word_order", "big")),
            point.get("length"),
        )
        words = encode(point["value"], encoding)
        target = input_registers if point["table"] == "input_register" else registers
        target[point["address"] : point["address"] + len(words)] = words
    # pymodbus adds 1 to every request address (docs: DESIGN §10).
    return ModbusDeviceContext(
        hr=ModbusSequentialDataBlock(1, registers),
        ir=ModbusSequentialDataBlock(1, input_registers),
        co=ModbusSequentialDataBlock(1, coils),
        di=ModbusSequentialDataBlock(1, inputs),
    )


async def test_the_gateway_polls_pymodbus_rtu_server_over_a_socat_pair(tmp_path: Path) -> None:
    with socat_pair(tmp_path) as (a, b):
        units = {1: _context(1), 2: _context(2)}
        context = ModbusServerContext(devices=units, single=False)
        server = ModbusSerialServer(
            context, framer=FramerType.RTU, port=a, baudrate=115200, parity="N"
        )
        await server.serve_forever(background=True)
        try:

            def devices(running: RunningPlant) -> list[dict[str, Any]]:
                return [
                    {"name": f"d{unit}", "transport": "rtu", "unit_id": unit,
                     "serial": {**SERIAL, "port": b}, **FAST, "tags": tags(unit)}
                    for unit in (1, 2)
                ]  # fmt: skip

            # The plant is not polled here: pymodbus serves the line.
            async with polling({"name": "unused", "slaves": [{"name": "x", "units": [
                    {"unit_id": 1}]}]}, devices) as run:  # fmt: skip
                expected = {**expected_values("d1", 1), **expected_values("d2", 2)}
                await wait_until(
                    lambda: all(
                        run.latest().get(k) is not None
                        and run.latest()[k].status is Status.GOOD
                        and run.latest()[k].value == v
                        for k, v in expected.items()
                    ),
                    what="every tag read from pymodbus",
                )
                await run.acquisition.write("d2.float32_bb", 3.5)
                await run.acquisition.write("d1.coil", False)
                await run.acquisition.write("d1.bit1", True)
                # The gateway re-reads a written block at once: pymodbus stored each write.
                wanted = {"d2.float32_bb": 3.5, "d1.coil": False, "d1.bit1": True}
                await wait_until(
                    lambda: all(run.latest()[k].value == v for k, v in wanted.items()),
                    what="the writes read back from pymodbus",
                )
        finally:
            await server.shutdown()


@pytest.fixture
def mbpoll() -> str:
    path = shutil.which("mbpoll")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("mbpoll is not installed (apt-get install mbpoll); CI must run this test")
        pytest.skip("mbpoll is not installed (apt-get install mbpoll)")
    return path


async def _mbpoll(mbpoll: str, port: str, unit: int, *args: str, write: str = "") -> str:
    values = [write] if write else []
    process = await asyncio.create_subprocess_exec(
        mbpoll, "-m", "rtu", "-b", "115200", "-P", "none", "-a", str(unit), "-0", "-1",
        "-o", "2", *args, port, *values,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 0, stderr.decode() + stdout.decode()
    return stdout.decode()


def _values(text: str) -> dict[int, str]:
    return {int(ref): value for ref, value in re.findall(r"^\[(\d+)\]:\s+(.+)$", text, re.M)}


async def test_mbpoll_reads_and_writes_our_simulator_over_rtu(
    mbpoll: str, line: RunningPlant
) -> None:
    port = line.slave("line").where
    big = address_of("float32_bb")
    text = await _mbpoll(mbpoll, port, 1, "-t", "4:float", "-B", "-r", str(big))
    assert _values(text) == {big: "-12.5"}
    swapped = address_of("int32_bl", 2)  # mbpoll's default: low word first
    text = await _mbpoll(mbpoll, port, 2, "-t", "4:int", "-r", str(swapped))
    assert _values(text) == {swapped: "123456789"}
    text = await _mbpoll(mbpoll, port, 1, "-t", "0", "-r", "3")
    assert _values(text) == {3: "1"}
    target = address_of("uint16", 2)
    text = await _mbpoll(mbpoll, port, 2, "-t", "4", "-r", str(target), write="777")
    assert "Written 1 references" in text
    assert line.slave("line").unit(2).get("uint16") == 777


async def test_pymodbus_rtu_framer_over_tcp_reads_our_converter() -> None:
    async with run_plant(Plant.model_validate(plant("rtu_over_tcp")), autotick=False) as running:
        slave = running.slave("line")
        client = AsyncModbusTcpClient(
            "127.0.0.1", port=slave.port, framer=FramerType.RTU, timeout=2, retries=0
        )
        assert await client.connect()
        try:
            response = await client.read_holding_registers(
                address_of("uint16", 2), count=1, device_id=2
            )
            assert response.registers == [65000 - 2]
        finally:
            client.close()
