"""Tags' property nodes (EURange, EngineeringUnits), made on demand, as a real client sees them.

The property nodes are not stored (gateway/opcua/stack/properties.py): a
real asyncua client browses, reads, translates and subscribes to them, and
every answer is compared with what the configuration says they are; the node
map is checked to hold no property record, with and without the standard
address space's file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from asyncua import Client, ua
from gatewaykit import FAST_DEVICE
from opcuakit import OpcRig, connect, opc_rig, until

from gateway.opcua.stack.properties import NodeMap
from gateway.opcua.stack.server import StackServer
from gateway.opcua.stack.shelf import ENV_SWITCH, ShelvedNodes
from gateway.opcua.units import UNECE_NAMESPACE, lookup_unit

pytestmark = pytest.mark.asyncio(loop_scope="module")

_A = ua.AttributeIds
_O = ua.ObjectIds
BULK = 120  # tags of the generated device

POINTS: list[dict[str, Any]] = [
    {"name": "pressure", "table": "holding_register", "address": 0, "type": "float32"},
    {"name": "temp", "table": "holding_register", "address": 2, "type": "float32"},
    {"name": "level", "table": "holding_register", "address": 4, "type": "float32"},
    {"name": "count", "table": "holding_register", "address": 6, "type": "uint16"},
]
TAGS: list[dict[str, Any]] = [
    {
        "name": "pressure",
        "table": "holding_register",
        "address": 0,
        "type": "float32",
        "unit": "kPa",
        "range": [0, 500],
        "writable": True,
        "description": "Header pressure",
    },
    {"name": "temp", "table": "holding_register", "address": 2, "type": "float32", "unit": "degC"},
    {
        "name": "level",
        "table": "holding_register",
        "address": 4,
        "type": "float32",
        "range": [-1, 9],
    },
    {"name": "count", "table": "holding_register", "address": 6, "type": "uint16"},
]
BULK_POINTS = [
    {"name": f"b{i}", "table": "holding_register", "address": i, "type": "int16"}
    for i in range(BULK)
]


def _bulk_tag(index: int) -> dict[str, Any]:
    tag: dict[str, Any] = {
        "name": f"b{index}",
        "table": "holding_register",
        "address": index,
        "type": "int16",
    }
    if index % 2 == 0:
        tag["unit"] = ("bar", "degC", "rpm")[index % 3]
    if index % 3 == 0:
        tag["range"] = [-index, index + 1]
    return tag


BULK_TAGS = [_bulk_tag(i) for i in range(BULK)]
ALARMS = [{"name": "hi", "tag": "mix.pressure", "high": 400.0, "severity": 500}]


def _devices(running: Any) -> list[dict[str, Any]]:
    return [
        {"name": name, "host": slave.host, "port": slave.port, "tags": tags, **FAST_DEVICE}
        for name, tags, slave in (
            ("mix", TAGS, running.slave("mix")),
            ("bulk", BULK_TAGS, running.slave("bulk")),
        )
    ]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OpcRig]:
    pki = tmp_path_factory.mktemp("properties") / "pki"
    slaves = {"mix": POINTS, "bulk": BULK_POINTS}
    async with opc_rig(slaves, _devices, pki, alarms=ALARMS) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def client(rig: OpcRig) -> AsyncIterator[Client]:
    async with connect(rig.url) as connected:
        yield connected


def _stack(rig: OpcRig) -> StackServer:
    server = rig.server.server
    assert server is not None
    return server


# -- what the configuration says ---------------------------------------------------------


def _expected_properties(tag: dict[str, Any]) -> dict[str, Any]:
    """name → Value of each property the tag's configuration gives it, in Browse order."""
    expected: dict[str, Any] = {}
    if "range" in tag:
        low, high = tag["range"]
        expected["EURange"] = ua.Range(Low=float(low), High=float(high))
    if "unit" in tag:
        unit = lookup_unit(tag["unit"])
        expected["EngineeringUnits"] = ua.EUInformation(
            NamespaceUri=UNECE_NAMESPACE,
            UnitId=unit.unit_id,
            DisplayName=ua.LocalizedText(unit.symbol),
            Description=ua.LocalizedText(unit.description),
        )
    return expected


def _forward(rig: OpcRig, key: str, name: str) -> tuple[Any, ...]:
    return (
        ua.NodeId(_O.HasProperty),
        True,
        rig.node_id(f"{key}.{name}"),
        ua.QualifiedName(name, 0),
        ua.LocalizedText(name),
        ua.NodeClass.Variable,
        ua.NodeId(_O.PropertyType),
    )


def _ref(ref: ua.ReferenceDescription) -> tuple[Any, ...]:
    return (
        ref.ReferenceTypeId,
        ref.IsForward,
        ref.NodeId,
        ref.BrowseName,
        ref.DisplayName,
        ref.NodeClass,
        ref.TypeDefinition,
    )


def _expected_attributes(rig: OpcRig, key: str, name: str, value: Any) -> dict[int, Any]:
    """Every attribute of a property node: (status code, value) by AttributeId."""
    data_type = _O.Range if name == "EURange" else _O.EUInformation
    good = ua.StatusCodes.Good
    present = {
        _A.NodeId: rig.node_id(f"{key}.{name}"),
        _A.NodeClass: int(ua.NodeClass.Variable),
        _A.BrowseName: ua.QualifiedName(name, 0),
        _A.DisplayName: ua.LocalizedText(name),
        _A.Description: ua.LocalizedText(None),
        _A.WriteMask: 0,
        _A.UserWriteMask: 0,
        _A.Value: value,
        _A.DataType: ua.NodeId(data_type),
        _A.ValueRank: -1,
        _A.AccessLevel: ua.AccessLevel.CurrentRead.mask,
        _A.UserAccessLevel: ua.AccessLevel.CurrentRead.mask,
        _A.MinimumSamplingInterval: 0.0,
        _A.Historizing: False,
    }
    return {
        attribute: (good, present[attribute])
        if attribute in present
        else (ua.StatusCodes.BadAttributeIdInvalid, None)
        for attribute in _A
    }


async def _attributes(client: Client, nodeid: ua.NodeId) -> dict[int, Any]:
    results = await client.get_node(nodeid).read_attributes(list(_A))
    return {
        attribute: (
            result.StatusCode.value,
            None if result.Value is None else result.Value.Value,
        )
        for attribute, result in zip(_A, results, strict=True)
    }


# -- a client's view ---------------------------------------------------------------------


@pytest.mark.parametrize("tag", [*TAGS, *BULK_TAGS[:7]], ids=lambda tag: tag["name"])
async def test_browse_lists_each_configured_property(
    rig: OpcRig, client: Client, tag: dict[str, Any]
) -> None:
    key = f"{'mix' if tag in TAGS else 'bulk'}.{tag['name']}"
    refs = await client.get_node(rig.node_id(key)).get_references(
        _O.HasProperty, ua.BrowseDirection.Forward
    )
    assert [_ref(r) for r in refs] == [
        _forward(rig, key, name) for name in _expected_properties(tag)
    ]


@pytest.mark.parametrize("tag", [*TAGS, *BULK_TAGS[:7]], ids=lambda tag: tag["name"])
async def test_every_attribute_of_a_property_reads_as_configured(
    rig: OpcRig, client: Client, tag: dict[str, Any]
) -> None:
    key = f"{'mix' if tag in TAGS else 'bulk'}.{tag['name']}"
    for name, value in _expected_properties(tag).items():
        attributes = await _attributes(client, rig.node_id(f"{key}.{name}"))
        assert attributes == _expected_attributes(rig, key, name, value), name


async def test_a_variable_browses_its_parent_type_properties_and_condition(
    rig: OpcRig, client: Client
) -> None:
    refs = await client.get_node(rig.node_id("mix.pressure")).get_references(
        ua.ObjectIds.References, ua.BrowseDirection.Both
    )
    assert [_ref(r) for r in refs] == [
        (
            ua.NodeId(_O.HasComponent),
            False,
            rig.node_id("mix"),
            ua.QualifiedName("mix", rig.ns),
            ua.LocalizedText("mix"),
            ua.NodeClass.Object,
            ua.NodeId(_O.BaseObjectType),
        ),
        (
            ua.NodeId(_O.HasTypeDefinition),
            True,
            ua.NodeId(_O.AnalogItemType),
            ua.QualifiedName("AnalogItemType", 0),
            ua.LocalizedText("AnalogItemType"),
            ua.NodeClass.VariableType,
            ua.NodeId(),
        ),
        _forward(rig, "mix.pressure", "EURange"),
        _forward(rig, "mix.pressure", "EngineeringUnits"),
        (
            ua.NodeId(_O.HasCondition),
            True,
            rig.node_id("Alarms.hi"),
            ua.QualifiedName("hi", rig.ns),
            ua.LocalizedText("hi"),
            ua.NodeClass.Object,
            ua.NodeId(_O.ExclusiveLimitAlarmType),
        ),
        (
            ua.NodeId(_O.HasEventSource),
            False,
            rig.node_id("mix"),
            ua.QualifiedName("mix", rig.ns),
            ua.LocalizedText("mix"),
            ua.NodeClass.Object,
            ua.NodeId(_O.BaseObjectType),
        ),
    ]


async def test_a_property_browses_back_to_its_variable_and_its_type(
    rig: OpcRig, client: Client
) -> None:
    for key, type_definition in (
        ("mix.pressure", _O.AnalogItemType),
        ("mix.temp", _O.BaseAnalogType),
    ):
        name = "EngineeringUnits"
        refs = await client.get_node(rig.node_id(f"{key}.{name}")).get_references(
            ua.ObjectIds.References, ua.BrowseDirection.Both
        )
        variable = key.rpartition(".")[2]
        assert [_ref(r) for r in refs] == [
            (
                ua.NodeId(_O.HasProperty),
                False,
                rig.node_id(key),
                ua.QualifiedName(variable, rig.ns),
                ua.LocalizedText(variable),
                ua.NodeClass.Variable,
                ua.NodeId(type_definition),
            ),
            (
                ua.NodeId(_O.HasTypeDefinition),
                True,
                ua.NodeId(_O.PropertyType),
                ua.QualifiedName("PropertyType", 0),
                ua.LocalizedText("PropertyType"),
                ua.NodeClass.VariableType,
                ua.NodeId(),
            ),
        ]
        assert (await client.get_node(rig.node_id(f"{key}.{name}")).get_children()) == []


async def test_browse_paths_reach_the_properties(rig: OpcRig, client: Client) -> None:
    ns = rig.ns
    path = [f"{ns}:test", f"{ns}:Devices", f"{ns}:mix", f"{ns}:pressure", "0:EURange"]
    assert (await client.nodes.objects.get_child(path)).nodeid == rig.node_id(
        "mix.pressure.EURange"
    )
    level = client.get_node(rig.node_id("mix.level"))
    assert (await level.get_child("0:EURange")).nodeid == rig.node_id("mix.level.EURange")
    with pytest.raises(ua.UaStatusCodeError):  # BadNoMatch: level has no unit
        await level.get_child("0:EngineeringUnits")


@pytest.mark.parametrize(
    "identifier",
    [
        "mix.count.EURange",  # a tag without a range
        "mix.level.EngineeringUnits",  # nor a unit
        "mix.pressure.Nope",
        "mix.pressure.EURange.EURange",
        "mix._Status.EURange",  # an object, not a tag
        "mix._Status.Connected.EURange",  # a variable without properties
        "nosuch.tag.EURange",
    ],
)
async def test_properties_a_tag_does_not_have_are_unknown(
    rig: OpcRig, client: Client, identifier: str
) -> None:
    result = await client.get_node(rig.node_id(identifier)).read_attributes([_A.BrowseName])
    assert result[0].StatusCode.value == ua.StatusCodes.BadNodeIdUnknown
    assert not _stack(rig).has_node(rig.node_id(identifier))


async def test_a_subscription_to_a_property_gets_its_value(rig: OpcRig, client: Client) -> None:
    received: list[Any] = []

    class Handler:
        def datachange_notification(self, node: Any, value: Any, data: Any) -> None:
            received.append(value)

    subscription = await client.create_subscription(50, Handler())
    try:
        await subscription.subscribe_data_change(
            client.get_node(rig.node_id("mix.pressure.EURange"))
        )

        async def arrived() -> bool:
            return bool(received)

        await until(arrived, message="EURange notification")
        assert received[0] == ua.Range(Low=0.0, High=500.0)
    finally:
        await subscription.delete()


async def test_a_property_refuses_writes(rig: OpcRig) -> None:
    async with connect(rig.url, user="boss", password="boss-secret") as admin:
        node = admin.get_node(rig.node_id("mix.pressure.EURange"))
        with pytest.raises(ua.UaStatusCodeError):
            await node.write_value(ua.Range(Low=1.0, High=2.0))
        assert await node.read_value() == ua.Range(Low=0.0, High=500.0)


# -- what is stored ----------------------------------------------------------------------


def _stored_keys(rig: OpcRig, prefix: str) -> set[str]:
    return {
        str(nodeid.Identifier)
        for nodeid in dict.keys(_stack(rig).nodes)
        if nodeid.NamespaceIndex == rig.ns and str(nodeid.Identifier).startswith(prefix)
    }


def _status_keys(device: str) -> set[str]:
    fields = ("Connected", "State", "LastError", "LastPollTime", "ResponseTime", "Requests")
    return {
        f"{device}._Status",
        *(f"{device}._Status.{field}" for field in (*fields, "Errors")),
    }


async def test_property_records_are_not_stored_nor_kept_after_reads(
    rig: OpcRig, client: Client
) -> None:
    expected = {"bulk", *(f"bulk.{tag['name']}" for tag in BULK_TAGS), *_status_keys("bulk")}
    assert _stored_keys(rig, "bulk") == expected  # N tags: N variables, no property
    stored = len(_stack(rig).nodes)
    browsed = 0
    for tag in BULK_TAGS:  # a client walks every property of the device
        key = f"bulk.{tag['name']}"
        children = await client.get_node(rig.node_id(key)).get_properties()
        for child in children:
            assert (await child.read_browse_name()).Name in _expected_properties(tag)
        browsed += len(children)
    assert browsed == sum(len(_expected_properties(tag)) for tag in BULK_TAGS) == 100
    assert len(_stack(rig).nodes) == stored  # nothing was cached
    assert _stored_keys(rig, "bulk") == expected


async def test_properties_are_served_without_the_standard_space_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_SWITCH, "0")
    async with opc_rig({"mix": POINTS, "bulk": BULK_POINTS}, _devices, tmp_path / "pki") as running:
        nodes = _stack(running).nodes
        assert isinstance(nodes, NodeMap)
        assert not isinstance(nodes, ShelvedNodes)
        assert not any(
            str(nodeid.Identifier).endswith((".EURange", ".EngineeringUnits"))
            for nodeid in dict.keys(nodes)
        )
        async with connect(running.url) as client:
            pressure = client.get_node(running.node_id("mix.pressure"))
            units = await (await pressure.get_child("0:EngineeringUnits")).read_value()
            assert units == _expected_properties(TAGS[0])["EngineeringUnits"]
