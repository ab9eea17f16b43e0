"""Devices sharing an RTU line, on a fake clock: they take turns, and a dead unit costs
the others its timeout and no more (no reconnect, no backoff of theirs)."""

from __future__ import annotations

import itertools
from typing import Any

from fakeclock import FakeClock
from memoryline import MemoryLine
from pollerkit import config

from gateway.bus import Bus
from gateway.config import DeviceConfig
from gateway.modbus.acquisition import Acquisition
from gateway.modbus.health import DeviceState
from gateway.modbus.transport import ModbusTransport
from gateway.model import Table
from gateway.rtuframe import LineTiming

PORT = "/dev/ttyMEM0"


def device(name: str, unit: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "transport": "rtu",
        "unit_id": unit,
        "serial": {"port": PORT, "baudrate": 9600},
        "demote_after": 0,
        "tags": [{"name": "v", "table": "holding_register", "address": 0, "type": "uint16"}],
        **extra,
    }


def acquisition(line: MemoryLine, devices: list[dict[str, Any]]) -> Acquisition:
    opened: list[ModbusTransport] = []

    def transport(first: DeviceConfig, connect_timeout: float) -> ModbusTransport:
        assert not opened, "one port, one transport for every device on it"
        opened.append(line.transport())
        return opened[0]

    return Acquisition(config(devices), Bus(), seed=1, transport=transport, clock=line.clock)


def test_devices_on_a_busy_line_take_turns_request_by_request() -> None:
    clock = FakeClock()
    line = MemoryLine(clock, timing=LineTiming(9600))
    for unit in (1, 2):
        line.slave(unit).set_registers(Table.HOLDING_REGISTER, 0, [unit] * 100)
    many_blocks = [
        {"name": f"v{i}", "table": "holding_register", "address": 20 * i, "type": "uint16"}
        for i in range(4)
    ]
    devices = [
        device("a", 1, scan_interval="5ms", max_read_gap=0, tags=many_blocks),
        device("b", 2, scan_interval="5ms"),
    ]

    async def main() -> list[int]:
        async with acquisition(line, devices):
            await clock.sleep(2.0)
        return [sent.unit for sent in line.sent]

    units = clock.run(main())
    assert len(units) > 50  # the line was saturated: ~21 ms per exchange at 9600 baud
    steady = units[4:]
    # Both always wait for the line; asyncio's lock serves them first come, first served.
    assert all(x != y for x, y in itertools.pairwise(steady)), units


def test_a_dead_unit_costs_the_others_its_timeout_and_no_more() -> None:
    clock = FakeClock()
    line = MemoryLine(clock, timing=LineTiming(9600))
    for unit in (1, 2, 3):
        line.slave(unit)
    line.hung.add(3)
    timing = {"scan_interval": "200ms", "timeout": "100ms"}
    retry = {"reconnect_min": "500ms", "reconnect_max": "500ms"}
    devices = [
        device("a", 1, **timing),
        device("b", 2, **timing),
        device("dead", 3, **timing, **retry),
    ]

    async def main() -> Acquisition:
        async with acquisition(line, devices) as running:
            await clock.sleep(10.0)
        return running

    running = clock.run(main())
    a, b, dead = (running.health(name) for name in ("a", "b", "dead"))
    for health in (a, b):
        assert health.state is DeviceState.OK
        assert [state for _, state in health.history] == [DeviceState.OK]
        assert health.missed_scans == 0
        assert health.errors == 0
    assert dead.timeouts >= 15  # it was tried every ~0.6 s, each try one timeout
    assert line.opens == 1  # the line was never reset for the others
    exchange = 0.021  # a 2-register read and answer at 9600 baud with both t3.5
    sends = [sent.at for sent in line.sent if sent.unit == 1]
    longest = max(later - earlier for earlier, later in itertools.pairwise(sends))
    # At worst a's turn came after one of the dead unit's requests ran out, and b's.
    assert longest <= 0.2 + 0.1 + 2 * exchange
