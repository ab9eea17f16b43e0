"""One connection's Sparkplug B conversation: births, data by exception, deaths, commands.

`EdgeSession` lives as long as one MQTT connection. Every message it sends
goes through `_send`, which numbers it (`seq` 0..255 across all node
messages, NBIRTH 0) and hands it to the connection in that order; a birth
sequence holds the send lock, so no DDATA comes between an NBIRTH and its
DBIRTHs. A device is "born" while its poller is `ok`: it gets a DBIRTH on
joining, a DDEATH on leaving, and DDATA only in between.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

from gateway import __version__
from gateway.errors import DeviceError, WriteRejected
from gateway.modbus.health import DeviceState
from gateway.model import TagValue, Value
from gateway.mqtt.metrics import (
    BD_SEQ,
    NEXT_SERVER,
    NODE_METRICS,
    REBIRTH,
    STATUS_CHANGES,
    Catalog,
    DeviceMetrics,
    TagMetric,
    status_values,
)
from gateway.mqtt.plant import Plant
from gateway.mqtt.sparkplug import (
    DecodedMetric,
    MetricType,
    OutMetric,
    PayloadError,
    decode_payload,
    encode_payload,
)
from gateway.mqtt.state import MqttState
from gateway.mqtt.topics import SparkplugTopics

__all__ = ["EdgeSession", "NextServer", "death_payload"]

log = logging.getLogger("gateway.mqtt")

Send = Callable[[str, bytes], Awaitable[None]]

#: seq counts 0..255 and wraps (Sparkplug 3.0, "Sequence Number").
SEQ_MODULUS = 256


class NextServer(Exception):
    """The host asked (NCMD Node Control/Next Server) or went offline: leave this broker."""


def death_payload(bd_seq: int, now: float) -> bytes:
    """NDEATH: the bdSeq metric alone, no seq (the Will, and the message before leaving)."""
    metric = OutMetric(0, MetricType.INT64, bd_seq, round(now * 1000), name=BD_SEQ)
    return encode_payload([metric], timestamp_ms=round(now * 1000), seq=None)


class EdgeSession:
    """The Sparkplug side of one connection."""

    def __init__(
        self,
        *,
        plant: Plant,
        catalog: Catalog,
        topics: SparkplugTopics,
        bd_seq: int,
        send: Send,
        state: MqttState,
        commands: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._plant = plant
        self._catalog = catalog
        self.topics = topics
        self.bd_seq = bd_seq
        self._send_message = send
        self._state = state
        self._commands = commands
        self._clock = clock
        self._seq = 0
        self._lock = asyncio.Lock()
        self.born: set[str] = set()
        self._last_status: dict[int, int] = {}  # alias → status sent last
        self._historical_status: dict[int, int] = {}  # the same, of historical metrics
        self._status_sent: dict[str, dict[str, object]] = {}
        self.node_born = False

    # -- sending ----------------------------------------------------------------------------

    async def _send(self, topic: str, metrics: Sequence[OutMetric], *, birth: bool = False) -> None:
        if birth:
            self._seq = 0
        seq = self._seq
        self._seq = (seq + 1) % SEQ_MODULUS
        payload = encode_payload(metrics, timestamp_ms=round(self._clock() * 1000), seq=seq)
        await self._send_message(topic, payload)

    async def birth(self) -> None:
        """NBIRTH, then a DBIRTH for every device that is `ok` (also on NCMD Rebirth)."""
        async with self._lock:
            await self._send(self.topics.node("NBIRTH"), self._node_metrics(), birth=True)
            self._state.births += 1
            self.node_born = True
            self.born.clear()
            for device in self._catalog.devices.values():
                if self._plant.health(device.device).state is DeviceState.OK:
                    await self._device_birth(device)
        log.info(
            "MQTT: Sparkplug NBIRTH of %s/%s (bdSeq %d) and %d DBIRTH(s)",
            self.topics.group,
            self.topics.edge_node,
            self.bd_seq,
            len(self.born),
        )

    def _node_metrics(self) -> list[OutMetric]:
        now = round(self._clock() * 1000)
        alias = self._catalog.node_metric_alias
        plant = self._plant
        own: dict[str, tuple[MetricType, bool | int | float | str]] = {
            "Properties/Devices": (MetricType.UINT32, len(plant.devices)),
            "Properties/Tags": (MetricType.UINT32, len(plant.tags)),
            "Properties/Software": (MetricType.STRING, f"modbus-opcua-gateway {__version__}"),
            "MQTT/Commands Refused": (MetricType.UINT64, self._state.commands_refused),
        }
        metrics = [
            # bdSeq is an Int64 (tck-id-message-flow-edge-node-birth-publish-nbirth-payload-bdSeq);
            # Rebirth has no alias (tck-id-operational-behavior-data-commands-rebirth-name-aliases).
            OutMetric(alias(BD_SEQ), MetricType.INT64, self.bd_seq, now, name=BD_SEQ),
            OutMetric(None, MetricType.BOOLEAN, False, now, name=REBIRTH),
            OutMetric(alias(NEXT_SERVER), MetricType.BOOLEAN, False, now, name=NEXT_SERVER),
        ]
        for name in NODE_METRICS:
            kind, value = own[name]
            metrics.append(OutMetric(alias(name), kind, value, now, name=name))
        return metrics

    async def _device_birth(self, device: DeviceMetrics) -> None:
        now = self._clock()
        readings = self._plant.current(metric.tag.key for metric in device.tags)
        metrics = [
            metric.birth(reading, now)
            for metric, reading in zip(device.tags, readings, strict=True)
        ]
        for metric, reading in zip(device.tags, readings, strict=True):
            self._last_status[metric.alias] = reading.status
        status = status_values(self._plant.health(device.device))
        self._status_sent[device.device] = {name: status[name] for name in STATUS_CHANGES}
        metrics += device.status_metrics(status, now, names=True)
        await self._send(self.topics.device("DBIRTH", device.device), metrics)
        self.born.add(device.device)

    async def _device_death(self, device: str) -> None:
        self.born.discard(device)
        await self._send(self.topics.device("DDEATH", device), [])
        log.info("MQTT: Sparkplug DDEATH of %s", device)

    # -- data -------------------------------------------------------------------------------

    async def publish_changes(self, batches: Iterable[Sequence[TagValue]]) -> None:
        """DDATA of the changed tags, one message per device; births and deaths first
        for devices whose state moved."""
        by_device: dict[str, list[tuple[TagMetric, TagValue]]] = {}
        by_key = self._catalog.by_key
        for batch in batches:
            for reading in batch:
                metric = by_key.get(reading.tag)
                if metric is not None:
                    by_device.setdefault(metric.tag.device, []).append((metric, reading))
        async with self._lock:
            await self._follow_devices()
            now = self._clock()
            for device, changes in by_device.items():
                if device not in self.born:
                    continue
                metrics = []
                last = self._last_status
                for metric, reading in changes:
                    changed = last.get(metric.alias) != reading.status
                    last[metric.alias] = reading.status
                    metrics.append(metric.data(reading, now, status_changed=changed))
                await self._send(self.topics.device("DDATA", device), metrics)

    async def publish_historical(self, device: str, readings: Sequence[TagValue]) -> bool:
        """One DDATA of stored values marked `is_historical`; False if the device is not born.
        Quality goes with a tag's first historical value and when its status changes."""
        by_key = self._catalog.by_key
        async with self._lock:
            if device not in self.born:
                return False
            now = self._clock()
            last = self._historical_status
            metrics = []
            for reading in readings:
                metric = by_key.get(reading.tag)
                if metric is None:
                    continue
                changed = last.get(metric.alias) != reading.status
                last[metric.alias] = reading.status
                metrics.append(metric.data(reading, now, status_changed=changed, historical=True))
            if metrics:
                await self._send(self.topics.device("DDATA", device), metrics)
            return True

    async def follow_devices(self) -> None:
        """DBIRTH/DDEATH for devices whose state moved, DDATA of `_Status` changes."""
        async with self._lock:
            await self._follow_devices()

    async def _follow_devices(self) -> None:
        now = self._clock()
        for device in self._catalog.devices.values():
            health = self._plant.health(device.device)
            ok = health.state is DeviceState.OK
            if device.device in self.born and not ok:
                await self._device_death(device.device)
            elif ok and device.device not in self.born:
                await self._device_birth(device)
                log.info("MQTT: Sparkplug DBIRTH of %s (answering again)", device.device)
            elif ok:
                values = status_values(health)
                sent = self._status_sent[device.device]
                moved = {n: values[n] for n in STATUS_CHANGES if values[n] != sent[n]}
                if moved:
                    sent.update(moved)
                    metrics = device.status_metrics(moved, now, names=False)
                    await self._send(self.topics.device("DDATA", device.device), metrics)

    # -- commands ---------------------------------------------------------------------------

    async def on_node_command(self, payload: bytes) -> None:
        """NCMD: Rebirth re-births on this connection and bdSeq; Next Server leaves."""
        try:
            decoded = decode_payload(payload)
        except PayloadError as error:
            log.warning("MQTT: ignored an NCMD: %s", error)
            return
        for metric in decoded.metrics:
            name = metric.name or self._node_name(metric.alias)
            if name == REBIRTH and metric.value is True:
                log.info("MQTT: NCMD Rebirth: publishing the births again")
                await self.birth()
            elif name == NEXT_SERVER and metric.value is True:
                log.info("MQTT: NCMD Next Server: moving to the next broker")
                raise NextServer("the host asked for the next server")
            else:
                log.warning("MQTT: ignored an NCMD metric %r", name)

    def _node_name(self, alias: int | None) -> str | None:
        for name, number in self._catalog.NODE_ALIASES.items():
            if number == alias:
                return name
        return None

    async def on_device_command(self, device: str, payload: bytes) -> None:
        """DCMD: each metric a write through the checked write path (or refused)."""
        try:
            decoded = decode_payload(payload)
        except PayloadError as error:
            self._refuse(f"DCMD to {device}: {error}")
            return
        metrics = self._catalog.devices.get(device)
        if metrics is None:
            self._refuse(f"DCMD to unknown device {device!r}")
            return
        by_name = {metric.tag.name: metric for metric in metrics.tags}
        by_alias = {metric.alias: metric for metric in metrics.tags}
        async with asyncio.TaskGroup() as group:
            for item in decoded.metrics:
                target = by_alias.get(item.alias) if item.alias is not None else None
                if target is None and item.name is not None:
                    target = by_name.get(item.name)
                if target is None:
                    self._refuse(f"DCMD to {device}: no tag {item.name or item.alias!r}")
                elif not self._commands:
                    self._refuse(
                        f"DCMD to {target.tag.key}: commands are off (mqtt.sparkplug.commands)"
                    )
                else:
                    group.create_task(self._write(target, item))

    async def _write(self, target: TagMetric, item: DecodedMetric) -> None:
        value = _command_value(target, item)
        if value is None:
            self._refuse(f"DCMD to {target.tag.key}: no value of type {target.datatype.name}")
            return
        try:
            await self._plant.write(target.tag.key, value)
        except (WriteRejected, DeviceError) as error:
            self._refuse(f"DCMD to {target.tag.key}: {error}")
            return
        self._state.commands_written += 1
        log.info("MQTT: DCMD wrote %s = %r", target.tag.key, value)

    def _refuse(self, reason: str) -> None:
        self._state.commands_refused += 1
        log.warning("MQTT: refused %s", reason)


def _command_value(target: TagMetric, item: DecodedMetric) -> Value | None:
    """The command's value in the tag's type, None when it has none of that type."""
    value = item.value
    if value is None:
        return None
    if target.datatype is MetricType.BOOLEAN:
        return value if isinstance(value, bool) else None
    if target.datatype is MetricType.STRING:
        return value if isinstance(value, str) else None
    if isinstance(value, bool | str):
        return None
    if target.datatype in (MetricType.FLOAT, MetricType.DOUBLE):
        return float(value)
    return int(value) if float(value).is_integer() else value
