"""Devices sharing one connection (`connection: <name>`) on a fake clock and in memory.

Two units behind one Modbus gateway address: an outage costs both one
reconnect, a hung unit breaks the connection but not its sibling, a write's
read-modify-write is never split by the other unit's polling. The schedule
here is exact (FakeClock), so each assertion holds however busy the machine.
(The real-TCP tests in integration/test_shared_connection.py keep what is
about TCP: one socket for both units, concurrent connects opening one.)
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from fakeclock import FakeClock
from memorymodbus import MemoryDevice, MemoryNetwork
from pollerkit import Polled, polled, until
from twounits import EXPECTED, FAST, TAGS, UNIT_VALUES

from gateway.modbus.health import DeviceState
from gateway.model import DataType, Status, Table, TagValue

GOOD = Status.GOOD
UNCERTAIN = Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE


def _gateway(network: MemoryNetwork) -> MemoryDevice:
    """A Modbus TCP gateway at gw:502 with units 1 and 2 behind it."""
    gw = network.device("gw", units=2)
    for unit, (temp, status, pump) in UNIT_VALUES.items():
        gw.put(0, temp, DataType.FLOAT32, unit=unit)
        gw.put(4, status, unit=unit)
        gw.put(0, pump, table=Table.COIL, unit=unit)
    return gw


def _devices(**per_device: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "name": f"d{unit}",
            "host": "gw",
            "port": 502,
            "unit_id": unit,
            "connection": "gw",
            "tags": TAGS,
            **FAST,
            **per_device.get(f"d{unit}", {}),
        }
        for unit in (1, 2)
    ]


def _all(status: Status, prefix: str = "") -> Callable[[dict[str, TagValue]], bool]:
    keys = [key for key in EXPECTED if key.startswith(prefix)]
    return lambda v: all(key in v and v[key].status is status for key in keys)


async def _seen(p: Polled, predicate: Callable[[dict[str, TagValue]], bool], message: str) -> None:
    """Until the state after one of the batches still to come satisfies `predicate`
    (replayed batch by batch, so a state that lasts one scan is not missed)."""
    since = len(p.batches)

    def reached() -> bool:
        p.pump()
        values: dict[str, TagValue] = {}
        for index, batch in enumerate(p.batches):
            values.update((value.tag, value) for value in batch)
            if index >= since and predicate(values):
                return True
        return False

    await until(reached, within=5, message=message)


def test_an_offline_gateway_makes_both_uncertain_and_both_recover_with_one_reconnect() -> None:
    clock = FakeClock()
    network = MemoryNetwork(clock)
    gw = _gateway(network)

    async def main() -> None:
        async with polled(clock, network, _devices(), seed=2) as p:
            got = await p.until_values(_all(GOOD), within=1, message="every tag Good")
            assert {key: got[key].value for key in EXPECTED} == EXPECTED
            link = p.acquisition.link("d1")
            assert p.acquisition.link("d2") is link
            gw.go_offline()
            got = await p.until_values(_all(UNCERTAIN), within=2, message="both Uncertain")
            assert {key: got[key].value for key in EXPECTED} == EXPECTED  # last usable values
            healths = [p.acquisition.health(name) for name in ("d1", "d2")]
            await until(
                lambda: all(h.state is not DeviceState.OK and h.errors >= 2 for h in healths),
                within=2,
                message="both failing",
            )
            gw.clear_faults()  # back online
            await p.until_values(_all(GOOD), within=2, message="every tag Good again")
            await until(
                lambda: all(h.state is DeviceState.OK for h in healths), within=1, message="ok"
            )
            assert gw.open_connections == 1
            assert link.connects == 2  # one reconnect for both: they did not fight

    clock.run(main())


def test_one_hung_unit_breaks_the_connection_but_not_the_other_unit() -> None:
    clock = FakeClock()
    network = MemoryNetwork(clock)
    gw = _gateway(network)
    hung = {"demote_after": 2, "demote_for": "400ms"}

    async def main() -> None:
        async with polled(clock, network, _devices(d2=hung), seed=2) as p:
            await p.until_values(_all(GOOD), within=1, message="every tag Good")
            d1, d2 = p.acquisition.health("d1"), p.acquisition.health("d2")
            gw.hang(unit=2)
            await p.until_values(_all(UNCERTAIN, "d2"), within=2, message="d2 Uncertain")
            await until(lambda: d2.state is DeviceState.DEMOTED, within=2, message="demoted")
            # d2's timeouts reset the shared connection; d1 learnt why and reconnected.
            assert d2.timeouts == 2
            assert d1.timeouts == 0
            assert "on device d2" in d1.last_error
            await _seen(p, _all(GOOD, "d1"), "d1 Good while d2 is demoted")
            assert p.values["d2.temp"].status is UNCERTAIN
            assert d1.state is DeviceState.OK
            gw.clear_faults()
            await p.until_values(_all(GOOD), within=2, message="every tag Good after d2's demotion")
            assert gw.open_connections == 1

    clock.run(main())


def test_a_write_on_one_unit_is_never_split_by_the_other_units_polling() -> None:
    clock = FakeClock()
    network = MemoryNetwork(clock)
    gw = _gateway(network)
    gw.delay = 0.01  # every request holds the connection for 10 ms: d2 always waits
    # d1 polls every 10 s, so its only requests here are the write's; d2 polls non-stop.
    devices = _devices(d1={"scan_interval": "10s"}, d2={"scan_interval": "10ms"})

    async def main() -> None:
        async with polled(clock, network, devices, seed=2) as p:
            await p.until_values(_all(GOOD), within=1, message="every tag Good")
            await clock.sleep(0.1)
            await p.acquisition.write("d1.fault", True)  # read-modify-write of unit 1's register 4
            assert gw.unit(1).registers(Table.HOLDING_REGISTER, 4, 1) == [0b111]
            assert gw.unit(2).registers(Table.HOLDING_REGISTER, 4, 1) == [0b010]
            await clock.sleep(0.1)
            got = await p.until_values(
                lambda v: v["d1.fault"].value is True, within=0.05, message="re-read of d1.fault"
            )
            assert got["d1.fault"].status is GOOD
            assert gw.open_connections == 1
            assert p.acquisition.health("d1").errors == p.acquisition.health("d2").errors == 0

    clock.run(main())
    asked = [(seen.unit, seen.pdu) for seen in gw.requests]
    index = asked.index((1, struct.pack(">BHH", 3, 4, 1)))  # the write's read
    # The write followed its read at once: no request of d2 slipped in between.
    assert asked[index + 1] == (1, struct.pack(">BHH", 6, 4, 0b111))
    # d2 was polling up to the write and queued behind it: it went before and next.
    assert asked[index - 1][0] == 2
    assert asked[index + 2][0] == 2
