"""Running plants over real TCP: signal values, every type and order, writes feeding models."""

from __future__ import annotations

import math
import struct
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ClientFactory, WaitUntil
from pymodbus.client import AsyncModbusTcpClient

import simulators
from gateway.codec import Encoding, decode
from gateway.config import load_config
from gateway.model import ByteOrder, DataType, Table, Value, WordOrder
from simulators.loader import load_plant
from simulators.plant import Plant
from simulators.points import fit
from simulators.runtime import run_plant
from simulators.signals import BaseSignal
from simulators.unit import SimulatedUnit, derive_seed

ROOT = Path(simulators.__file__).resolve().parent.parent


def plant_of(
    points: list[dict[str, Any]], models: list[dict[str, Any]] | None = None, **unit: Any
) -> Plant:
    unit_data = {"unit_id": 1, "points": points, "models": models or [], **unit}
    slave = {"name": "plc", "port": 0, "units": [unit_data]}
    return Plant.model_validate({"name": "test", "tick": 0.1, "seed": 9, "slaves": [slave]})


async def read_registers(
    client: AsyncModbusTcpClient, table: Table, address: int, count: int, unit: int = 1
) -> list[int]:
    if table is Table.HOLDING_REGISTER:
        response = await client.read_holding_registers(address, count=count, device_id=unit)
    else:
        response = await client.read_input_registers(address, count=count, device_id=unit)
    assert not response.isError(), response
    return list(response.registers)


async def read_bit(client: AsyncModbusTcpClient, table: Table, address: int, unit: int) -> bool:
    if table is Table.COIL:
        response = await client.read_coils(address, count=1, device_id=unit)
    else:
        response = await client.read_discrete_inputs(address, count=1, device_id=unit)
    assert not response.isError(), response
    return bool(response.bits[0])


def number(unit: SimulatedUnit, name: str) -> float:
    value = unit.get(name)
    assert isinstance(value, int | float)
    return float(value)


def as_float32(value: float) -> float:
    return float(struct.unpack(">f", struct.pack(">f", value))[0])


SIGNALS = [
    ("sine", "float32", {"kind": "sine", "mean": 10, "amplitude": 3, "period": "1s"}),
    ("ramp", "float64", {"kind": "ramp", "start": -5, "rate": 1.5}),
    ("saw", "int16", {"kind": "sawtooth", "low": -100, "high": 100, "period": "700ms"}),
    ("square", "uint16", {"kind": "square", "low": 3, "high": 9, "period": "400ms"}),
    ("step", "int32", {"kind": "step", "low": -70000, "high": 70000, "at": "1s"}),
    (
        "walk",
        "float32",
        {"kind": "random_walk", "start": 50, "step": 2, "low": 0, "high": 100, "interval": "100ms"},
    ),
    (
        "count",
        "uint32",
        {"kind": "counter", "start": 4294967290, "increment": 1, "interval": "100ms"},
    ),
    ("const", "bcd16", {"kind": "constant", "value": 1234}),
]


@pytest.mark.parametrize("word_order", ["big", "little"])
async def test_served_registers_decode_to_the_signal_values(
    modbus_client: ClientFactory, word_order: str
) -> None:
    points = [
        {"name": name, "table": "input_register", "address": 4 * i, "type": kind, "signal": signal}
        for i, (name, kind, signal) in enumerate(SIGNALS)
    ]
    plant = plant_of(points, word_order=word_order)
    unit_config = plant.slaves[0].units[0]
    async with run_plant(plant, autotick=False) as running:
        client = await modbus_client(running.slave("plc").port)
        for ticks in (1, 4, 7, 3):  # t = 0.1, 0.5, 1.2, 1.5 s
            await running.advance(ticks)
            registers = await read_registers(
                client, Table.INPUT_REGISTER, 0, unit_config.table_size
            )
            for point in unit_config.points:
                encoding = unit_config.encoding(point)
                assert encoding is not None
                assert isinstance(point.signal, BaseSignal)
                raw = registers[point.address : point.address + point.size]
                served = decode(raw, encoding)
                signal = point.signal
                if point.name == "walk":  # unseeded: derived from plant seed, slave, unit, point
                    seed = derive_seed(derive_seed(plant.seed, "plc", 1), "walk")
                    signal = signal.model_copy(update={"seed": seed})
                expected = fit(signal.sample(running.time), point.type)
                if point.type == "float32":
                    expected = as_float32(float(expected))
                assert served == expected, (point.name, running.time)


async def test_the_random_walk_served_is_the_pure_function_of_seed_and_tick(
    modbus_client: ClientFactory,
) -> None:
    walk = {"kind": "random_walk", "start": 0, "step": 1, "interval": "100ms", "seed": 77}
    points = [
        {
            "name": "walk",
            "table": "holding_register",
            "address": 0,
            "type": "float64",
            "signal": walk,
        }
    ]
    plant = plant_of(points)
    signal = plant.slaves[0].units[0].points[0].signal
    assert signal is not None
    async with run_plant(plant, autotick=False) as running:
        client = await modbus_client(running.slave("plc").port)
        await running.advance(25)
        registers = await read_registers(client, Table.HOLDING_REGISTER, 0, 4)
    assert decode(registers, Encoding(DataType.FLOAT64)) == signal.sample(2.5)


VALUES: list[tuple[str, Value, dict[str, Any]]] = [
    ("int16", -12345, {}),
    ("uint16", 54321, {}),
    ("int32", -2_000_000_000, {}),
    ("uint32", 4_000_000_000, {}),
    ("int64", -(2**62) - 7, {}),
    ("uint64", 2**63 + 5, {}),
    ("float32", 3.25, {}),
    ("float64", -1.0e-300, {}),
    ("bcd16", 9876, {}),
    ("bcd32", 12345678, {}),
    ("string", "PUMP-7", {"length": 4}),
    ("int16", -40.5, {"scale": 0.1, "offset": 0.0}),
    ("bool", True, {}),
]


@pytest.mark.parametrize(
    ("byte_order", "word_order"),
    [("big", "big"), ("big", "little"), ("little", "big"), ("little", "little")],
)
async def test_every_type_in_every_order_reads_back_with_the_gateway_codec(
    modbus_client: ClientFactory, byte_order: str, word_order: str
) -> None:
    points = [
        {
            "name": f"p{i}",
            "table": "holding_register",
            "address": 4 * i,
            "type": kind,
            "value": value,
            **extra,
        }
        for i, (kind, value, extra) in enumerate(VALUES)
    ]
    points.append(
        {
            "name": "flag",
            "table": "holding_register",
            "address": 60,
            "type": "bool",
            "bit": 9,
            "value": True,
        }
    )
    plant = plant_of(points, byte_order=byte_order, word_order=word_order)
    async with run_plant(plant, autotick=False) as running:
        client = await modbus_client(running.slave("plc").port)
        registers = await read_registers(client, Table.HOLDING_REGISTER, 0, 61)
    order = (ByteOrder(byte_order), WordOrder(word_order))
    for i, (kind, value, extra) in enumerate(VALUES):
        encoding = Encoding(DataType(kind), *order, **extra)
        served = decode(registers[4 * i : 4 * i + encoding.register_count], encoding)
        assert served == pytest.approx(value) if isinstance(value, float) else served == value
    assert decode([registers[60]], Encoding(DataType.BOOL, *order, bit=9)) is True
    assert registers[60] != 0


MOTOR_AND_HEATER = [
    {"name": "speed_sp", "table": "holding_register", "address": 0, "type": "float32"},
    {"name": "speed", "table": "input_register", "address": 0, "type": "float32"},
    {"name": "running", "table": "input_register", "address": 2, "type": "bool", "bit": 0},
    {"name": "enable", "table": "coil", "address": 0, "value": True},
    {"name": "heater_on", "table": "coil", "address": 1},
    {"name": "temp", "table": "input_register", "address": 4, "type": "int16", "scale": 0.1},
    {"name": "valve", "table": "holding_register", "address": 2, "type": "uint16", "value": 0},
    {"name": "level", "table": "input_register", "address": 5, "type": "float32"},
]
MODELS = [
    {
        "kind": "motor",
        "speed": "speed",
        "setpoint": "speed_sp",
        "rate": 100,
        "enable": "enable",
        "running": "running",
        "running_above": 1,
    },
    {
        "kind": "heater",
        "temperature": "temp",
        "heater_on": "heater_on",
        "ambient": 20,
        "max": 120,
        "time_constant": "10s",
    },
    {
        "kind": "tank",
        "level": "level",
        "inflow": 0.0,
        "outflow": 1.0,
        "valve": "valve",
        "max": 100,
        "initial_level": 50,
    },
]


async def test_master_writes_take_effect_at_once_and_feed_the_models(
    modbus_client: ClientFactory,
) -> None:
    async with run_plant(plant_of(MOTOR_AND_HEATER, MODELS), autotick=False) as running:
        plc = running.slave("plc")
        unit = plc.unit(1)
        client = await modbus_client(plc.port)
        sp = struct.unpack(">HH", struct.pack(">f", 500.0))
        assert not (await client.write_registers(0, list(sp), device_id=1)).isError()  # FC16
        assert not (await client.write_coil(1, True, device_id=1)).isError()  # FC05
        assert not (await client.write_register(2, 50, device_id=1)).isError()  # FC06
        assert unit.get("speed_sp") == 500.0  # stored before the next tick
        assert unit.get("heater_on") is True
        await running.advance(10)  # one second
        assert unit.get("speed") == pytest.approx(100.0)
        assert unit.get("running") is True
        assert unit.get("temp") == pytest.approx(20 + 100 * (1 - math.exp(-0.1)), abs=0.05)
        assert unit.get("level") == pytest.approx(50 - 0.5)
        # FC15: disable the motor and switch the heater off in one request
        assert not (await client.write_coils(0, [False, False], device_id=1)).isError()
        speed_before = number(unit, "speed")
        await running.advance(5)
        assert number(unit, "speed") == pytest.approx(speed_before - 50)
        assert number(unit, "temp") < 30.0
        registers = await read_registers(client, Table.INPUT_REGISTER, 0, 2)
        assert decode(registers, Encoding(DataType.FLOAT32)) == unit.get("speed")
        assert unit.writes == 4


async def test_writing_a_model_state_point_sets_the_state(modbus_client: ClientFactory) -> None:
    points = [
        {"name": "level", "table": "holding_register", "address": 0, "type": "float32"},
        {
            "name": "inflow",
            "table": "holding_register",
            "address": 2,
            "type": "float32",
            "value": 1.0,
        },
    ]
    models = [{"kind": "tank", "level": "level", "inflow": "inflow", "max": 100}]
    async with run_plant(plant_of(points, models), autotick=False) as running:
        unit = running.slave("plc").unit(1)
        client = await modbus_client(running.slave("plc").port)
        await running.advance(10)
        assert unit.get("level") == pytest.approx(1.0)
        words = struct.unpack(">HH", struct.pack(">f", 40.0))
        assert not (await client.write_registers(0, list(words), device_id=1)).isError()
        await running.advance(10)
        assert unit.get("level") == pytest.approx(41.0)


async def test_the_ticker_keeps_real_time(eventually: WaitUntil) -> None:
    counter = {"kind": "counter", "interval": "50ms"}
    plant = plant_of(
        [
            {
                "name": "n",
                "table": "input_register",
                "address": 0,
                "type": "uint16",
                "signal": counter,
            }
        ]
    ).model_copy(update={"tick": 0.05})
    started = time.monotonic()
    async with run_plant(plant) as running:
        unit = running.slave("plc").unit(1)
        await eventually(lambda: running.tick_index >= 10, timeout=5, message="10 ticks")
        elapsed = time.monotonic() - started
        assert number(unit, "n") >= 10
        assert running.tick_index <= elapsed / 0.05 + 1  # never ahead of the clock
        assert elapsed >= 0.45


async def test_the_demo_plant_serves_every_gateway_tag(modbus_client: ClientFactory) -> None:
    plant = load_plant(ROOT / "simulators" / "plants" / "demo.yaml")
    slaves = tuple(s.model_copy(update={"port": 0}) for s in plant.slaves)  # keep CI ports free
    config = load_config(ROOT / "examples" / "demo.yaml", serve_opcua=False).config
    by_port = {s.port: s.name for s in plant.slaves}
    async with run_plant(plant.model_copy(update={"slaves": slaves}), autotick=False) as running:
        await running.advance(20)
        checked = 0
        for device in config.devices:
            slave = running.slave(by_port[device.port])
            client = await modbus_client(slave.port, rtu=device.transport == "rtu_over_tcp")
            unit = slave.unit(device.unit_id)
            for tag in device.tags:
                if tag.table.is_bit:
                    value: Value = await read_bit(client, tag.table, tag.address, device.unit_id)
                else:
                    raw = await read_registers(
                        client, tag.table, tag.address, tag.size, device.unit_id
                    )
                    resolved = device.resolve(tag)
                    encoding = Encoding(
                        tag.type,
                        resolved.byte_order,
                        resolved.word_order,
                        tag.length,
                        tag.bit,
                        tag.scale,
                        tag.offset,
                    )
                    value = decode(raw, encoding)
                assert value == unit.get(tag.name), f"{device.name}.{tag.name}"
                checked += 1
    assert checked == 103  # 98 over Modbus TCP, the meter's 5 over RTU over TCP


async def test_thermostat_and_limit_switch_follow_a_written_measurement(
    modbus_client: ClientFactory,
) -> None:
    points = [
        {"name": "temp", "table": "holding_register", "address": 0, "type": "float32", "value": 60},
        {"name": "sp", "table": "holding_register", "address": 2, "type": "float32", "value": 50},
        {"name": "burner", "table": "coil", "address": 0},
        {"name": "too_hot", "table": "discrete_input", "address": 0},
    ]
    models = [
        {
            "kind": "thermostat",
            "output": "burner",
            "measurement": "temp",
            "setpoint": "sp",
            "hysteresis": 4,
        },
        {"kind": "limit", "output": "too_hot", "input": "temp", "above": 80, "hysteresis": 5},
    ]
    async with run_plant(plant_of(points, models), autotick=False) as running:
        plc = running.slave("plc")
        client = await modbus_client(plc.port)

        async def write_temp(value: float) -> None:
            registers = list(struct.unpack(">HH", struct.pack(">f", value)))
            assert not (await client.write_registers(0, registers, device_id=1)).isError()
            await running.advance(1)

        async def outputs() -> tuple[bool, bool]:
            burner = await client.read_coils(0, count=1, device_id=1)
            too_hot = await client.read_discrete_inputs(0, count=1, device_id=1)
            return bool(burner.bits[0]), bool(too_hot.bits[0])

        await write_temp(47.0)  # below sp - hysteresis/2
        assert await outputs() == (True, False)
        await write_temp(51.0)  # inside the dead band: keeps its state
        assert await outputs() == (True, False)
        await write_temp(52.5)
        assert await outputs() == (False, False)
        await write_temp(81.0)  # trips above 80
        assert await outputs() == (False, True)
        await write_temp(76.0)  # resets only below 80 - 5
        assert await outputs() == (False, True)
        await write_temp(74.0)
        assert await outputs() == (False, False)
