"""The abnormal-state kinds end to end: a simulated PLC over Modbus TCP drives the
real gateway; an asyncua client sees each condition with its Part 9 type and its
events (rate of change, deviation from another tag, a frozen value, comm loss)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from asyncua import Client, ua
from gatewaykit import PLC_POINTS, make_plant, plc_device
from opcuakit import OPEN, connect, until
from test_opcua_alarms import Events, of

from gateway.alarms.model import AlarmState
from gateway.app import Gateway
from gateway.config import GatewayConfig
from simulators.runtime import RunningPlant, run_plant

pytestmark = pytest.mark.asyncio(loop_scope="module")

OID = ua.ObjectIds

ALARMS: list[dict[str, Any]] = [
    {"name": "temp_jump", "tag": "plc.temp", "rate_of_change": {"per": "1s", "limit": 1000}},
    {"name": "temp_off_sp", "tag": "plc.temp", "deviation": {"from": "plc.setpoint", "limit": 40}},
    {"name": "flow_frozen", "tag": "plc.flow", "stale": "1s"},
    {"name": "plc_comm", "tag": "plc.mode", "quality": "300ms", "severity": 900},
]
TYPES = {
    "temp_jump": OID.ExclusiveRateOfChangeAlarmType,
    "temp_off_sp": OID.ExclusiveDeviationAlarmType,
    "flow_frozen": OID.OffNormalAlarmType,
    "plc_comm": OID.OffNormalAlarmType,
}


@dataclass
class Rig:
    plant: RunningPlant
    gateway: Gateway

    @property
    def url(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.gateway.opcua.port}"

    def id(self, identifier: str) -> ua.NodeId:
        return ua.NodeId(identifier, self.gateway.opcua.namespace_index)

    def set(self, point: str, value: Any) -> None:
        self.plant.slave("plc").unit(1).set(point, value)

    async def state(self, name: str, state: AlarmState) -> bool:
        return self.gateway.alarms.snapshot(name).state is state


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    home: Path = tmp_path_factory.mktemp("kinds")
    async with run_plant(make_plant({"plc": PLC_POINTS}), autotick=False) as running:
        config = GatewayConfig.model_validate(
            {
                "gateway": {"name": "test"},
                "opcua": {**OPEN, "security": {**OPEN["security"], "pki_dir": "pki"}},
                "storage": {"url": f"sqlite:///{home / 'g.db'}", "flush_interval": "50ms"},
                "devices": [plc_device(running)],
                "alarms": ALARMS,
            }
        )
        async with Gateway(config, config_dir=home) as gateway:
            yield Rig(running, gateway)


async def subscribe(client: Client) -> Events:
    events = Events()
    subscription = await client.create_subscription(20, events)
    types = [client.get_node(t) for t in sorted(set(TYPES.values()))]
    await subscription.subscribe_events(client.get_node(OID.Server), types)
    # What tripped before the subscription (a frozen value may) is replayed.
    await client.get_node(OID.ConditionType).call_method(
        ua.NodeId(OID.ConditionType_ConditionRefresh),
        ua.Variant(subscription.subscription_id, ua.VariantType.UInt32),
    )
    return events


async def test_each_kind_is_served_as_its_part9_type_and_raises_its_event(rig: Rig) -> None:
    async with connect(rig.url, user="op", password="op-secret") as client:
        for name, type_id in TYPES.items():
            node = client.get_node(rig.id(f"Alarms.{name}"))
            assert await node.read_type_definition() == ua.NodeId(type_id), name
        jump = client.get_node(rig.id("Alarms.temp_jump"))
        assert await (await jump.get_child("0:HighLimit")).read_value() == 1000.0
        deviation = client.get_node(rig.id("Alarms.temp_off_sp"))
        assert await (await deviation.get_child("0:HighLimit")).read_value() == 40.0
        events = await subscribe(client)

        # A frozen value: flow never changes (the plant does not tick).
        frozen = await events.next(of("flow_frozen", ActiveState__Id=True), "flow frozen")
        assert "frozen at 3.25" in frozen.Message.Text

        # A jump of 478 in one 100 ms scan: rate and deviation from the setpoint (50).
        rig.set("temp", 500.0)
        jump_event = await events.next(of("temp_jump", ActiveState__Id=True), "rate")
        assert jump_event.EventType == ua.NodeId(OID.ExclusiveRateOfChangeAlarmType)
        off = await events.next(of("temp_off_sp", ActiveState__Id=True), "deviation")
        assert off.EventType == ua.NodeId(OID.ExclusiveDeviationAlarmType)
        assert off.SetpointNode == rig.id("plc.setpoint")
        assert "deviates from plc.setpoint by more than 40" in off.Message.Text
        # The rate decays once the value holds; the deviation needs the setpoint.
        await events.next(of("temp_jump", ActiveState__Id=False), "rate cleared", timeout=15)
        rig.set("setpoint", 480.0)
        await events.next(of("temp_off_sp", ActiveState__Id=False), "deviation cleared")

        # A changing flow clears the frozen alarm.
        rig.set("flow", 4.5)
        await events.next(of("flow_frozen", ActiveState__Id=False), "flow changing")

        # Comm loss: the PLC goes offline; the quality alarm trips, then clears when back.
        assert await rig.state("plc_comm", AlarmState.NORMAL)
        plc = rig.plant.slave("plc")
        await plc.go_offline()
        lost = await events.next(of("plc_comm", ActiveState__Id=True), "comm loss", timeout=10)
        assert lost.Severity == 900
        assert "not Good for 300ms" in lost.Message.Text
        await plc.go_online()
        await events.next(of("plc_comm", ActiveState__Id=False), "comm back", timeout=10)

    # Journaled like every alarm, with the state each transition led to.
    async def journaled() -> list[tuple[str, str | None]]:
        page = await rig.gateway.historian.alarm_journal(alarm="plc_comm")
        return [(e.transition, e.state) for e in page.events]

    expected = [("activated", "active_unacked"), ("cleared", "rtn_unacked")]
    await until(lambda: _equal(journaled(), expected), message="plc_comm journaled")


async def _equal(awaitable: Any, expected: Any) -> bool:
    return bool(await awaitable == expected)
