"""OPC UA Alarms & Conditions (DESIGN.md §6) end to end.

A simulated PLC over Modbus TCP drives the real gateway (historian journal,
alarm engine, acquisition, OPC UA server); asyncua clients browse the
conditions, receive their events, acknowledge and refresh over TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from asyncua import Client, Node, ua
from asyncua.common.subscription import Subscription
from gatewaykit import PLC_POINTS, make_plant, plc_device
from opcuakit import OPEN, connect, until

from gateway.alarms.model import AlarmState
from gateway.app import Gateway
from gateway.config import GatewayConfig
from gateway.errors import AlarmAlreadyAcked
from simulators.runtime import RunningPlant, run_plant

pytestmark = pytest.mark.asyncio(loop_scope="module")

OID = ua.ObjectIds
FORWARD = ua.BrowseDirection.Forward
ACKNOWLEDGE = ua.NodeId(OID.AcknowledgeableConditionType_Acknowledge)
REFRESH = ua.NodeId(OID.ConditionType_ConditionRefresh)
NORMAL_TEMP = 21.5
NORMAL_STATUS = 5  # run and ready bits; bit 1 (fault) clear

ALARMS: list[dict[str, Any]] = [
    {
        "name": "temp_high",
        "tag": "plc.temp",
        "low": 5,
        "high": 80,
        "high_high": 95,
        "deadband": 1,
        "severity": 700,
        "message": "Temperature {value} above {limit}",
    },
    {"name": "plc_fault", "tag": "plc.fault", "equals": True, "severity": 900, "message": "Fault"},
]


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

    async def reset(self) -> None:
        """Every alarm back to normal and acknowledged."""
        self.set("temp", NORMAL_TEMP)
        self.set("status", NORMAL_STATUS)
        engine = self.gateway.alarms
        for name in engine.names:
            await until(lambda n=name: _not_active(engine.snapshot(n)), message=f"{name} clear")
            with contextlib.suppress(AlarmAlreadyAcked):
                engine.acknowledge(name, user="test", comment="reset")


async def _not_active(snapshot: Any) -> bool:
    return not snapshot.active


def _config(running: RunningPlant, home: Path) -> GatewayConfig:
    """The PLC with ALARMS, journaled to SQLite in `home` (also the pki's home)."""
    return GatewayConfig.model_validate(
        {
            "gateway": {"name": "test"},
            "opcua": {**OPEN, "security": {**OPEN["security"], "pki_dir": "pki"}},
            "storage": {"url": f"sqlite:///{home / 'g.db'}", "flush_interval": "50ms"},
            "devices": [plc_device(running)],
            "alarms": ALARMS,
        }
    )


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    home: Path = tmp_path_factory.mktemp("alarms")
    async with (
        run_plant(make_plant({"plc": PLC_POINTS}), autotick=False) as running,
        Gateway(_config(running, home), config_dir=home) as gateway,
    ):
        await until(lambda: _polled(gateway), message="first poll")
        yield Rig(running, gateway)


async def _polled(gateway: Gateway) -> bool:
    return all(h.connected for h in gateway.acquisition.healths)


@pytest_asyncio.fixture(loop_scope="module")
async def clean(rig: Rig) -> AsyncIterator[Rig]:
    await rig.reset()
    yield rig
    await rig.reset()


@pytest_asyncio.fixture(loop_scope="module")
async def operator(rig: Rig) -> AsyncIterator[Client]:
    async with connect(rig.url, user="op", password="op-secret") as client:
        yield client


class Events:
    """An event subscription handler: the events received, awaited by predicate."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        self._arrived = asyncio.Event()

    def event_notification(self, event: Any) -> None:
        self.received.append(event)
        self._arrived.set()

    async def next(self, predicate: Callable[[Any], bool], what: str, timeout: float = 5) -> Any:
        """The first received event matching `predicate` (taken out of `received`)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for index, event in enumerate(self.received):
                        if predicate(event):
                            return self.received.pop(index)
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            pytest.fail(f"no event for {what} within {timeout:g}s: {self.received}")


async def subscribe(client: Client, source: Node | ua.NodeId) -> tuple[Events, Subscription]:
    events = Events()
    subscription = await client.create_subscription(20, events)
    types = [
        client.get_node(t)
        for t in (
            OID.ExclusiveLimitAlarmType,
            OID.OffNormalAlarmType,
            OID.RefreshStartEventType,
            OID.RefreshEndEventType,
        )
    ]
    await subscription.subscribe_events(source, types)
    return events, subscription


def of(name: str, **fields: Any) -> Callable[[Any], bool]:
    """An event of condition `name` whose fields have these values."""

    def match(event: Any) -> bool:
        if getattr(event, "ConditionName", None) != name:
            return False
        return all(getattr(event, k.replace("__", "/"), None) == v for k, v in fields.items())

    return match


async def _read(client: Client, rig: Rig, identifier: str) -> Any:
    return await client.get_node(rig.id(identifier)).read_value()


# -- address space --------------------------------------------------------------------------


async def test_conditions_are_browsable_with_their_types_and_limits(
    rig: Rig, operator: Client
) -> None:
    folder = operator.get_node(rig.id("Alarms"))
    children = {(await c.read_browse_name()).Name: c for c in await folder.get_children()}
    assert set(children) == {"temp_high", "plc_fault"}
    limit, discrete = children["temp_high"], children["plc_fault"]
    assert limit.nodeid == rig.id("Alarms.temp_high")
    assert (await limit.read_type_definition()) == ua.NodeId(OID.ExclusiveLimitAlarmType)
    assert (await discrete.read_type_definition()) == ua.NodeId(OID.OffNormalAlarmType)
    for name, expected in (("HighHighLimit", 95.0), ("HighLimit", 80.0), ("LowLimit", 5.0)):
        assert await (await limit.get_child(f"0:{name}")).read_value() == expected
    with pytest.raises(ua.uaerrors.BadNoMatch):
        await limit.get_child("0:LowLowLimit")
    assert await (await limit.get_child("0:ConditionName")).read_value() == "temp_high"
    assert await (await limit.get_child("0:SourceNode")).read_value() == rig.id("plc.temp")
    assert await (await limit.get_child("0:InputNode")).read_value() == rig.id("plc.temp")
    assert await (await limit.get_child(["0:EnabledState", "0:Id"])).read_value() is True
    state = await limit.get_child(["0:LimitState", "0:CurrentState"])
    assert await state.read_type_definition() == ua.NodeId(OID.FiniteStateVariableType)
    assert await (await discrete.get_child("0:NormalState")).read_data_type() == ua.NodeId(
        OID.NodeId
    )
    acknowledge = await limit.get_child("0:Acknowledge")
    assert acknowledge.nodeid == ACKNOWLEDGE
    # the plain variables of the contract, with their data types
    for suffix, data_type in (
        ("Active", OID.Boolean),
        ("Acked", OID.Boolean),
        ("Severity", OID.UInt16),
        ("Message", OID.String),
    ):
        node = operator.get_node(rig.id(f"Alarms.temp_high.{suffix}"))
        assert await node.read_data_type() == ua.NodeId(data_type)
    assert await _read(operator, rig, "Alarms.temp_high.Severity") == 700
    # the members' names are right, and shared between conditions (memory: 1000 alarms)
    event_ids = [operator.get_node(rig.id(f"Alarms.{a}.EventId")) for a in children]
    for node in event_ids:
        assert await node.read_browse_name() == ua.QualifiedName("EventId", 0)
        assert (await node.read_display_name()).Text == "EventId"
    server = rig.gateway.opcua.server
    assert server is not None
    first, second = (server.node_tree().node(n.nodeid).attributes for n in event_ids)
    for attribute in (ua.AttributeIds.BrowseName, ua.AttributeIds.DisplayName):
        assert first[attribute] is second[attribute]


async def test_tag_has_condition_and_the_notifier_chain(rig: Rig, operator: Client) -> None:
    tag = operator.get_node(rig.id("plc.temp"))
    conditions = await tag.get_referenced_nodes(OID.HasCondition, FORWARD)
    assert [c.nodeid for c in conditions] == [rig.id("Alarms.temp_high")]
    server = operator.nodes.server
    assert await server.read_event_notifier() == {ua.EventNotifier.SubscribeToEvents}
    notified = await server.get_referenced_nodes(OID.HasNotifier, FORWARD)
    assert rig.id("plc") in [n.nodeid for n in notified]
    device = operator.get_node(rig.id("plc"))
    sources = {
        n.nodeid
        for n in await device.get_referenced_nodes(
            OID.HasEventSource, FORWARD, includesubtypes=False
        )
    }
    assert sources == {rig.id("plc.temp"), rig.id("plc.fault")}


# -- events and acknowledge -----------------------------------------------------------------


async def test_activate_acknowledge_and_return_to_normal_events(
    clean: Rig, operator: Client
) -> None:
    rig = clean
    on_server, _ = await subscribe(operator, operator.nodes.server)
    on_device, _ = await subscribe(operator, operator.get_node(rig.id("plc")))

    rig.set("temp", 85.0)
    active = await on_server.next(of("temp_high", ActiveState__Id=True), "activation")
    assert active.EventType == ua.NodeId(OID.ExclusiveLimitAlarmType)
    assert active.Severity == 700
    assert active.Message.Text == "Temperature 85 above 80"
    assert active.SourceNode == rig.id("plc.temp")
    assert active.SourceName == "plc.temp"
    assert active.NodeId == rig.id("Alarms.temp_high")  # the ConditionId
    assert getattr(active, "AckedState/Id") is False
    assert active.ActiveState.Text == "Active"
    assert active.Retain is True
    assert active.Time is not None
    assert active.ReceiveTime >= active.Time
    assert getattr(active, "LimitState/CurrentState").Text == "High"
    assert active.HighLimit == 80.0
    assert active.Quality == ua.StatusCode(ua.StatusCodes.Good)
    from_device = await on_device.next(of("temp_high", ActiveState__Id=True), "device event")
    assert from_device.EventId == active.EventId
    await until(lambda: _read(operator, rig, "Alarms.temp_high.Active"), message=".Active")
    assert await _read(operator, rig, "Alarms.temp_high.Acked") is False
    assert await _read(operator, rig, "Alarms.temp_high.Message") == "Temperature 85 above 80"

    condition = operator.get_node(rig.id("Alarms.temp_high"))
    await condition.call_method(ACKNOWLEDGE, active.EventId, ua.LocalizedText("on it"))
    acked = await on_server.next(of("temp_high", AckedState__Id=True), "acknowledged")
    assert getattr(acked, "ActiveState/Id") is True
    assert acked.Retain is True
    assert acked.Comment.Text == "on it"
    assert acked.ClientUserId == "op"
    assert acked.EventId != active.EventId
    await on_device.next(of("temp_high", AckedState__Id=True), "acknowledged on the device")
    snapshot = rig.gateway.alarms.snapshot("temp_high")
    assert (snapshot.state, snapshot.user, snapshot.comment) == (AlarmState.ACKED, "op", "on it")
    await until(lambda: _read(operator, rig, "Alarms.temp_high.Acked"), message=".Acked")
    await until(lambda: _journaled(rig, "op", "on it"), message="journaled acknowledgement")

    rig.set("temp", NORMAL_TEMP)
    cleared = await on_server.next(of("temp_high", ActiveState__Id=False), "return to normal")
    assert getattr(cleared, "AckedState/Id") is True
    assert cleared.Retain is False
    assert getattr(cleared, "LimitState/CurrentState").Text is None
    await on_device.next(of("temp_high", ActiveState__Id=False), "normal on the device")
    assert await _read(operator, rig, "Alarms.temp_high.Active") is False


async def _journaled(rig: Rig, user: str, comment: str) -> bool:
    page = await rig.gateway.historian.alarm_journal(alarm="temp_high")
    return any(
        e.transition == "acknowledged" and e.user == user and e.comment == comment
        for e in page.events
    )


async def test_acknowledge_result_codes(clean: Rig, operator: Client) -> None:
    rig = clean
    events, _ = await subscribe(operator, operator.nodes.server)
    rig.set("status", NORMAL_STATUS | 0b10)  # the fault bit
    active = await events.next(of("plc_fault", ActiveState__Id=True), "fault")
    assert active.EventType == ua.NodeId(OID.OffNormalAlarmType)
    assert active.Severity == 900
    condition = ua.NodeId("Alarms.plc_fault", rig.gateway.opcua.namespace_index)

    async with connect(rig.url, user="view", password="view-secret") as viewer:
        with pytest.raises(ua.uaerrors.BadUserAccessDenied):
            await viewer.get_node(condition).call_method(ACKNOWLEDGE, active.EventId, "no")
    async with connect(rig.url) as anonymous:
        with pytest.raises(ua.uaerrors.BadUserAccessDenied):
            await anonymous.get_node(condition).call_method(ACKNOWLEDGE, active.EventId, "no")
    node = operator.get_node(condition)
    with pytest.raises(ua.uaerrors.BadEventIdUnknown):
        await node.call_method(ACKNOWLEDGE, b"not an event", ua.LocalizedText(""))
    with pytest.raises(ua.uaerrors.BadNodeIdInvalid):  # a node, but not a condition
        await operator.get_node(rig.id("plc.temp")).call_method(
            ACKNOWLEDGE, active.EventId, ua.LocalizedText("")
        )
    with pytest.raises(ua.uaerrors.BadNodeIdUnknown):
        await operator.get_node(rig.id("Alarms.nothing")).call_method(
            ACKNOWLEDGE, active.EventId, ua.LocalizedText("")
        )
    with pytest.raises(ua.uaerrors.BadInvalidArgument):  # a String EventId
        await node.call_method(ACKNOWLEDGE, "a string", ua.LocalizedText(""))
    with pytest.raises(ua.uaerrors.BadArgumentsMissing):
        await node.call_method(ACKNOWLEDGE, active.EventId)
    assert rig.gateway.alarms.snapshot("plc_fault").state is AlarmState.UNACK

    await node.call_method(ACKNOWLEDGE, active.EventId, ua.LocalizedText("seen"))
    acked = await events.next(of("plc_fault", AckedState__Id=True), "acknowledged")
    with pytest.raises(ua.uaerrors.BadConditionBranchAlreadyAcked):
        await node.call_method(ACKNOWLEDGE, acked.EventId, ua.LocalizedText("again"))
    with pytest.raises(ua.uaerrors.BadEventIdUnknown):  # no longer the latest event
        await node.call_method(ACKNOWLEDGE, active.EventId, ua.LocalizedText("again"))


# -- ConditionRefresh ------------------------------------------------------------------------


async def test_condition_refresh_after_reconnect_replays_retained_alarms(
    clean: Rig, operator: Client
) -> None:
    rig = clean
    events, operator_subscription = await subscribe(operator, operator.nodes.server)
    rig.set("status", NORMAL_STATUS | 0b10)
    rig.set("temp", 85.0)
    fault = await events.next(of("plc_fault", ActiveState__Id=True), "fault")
    await events.next(of("temp_high", ActiveState__Id=True), "high temperature")
    rig.set("temp", NORMAL_TEMP)  # returns unacknowledged: still retained
    rtn = await events.next(of("temp_high", ActiveState__Id=False), "temperature normal")
    assert rtn.Retain is True

    async with connect(rig.url, user="view", password="view-secret") as client:
        fresh, subscription = await subscribe(client, client.nodes.server)
        on_device, _ = await subscribe(client, client.get_node(rig.id("plc")))
        condition_type = client.get_node(OID.ConditionType)
        sub_id = ua.Variant(subscription.subscription_id, ua.VariantType.UInt32)
        await condition_type.call_method(REFRESH, sub_id)
        end = ua.NodeId(OID.RefreshEndEventType)
        await fresh.next(lambda e: e.EventType == end, "RefreshEndEvent")
        replayed = fresh.received
        assert replayed[0].EventType == ua.NodeId(OID.RefreshStartEventType)
        middle = {e.ConditionName: e for e in replayed[1:]}
        assert set(middle) == {"plc_fault", "temp_high"}
        assert middle["plc_fault"].EventId == fault.EventId
        assert getattr(middle["plc_fault"], "ActiveState/Id") is True
        assert getattr(middle["temp_high"], "ActiveState/Id") is False
        assert getattr(middle["temp_high"], "AckedState/Id") is False
        assert on_device.received == []  # the other subscription is not refreshed

        with pytest.raises(ua.uaerrors.BadSubscriptionIdInvalid):
            await condition_type.call_method(REFRESH, ua.Variant(999_999, ua.VariantType.UInt32))
        # a subscription of another session is not this session's to refresh
        foreign = ua.Variant(operator_subscription.subscription_id, ua.VariantType.UInt32)
        with pytest.raises(ua.uaerrors.BadSubscriptionIdInvalid):
            await condition_type.call_method(REFRESH, foreign)

    # the replayed EventId acknowledges
    node = operator.get_node(rig.id("Alarms.plc_fault"))
    await node.call_method(ACKNOWLEDGE, middle["plc_fault"].EventId, ua.LocalizedText("ok"))
    await events.next(of("plc_fault", AckedState__Id=True), "acknowledged after refresh")


# -- quality and the plain variables ---------------------------------------------------------


class Changes:
    """A data change handler: (node id, value) pairs as they arrive."""

    def __init__(self) -> None:
        self.values: list[tuple[ua.NodeId, Any]] = []

    def datachange_notification(self, node: Node, value: Any, _data: Any) -> None:
        self.values.append((node.nodeid, value))


async def test_plain_variables_follow_by_subscription(clean: Rig, operator: Client) -> None:
    rig = clean
    changes = Changes()
    subscription = await operator.create_subscription(20, changes)
    names = ("Active", "Acked", "Severity", "Message")
    nodes = [operator.get_node(rig.id(f"Alarms.plc_fault.{name}")) for name in names]
    await subscription.subscribe_data_change(nodes)
    active, acked = rig.id("Alarms.plc_fault.Active"), rig.id("Alarms.plc_fault.Acked")

    async def seen(nodeid: ua.NodeId, value: Any) -> bool:
        return (nodeid, value) in changes.values

    await until(lambda: seen(rig.id("Alarms.plc_fault.Severity"), 900), message="severity")
    rig.set("status", NORMAL_STATUS | 0b10)
    await until(lambda: seen(active, True), message=".Active true")
    await until(lambda: seen(acked, False), message=".Acked false")
    await until(lambda: seen(rig.id("Alarms.plc_fault.Message"), "Fault"), message=".Message")
    rig.gateway.alarms.acknowledge("plc_fault", user="test", comment="")
    await until(lambda: seen(acked, True), message=".Acked true")
    rig.set("status", NORMAL_STATUS)
    await until(lambda: seen(active, False), message=".Active false")


async def test_input_quality_is_reported_without_a_false_clear(
    clean: Rig, operator: Client
) -> None:
    rig = clean
    events, _ = await subscribe(operator, operator.nodes.server)
    rig.set("temp", 85.0)
    activation = await events.next(of("temp_high", ActiveState__Id=True), "activation")
    plc = rig.plant.slave("plc")
    uncertain = ua.StatusCode(ua.StatusCodes.UncertainNoCommunicationLastUsableValue)
    try:
        await plc.go_offline()
        lost = await events.next(of("temp_high", Quality=uncertain), "quality lost")
        assert getattr(lost, "ActiveState/Id") is True  # no false clear
        # the event happened when the quality changed; the state is as old as before
        assert lost.Time > activation.Time
        assert lost.ReceiveTime >= lost.Time
        transition_time = "ActiveState/TransitionTime"
        assert getattr(lost, transition_time) == getattr(activation, transition_time)
        quality = operator.get_node(rig.id("Alarms.temp_high.Quality"))
        assert await quality.read_value() == uncertain
    finally:
        await plc.go_online()
    good = ua.StatusCode(ua.StatusCodes.Good)
    back = await events.next(of("temp_high", Quality=good), "quality back", timeout=10)
    assert getattr(back, "ActiveState/Id") is True


# -- restart ----------------------------------------------------------------------------------


async def test_restored_alarm_is_served_after_a_restart_without_a_new_event(
    tmp_path: Path,
) -> None:
    async with run_plant(make_plant({"plc": PLC_POINTS}), autotick=False) as running:
        config = _config(running, tmp_path)
        running.slave("plc").unit(1).set("temp", 99.0)
        async with Gateway(config, config_dir=tmp_path) as gateway:
            await until(lambda: _state(gateway, "temp_high", AlarmState.UNACK), message="active")
            first = gateway.alarms.snapshot("temp_high")
        async with Gateway(config, config_dir=tmp_path) as gateway:
            rig = Rig(running, gateway)
            snapshot = gateway.alarms.snapshot("temp_high")
            assert snapshot.state is AlarmState.UNACK
            assert snapshot.time == pytest.approx(first.time, abs=1e-3)  # not re-raised
            async with connect(rig.url, user="op", password="op-secret") as client:
                events, subscription = await subscribe(client, client.nodes.server)
                assert await _read(client, rig, "Alarms.temp_high.Active") is True
                assert await _read(client, rig, "Alarms.temp_high.Acked") is False
                assert await _read(client, rig, "Alarms.temp_high.Message") == first.message
                await client.get_node(OID.ConditionType).call_method(
                    REFRESH, ua.Variant(subscription.subscription_id, ua.VariantType.UInt32)
                )
                end = ua.NodeId(OID.RefreshEndEventType)
                await events.next(lambda e: e.EventType == end, "RefreshEndEvent")
                [restored] = [e for e in events.received if e.ConditionName == "temp_high"]
                assert getattr(restored, "ActiveState/Id") is True
                # activated before the restart: not re-raised (Time may be the input's
                # quality change since, when the first poll came before the refresh)
                since = getattr(restored, "ActiveState/TransitionTime").timestamp()
                assert since == pytest.approx(first.time, abs=1e-3)
                condition = client.get_node(rig.id("Alarms.temp_high"))
                await condition.call_method(ACKNOWLEDGE, restored.EventId, ua.LocalizedText("ok"))
                acked = await events.next(of("temp_high", AckedState__Id=True), "acknowledged")
                assert acked.ClientUserId == "op"


async def _state(gateway: Gateway, name: str, state: AlarmState) -> bool:
    return gateway.alarms.snapshot(name).state is state


async def test_limit_change_and_condition_refresh2_for_one_monitored_item(
    clean: Rig, operator: Client
) -> None:
    rig = clean
    events = Events()
    subscription = await operator.create_subscription(20, events)
    kinds = (
        OID.ExclusiveLimitAlarmType,
        OID.OffNormalAlarmType,
        OID.RefreshStartEventType,
        OID.RefreshEndEventType,
    )
    types = [operator.get_node(t) for t in kinds]
    on_server = await subscription.subscribe_events(operator.nodes.server, types)
    await subscription.subscribe_events(operator.get_node(rig.id("plc")), types)

    rig.set("temp", 85.0)
    high = await events.next(of("temp_high", ActiveState__Id=True), "high")
    rig.set("temp", 99.0)
    high_high = await events.next(
        of("temp_high", LimitState__CurrentState=ua.LocalizedText("HighHigh")), "high high"
    )
    assert getattr(high_high, "LimitState/CurrentState/Id") == ua.NodeId(
        OID.ExclusiveLimitStateMachineType_HighHigh
    )
    assert high_high.EventId != high.EventId
    assert high_high.Message.Text == "Temperature 99 above 95"
    node = operator.get_node(rig.id("Alarms.temp_high.LimitState.CurrentState"))
    await until(lambda: _equals(node, ua.LocalizedText("HighHigh")), message="CurrentState")
    # the same two transitions through the device's item
    await events.next(of("temp_high", LimitState__CurrentState=ua.LocalizedText("HighHigh")), "")
    events.received = [e for e in events.received if e.EventId != high.EventId]
    assert events.received == []

    await operator.get_node(OID.ConditionType).call_method(
        ua.NodeId(OID.ConditionType_ConditionRefresh2),
        ua.Variant(subscription.subscription_id, ua.VariantType.UInt32),
        ua.Variant(on_server, ua.VariantType.UInt32),
    )
    end = ua.NodeId(OID.RefreshEndEventType)
    await events.next(lambda e: e.EventType == end, "RefreshEndEvent")
    start, replayed = events.received  # only the Server's item: one start, one condition
    assert start.EventType == ua.NodeId(OID.RefreshStartEventType)
    assert replayed.EventId == high_high.EventId
    with pytest.raises(ua.uaerrors.BadMonitoredItemIdInvalid):
        await operator.get_node(OID.ConditionType).call_method(
            ua.NodeId(OID.ConditionType_ConditionRefresh2),
            ua.Variant(subscription.subscription_id, ua.VariantType.UInt32),
            ua.Variant(on_server + 1000, ua.VariantType.UInt32),
        )


async def _equals(node: Node, expected: Any) -> bool:
    return bool(await node.read_value() == expected)
