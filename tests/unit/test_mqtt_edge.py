"""The edge node's Sparkplug conversation without a broker: seq, births, deaths, commands."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from typing import Any

import pytest

from gateway.config import DeviceConfig
from gateway.errors import WriteRejected
from gateway.modbus.health import DeviceHealth, DeviceState
from gateway.model import Status, TagValue, Value
from gateway.mqtt.edge import EdgeSession, NextServer, death_payload
from gateway.mqtt.metrics import Catalog, metric_type
from gateway.mqtt.plant import Plant
from gateway.mqtt.replay import REPLAY_BATCH, ReplayJob, replay
from gateway.mqtt.sparkplug import MetricType, OutMetric, decode_payload, encode_payload
from gateway.mqtt.state import MqttState
from gateway.mqtt.topics import SparkplugTopics, parse_state
from gateway.storage import ReplayCursor, ReplayPage
from gateway.tags import build_tags

DEVICE = DeviceConfig.model_validate(
    {
        "name": "plc",
        "host": "127.0.0.1",
        "tags": [
            {"name": "temp", "table": "holding_register", "address": 0, "type": "float32"},
            {"name": "count", "table": "holding_register", "address": 2, "type": "int16"},
            {
                "name": "scaled",
                "table": "holding_register",
                "address": 3,
                "type": "uint16",
                "scale": 0.1,
            },
            {
                "name": "sp",
                "table": "holding_register",
                "address": 4,
                "type": "float32",
                "writable": True,
                "range": [0, 100],
            },
        ],
    }
)
TAGS = {tag.key: tag for tag in build_tags(DEVICE)}


class FakePlant:
    def __init__(self) -> None:
        self.health = DeviceHealth("plc", state=DeviceState.OK)
        self.values = dict.fromkeys(TAGS, 1)
        self.writes: list[tuple[str, Value]] = []

    def plant(self) -> Plant:
        return Plant(
            name="gw",
            devices=("plc",),
            tags=TAGS,
            current=lambda keys: [
                TagValue(key, self.values[key], Status.GOOD, 1.0, 1.0) for key in keys
            ],
            health=lambda device: self.health,
            write=self.write,
        )

    async def write(self, key: str, value: Value) -> None:
        if key == "plc.sp" and isinstance(value, float) and value > 100:
            raise WriteRejected(Status.BAD_OUT_OF_RANGE, "out of range")
        self.writes.append((key, value))


def _session(fake: FakePlant, sent: list[tuple[str, bytes]], **kw: Any) -> EdgeSession:
    async def send(topic: str, payload: bytes) -> None:
        sent.append((topic, payload))

    return EdgeSession(
        plant=fake.plant(),
        catalog=Catalog(["plc"], TAGS.values()),
        topics=SparkplugTopics("g", "gw"),
        bd_seq=7,
        send=send,
        state=MqttState(),
        commands=kw.get("commands", True),
        clock=lambda: 1000.0,
    )


async def test_tck_id_payloads_sequence_num_incrementing() -> None:
    """[tck-id-payloads-sequence-num-incrementing] +1 per message, 255 → 0;
    [tck-id-payloads-sequence-num-zero-nbirth] the NBIRTH's is 0."""
    fake, sent = FakePlant(), []
    session = _session(fake, sent)
    await session.birth()
    for step in range(300):
        await session.publish_changes([[TagValue("plc.temp", float(step), Status.GOOD, 2.0, 2.0)]])
    seqs = [decode_payload(payload).seq for _, payload in sent]
    assert seqs[:3] == [0, 1, 2]
    assert all(b == (a + 1) % 256 for a, b in itertools.pairwise(seqs))
    assert seqs[256] == 0


async def test_tck_id_operational_behavior_device_ddeath() -> None:
    """[tck-id-operational-behavior-device-ddeath] a device that stops answering gets a
    DDEATH (and no DDATA), and a DBIRTH when it answers again."""
    fake, sent = FakePlant(), []
    session = _session(fake, sent)
    await session.birth()
    fake.health.enter(DeviceState.BACKOFF)
    await session.publish_changes([[TagValue("plc.temp", 2.0, Status.BAD_TIMEOUT, None, 2.0)]])
    kinds = [topic.split("/")[2] for topic, _ in sent]
    assert kinds == ["NBIRTH", "DBIRTH", "DDEATH"]  # no DDATA of a dead device
    fake.health.enter(DeviceState.OK)
    await session.follow_devices()
    assert sent[-1][0] == "spBv1.0/g/DBIRTH/gw/plc"


async def test_dcmd_by_alias_and_name_refusals_counted() -> None:
    fake, sent = FakePlant(), []
    session = _session(fake, sent)
    catalog = Catalog(["plc"], TAGS.values())
    alias = catalog.by_key["plc.sp"].alias
    good = OutMetric(alias, MetricType.FLOAT, 12.5, 0)
    too_big = OutMetric(0, MetricType.FLOAT, 500.0, 0, name="sp")
    wrong_type = OutMetric(0, MetricType.STRING, "x", 0, name="sp")
    unknown = OutMetric(0, MetricType.FLOAT, 1.0, 0, name="nope")
    payload = encode_payload([good, too_big, wrong_type, unknown], timestamp_ms=0, seq=None)
    await session.on_device_command("plc", payload)
    assert fake.writes == [("plc.sp", 12.5)]
    assert session._state.commands_refused == 3
    await session.on_device_command("plc", b"\xff\xff garbage")
    assert session._state.commands_refused == 4


async def test_dcmd_refused_when_commands_are_off() -> None:
    fake, sent = FakePlant(), []
    session = _session(fake, sent, commands=False)
    payload = encode_payload(
        [OutMetric(0, MetricType.FLOAT, 1.0, 0, name="sp")], timestamp_ms=0, seq=None
    )
    await session.on_device_command("plc", payload)
    assert fake.writes == []
    assert session._state.commands_refused == 1


async def test_ncmd_next_server_asks_to_leave() -> None:
    fake, sent = FakePlant(), []
    session = _session(fake, sent)
    metric = OutMetric(2, MetricType.BOOLEAN, True, 0, name="Node Control/Next Server")
    with pytest.raises(NextServer):
        await session.on_node_command(encode_payload([metric], timestamp_ms=0, seq=None))


def test_tck_id_payloads_ndeath_bdseq() -> None:
    """[tck-id-payloads-ndeath-bdseq] the bdSeq of the NBIRTH to come;
    [tck-id-topics-ndeath-payload] that metric alone; [tck-id-payloads-ndeath-seq] no seq;
    [tck-id-message-flow-edge-node-birth-publish-will-message-payload-bdSeq] an INT64."""
    payload = decode_payload(death_payload(42, 1.0))
    assert payload.seq is None
    [metric] = payload.metrics
    assert (metric.name, metric.datatype, metric.value) == ("bdSeq", MetricType.INT64, 42)


def test_metric_types_follow_the_tag_types() -> None:
    assert metric_type(TAGS["plc.temp"]) is MetricType.FLOAT
    assert metric_type(TAGS["plc.count"]) is MetricType.INT16
    assert metric_type(TAGS["plc.scaled"]) is MetricType.DOUBLE  # scaled: fractional


def test_negative_integers_round_trip() -> None:
    metric = OutMetric(3, MetricType.INT16, -5, 0)
    long = OutMetric(4, MetricType.INT64, -(2**40), 0)
    [small, big] = decode_payload(encode_payload([metric, long], timestamp_ms=0, seq=0)).metrics
    assert (small.value, big.value) == (-5, -(2**40))


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"online": "yes", "timestamp": 1}', "online"),
        (b'{"online": true}', "timestamp"),
        (b"x" * 2000, "bytes"),
    ],
)
def test_state_messages_checked(payload: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_state(payload)


class _OnePage:
    """A historian holding one page of stored values."""

    def __init__(self, values: list[TagValue]) -> None:
        self.values = values

    async def replay_page(
        self,
        keys: Sequence[str],
        start: float,
        end: float,
        *,
        cursor: ReplayCursor,
        limit: int,
    ) -> ReplayPage:
        return ReplayPage(self.values, None)


async def test_replay_hands_the_loop_back_after_each_message() -> None:
    """A QoS 0 publish does not suspend: without a yield after each historical DDATA a
    whole page ran in one turn of the event loop, and pollers missed scans meanwhile."""
    fake, sent = FakePlant(), []
    session = _session(fake, sent)
    await session.birth()
    sent.clear()
    stored = [
        TagValue("plc.temp", float(i), Status.GOOD, 1.5 + i / 1e6, 1.5)
        for i in range(3 * REPLAY_BATCH)
    ]
    done = asyncio.Event()

    async def other_task() -> None:
        while not done.is_set():
            sent.append(("turn", b""))
            await asyncio.sleep(0)

    state = MqttState()
    async with asyncio.TaskGroup() as group:
        group.create_task(other_task())
        job = ReplayJob(0.0, 2.0)
        await replay(session, _OnePage(stored), ["plc.temp"], [job], state, settle=0.0)
        done.set()
    kinds = ["turn" if topic == "turn" else topic.split("/")[2] for topic, _ in sent]
    messages = [index for index, kind in enumerate(kinds) if kind == "DDATA"]
    assert len(messages) == 3
    assert all("turn" in kinds[a + 1 : b] for a, b in itertools.pairwise(messages))
    assert state.replay_sent == 3 * REPLAY_BATCH
