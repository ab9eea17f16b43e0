"""Over real TCP, a hung device (accepts, never answers) never stops the others.

The schedule itself (the others' requests at exactly the same instants with
and without the hung device, on a grid that does not drift) is tested on a
fake clock: unit/test_poller_isolation.py. Here the same 20 devices poll
real simulated PLCs on their own sockets while one hangs: every healthy
device keeps scanning with Good values and no failure, the hung one times
out. Nothing here is measured: a busy machine only makes it take longer.
"""

from __future__ import annotations

from typing import Any

from gatewaykit import make_plant, wait_for

from gateway.bus import Bus
from gateway.config import GatewayConfig
from gateway.modbus.acquisition import Acquisition
from gateway.model import Status
from simulators.runtime import RunningPlant, run_plant

DEVICES = 20
INTERVAL = 0.1
SCANS = 10

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


async def test_one_hung_device_does_not_stop_the_others() -> None:
    plant = make_plant({f"d{i}": POINTS for i in range(DEVICES)}, tick=0.02)
    async with run_plant(plant) as running:
        running.slave("d0").hang()
        bus = Bus()
        subscription = bus.subscribe("iso", maxsize=100_000)
        async with Acquisition(_config(running), bus, seed=3) as acquisition:
            healthy = [acquisition.health(f"d{i}") for i in range(1, DEVICES)]
            hung = acquisition.health("d0")
            await wait_for(
                lambda: all(h.scans > SCANS for h in healthy) and hung.timeouts >= 1,
                timeout=30,
                message=f"{SCANS} scans of every healthy device, a timeout of the hung one",
            )
            assert all(h.errors == 0 for h in healthy)
    latest = {value.tag: value for batch in subscription.get_nowait() for value in batch}
    for i in range(1, DEVICES):
        assert latest[f"d{i}.value"].status is Status.GOOD
        assert latest[f"d{i}.counter"].status is Status.GOOD
    assert latest["d0.value"].status is Status.BAD_NO_COMMUNICATION
