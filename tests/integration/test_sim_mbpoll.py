"""Interop: mbpoll (a C master on libmodbus, Debian package) reads a simulated slave.

A second, independent Modbus implementation guards against the simulator and
pymodbus agreeing on the same mistake. Without mbpoll the test skips on a
laptop and fails in CI (the CI env var), where .ci/run installs it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator

import pytest

from simulators.plant import Plant
from simulators.runtime import run_plant
from simulators.slave import SimulatedSlave

PLANT = {
    "name": "interop",
    "slaves": [
        {
            "name": "plc",
            "port": 0,
            "units": [
                {
                    "unit_id": 3,
                    "word_order": "little",  # mbpoll's default float/int word order
                    "points": [
                        {"name": "flow", "ref": 40001, "type": "float32", "value": 12.5},
                        {
                            "name": "level",
                            "ref": 40003,
                            "type": "float32",
                            "value": -0.75,
                            "word_order": "big",
                        },
                        {"name": "offset", "ref": 40005, "type": "int16", "value": -1234},
                        {"name": "total", "ref": 40007, "type": "int32", "value": -100000},
                        {"name": "raw", "ref": 30001, "type": "uint16", "value": 65535},
                        {"name": "pump", "table": "coil", "address": 0, "value": True},
                        {"name": "fan", "table": "coil", "address": 2, "value": True},
                        {"name": "door", "table": "discrete_input", "address": 1, "value": True},
                        {"name": "setpoint", "ref": 40010, "type": "uint16", "value": 0},
                    ],
                }
            ],
        }
    ],
}


@pytest.fixture
def mbpoll() -> str:
    path = shutil.which("mbpoll")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("mbpoll is not installed (apt-get install mbpoll); CI must run this test")
        pytest.skip("mbpoll is not installed (apt-get install mbpoll)")
    return path


@pytest.fixture
async def plc() -> AsyncIterator[SimulatedSlave]:
    async with run_plant(Plant.model_validate(PLANT), autotick=False) as running:
        yield running.slave("plc")


async def poll(mbpoll: str, port: int, *args: str) -> dict[int, str]:
    """Run mbpoll once against unit 3 (0-based references); return {reference: text}."""
    process = await asyncio.create_subprocess_exec(
        mbpoll,
        "-m",
        "tcp",
        "-a",
        "3",
        "-0",
        "-1",
        "-o",
        "2",
        "-p",
        str(port),
        *args,
        "127.0.0.1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 0, stderr.decode() + stdout.decode()
    return {
        int(ref): value for ref, value in re.findall(r"^\[(\d+)\]:\s+(.+)$", stdout.decode(), re.M)
    }


async def test_mbpoll_reads_floats_in_both_word_orders(mbpoll: str, plc: SimulatedSlave) -> None:
    assert await poll(mbpoll, plc.port, "-t", "4:float", "-r", "0") == {0: "12.5"}
    assert await poll(mbpoll, plc.port, "-t", "4:float", "-B", "-r", "2") == {2: "-0.75"}


async def test_mbpoll_reads_integers_and_input_registers(mbpoll: str, plc: SimulatedSlave) -> None:
    assert await poll(mbpoll, plc.port, "-t", "4", "-r", "4") == {4: "64302 (-1234)"}
    assert await poll(mbpoll, plc.port, "-t", "4:int", "-r", "6") == {6: "-100000"}
    assert await poll(mbpoll, plc.port, "-t", "3", "-r", "0") == {0: "65535 (-1)"}


async def test_mbpoll_reads_coils_and_discrete_inputs(mbpoll: str, plc: SimulatedSlave) -> None:
    assert await poll(mbpoll, plc.port, "-t", "0", "-r", "0", "-c", "3") == {
        0: "1",
        1: "0",
        2: "1",
    }
    assert await poll(mbpoll, plc.port, "-t", "1", "-r", "0", "-c", "2") == {0: "0", 1: "1"}


async def test_mbpoll_writes_a_holding_register(mbpoll: str, plc: SimulatedSlave) -> None:
    process = await asyncio.create_subprocess_exec(
        mbpoll,
        "-m",
        "tcp",
        "-a",
        "3",
        "-0",
        "-1",
        "-p",
        str(plc.port),
        "-t",
        "4",
        "-r",
        "9",
        "127.0.0.1",
        "555",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 0
    assert "Written 1 references" in stdout.decode()
    assert plc.unit(3).get("setpoint") == 555
