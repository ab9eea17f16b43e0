"""The gateway polling simulated RTU units over real pseudo-terminals and TCP.

Units 1 and 2 share a line: every data type in every byte and word order,
writes of each kind, a broadcast, and each RTU fault on a third unit while
its neighbours go on. The same over a simulated RTU-over-TCP converter, and
over a socat pseudo-terminal pair (the simulator at one end's path, as it
would hold a real adapter). Lines run at 115200 baud, parity none (a
pseudo-terminal refuses even and odd), with replies paced at that speed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rtukit import FAST, expected_values, points, polling, socat_pair, tags, wait_until

from gateway.modbus.health import DeviceState
from gateway.modbus.rtuline import RtuLine
from gateway.model import Status
from simulators.runtime import RunningPlant

GOOD = Status.GOOD
SERIAL = {"baudrate": 115200, "parity": "none"}


def plant(transport: str = "rtu", port: str = "pty", third: bool = True) -> dict[str, Any]:
    units = [{"unit_id": unit, "points": points(unit)} for unit in (1, 2)]
    if third:
        units.append({"unit_id": 3, "points": points(1)})
    serial = {**SERIAL, "port": port} if transport == "rtu" else SERIAL
    slave = {"name": "line", "transport": transport, "serial": serial, "units": units}
    return {"name": "rtu", "slaves": [slave]}


def on_line(
    units: tuple[int, ...] = (1, 2), *, transport: str = "rtu", port: str | None = None
) -> Callable[[RunningPlant], list[dict[str, Any]]]:
    """Devices d<unit> for `units` on the plant's line (its pty path, or its TCP port)."""

    def devices(running: RunningPlant) -> list[dict[str, Any]]:
        line = running.slave("line")
        if transport == "rtu":
            where: dict[str, Any] = {"serial": {**SERIAL, "port": port or line.where}}
        else:
            where = {"host": "127.0.0.1", "port": line.port}
        return [
            {
                "name": f"d{unit}",
                "transport": transport,
                "unit_id": unit,
                **where,
                **FAST,
                "tags": tags(1 if unit == 3 else unit),
            }
            for unit in units
        ]

    return devices


def all_good(values: dict[str, Any], expected: dict[str, Any]) -> bool:
    return all(
        key in values and values[key].status is GOOD and values[key].value == value
        for key, value in expected.items()
    )


async def test_every_type_and_order_from_two_units_on_one_line() -> None:
    expected = {**expected_values("d1", 1), **expected_values("d2", 2)}
    async with polling(plant(third=False), on_line()) as run:
        await wait_until(lambda: all_good(run.latest(), expected), what="every tag Good")
        line = run.acquisition.link("d1").transport
        assert line is run.acquisition.link("d2").transport  # one port, one line
        assert isinstance(line, RtuLine)
        counters = line.counters
        assert counters.requests > 0
        assert counters.bad_crc == counters.timeouts == counters.stale_bytes == 0


async def test_writes_of_each_kind_and_a_broadcast() -> None:
    broadcast = {
        "name": "everyone",
        "transport": "rtu",
        "unit_id": 0,
        "turnaround": "20ms",
        "tags": [
            {
                "name": "status",
                "table": "holding_register",
                "address": 0,
                "type": "uint16",
                "writable": True,
            }
        ],
    }

    def devices(running: RunningPlant) -> list[dict[str, Any]]:
        made = on_line()(running)
        serial = made[0]["serial"]
        # The status word of each unit, written to all at once.
        address = next(t for t in made[0]["tags"] if t["name"] == "status")["address"]
        broadcast["tags"][0]["address"] = address
        return [*made, {**broadcast, "serial": serial, **FAST}]

    async with polling(plant(third=False), devices) as run:
        expected = {**expected_values("d1", 1), **expected_values("d2", 2)}
        await wait_until(lambda: all_good(run.latest(), expected), what="every tag Good")
        write = run.acquisition.write
        await write("d1.float32_bb", 99.5)  # FC16
        await write("d1.uint16", 4321)  # FC06
        await write("d1.coil", False)  # FC05
        await write("d2.label", "ABCD")  # FC16, a string
        await write("d2.bit1", True)  # FC03 + FC06: one bit of the status word
        unit1, unit2 = run.plant.slave("line").unit(1), run.plant.slave("line").unit(2)
        assert (unit1.get("float32_bb"), unit1.get("uint16"), unit1.get("coil")) == (
            99.5, 4321, False)  # fmt: skip
        assert (unit2.get("label"), unit2.get("status")) == ("ABCD", 7)
        await wait_until(lambda: run.latest()["d2.bit1"].value is True, what="the bit read back")
        assert run.acquisition.health("everyone").state is DeviceState.OK
        await write("everyone.status", 0)  # a broadcast: both units act, none answers
        assert (unit1.get("status"), unit2.get("status")) == (0, 0)
        line = run.acquisition.link("d1").transport
        assert isinstance(line, RtuLine)
        assert line.counters.broadcasts == 1
        await wait_until(
            lambda: (
                run.latest()["d1.bit0"].value is False and run.latest()["d2.bit1"].value is False
            ),
            what="the broadcast read back from each unit",
        )


FAULTS: list[tuple[str, Callable[[Any], None], str, str]] = [
    ("no answer", lambda s: s.hang(unit_id=3), "timeouts", "no response from"),
    ("bad CRC", lambda s: s.bad_crc(unit_id=3), "bad_crc", "bad CRC"),
    ("garbage", lambda s: s.garbage(12, unit_id=3), "wrong_unit", "malformed response"),
    ("wrong unit", lambda s: s.wrong_unit(unit_id=3), "wrong_unit", "unit id 4 in the answer"),
    ("short frame", lambda s: s.close_mid_response(unit_id=3), "short_frames", "short frame"),
]


async def test_each_fault_of_one_unit_leaves_its_neighbours_alone() -> None:
    async with polling(plant(), on_line((1, 2, 3))) as run:
        slave = run.plant.slave("line")
        line = run.acquisition.link("d1").transport
        assert isinstance(line, RtuLine)
        health = run.acquisition.health
        await wait_until(
            lambda: all(health(d).state is DeviceState.OK for d in ("d1", "d2", "d3")),
            what="every unit answering",
        )
        # Answering is not yet published: on a busy machine d2's first scan may still run.
        await wait_until(
            lambda: all_good(run.latest(), expected_values("d2", 2)),
            what="d2's first values published",
        )
        for name, inject, counter, words in FAULTS:
            before = getattr(line.counters, counter)
            d1_requests = health("d1").requests
            inject(slave)
            await wait_until(
                lambda c=counter, b=before: getattr(line.counters, c) > b,  # type: ignore[misc]
                what=f"{name}: counted as {counter}",
            )
            await wait_until(lambda w=words: w in health("d3").last_error, what=f"{name}: words")
            # Polled while its neighbour is at fault (a scan of d1 may have been missed
            # under load: it must come, however late, before the fault is cleared).
            await wait_until(
                lambda b=d1_requests: health("d1").requests > b,  # type: ignore[misc]
                what=f"{name}: d1 polled meanwhile",
            )
            await slave.clear_faults()
            await wait_until(lambda: health("d3").state is DeviceState.OK, what=f"{name}: over")
            assert health("d1").state is DeviceState.OK, name
            assert run.latest()["d2.float32_bb"].status is GOOD, name
        assert health("d1").errors == health("d2").errors == 0
        assert run.acquisition.link("d1").connects == 1  # the port was never reopened
        # Slow, within the timeout: answers, later; the neighbours wait their turn.
        slave.slow(0.08, unit_id=3)
        await wait_until(lambda: health("d3").response_time_ms >= 80, what="slow answers")
        assert health("d3").state is DeviceState.OK


async def test_a_malformed_answer_turns_the_block_bad_communication_error() -> None:
    async with polling(plant(), on_line((3,))) as run:
        await wait_until(
            lambda: (
                run.latest().get("d3.int16") is not None and run.latest()["d3.int16"].status is GOOD
            ),
            what="unit 3 read",
        )
        run.plant.slave("line").bad_crc(unit_id=3)
        await wait_until(
            lambda: any(
                v.status is Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE
                for v in run.latest().values()
            ),
            what="the tags keep their last value, Uncertain",
        )


async def test_rtu_over_tcp_through_a_simulated_converter() -> None:
    expected = {**expected_values("d1", 1), **expected_values("d2", 2)}
    async with polling(plant("rtu_over_tcp"), on_line((1, 2, 3), transport="rtu_over_tcp")) as run:
        await wait_until(lambda: all_good(run.latest(), expected), what="every tag Good")
        await run.acquisition.write("d2.uint16", 7)
        assert run.plant.slave("line").unit(2).get("uint16") == 7
        run.plant.slave("line").wrong_unit(unit_id=3)
        line = run.acquisition.link("d1").transport
        assert isinstance(line, RtuLine)
        await wait_until(lambda: line.counters.wrong_unit > 0, what="a wrong unit counted")
        assert run.acquisition.health("d1").state is DeviceState.OK
        assert line is run.acquisition.link("d3").transport  # one converter, one connection


async def test_over_a_socat_pair_with_the_simulator_at_one_end(tmp_path: Path) -> None:
    with socat_pair(tmp_path) as (a, b):
        expected = expected_values("d1", 1)
        async with polling(plant(port=a, third=False), on_line((1,), port=b)) as run:
            await wait_until(lambda: all_good(run.latest(), expected), what="every tag Good")
            await run.acquisition.write("d1.uint16", 11)
            assert run.plant.slave("line").unit(1).get("uint16") == 11


@pytest.mark.parametrize("parity", ["even", "odd"])
async def test_a_pseudo_terminal_refuses_parity_in_words(parity: str) -> None:
    def devices(running: RunningPlant) -> list[dict[str, Any]]:
        made = on_line((1,))(running)
        made[0]["serial"]["parity"] = parity
        return made

    async with polling(plant(third=False), devices) as run:
        health = run.acquisition.health("d1")
        await wait_until(lambda: bool(health.last_error), what="the open failed")
        assert "pseudo-terminals accept parity none only" in health.last_error
