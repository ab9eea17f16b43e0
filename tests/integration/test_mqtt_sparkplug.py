"""The Sparkplug B edge node against a real Mosquitto, named after the spec's tck-ids.

Each test is named after the Sparkplug B 3.0 tck-id it checks, the exact string of
the specification's `[tck-id-…]` assertion (lower case: the spec writes `bdSeq`);
its docstring lists every other tck-id it checks. Tests without a tck-id check the
gateway's own rules (docs/mqtt.md).

Most tests use the machine's broker (127.0.0.1:1883) with a Sparkplug group of
their own; the Will and the outages use a private `mosquitto` on a free port.
Every payload is decoded by our schema here, and by Eclipse Tahu's JavaScript
decoder in test_mqtt_tahu_interop.py.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest
from gatewaykit import PLC_POINTS, PLC_TAGS, plc_device
from mqttkit import (
    SHARED_BROKER,
    MqttRig,
    Received,
    Recorder,
    broker_reachable,
    mosquitto,
    mqtt_rig,
    recorder,
)

from gateway.model import Status
from gateway.mqtt.metrics import QUALITY_GOOD, STATUS_FIELDS
from gateway.mqtt.sparkplug import MetricType, OutMetric, encode_payload
from gateway.mqtt.state import ConnectionState
from simulators.runtime import RunningPlant

_groups = itertools.count()


@pytest.fixture
def group() -> str:
    """A Sparkplug group no other test (or run) publishes to."""
    if not broker_reachable(*SHARED_BROKER):
        pytest.skip("no MQTT broker on 127.0.0.1:1883")
    return f"test{time.time_ns()}x{next(_groups)}"


def _devices(running: RunningPlant) -> list[dict[str, Any]]:
    return [plc_device(running)]


def _settings(group: str, url: str = "mqtt://127.0.0.1:1883", **sparkplug: Any) -> dict[str, Any]:
    return {"servers": [url], "sparkplug": {"group": group, **sparkplug}}


def _metrics(message: Received) -> dict[str, Any]:
    return {metric.name: metric for metric in message.sparkplug.metrics}


async def _born(record: Recorder, devices: int = 1) -> None:
    await record.until(
        lambda: record.of("NBIRTH") and len(record.of("DBIRTH")) >= devices, message="births"
    )


async def test_tck_id_topics_nbirth_bdseq_included(tmp_path: Path, group: str) -> None:
    """[tck-id-topics-nbirth-bdseq-included] [tck-id-payloads-nbirth-bdseq]
    [tck-id-message-flow-edge-node-birth-publish-nbirth-payload-bdSeq] (an INT64, the Will's)
    [tck-id-topics-nbirth-topic] [tck-id-topics-nbirth-seq-num] [tck-id-payloads-nbirth-timestamp]
    [tck-id-payloads-nbirth-rebirth-req] [tck-id-topics-nbirth-rebirth-metric]
    [tck-id-operational-behavior-data-commands-rebirth-name-aliases] (Rebirth has no alias)
    [tck-id-operational-behavior-data-commands-rebirth-datatype]
    [tck-id-operational-behavior-data-commands-rebirth-value] [tck-id-payloads-nbirth-retain]"""
    async with (
        recorder(1883, f"spBv1.0/{group}/#") as record,
        mqtt_rig({"plc": PLC_POINTS}, _devices, _settings(group), tmp_path) as rig,
    ):
        await _born(record)
        nbirth = record.of("NBIRTH")[0]
        assert nbirth.topic == f"spBv1.0/{group}/NBIRTH/test"
        payload = nbirth.sparkplug
        assert payload.seq == 0
        assert payload.timestamp_ms is not None
        metrics = _metrics(nbirth)
        assert metrics["bdSeq"].datatype == MetricType.INT64
        assert metrics["bdSeq"].value == rig.publisher.state.bd_seq == 0
        rebirth = metrics["Node Control/Rebirth"]
        assert (rebirth.datatype, rebirth.value, rebirth.alias) == (MetricType.BOOLEAN, False, None)
        assert metrics["Node Control/Next Server"].value is False
        assert metrics["Properties/Tags"].value == len(PLC_TAGS)
        assert not nbirth.retain


async def test_tck_id_topics_dbirth_metric_reqs(tmp_path: Path, group: str) -> None:
    """[tck-id-topics-dbirth-metric-reqs] every tag and `_Status` field;
    [tck-id-topics-dbirth-topic] [tck-id-topics-dbirth-metrics] [tck-id-payloads-dbirth-seq-inc]
    [tck-id-payloads-alias-uniqueness] [tck-id-payloads-alias-birth-requirement]
    [tck-id-payloads-metric-datatype-req] [tck-id-payloads-propertyset-quality-value-value]
    [tck-id-payloads-dbirth-retain]"""
    async with (
        recorder(1883, f"spBv1.0/{group}/#") as record,
        mqtt_rig({"plc": PLC_POINTS}, _devices, _settings(group), tmp_path),
    ):
        await _born(record)
        dbirth = record.of("DBIRTH", "plc")[0]
        assert dbirth.topic == f"spBv1.0/{group}/DBIRTH/test/plc"
        assert dbirth.sparkplug.seq == 1  # after the NBIRTH's 0
        assert not dbirth.retain
        metrics = _metrics(dbirth)
        assert set(metrics) == {tag["name"] for tag in PLC_TAGS} | set(STATUS_FIELDS)
        aliases = [metric.alias for metric in metrics.values()]
        assert None not in aliases
        assert len(set(aliases)) == len(aliases)
        assert all(metric.datatype for metric in metrics.values())
        temp = metrics["temp"]
        assert temp.datatype == MetricType.FLOAT
        assert temp.value == 21.5
        assert temp.timestamp_ms is not None
        assert temp.properties == {"Quality": QUALITY_GOOD, "EngUnit": "degC"}
        assert metrics["mode"].datatype == MetricType.UINT16
        assert metrics["pump"].datatype == MetricType.BOOLEAN
        assert metrics["label"].value == "AB12"
        assert metrics["_Status/State"].value == "ok"
        assert metrics["_Status/Connected"].value is True


async def test_tck_id_topics_ddata_payload(tmp_path: Path, group: str) -> None:
    """[tck-id-topics-ddata-payload] only the changed metric;
    [tck-id-payloads-alias-data-cmd-requirement] by alias, without its name;
    [tck-id-topics-ddata-topic] [tck-id-payloads-ddata-seq-inc] [tck-id-payloads-ddata-retain]"""
    async with (
        recorder(1883, f"spBv1.0/{group}/#") as record,
        mqtt_rig({"plc": PLC_POINTS}, _devices, _settings(group), tmp_path) as rig,
    ):
        await _born(record)
        aliases = {m.name: m.alias for m in record.of("DBIRTH")[0].sparkplug.metrics}
        rig.plant.slave("plc").unit(1).set("level", 9.5)
        await record.until(lambda: record.of("DDATA", "plc"), message="a DDATA")
        message = record.of("DDATA", "plc")[0]
        assert message.topic == f"spBv1.0/{group}/DDATA/test/plc"
        assert not message.retain
        ddata = message.sparkplug
        [level] = ddata.metrics
        assert level.name is None
        assert level.alias == aliases["level"]
        assert level.value == 9.5
        # seq goes on from the births
        assert ddata.seq == len(record.of("NBIRTH")) + len(record.of("DBIRTH"))


async def test_tck_id_operational_behavior_edge_node_intentional_disconnect_ndeath(
    tmp_path: Path, group: str
) -> None:
    """[tck-id-operational-behavior-edge-node-intentional-disconnect-ndeath]
    [tck-id-payloads-ndeath-will-message-publisher-disconnect-mqtt311] an NDEATH, then the
    DISCONNECT; [tck-id-payloads-ndeath-seq] no seq; [tck-id-topics-ndeath-payload] the bdSeq
    alone; [tck-id-payloads-ndeath-bdseq] the NBIRTH's."""
    async with recorder(1883, f"spBv1.0/{group}/#") as record:
        async with mqtt_rig({"plc": PLC_POINTS}, _devices, _settings(group), tmp_path):
            await _born(record)
        await record.until(lambda: record.of("NDEATH"), message="the NDEATH")
        [ndeath] = record.of("NDEATH")
        payload = ndeath.sparkplug
        assert payload.seq is None
        [bd_seq] = payload.metrics
        assert bd_seq.name == "bdSeq"
        assert bd_seq.value == _metrics(record.of("NBIRTH")[0])["bdSeq"].value
        # The NDEATH is the last message of the node: nothing after it.
        assert record.messages[-1] is ndeath


async def test_tck_id_payloads_ndeath_will_message(tmp_path: Path) -> None:
    """[tck-id-payloads-ndeath-will-message] A session taken over by another client with
    the same id: the broker publishes our Will, an NDEATH with the NBIRTH's bdSeq
    ([tck-id-topics-nbirth-bdseq-matching] [tck-id-payloads-nbirth-bdseq-repeat]);
    [tck-id-payloads-ndeath-will-message-retain] not retained;
    [tck-id-payloads-ndeath-will-message-qos] QoS 1 (our subscription is QoS 1);
    [tck-id-topics-nbirth-bdseq-increment] we reconnect with bdSeq + 1."""
    with mosquitto(tmp_path) as broker:
        settings = _settings("will", broker.url)
        async with (
            recorder(broker.port, "spBv1.0/will/#") as record,
            mqtt_rig({"plc": PLC_POINTS}, _devices, settings, tmp_path) as rig,
        ):
            await _born(record)
            import aiomqtt

            async with aiomqtt.Client("127.0.0.1", broker.port, identifier="test"):
                await record.until(lambda: record.of("NDEATH"), message="the Will")
            [will] = record.of("NDEATH")
            assert _metrics(will)["bdSeq"].value == 0
            assert _metrics(will)["bdSeq"].datatype == MetricType.INT64
            assert _metrics(record.of("NBIRTH")[0])["bdSeq"].value == 0
            assert not will.retain
            assert will.qos == 1
            await record.until(lambda: len(record.of("NBIRTH")) >= 2, message="a new NBIRTH")
            second = record.of("NBIRTH")[-1]
            assert _metrics(second)["bdSeq"].value == 1
            assert second.sparkplug.seq == 0
            assert rig.publisher.state.connects >= 2


async def test_tck_id_operational_behavior_device_ddeath(tmp_path: Path, group: str) -> None:
    """[tck-id-operational-behavior-device-ddeath] a DDEATH when the device stops answering;
    [tck-id-topics-ddeath-topic] [tck-id-payloads-ddeath-seq-number]; no DDATA of it until
    its new DBIRTH when it answers again (the gateway's rule)."""
    async with (
        recorder(1883, f"spBv1.0/{group}/#") as record,
        mqtt_rig({"plc": PLC_POINTS}, _devices, _settings(group), tmp_path) as rig,
    ):
        await _born(record)
        slave = rig.plant.slave("plc")
        await slave.go_offline()
        await record.until(lambda: record.of("DDEATH", "plc"), message="the DDEATH")
        ddeath = record.of("DDEATH", "plc")[0]
        assert ddeath.topic == f"spBv1.0/{group}/DDEATH/test/plc"
        assert ddeath.sparkplug.seq is not None
        # no DDATA of a dead device
        after = record.messages.index(ddeath)
        await slave.go_online()
        await record.until(lambda: len(record.of("DBIRTH", "plc")) == 2, message="a new DBIRTH")
        between = record.messages[after + 1 : record.messages.index(record.of("DBIRTH")[-1])]
        assert not [m for m in between if m.kind == "DDATA"]


async def test_tck_id_operational_behavior_data_commands_rebirth_action_3(
    tmp_path: Path, group: str
) -> None:
    """[tck-id-operational-behavior-data-commands-rebirth-action-3] an NCMD Rebirth (by name,
    [tck-id-operational-behavior-data-commands-ncmd-rebirth-name]) re-births with the same
    bdSeq, on the same connection; [tck-id-operational-behavior-data-commands-rebirth-action-2]
    the NBIRTH and the DBIRTHs."""
    async with (
        recorder(1883, f"spBv1.0/{group}/#") as record,
        mqtt_rig({"plc": PLC_POINTS}, _devices, _settings(group), tmp_path) as rig,
    ):
        await _born(record)
        rebirth = OutMetric(None, MetricType.BOOLEAN, True, 0, name="Node Control/Rebirth")
        payload = encode_payload([rebirth], timestamp_ms=int(time.time() * 1000), seq=None)
        await record.publish(f"spBv1.0/{group}/NCMD/test", payload)
        await record.until(lambda: len(record.of("NBIRTH")) == 2, message="the rebirth")
        first, second = record.of("NBIRTH")
        assert _metrics(second)["bdSeq"].value == _metrics(first)["bdSeq"].value
        assert second.sparkplug.seq == 0
        assert rig.publisher.state.connects == 1  # the same connection
        await record.until(lambda: len(record.of("DBIRTH")) == 2, message="the DBIRTH again")


async def test_tck_id_message_flow_edge_node_birth_publish_phid_wait(tmp_path: Path) -> None:
    """[tck-id-message-flow-edge-node-birth-publish-phid-wait]
    [tck-id-operational-behavior-edge-node-birth-sequence-wait] no births before the primary
    host's STATE is online ([tck-id-message-flow-edge-node-birth-publish-phid-wait-id]
    [tck-id-message-flow-edge-node-birth-publish-phid-wait-online]);
    [tck-id-message-flow-edge-node-birth-publish-phid-wait-timestamp]
    [tck-id-operational-behavior-edge-node-termination-host-offline-timestamp] an older offline
    STATE is ignored; [tck-id-message-flow-edge-node-birth-publish-phid-offline]
    [tck-id-operational-behavior-edge-node-termination-host-offline] a newer one: NDEATH and
    disconnect, births again once the host is back."""
    with mosquitto(tmp_path) as broker:
        settings = _settings("host", broker.url, primary_host="scada")
        state_topic = "spBv1.0/STATE/scada"
        async with (
            recorder(broker.port, "spBv1.0/host/#") as record,
            mqtt_rig({"plc": PLC_POINTS}, _devices, settings, tmp_path) as rig,
        ):
            await record.until(
                lambda: rig.publisher.state.state is ConnectionState.WAITING_FOR_HOST,
                message="waiting for the host",
            )
            assert not record.of("NBIRTH")
            now = int(time.time() * 1000)
            online = json.dumps({"online": True, "timestamp": now}).encode()
            await record.publish(state_topic, online, retain=True)
            await _born(record)
            # an older offline message is ignored (timestamps compared)
            stale = json.dumps({"online": False, "timestamp": now - 1000}).encode()
            await record.publish(state_topic, stale)
            rig.plant.slave("plc").unit(1).set("level", 1.5)
            await record.until(lambda: record.of("DDATA"), message="data after a stale STATE")
            assert not record.of("NDEATH")
            # a newer offline: NDEATH, and no births until the host is back
            offline = json.dumps({"online": False, "timestamp": now + 1}).encode()
            await record.publish(state_topic, offline, retain=True)
            await record.until(lambda: record.of("NDEATH"), message="the NDEATH")
            births = len(record.of("NBIRTH"))
            await record.until(
                lambda: rig.publisher.state.state is ConnectionState.WAITING_FOR_HOST,
                message="waiting again",
            )
            assert len(record.of("NBIRTH")) == births
            back = json.dumps({"online": True, "timestamp": now + 2}).encode()
            await record.publish(state_topic, back, retain=True)
            await record.until(lambda: len(record.of("NBIRTH")) == births + 1, message="rebirth")


async def test_tck_id_operational_behavior_data_commands_dcmd_metric_value(
    tmp_path: Path, group: str
) -> None:
    """[tck-id-operational-behavior-data-commands-dcmd-metric-value] a DCMD's value is written
    through the checked write path (a value out of range, a read-only tag: refused and
    counted); [tck-id-message-flow-device-dcmd-subscribe]
    [tck-id-payloads-alias-data-cmd-requirement] by alias; the written value shows in the
    next DDATA."""
    async with (
        recorder(1883, f"spBv1.0/{group}/#") as record,
        mqtt_rig({"plc": PLC_POINTS}, _devices, _settings(group, commands=True), tmp_path) as rig,
    ):
        await _born(record)
        aliases = {m.name: m.alias for m in record.of("DBIRTH")[0].sparkplug.metrics}
        write = OutMetric(aliases["setpoint"], MetricType.FLOAT, 62.5, 0)
        out_of_range = OutMetric(0, MetricType.FLOAT, 500.0, 0, name="setpoint")
        read_only = OutMetric(0, MetricType.FLOAT, 1.0, 0, name="temp")
        topic = f"spBv1.0/{group}/DCMD/test/plc"
        await record.publish(topic, encode_payload([write], timestamp_ms=0, seq=None))
        await record.until(
            lambda: rig.plant.slave("plc").unit(1).get("setpoint") == 62.5, message="the write"
        )
        await record.until(
            lambda: any(
                m.alias == aliases["setpoint"] and m.value == 62.5
                for d in record.of("DDATA")
                for m in d.sparkplug.metrics
            ),
            message="the written value in DDATA",
        )
        for refused in (out_of_range, read_only):
            await record.publish(topic, encode_payload([refused], timestamp_ms=0, seq=None))
        await record.until(
            lambda: rig.publisher.state.commands_refused == 2, message="two refusals"
        )
        assert rig.publisher.state.commands_written == 1
        assert rig.plant.slave("plc").unit(1).get("setpoint") == 62.5


async def test_dcmd_refused_while_commands_are_off(tmp_path: Path, group: str) -> None:
    async with (
        recorder(1883, f"spBv1.0/{group}/#") as record,
        mqtt_rig({"plc": PLC_POINTS}, _devices, _settings(group), tmp_path) as rig,
    ):
        await _born(record)
        write = OutMetric(0, MetricType.FLOAT, 62.5, 0, name="setpoint")
        topic = f"spBv1.0/{group}/DCMD/test/plc"
        await record.publish(topic, encode_payload([write], timestamp_ms=0, seq=None))
        await record.until(lambda: rig.publisher.state.commands_refused == 1, message="refusal")
        assert rig.plant.slave("plc").unit(1).get("setpoint") == 50


async def test_broker_outage_reconnects_with_the_next_bdseq(tmp_path: Path) -> None:
    with mosquitto(tmp_path) as broker:
        settings = _settings("outage", broker.url)
        settings["reconnect_max"] = 0.5
        async with mqtt_rig({"plc": PLC_POINTS}, _devices, settings, tmp_path) as rig:
            state = rig.publisher.state
            await _until(lambda: state.state is ConnectionState.ONLINE, "online")
            broker.kill()
            await _until(lambda: state.state is ConnectionState.BACKOFF, "backoff")
            assert "127.0.0.1" in state.last_error
            broker.start()
            async with recorder(broker.port, "spBv1.0/outage/#") as record:
                await _born(record)
                assert _metrics(record.of("NBIRTH")[0])["bdSeq"].value == state.bd_seq
            assert state.connects == 2
            assert state.bd_seq is not None
            assert state.bd_seq >= 1


async def test_servers_are_tried_in_order(tmp_path: Path) -> None:
    with mosquitto(tmp_path) as broker:
        dead = f"mqtt://127.0.0.1:{broker.port + 1 if broker.port < 65535 else 1}"
        settings = {"servers": [dead, broker.url], "sparkplug": {"group": "order"}}
        async with mqtt_rig({"plc": PLC_POINTS}, _devices, settings, tmp_path) as rig:
            state = rig.publisher.state
            await _until(lambda: state.state is ConnectionState.ONLINE, "online")
            assert state.server == broker.url


async def test_json_namespace_one_retained_topic_per_tag(tmp_path: Path, group: str) -> None:
    settings = {"servers": ["mqtt://127.0.0.1:1883"], "json": {"topic": group + "/{device}/{tag}"}}
    async with mqtt_rig({"plc": PLC_POINTS}, _devices, settings, tmp_path, name="gw") as rig:
        await _until(lambda: rig.publisher.state.messages >= len(PLC_TAGS), "the first values")
        rig.plant.slave("plc").unit(1).set("level", 8.25)
        async with recorder(1883, f"{group}/#") as record:
            await record.until(
                lambda: any(
                    json.loads(m.payload)["value"] == 8.25
                    for m in record.messages
                    if m.topic == f"{group}/plc/level"
                ),
                message="the change",
            )
            retained = {m.topic: json.loads(m.payload) for m in record.messages if m.retain}
            assert len(retained) == len(PLC_TAGS)
            temp = retained[f"{group}/plc/temp"]
            assert temp["value"] == 21.5
            assert temp["status"] == "Good"
            assert temp["timestamp"].endswith("Z")
    async with recorder(1883, f"{group}/#") as cleanup:  # leave no retained topic behind
        await cleanup.until(lambda: len(cleanup.messages) >= len(PLC_TAGS), message="retained")
        for topic in {message.topic for message in cleanup.messages}:
            await cleanup.publish(topic, b"", retain=True)


async def _until(predicate: Any, message: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {message}")
        await asyncio.sleep(0.01)


def test_status_quality_mapping() -> None:
    from gateway.mqtt.metrics import quality

    assert quality(Status.GOOD) == 192
    assert quality(Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE) == 500
    assert quality(Status.BAD_NO_COMMUNICATION) == 0


__all__ = ["MqttRig"]


async def test_ncmd_next_server_moves_to_the_next_server(tmp_path: Path) -> None:
    """NCMD Node Control/Next Server: NDEATH, then the next server in the list. The spec
    names this metric (optional) without a tck-id of its own."""
    with mosquitto(tmp_path) as first, mosquitto(tmp_path) as second:
        settings = {"servers": [first.url, second.url], "sparkplug": {"group": "next"}}
        async with (
            recorder(first.port, "spBv1.0/next/#") as record,
            mqtt_rig({"plc": PLC_POINTS}, _devices, settings, tmp_path) as rig,
        ):
            await _born(record)
            assert rig.publisher.state.server == first.url
            command = OutMetric(2, MetricType.BOOLEAN, True, 0, name="Node Control/Next Server")
            payload = encode_payload([command], timestamp_ms=int(time.time() * 1000), seq=None)
            await record.publish("spBv1.0/next/NCMD/test", payload)
            await record.until(lambda: record.of("NDEATH"), message="the NDEATH")
            await _until(lambda: rig.publisher.state.server == second.url, "the second server")
            await _until(
                lambda: rig.publisher.state.state is ConnectionState.ONLINE, "online on the second"
            )
