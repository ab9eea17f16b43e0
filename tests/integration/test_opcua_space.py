"""The address space of DESIGN.md §6, browsed and read by a real asyncua client."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from asyncua import Client, ua
from gatewaykit import FAST_DEVICE, PLC_POINTS, PLC_TAGS, plc_device
from opcuakit import OPEN, OpcRig, connect, opc_rig, until

from gateway.bus import Bus
from gateway.config import GatewayConfig
from gateway.errors import GatewayError
from gateway.modbus.acquisition import Acquisition
from gateway.opcua import OpcUaServer
from gateway.opcua.units import UNECE_NAMESPACE, unit_id

pytestmark = pytest.mark.asyncio(loop_scope="module")

MIX_POINTS: list[dict[str, Any]] = [
    {"name": "i16", "table": "holding_register", "address": 0, "type": "int16", "value": -5},
    {"name": "u16", "table": "holding_register", "address": 1, "type": "uint16", "value": 7},
    {"name": "i32", "table": "holding_register", "address": 2, "type": "int32", "value": -70000},
    {"name": "u32", "table": "holding_register", "address": 4, "type": "uint32", "value": 70000},
    {
        "name": "i64",
        "table": "holding_register",
        "address": 6,
        "type": "int64",
        "value": -(5 * 10**9),
    },
    {"name": "u64", "table": "holding_register", "address": 10, "type": "uint64", "value": 2**40},
    {"name": "f64", "table": "holding_register", "address": 14, "type": "float64", "value": 1.25},
    {"name": "bcd", "table": "holding_register", "address": 18, "type": "bcd16", "value": 1234},
    {"name": "tenths", "table": "holding_register", "address": 19, "type": "int16", "value": -123},
    {
        "name": "pressure",
        "table": "holding_register",
        "address": 20,
        "type": "float32",
        "value": 2.5,
    },
]

MIX_TAGS: list[dict[str, Any]] = [
    {"name": "i16", "table": "holding_register", "address": 0, "type": "int16"},
    {"name": "u16", "table": "holding_register", "address": 1, "type": "uint16", "unit": "rpm"},
    {"name": "i32", "table": "holding_register", "address": 2, "type": "int32"},
    {"name": "u32", "table": "holding_register", "address": 4, "type": "uint32"},
    {"name": "i64", "table": "holding_register", "address": 6, "type": "int64"},
    {"name": "u64", "table": "holding_register", "address": 10, "type": "uint64"},
    {
        "name": "f64",
        "table": "holding_register",
        "address": 14,
        "type": "float64",
        "unit": "furlong",
    },
    {"name": "bcd", "table": "holding_register", "address": 18, "type": "bcd16"},
    {
        "name": "tenths",
        "table": "holding_register",
        "address": 19,
        "type": "int16",
        "scale": 0.1,
        "unit": "degC",
    },
    {
        "name": "pressure",
        "table": "holding_register",
        "address": 20,
        "type": "float32",
        "unit": "kPa",
        "range": [0, 500],
        "description": "Header pressure",
    },
]


class History:
    """A provider with no data: enough to make tags historizing."""

    async def read_raw(
        self, key: str, start: Any, end: Any, *, limit: int, continuation: Any
    ) -> Any:
        raise NotImplementedError


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OpcRig]:
    pki: Path = tmp_path_factory.mktemp("space") / "pki"

    def devices(running: Any) -> list[dict[str, Any]]:
        mix = running.slave("mix")
        return [
            plc_device(running),
            {"name": "mix", "host": mix.host, "port": mix.port, "tags": MIX_TAGS, **FAST_DEVICE},
        ]

    async with opc_rig(
        {"plc": PLC_POINTS, "mix": MIX_POINTS}, devices, pki, history=History()
    ) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def client(rig: OpcRig) -> AsyncIterator[Client]:
    async with connect(rig.url) as connected:
        yield connected


async def _names(node: Any) -> dict[str, ua.NodeId]:
    return {
        (await child.read_browse_name()).Name: child.nodeid for child in await node.get_children()
    }


async def test_namespace_is_resolved_by_uri(rig: OpcRig, client: Client) -> None:
    assert await client.get_namespace_index("urn:test:gateway") == rig.ns


async def test_tree_and_string_node_ids(rig: OpcRig, client: Client) -> None:
    objects = await _names(client.nodes.objects)
    assert objects["test"] == rig.node_id("test")
    assert await _names(client.get_node(rig.node_id("test"))) == {
        "Devices": rig.node_id("Devices"),
        "Alarms": rig.node_id("Alarms"),
    }
    assert await _names(client.get_node(rig.node_id("Devices"))) == {
        "plc": rig.node_id("plc"),
        "mix": rig.node_id("mix"),
    }
    plc = await _names(client.get_node(rig.node_id("plc")))
    expected_tags = [point["name"] for point in PLC_POINTS if point["name"] != "status"]
    assert set(plc) == {*expected_tags, "run", "fault", "ready", "_Status"}
    assert all(plc[name] == rig.node_id(f"plc.{name}") for name in plc)
    status = await _names(client.get_node(rig.node_id("plc._Status")))
    assert status == {
        field: rig.node_id(f"plc._Status.{field}")
        for field in (
            "Connected",
            "State",
            "LastError",
            "LastPollTime",
            "ResponseTime",
            "Requests",
            "Errors",
        )
    }
    assert await client.get_node(rig.node_id("Alarms")).get_children() == []


async def test_node_classes_types_and_browse_paths(rig: OpcRig, client: Client) -> None:
    folder = ua.NodeId(ua.ObjectIds.FolderType)
    assert await client.get_node(rig.node_id("Devices")).read_type_definition() == folder
    assert await client.get_node(rig.node_id("Alarms")).read_type_definition() == folder
    device = client.get_node(rig.node_id("plc"))
    assert await device.read_node_class() == ua.NodeClass.Object
    assert await device.read_event_notifier() == {ua.EventNotifier.SubscribeToEvents}
    path = [f"{rig.ns}:test", f"{rig.ns}:Devices", f"{rig.ns}:plc", f"{rig.ns}:temp"]
    temp = await client.nodes.objects.get_child(path)
    assert temp.nodeid == rig.node_id("plc.temp")
    assert (await temp.read_display_name()).Text == "temp"
    parent = await temp.get_parent()
    assert parent is not None
    assert parent.nodeid == rig.node_id("plc")


@pytest.mark.parametrize(
    ("key", "data_type", "type_definition"),
    [
        ("plc.temp", ua.ObjectIds.Float, ua.ObjectIds.BaseAnalogType),
        ("plc.setpoint", ua.ObjectIds.Float, ua.ObjectIds.AnalogItemType),
        ("plc.mode", ua.ObjectIds.UInt16, ua.ObjectIds.BaseAnalogType),
        ("plc.run", ua.ObjectIds.Boolean, ua.ObjectIds.BaseDataVariableType),
        ("plc.label", ua.ObjectIds.String, ua.ObjectIds.BaseDataVariableType),
        ("mix.i16", ua.ObjectIds.Int16, ua.ObjectIds.BaseAnalogType),
        ("mix.u16", ua.ObjectIds.UInt16, ua.ObjectIds.BaseAnalogType),
        ("mix.i32", ua.ObjectIds.Int32, ua.ObjectIds.BaseAnalogType),
        ("mix.u32", ua.ObjectIds.UInt32, ua.ObjectIds.BaseAnalogType),
        ("mix.i64", ua.ObjectIds.Int64, ua.ObjectIds.BaseAnalogType),
        ("mix.u64", ua.ObjectIds.UInt64, ua.ObjectIds.BaseAnalogType),
        ("mix.f64", ua.ObjectIds.Double, ua.ObjectIds.BaseAnalogType),
        ("mix.bcd", ua.ObjectIds.UInt16, ua.ObjectIds.BaseAnalogType),
        ("mix.tenths", ua.ObjectIds.Double, ua.ObjectIds.BaseAnalogType),
        ("mix.pressure", ua.ObjectIds.Float, ua.ObjectIds.AnalogItemType),
    ],
)
async def test_data_types_and_variable_types(
    rig: OpcRig, client: Client, key: str, data_type: int, type_definition: int
) -> None:
    node = client.get_node(rig.node_id(key))
    assert await node.read_data_type() == ua.NodeId(data_type)
    assert await node.read_type_definition() == ua.NodeId(type_definition)
    assert await node.read_value_rank() == ua.ValueRank.Scalar
    assert (await node.read_attribute(ua.AttributeIds.Historizing)).Value.Value is True


async def test_values_arrive_with_the_node_data_type(rig: OpcRig, client: Client) -> None:
    async def all_good() -> bool:
        values = await client.read_values(
            [client.get_node(rig.node_id(f"mix.{p['name']}")) for p in MIX_POINTS]
        )
        return values[-1] is not None

    await until(all_good, message="mix values")
    expected: dict[str, tuple[Any, ua.VariantType]] = {
        "i16": (-5, ua.VariantType.Int16),
        "u16": (7, ua.VariantType.UInt16),
        "i32": (-70000, ua.VariantType.Int32),
        "u32": (70000, ua.VariantType.UInt32),
        "i64": (-(5 * 10**9), ua.VariantType.Int64),
        "u64": (2**40, ua.VariantType.UInt64),
        "f64": (1.25, ua.VariantType.Double),
        "bcd": (1234, ua.VariantType.UInt16),
        "pressure": (2.5, ua.VariantType.Float),
    }
    for name, (value, variant) in expected.items():
        data = await client.get_node(rig.node_id(f"mix.{name}")).read_data_value()
        assert data.StatusCode.is_good(), name
        assert data.Value.VariantType == variant, name
        assert data.Value.Value == value, name
    tenths = (await client.get_node(rig.node_id("mix.tenths")).read_data_value()).Value
    assert tenths.VariantType == ua.VariantType.Double
    assert tenths.Value == pytest.approx(-12.3)


async def test_engineering_units_and_range(rig: OpcRig, client: Client) -> None:
    pressure = client.get_node(rig.node_id("mix.pressure"))
    units = await (await pressure.get_child("0:EngineeringUnits")).read_value()
    assert units.NamespaceUri == UNECE_NAMESPACE
    assert units.UnitId == unit_id("KPA")
    assert units.DisplayName.Text == "kPa"
    eu_range = await (await pressure.get_child("0:EURange")).read_value()
    assert (eu_range.Low, eu_range.High) == (0.0, 500.0)
    assert (await pressure.read_description()).Text == "Header pressure"
    for name in ("0:EURange", "0:EngineeringUnits"):  # both browse back to their tag
        inverse = await (await pressure.get_child(name)).get_references(
            ua.ObjectIds.HasProperty, ua.BrowseDirection.Inverse
        )
        assert [(r.NodeId, r.BrowseName.Name) for r in inverse] == [
            (rig.node_id("mix.pressure"), "pressure")
        ]
    celsius = await (
        await client.get_node(rig.node_id("plc.temp")).get_child("0:EngineeringUnits")
    ).read_value()
    assert (celsius.UnitId, celsius.DisplayName.Text) == (unit_id("CEL"), "°C")
    rpm = await (
        await client.get_node(rig.node_id("mix.u16")).get_child("0:EngineeringUnits")
    ).read_value()
    assert rpm.UnitId == unit_id("RPM")
    unknown = await (
        await client.get_node(rig.node_id("mix.f64")).get_child("0:EngineeringUnits")
    ).read_value()
    assert (unknown.UnitId, unknown.DisplayName.Text) == (-1, "furlong")
    setpoint = client.get_node(rig.node_id("plc.setpoint"))
    assert await _names(setpoint) == {"EURange": rig.node_id("plc.setpoint.EURange")}
    assert await client.get_node(rig.node_id("plc.mode")).get_properties() == []


async def test_access_levels(rig: OpcRig, client: Client) -> None:
    read, write, history = (
        ua.AccessLevel.CurrentRead,
        ua.AccessLevel.CurrentWrite,
        ua.AccessLevel.HistoryRead,
    )
    assert (
        await client.get_node(rig.node_id("plc.temp")).read_attribute(ua.AttributeIds.AccessLevel)
        is not None
    )
    temp = client.get_node(rig.node_id("plc.temp"))
    assert await temp.get_access_level() == {read, history}
    assert await temp.get_user_access_level() == {read, history}
    setpoint = client.get_node(rig.node_id("plc.setpoint"))
    assert await setpoint.get_access_level() == {read, write, history}
    state = client.get_node(rig.node_id("plc._Status.State"))
    assert await state.get_access_level() == {read}


async def test_status_variables_follow_the_poller(rig: OpcRig, client: Client) -> None:
    node = lambda field: client.get_node(rig.node_id(f"plc._Status.{field}"))  # noqa: E731

    async def polled() -> bool:
        return bool(await node("Requests").read_value() >= 2)

    await until(polled, message="requests counted")
    assert await node("Connected").read_value() is True
    assert await node("State").read_value() == "ok"
    health = rig.acquisition.health("plc")  # stable once connected
    assert await node("LastError").read_value() == health.last_error
    assert await node("Errors").read_value() == health.errors
    assert (await node("LastPollTime").read_value()).tzinfo is not None
    assert await node("ResponseTime").read_value() >= 0.0
    data_types = {
        field: await node(field).read_data_type()
        for field in ("Connected", "State", "LastPollTime", "ResponseTime", "Requests")
    }
    assert data_types == {
        "Connected": ua.NodeId(ua.ObjectIds.Boolean),
        "State": ua.NodeId(ua.ObjectIds.String),
        "LastPollTime": ua.NodeId(ua.ObjectIds.DateTime),
        "ResponseTime": ua.NodeId(ua.ObjectIds.Double),
        "Requests": ua.NodeId(ua.ObjectIds.UInt64),
    }


async def test_name_clash_and_busy_port_fail_cleanly(tmp_path: Path) -> None:
    bus = Bus()
    base = {
        "gateway": {"name": "test"},
        "opcua": {**OPEN, "security": {**OPEN["security"], "pki_dir": "pki"}},
    }
    clash = GatewayConfig.model_validate(
        {**base, "devices": [{"name": "Alarms", "host": "127.0.0.1", "tags": PLC_TAGS[:1]}]}
    )
    with pytest.raises(GatewayError, match="Alarms"):
        async with OpcUaServer(clash, Acquisition(clash, bus), bus, config_dir=tmp_path):
            pass
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = GatewayConfig.model_validate(
            {**base, "opcua": {**base["opcua"], "endpoint": f"opc.tcp://127.0.0.1:{port}"}}
        )
        server = OpcUaServer(taken, Acquisition(taken, bus), bus, config_dir=tmp_path)
        with pytest.raises(GatewayError, match="cannot listen"):
            async with server:
                pass
    assert bus.subscriptions == ()
