"""Test kit for MQTT: a recording subscriber, private Mosquitto brokers, a publishing rig."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from eventually import eventually
from gatewaykit import make_plant

from gateway.app import plant_of
from gateway.bus import Bus
from gateway.config import GatewayConfig, MqttConfig
from gateway.modbus.acquisition import Acquisition
from gateway.mqtt.publisher import MqttPublisher
from gateway.mqtt.sparkplug import DecodedPayload, decode_payload
from simulators.runtime import RunningPlant, run_plant

#: The machine's broker (left running; tests use topics of their own).
SHARED_BROKER = ("127.0.0.1", 1883)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def broker_reachable(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool
    qos: int = 0  # as delivered: the lower of the publisher's and our subscription's (1)

    @property
    def sparkplug(self) -> DecodedPayload:
        return decode_payload(self.payload)

    @property
    def kind(self) -> str:
        """NBIRTH, DDATA… of a Sparkplug topic."""
        return self.topic.split("/")[2]


@dataclass
class Recorder:
    """Every message on the subscribed topics, in arrival order."""

    client: aiomqtt.Client
    messages: list[Received] = field(default_factory=list)

    def of(self, kind: str, device: str | None = None) -> list[Received]:
        return [
            m
            for m in self.messages
            if m.topic.startswith("spBv1.0/")
            and m.kind == kind
            and (device is None or m.topic.endswith("/" + device))
        ]

    async def until(
        self,
        predicate: Callable[[], object],
        *,
        timeout: float = 10.0,
        message: str,
        details: Callable[[], str] | None = None,
    ) -> None:
        """Wait for `predicate`; a failure names the last topics (and `details()`)."""

        def last() -> str:
            topics = f"last: {[m.topic for m in self.messages[-20:]]}"
            return topics if details is None else f"{topics}\n{details()}"

        await eventually(predicate, timeout=timeout, what=message, seen=last)

    async def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        await self.client.publish(topic, payload, qos=1, retain=retain)


@asynccontextmanager
async def recorder(port: int, *topics: str, host: str = "127.0.0.1") -> AsyncIterator[Recorder]:
    async with aiomqtt.Client(host, port, identifier=f"recorder-{time.monotonic_ns()}") as client:
        for topic in topics:
            await client.subscribe(topic, qos=1)
        record = Recorder(client)

        async def pump() -> None:
            async for message in client.messages:
                payload = message.payload
                assert isinstance(payload, bytes | bytearray)
                record.messages.append(
                    Received(str(message.topic), bytes(payload), message.retain, message.qos)
                )

        async with asyncio.TaskGroup() as group:
            task = group.create_task(pump())
            try:
                yield record
            finally:
                task.cancel()


class Mosquitto:
    """A private broker process on a free port: killed and restarted for outages."""

    def __init__(self, directory: Path, extra: str = "", scheme: str = "mqtt") -> None:
        """`extra`: more lines for the listener (TLS files…)."""
        if shutil.which("mosquitto") is None:
            pytest.skip("mosquitto is not installed (apt install mosquitto)")
        self.port = free_port()
        self.scheme = scheme
        self.conf = directory / f"mosquitto-{self.port}.conf"
        self.log = directory / f"mosquitto-{self.port}.log"
        # `user root`: a broker started by root keeps root's rights to read the test's
        # files (it is ignored when the tests run as another user).
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            f"user root\n{extra}"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                ["mosquitto", "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while not broker_reachable("127.0.0.1", self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(
                    f"mosquitto did not start on port {self.port}:\n{self.log.read_text()}"
                )
            time.sleep(0.02)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"


@contextlib.contextmanager
def mosquitto(directory: Path, extra: str = "", scheme: str = "mqtt") -> Iterator[Mosquitto]:
    broker = Mosquitto(directory, extra, scheme)
    broker.start()
    try:
        yield broker
    finally:
        broker.kill()


class BdSeqCounter:
    """A historian's bdSeq count, in memory."""

    def __init__(self) -> None:
        self.value = -1

    async def __call__(self, edge_node: str) -> int:
        self.value = (self.value + 1) % 256
        return self.value


@dataclass
class MqttRig:
    plant: RunningPlant
    acquisition: Acquisition
    publisher: MqttPublisher
    config: GatewayConfig


def mqtt_config(
    devices: list[dict[str, Any]], mqtt: Mapping[str, Any], name: str = "test"
) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {"gateway": {"name": name}, "devices": devices, "mqtt": dict(mqtt)}
    )


@asynccontextmanager
async def mqtt_rig(
    slaves: Mapping[str, list[dict[str, Any]]],
    devices: Callable[[RunningPlant], list[dict[str, Any]]],
    mqtt: Mapping[str, Any],
    directory: Path,
    *,
    name: str = "test",
    bd_seq: Callable[[str], Any] | None = None,
) -> AsyncIterator[MqttRig]:
    """Serve `slaves`, poll them, publish to MQTT as `mqtt` says."""
    async with run_plant(make_plant(slaves)) as running:
        config = mqtt_config(devices(running), mqtt, name)
        bus = Bus()
        acquisition = Acquisition(config, bus, seed=1)
        assert isinstance(config.mqtt, MqttConfig)
        publisher = MqttPublisher(
            config.mqtt,
            plant_of(config, acquisition),
            bus,
            bd_seq=bd_seq or BdSeqCounter(),
            config_dir=directory,
            seed=1,
        )
        async with acquisition, publisher:
            yield MqttRig(running, acquisition, publisher, config)
