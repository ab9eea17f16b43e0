"""One hung device never delays the others (issue: 20 devices, one hung), on a fake clock.

The measured version of this test compared the 99th percentile of scan
intervals with and without a hung device (within 10 %) and failed on a busy
machine. Here time is a FakeClock's and the devices are in memory, so the
property is exact: the healthy devices' requests happen at the same instants
whether or not one device hangs, on a grid that does not drift.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from fakeclock import FakeClock
from memorymodbus import MemoryNetwork
from pollerkit import polled, until

from gateway.model import DataType, Status

DEVICES = 20
INTERVAL = 0.1
SCANS = 25
START = 1000.0
TAGS: list[dict[str, Any]] = [
    {"name": "counter", "table": "input_register", "address": 0, "type": "uint16"},
    {"name": "value", "table": "holding_register", "address": 0, "type": "float32"},
]


def _requests(*, hang_first: bool) -> dict[str, list[float]]:
    """Clock times of every request of devices d1..d19 over their first SCANS scans."""
    clock = FakeClock(start=START)
    network = MemoryNetwork(clock)
    plcs = [network.device(f"d{i}") for i in range(DEVICES)]
    for plc in plcs:
        plc.put(0, 1.0, DataType.FLOAT32)
        plc.delay = 0.002  # a 2 ms round trip
    if hang_first:
        plcs[0].hang()
    devices = [
        {
            "name": f"d{i}",
            "host": f"d{i}",
            "port": 502,
            "scan_interval": INTERVAL,
            "timeout": "1s",
            "demote_after": 0,
            "tags": TAGS,
        }
        for i in range(DEVICES)
    ]

    async def main() -> None:
        async with polled(clock, network, devices, seed=3) as p:
            healths = [p.acquisition.health(f"d{i}") for i in range(1, DEVICES)]
            await until(
                lambda: all(health.scans > SCANS for health in healths),
                within=30,
                message=f"{SCANS} scans of every healthy device",
            )
            if hang_first:
                p.pump()
                assert p.acquisition.health("d0").timeouts >= 1
                assert p.values["d0.value"].status is Status.BAD_NO_COMMUNICATION
            assert all(health.missed_scans == 0 for health in healths)
            assert all(health.errors == 0 for health in healths)

    clock.run(main())
    return {plc.where: [seen.at for seen in plc.requests[: 2 * SCANS]] for plc in plcs[1:]}


def test_one_hung_device_does_not_delay_the_others() -> None:
    healthy = _requests(hang_first=False)
    with_hung = _requests(hang_first=True)
    assert with_hung == healthy  # to the microsecond: the hung device changed nothing
    for times in with_hung.values():
        scans = times[::2]  # two blocks per scan: the first request begins the scan
        intervals = [later - earlier for earlier, later in itertools.pairwise(scans[1:])]
        assert intervals == pytest.approx([INTERVAL] * (SCANS - 2), abs=1e-9)
