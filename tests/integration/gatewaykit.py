"""Test kit: a simulated plant plus a gateway acquisition pointed at its real ports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from eventually import eventually

from gateway.bus import Bus, Subscription
from gateway.config import GatewayConfig
from gateway.modbus.acquisition import Acquisition
from gateway.model import TagValue
from simulators.plant import Plant
from simulators.runtime import RunningPlant, run_plant

#: A small PLC: two register blocks (0..23 and 100..101), a coil, orders and bits.
PLC_POINTS: list[dict[str, Any]] = [
    {"name": "temp", "table": "holding_register", "address": 0, "type": "float32", "value": 21.5},
    {
        "name": "flow",
        "table": "holding_register",
        "address": 2,
        "type": "float32",
        "word_order": "little",
        "value": 3.25,
    },
    {"name": "status", "table": "holding_register", "address": 4, "type": "uint16", "value": 5},
    {
        "name": "setpoint",
        "table": "holding_register",
        "address": 10,
        "type": "float32",
        "value": 50,
    },
    {"name": "mode", "table": "holding_register", "address": 12, "type": "uint16", "value": 1},
    {
        "name": "label",
        "table": "holding_register",
        "address": 20,
        "type": "string",
        "length": 4,
        "value": "AB12",
    },
    {"name": "level", "table": "holding_register", "address": 100, "type": "float32", "value": 7.0},
    {"name": "pump", "table": "coil", "address": 0, "value": False},
]

PLC_TAGS: list[dict[str, Any]] = [
    {"name": "temp", "table": "holding_register", "address": 0, "type": "float32", "unit": "degC"},
    {
        "name": "flow",
        "table": "holding_register",
        "address": 2,
        "type": "float32",
        "word_order": "little",
    },
    {"name": "run", "table": "holding_register", "address": 4, "type": "bool", "bit": 0},
    {
        "name": "fault",
        "table": "holding_register",
        "address": 4,
        "type": "bool",
        "bit": 1,
        "writable": True,
    },
    {"name": "ready", "table": "holding_register", "address": 4, "type": "bool", "bit": 2},
    {
        "name": "setpoint",
        "table": "holding_register",
        "address": 10,
        "type": "float32",
        "writable": True,
        "range": [0, 100],
    },
    {"name": "mode", "table": "holding_register", "address": 12, "type": "uint16"},
    {"name": "label", "table": "holding_register", "address": 20, "type": "string", "length": 4},
    {"name": "level", "table": "holding_register", "address": 100, "type": "float32"},
    {"name": "pump", "table": "coil", "address": 0, "type": "bool", "writable": True},
]

FAST_DEVICE: dict[str, Any] = {
    "scan_interval": "100ms",
    "timeout": "200ms",
    "reconnect_min": "50ms",
    "reconnect_max": "200ms",
    "demote_after": 0,
}


def make_plant(slaves: Mapping[str, list[dict[str, Any]]], *, tick: float = 0.1) -> Plant:
    """A plant with one unit (id 1) per slave, every slave on a free port."""
    return Plant.model_validate(
        {
            "name": "test",
            "tick": tick,
            "slaves": [
                {"name": name, "port": 0, "units": [{"unit_id": 1, "points": points}]}
                for name, points in slaves.items()
            ],
        }
    )


def make_config(devices: list[dict[str, Any]]) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {"gateway": {"name": "test"}, "opcua": {"anonymous": True}, "devices": devices}
    )


@dataclass
class Latest:
    """The newest TagValue per tag seen on a subscription, plus every batch."""

    subscription: Subscription
    values: dict[str, TagValue] = field(default_factory=dict)
    batches: list[list[TagValue]] = field(default_factory=list)

    def pump(self) -> None:
        for batch in self.subscription.get_nowait():
            self.batches.append(list(batch))
            for value in batch:
                self.values[value.tag] = value

    async def until(
        self,
        predicate: Callable[[dict[str, TagValue]], bool],
        *,
        timeout: float = 5.0,
        message: str = "values",
    ) -> dict[str, TagValue]:
        def holds() -> bool:
            self.pump()
            return predicate(self.values)

        await eventually(holds, timeout=timeout, what=message, seen=lambda: self.values)
        return self.values


async def wait_for(predicate: Callable[[], bool], *, timeout: float = 5.0, message: str) -> None:
    await eventually(predicate, timeout=timeout, what=message)


@dataclass
class Rig:
    plant: RunningPlant
    acquisition: Acquisition
    latest: Latest


@asynccontextmanager
async def rig(
    slaves: Mapping[str, list[dict[str, Any]]],
    devices: Callable[[RunningPlant], list[dict[str, Any]]],
    *,
    autotick: bool = False,
    tick: float = 0.1,
) -> AsyncIterator[Rig]:
    """Serve `slaves`, start an Acquisition on the devices built from their ports."""
    async with run_plant(make_plant(slaves, tick=tick), autotick=autotick) as running:
        bus = Bus()
        latest = Latest(bus.subscribe("test", maxsize=100_000))
        async with Acquisition(make_config(devices(running)), bus, seed=1) as acquisition:
            yield Rig(running, acquisition, latest)


def plc_device(running: RunningPlant, name: str = "plc", **overrides: Any) -> dict[str, Any]:
    slave = running.slave(name)
    return {
        "name": name,
        "host": slave.host,
        "port": slave.port,
        "unit_id": 1,
        "tags": PLC_TAGS,
        **FAST_DEVICE,
        **overrides,
    }
