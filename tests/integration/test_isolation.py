"""One hung device never delays the others (issue: 20 devices, one hung)."""

from __future__ import annotations

import itertools
import statistics
from typing import Any

import pytest
from gatewaykit import make_plant, wait_for

from gateway.bus import Bus
from gateway.config import GatewayConfig
from gateway.modbus.acquisition import Acquisition
from simulators.runtime import RunningPlant, run_plant

DEVICES = 20
INTERVAL = 0.1
SCANS = 25

POINTS = [
    {
        "name": "counter",
        "table": "input_register",
        "address": 0,
        "type": "uint16",
        "signal": {"kind": "counter", "start": 0, "increment": 1, "interval": "20ms"},
    },
    {"name": "value", "table": "holding_register", "address": 0, "type": "float32", "value": 1.0},
]
TAGS = [
    {"name": "counter", "table": "input_register", "address": 0, "type": "uint16"},
    {"name": "value", "table": "holding_register", "address": 0, "type": "float32"},
]


def _config(running: RunningPlant) -> GatewayConfig:
    devices: list[dict[str, Any]] = [
        {
            "name": f"d{i}",
            "host": "127.0.0.1",
            "port": running.slave(f"d{i}").port,
            "scan_interval": INTERVAL,
            "timeout": "1s",
            "demote_after": 0,
            "tags": TAGS,
        }
        for i in range(DEVICES)
    ]
    return GatewayConfig.model_validate(
        {"gateway": {"name": "iso"}, "opcua": {"anonymous": True}, "devices": devices}
    )


async def _scan_intervals(*, hang_first: bool) -> list[float]:
    """Scan-to-scan intervals (s) of devices d1..d19, from response arrival times."""
    plant = make_plant({f"d{i}": POINTS for i in range(DEVICES)}, tick=0.02)
    async with run_plant(plant) as running:
        if hang_first:
            running.slave("d0").hang()
        bus = Bus()
        subscription = bus.subscribe("iso", maxsize=100_000)
        arrivals: dict[str, list[float]] = {f"d{i}": [] for i in range(1, DEVICES)}

        def enough() -> bool:
            for batch in subscription.get_nowait():
                for value in batch:
                    device = value.tag.split(".")[0]
                    if value.tag.endswith(".counter") and device in arrivals:
                        assert value.source_time is not None
                        arrivals[device].append(value.source_time)
            return all(len(times) > SCANS for times in arrivals.values())

        async with Acquisition(_config(running), bus, seed=3) as acquisition:
            await wait_for(enough, timeout=30, message=f"{SCANS} scans of every healthy device")
            if hang_first:
                assert acquisition.health("d0").timeouts >= 1
    return [
        later - earlier
        for times in arrivals.values()
        for earlier, later in itertools.pairwise(times[1 : SCANS + 1])
    ]


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


async def test_one_hung_device_does_not_delay_the_others() -> None:
    healthy = await _scan_intervals(hang_first=False)
    with_hung = await _scan_intervals(hang_first=True)
    assert statistics.median(healthy) == pytest.approx(INTERVAL, rel=0.05)
    assert statistics.median(with_hung) == pytest.approx(INTERVAL, rel=0.05)
    # p99 of the scan-to-scan interval stays within 10% of the all-healthy run's.
    assert _p99(with_hung) <= _p99(healthy) * 1.10, (_p99(healthy), _p99(with_hung))
