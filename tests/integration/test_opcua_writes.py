"""Client writes through to the PLC and every write result code of DESIGN.md §7."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from asyncua import Client, ua
from gatewaykit import PLC_POINTS, plc_device
from opcuakit import OpcRig, connect, opc_rig, until

from gateway.model import Status
from simulators.runtime import RunningPlant

pytestmark = pytest.mark.asyncio(loop_scope="module")

F = ua.VariantType


def _devices(running: RunningPlant) -> list[dict[str, Any]]:
    # "idle" polls every 10 s: a hung slave then times out the write itself.
    return [plc_device(running), plc_device(running, "idle", scan_interval="10s")]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OpcRig]:
    pki: Path = tmp_path_factory.mktemp("writes") / "pki"
    async with opc_rig({"plc": PLC_POINTS, "idle": PLC_POINTS}, _devices, pki) as running:
        await until(lambda: _connected(running), message="devices connected")
        yield running


async def _connected(rig: OpcRig) -> bool:
    return all(health.connected for health in rig.acquisition.healths)


@pytest_asyncio.fixture(loop_scope="module")
async def operator(rig: OpcRig) -> AsyncIterator[Client]:
    async with connect(rig.url, user="op", password="op-secret") as client:
        yield client


async def _write(client: Client, rig: OpcRig, key: str, value: Any, variant: ua.VariantType) -> int:
    [code] = await client.uaclient.write_attributes(
        [rig.node_id(key)], [ua.DataValue(ua.Variant(value, variant))]
    )
    return int(code.value)


async def _value(client: Client, rig: OpcRig, key: str, expected: Any) -> bool:
    return bool(await client.get_node(rig.node_id(key)).read_value() == expected)


async def test_float_write_reaches_the_plc_and_reads_back(rig: OpcRig, operator: Client) -> None:
    try:
        assert await _write(operator, rig, "plc.setpoint", 62.5, F.Float) == Status.GOOD
        assert rig.plant.slave("plc").unit(1).get("setpoint") == 62.5
        await until(lambda: _value(operator, rig, "plc.setpoint", 62.5), message="read back")
    finally:
        rig.plant.slave("plc").unit(1).set("setpoint", 50.0)


async def test_coil_and_bit_writes(rig: OpcRig, operator: Client) -> None:
    unit = rig.plant.slave("plc").unit(1)
    try:
        assert await _write(operator, rig, "plc.pump", True, F.Boolean) == Status.GOOD
        assert unit.get("pump") is True
        assert await _write(operator, rig, "plc.fault", True, F.Boolean) == Status.GOOD
        assert unit.get("status") == 0b111
        await until(lambda: _value(operator, rig, "plc.fault", True), message="fault bit")
    finally:
        unit.set("pump", False)
        unit.set("status", 5)


async def test_admin_role_writes(rig: OpcRig) -> None:
    async with connect(rig.url, user="boss", password="boss-secret") as admin:
        assert await _write(admin, rig, "plc.pump", False, F.Boolean) == Status.GOOD


@pytest.mark.parametrize(
    ("key", "variant", "status"),
    [
        ("plc.temp", ua.Variant(1.0, F.Float), Status.BAD_NOT_WRITABLE),
        ("plc._Status.State", ua.Variant("ok", F.String), Status.BAD_NOT_WRITABLE),
        ("plc.setpoint", ua.Variant(62.5, F.Double), Status.BAD_TYPE_MISMATCH),
        ("plc.setpoint", ua.Variant("hot", F.String), Status.BAD_TYPE_MISMATCH),
        ("plc.pump", ua.Variant(1, F.Int32), Status.BAD_TYPE_MISMATCH),
        ("plc.setpoint", ua.Variant(100.5, F.Float), Status.BAD_OUT_OF_RANGE),
        ("plc.setpoint", ua.Variant(-1.0, F.Float), Status.BAD_OUT_OF_RANGE),
    ],
)
async def test_rejected_writes_never_reach_the_plc(
    rig: OpcRig, operator: Client, key: str, variant: ua.Variant, status: Status
) -> None:
    assert await _write(operator, rig, key, variant.Value, variant.VariantType) == status
    assert rig.plant.slave("plc").unit(1).get("setpoint") == 50.0


async def test_other_attributes_are_not_writable(rig: OpcRig, operator: Client) -> None:
    [code] = await operator.uaclient.write_attributes(
        [rig.node_id("plc.setpoint")],
        [ua.DataValue(ua.Variant(ua.LocalizedText("x"), F.LocalizedText))],
        ua.AttributeIds.DisplayName,
    )
    assert code.value == Status.BAD_NOT_WRITABLE


@pytest.mark.parametrize(("user", "password"), [("view", "view-secret"), (None, None)])
async def test_viewers_and_anonymous_cannot_write(
    rig: OpcRig, user: str | None, password: str | None
) -> None:
    async with connect(rig.url, user=user, password=password) as client:
        code = await _write(client, rig, "plc.setpoint", 70.0, F.Float)
        assert code == Status.BAD_USER_ACCESS_DENIED
        assert rig.plant.slave("plc").unit(1).get("setpoint") == 50.0
        levels = await client.get_node(rig.node_id("plc.setpoint")).get_user_access_level()
        assert ua.AccessLevel.CurrentWrite not in levels
        assert ua.AccessLevel.CurrentRead in levels


async def test_operator_sees_write_access(rig: OpcRig, operator: Client) -> None:
    levels = await operator.get_node(rig.node_id("plc.setpoint")).get_user_access_level()
    assert ua.AccessLevel.CurrentWrite in levels


async def test_one_request_many_results(rig: OpcRig, operator: Client) -> None:
    codes = await operator.uaclient.write_attributes(
        [rig.node_id("plc.pump"), rig.node_id("plc.temp"), rig.node_id("idle.pump")],
        [ua.DataValue(ua.Variant(False, F.Boolean))] * 3,
    )
    assert [code.value for code in codes] == [Status.GOOD, Status.BAD_NOT_WRITABLE, Status.GOOD]


async def test_plc_write_failures(rig: OpcRig, operator: Client) -> None:
    idle = rig.plant.slave("idle")
    idle.hang()
    try:
        code = await _write(operator, rig, "idle.setpoint", 70.0, F.Float)
        assert code == Status.BAD_TIMEOUT
        await idle.go_offline()
        health = rig.acquisition.health("idle")

        async def disconnected() -> bool:
            return not health.connected

        await until(disconnected, message="idle disconnected")
        code = await _write(operator, rig, "idle.setpoint", 70.0, F.Float)
        assert code == Status.BAD_COMMUNICATION_ERROR
    finally:
        await idle.clear_faults()
    assert idle.unit(1).get("setpoint") == 50.0
