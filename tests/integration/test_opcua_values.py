"""Live values at an OPC UA client: data changes, status codes of DESIGN.md §7, _Status."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from asyncua import Client, Node, ua
from gatewaykit import FAST_DEVICE, PLC_POINTS, PLC_TAGS, plc_device
from opcuakit import OpcRig, connect, opc_rig, until

from gateway.model import Status
from simulators.runtime import RunningPlant

pytestmark = pytest.mark.asyncio(loop_scope="module")

UNCERTAIN = Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE


def _device(running: RunningPlant, name: str, slave: str, **overrides: Any) -> dict[str, Any]:
    server = running.slave(slave)
    return {
        "name": name,
        "host": server.host,
        "port": server.port,
        "tags": PLC_TAGS[:2],
        **FAST_DEVICE,
        **overrides,
    }


def _devices(running: RunningPlant) -> list[dict[str, Any]]:
    return [
        plc_device(running),
        _device(running, "dead", "plc", port=1),  # nothing listens: never read
        _device(running, "off", "plc", enabled=False),
        _device(running, "mute", "mute", timeout="30s"),  # hung from the start
    ]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OpcRig]:
    pki: Path = tmp_path_factory.mktemp("values") / "pki"

    def hang_mute(running: RunningPlant) -> None:
        running.slave("mute").hang()

    async with opc_rig(
        {"plc": PLC_POINTS, "mute": PLC_POINTS}, _devices, pki, prepare=hang_mute
    ) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def client(rig: OpcRig) -> AsyncIterator[Client]:
    async with connect(rig.url) as connected:
        yield connected


async def _status(node: Node, status: Status) -> ua.DataValue | None:
    data = await node.read_data_value(raise_on_bad_status=False)
    return data if data.StatusCode.value == status.value else None


async def _wait_status(node: Node, status: Status) -> ua.DataValue:
    result: ua.DataValue = await until(
        lambda: _status(node, status), message=f"{node} {status.name}"
    )
    return result


class Changes:
    """A subscription handler that queues every data change."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[ua.DataValue] = asyncio.Queue()

    def datachange_notification(self, node: Node, value: Any, data: Any) -> None:
        self.queue.put_nowait(data.monitored_item.Value)

    async def until(self, predicate: Any, timeout: float = 5.0) -> ua.DataValue:
        async with asyncio.timeout(timeout):
            while True:
                value = await self.queue.get()
                if predicate(value):
                    return value


async def test_subscription_receives_a_register_change(rig: OpcRig, client: Client) -> None:
    node = client.get_node(rig.node_id("plc.mode"))
    await _wait_status(node, Status.GOOD)
    changes = Changes()
    subscription = await client.create_subscription(20, changes)
    try:
        await subscription.subscribe_data_change(node)
        first = await changes.until(lambda v: True)
        assert first.Value.Value == 1
        rig.plant.slave("plc").unit(1).set("mode", 7)
        changed = await changes.until(lambda v: v.Value.Value == 7)
        assert changed.StatusCode.is_good()
        assert changed.Value.VariantType == ua.VariantType.UInt16
        assert changed.SourceTimestamp is not None
        assert changed.SourceTimestamp > first.SourceTimestamp
    finally:
        await subscription.delete()
        rig.plant.slave("plc").unit(1).set("mode", 1)


async def test_good_values_carry_source_and_server_timestamps(rig: OpcRig, client: Client) -> None:
    data = await _wait_status(client.get_node(rig.node_id("plc.temp")), Status.GOOD)
    assert data.Value.Value == 21.5
    assert data.SourceTimestamp is not None
    assert data.ServerTimestamp is not None
    assert data.SourceTimestamp <= data.ServerTimestamp


async def test_offline_device_keeps_last_value_as_uncertain(rig: OpcRig, client: Client) -> None:
    temp = client.get_node(rig.node_id("plc.temp"))
    good = await _wait_status(temp, Status.GOOD)
    slave = rig.plant.slave("plc")
    await slave.go_offline()
    try:
        uncertain = await _wait_status(temp, UNCERTAIN)
        assert uncertain.Value.Value == 21.5
        assert uncertain.Value.VariantType == ua.VariantType.Float
        assert uncertain.SourceTimestamp == good.SourceTimestamp
        connected = client.get_node(rig.node_id("plc._Status.Connected"))
        await until(lambda: _is(connected, False), message="Connected false")
        assert await client.get_node(rig.node_id("plc._Status.State")).read_value() in (
            "backoff",
            "connecting",
        )
        assert await client.get_node(rig.node_id("plc._Status.LastError")).read_value()
        assert await client.get_node(rig.node_id("plc._Status.Errors")).read_value() >= 1
    finally:
        await slave.go_online()
    await _wait_status(temp, Status.GOOD)
    await until(lambda: _is(client.get_node(rig.node_id("plc._Status.State")), "ok"), message="ok")


async def _is(node: Node, expected: Any) -> bool:
    return bool(await node.read_value() == expected)


@pytest.mark.parametrize(
    ("code", "status"),
    [(0x02, Status.BAD_CONFIGURATION_ERROR), (0x04, Status.BAD_DEVICE_FAILURE)],
)
async def test_modbus_exception_makes_the_block_bad_without_value(
    rig: OpcRig, client: Client, code: int, status: Status
) -> None:
    level = client.get_node(rig.node_id("plc.level"))
    await _wait_status(level, Status.GOOD)
    slave = rig.plant.slave("plc")
    slave.exception(code, 100, 101)
    try:
        bad = await _wait_status(level, status)
        assert bad.Value.Value is None
        assert bad.Value.VariantType == ua.VariantType.Null
        temp = await client.get_node(rig.node_id("plc.temp")).read_data_value()
        assert temp.StatusCode.is_good()
    finally:
        await slave.clear_faults()
    good = await _wait_status(level, Status.GOOD)
    assert good.Value.Value == 7.0


async def test_never_read_device_is_bad_no_communication(rig: OpcRig, client: Client) -> None:
    bad = await _wait_status(client.get_node(rig.node_id("dead.temp")), Status.BAD_NO_COMMUNICATION)
    assert bad.Value.Value is None
    assert await client.get_node(rig.node_id("dead._Status.Connected")).read_value() is False


async def test_disabled_device_is_out_of_service(rig: OpcRig, client: Client) -> None:
    await _wait_status(client.get_node(rig.node_id("off.flow")), Status.BAD_OUT_OF_SERVICE)
    state = client.get_node(rig.node_id("off._Status.State"))
    await until(lambda: _is(state, "disabled"), message="disabled")


async def test_value_before_the_first_answer_is_waiting_for_initial_data(
    rig: OpcRig, client: Client
) -> None:
    data = await client.get_node(rig.node_id("mute.temp")).read_data_value(
        raise_on_bad_status=False
    )
    assert data.StatusCode.value == Status.BAD_WAITING_FOR_INITIAL_DATA.value
    assert data.Value.Value is None
