"""The MQTT publisher of a running gateway: connections, failover, births and data.

`MqttPublisher.running()` is an async context manager owning one TaskGroup:
a loop that connects to the servers in order (a new client each time, with a
new bdSeq in its Will), runs one connection until it ends, and waits with
capped, jittered backoff after a round in which every server failed. Leaving
the block publishes NDEATH, disconnects and stops (within `STOP_TIMEOUT`).

It reads the bus through its own bounded subscription (DROP_OLDEST: births
carry current values, so what an outage dropped is not needed for live
data) and adds nothing to the scan path.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Self

from gateway.backoff import backoff_delay
from gateway.bus import Bus, OverflowPolicy
from gateway.config import BrokerAddress, MqttConfig
from gateway.errors import BrokerError, GatewayError
from gateway.lifecycle import Part, task_group
from gateway.model import TagValue
from gateway.mqtt.edge import EdgeSession, NextServer, death_payload
from gateway.mqtt.forward import Forwarder
from gateway.mqtt.hostgate import HostGate
from gateway.mqtt.jsonns import JsonNamespace
from gateway.mqtt.metrics import Catalog
from gateway.mqtt.plant import Plant
from gateway.mqtt.replay import ReplaySource
from gateway.mqtt.state import ConnectionState, MqttState
from gateway.mqtt.topics import SparkplugTopics, state_topic

if TYPE_CHECKING:
    from gateway.mqtt.client import BrokerConnection, Will

__all__ = ["STOP_TIMEOUT", "MqttPublisher"]

log = logging.getLogger("gateway.mqtt")

#: Seconds a stop waits for NDEATH and the disconnect before cancelling.
STOP_TIMEOUT = 5.0
#: Seconds between two looks at the devices' states when no value changes.
TICK = 0.5
#: Messages handed to the broker and not yet acknowledged, at most.
WINDOW = 1000
#: Bus batches queued while the publisher is busy or offline.
SUBSCRIPTION_BATCHES = 10_000
#: DCMDs being written at once; more are refused (and counted) until some finish.
MAX_PENDING_COMMANDS = 64

BdSeqSource = Callable[[str], Awaitable[int]]


class MqttPublisher(Part):
    """Publishes the plant to MQTT: a Sparkplug B edge node and/or JSON topics."""

    def __init__(
        self,
        settings: MqttConfig,
        plant: Plant,
        bus: Bus,
        *,
        bd_seq: BdSeqSource | None = None,
        history: ReplaySource | None = None,
        replay_settle: float = 2.0,
        config_dir: Path,
        seed: int | None = None,
    ) -> None:
        """`history`: where store and forward reads (with `mqtt.replay`); `replay_settle`:
        seconds the historian may take to write what the bus handed it (its flush interval)."""
        self.settings = settings
        self.plant = plant
        self.state = MqttState()
        self.subscription = bus.subscribe(
            "mqtt", maxsize=SUBSCRIPTION_BATCHES, policy=OverflowPolicy.DROP_OLDEST
        )
        self._bus = bus
        self._bd_seq_source = bd_seq
        self.forwarder = Forwarder(
            self.state, horizon=settings.replay, history=history, settle=replay_settle
        )
        self._fallback_bd_seq = -1
        self._config_dir = config_dir
        self._rng = random.Random(seed)
        self._stopping = asyncio.Event()
        sparkplug = settings.sparkplug
        self.topics = (
            None
            if sparkplug is None
            else SparkplugTopics(sparkplug.group, sparkplug.edge_node or plant.name)
        )
        self.catalog = Catalog(plant.devices, plant.tags.values())
        self.json = None if settings.json_ is None else JsonNamespace(settings.json_, plant.name)
        self.session: EdgeSession | None = None
        self.host: HostGate | None = None
        self.connection: BrokerConnection | None = None  # the live one, while connected

    @property
    def client_id(self) -> str:
        return self.settings.client_id or self.plant.name

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Self]:
        """Publish until the block ends (gateway.lifecycle's rules); leaving publishes the
        NDEATH and disconnects, within `STOP_TIMEOUT`."""
        try:
            async with task_group() as group:
                task = group.create_task(self._connect_loop(), name="mqtt")
                try:
                    yield self
                finally:
                    self._stopping.set()
                    try:
                        await asyncio.wait_for(asyncio.shield(task), STOP_TIMEOUT)
                    except TimeoutError:
                        log.warning("MQTT: no clean disconnect within %.0f s", STOP_TIMEOUT)
                        task.cancel()
                    except asyncio.CancelledError:
                        task.cancel()
                        raise
        finally:
            self.state.enter(ConnectionState.STOPPED)
            self._bus.unsubscribe(self.subscription)
            log.info("MQTT stopped")

    # -- connections ------------------------------------------------------------------------

    async def _connect_loop(self) -> None:
        brokers = self.settings.brokers
        failures, start = 0, 0
        while not self._stopping.is_set():
            reached = False
            for index in range(start, len(brokers)):
                broker = brokers[index]
                start = 0
                try:
                    reached = await self._connection(broker)
                except NextServer as reason:
                    log.info("MQTT: leaving %s: %s", broker, reason)
                    start = (index + 1) % len(brokers)
                    reached = True
                    break
                except BrokerError as error:
                    self.state.last_error = str(error)
                    log.warning("MQTT: %s", error)
                except Exception as error:  # a fault of ours must not stop the gateway
                    self.state.last_error = f"internal error: {error!r}"
                    log.exception("MQTT: internal error on %s; reconnecting", broker)
                if self._stopping.is_set():
                    return
                if reached:
                    break  # a connection that worked and ended: start over at the first
            failures = 0 if reached else failures + 1
            if failures:
                await self._backoff(failures)

    async def _backoff(self, failures: int) -> None:
        delay = backoff_delay(
            failures,
            first=0.5,
            cap=self.settings.reconnect_max,
            jitter=0.5,
            draw=self._rng.random,
        )
        self.state.enter(ConnectionState.BACKOFF)
        log.info("MQTT: no server reachable; trying again in %.1f s", delay)
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)

    async def _next_bd_seq(self, edge_node: str) -> int:
        """The next bdSeq from the historian; counted in memory while it does not answer."""
        if self._bd_seq_source is not None:
            try:
                bd_seq = await self._bd_seq_source(edge_node)
            except GatewayError as error:
                log.warning(
                    "MQTT: bdSeq not read from the historian (%s); counting in memory", error
                )
            else:
                self._fallback_bd_seq = bd_seq
                return bd_seq
        self._fallback_bd_seq = (self._fallback_bd_seq + 1) % 256
        return self._fallback_bd_seq

    async def _connection(self, broker: BrokerAddress) -> bool:
        """Run one connection to `broker` until it ends; True when it was established."""
        from gateway.mqtt import client as adapter  # noqa: PLC0415 - aiomqtt only when used

        settings = self.settings
        will: Will | None = None
        bd_seq: int | None = None
        if self.topics is not None:
            bd_seq = await self._next_bd_seq(self.topics.edge_node)
            will = adapter.Will(self.topics.node("NDEATH"), death_payload(bd_seq, time.time()))
        self.state.enter(ConnectionState.CONNECTING)
        self.state.server = str(broker)
        self.state.bd_seq = bd_seq
        password = settings.password.get_secret_value() if settings.password else None
        async with adapter.connect(
            broker,
            client_id=self.client_id,
            keepalive=settings.keepalive,
            timeout=settings.connect_timeout,
            will=will,
            username=settings.username,
            password=password,
            tls=self._tls() if broker.tls else None,
        ) as connection:
            self.state.connects += 1
            log.info(
                "MQTT: connected to %s as %s%s",
                broker,
                self.client_id,
                "" if bd_seq is None else f" (Sparkplug bdSeq {bd_seq})",
            )
            try:
                await self._converse(connection, bd_seq)
            except* BrokerError as group:
                raise group.exceptions[0] from None
            except* NextServer as group:
                raise group.exceptions[0] from None
        return True

    def _tls(self) -> ssl.SSLContext:
        from gateway.mqtt.client import tls_context  # noqa: PLC0415

        tls = self.settings.tls
        resolve = self._config_dir.joinpath
        try:
            return tls_context(
                None if tls is None or tls.ca is None else str(resolve(tls.ca)),
                None if tls is None or tls.cert is None else str(resolve(tls.cert)),
                None if tls is None or tls.key is None else str(resolve(tls.key)),
            )
        except OSError as error:
            raise BrokerError(f"mqtt.tls: cannot load the certificates: {error}") from None

    async def _converse(self, connection: BrokerConnection, bd_seq: int | None) -> None:
        """Subscribe, wait for the host, birth, then publish changes until the end."""
        async with asyncio.TaskGroup() as group:
            window = asyncio.Semaphore(WINDOW)

            async def send(topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
                await window.acquire()
                group.create_task(
                    self._publish(connection, window, topic, payload, qos=qos, retain=retain)
                )

            session = self._edge_session(bd_seq, send)
            self.session = session
            self.connection = connection
            host = self._host_gate()
            self.host = host
            await connection.subscribe(self._subscriptions())
            helpers = [group.create_task(self._receive(connection, session, host, group))]
            if session is not None:
                assert self.topics is not None
                confirm = self.forwarder.acknowledge(connection, self.topics.node("NCMD"))
                helpers.append(group.create_task(confirm))
            try:
                await self._online(connection, session, host, send, group)
            finally:
                for helper in helpers:
                    helper.cancel()
                self.forwarder.stop()
                self.session = None
                self.connection = None

    async def publish_notification(self, topic: str, payload: bytes, *, qos: int) -> None:
        """An alarm notification on the live connection (the notifications' mqtt channel);
        BrokerError while there is none or the broker does not take it."""
        connection = self.connection
        if connection is None:
            raise BrokerError("not connected to a broker")
        await connection.publish(topic, payload, qos=qos)

    async def _publish(
        self,
        connection: BrokerConnection,
        window: asyncio.Semaphore,
        topic: str,
        payload: bytes,
        *,
        qos: int,
        retain: bool,
    ) -> None:
        try:
            await connection.publish(topic, payload, qos=qos, retain=retain)
            self.state.messages += 1
        finally:
            window.release()

    def _edge_session(
        self, bd_seq: int | None, send: Callable[..., Awaitable[None]]
    ) -> EdgeSession | None:
        sparkplug = self.settings.sparkplug
        if self.topics is None or bd_seq is None or sparkplug is None:
            return None
        return EdgeSession(
            plant=self.plant,
            catalog=self.catalog,
            topics=self.topics,
            bd_seq=bd_seq,
            send=lambda topic, payload: send(topic, payload, 0, False),
            state=self.state,
            commands=sparkplug.commands,
        )

    def _host_gate(self) -> HostGate | None:
        sparkplug = self.settings.sparkplug
        if sparkplug is None or sparkplug.primary_host is None:
            return None
        previous = self.host
        return HostGate(sparkplug.primary_host, previous)

    def _subscriptions(self) -> list[str]:
        topics: list[str] = []
        if self.topics is not None:
            topics += [self.topics.node("NCMD"), self.topics.device_commands]
            sparkplug = self.settings.sparkplug
            if sparkplug is not None and sparkplug.primary_host is not None:
                topics.append(state_topic(sparkplug.primary_host))
        return topics

    # -- publishing -------------------------------------------------------------------------

    async def _online(
        self,
        connection: BrokerConnection,
        session: EdgeSession | None,
        host: HostGate | None,
        send: Callable[..., Awaitable[None]],
        group: asyncio.TaskGroup,
    ) -> None:
        if host is not None:
            self.state.enter(ConnectionState.WAITING_FOR_HOST)
            log.info("MQTT: waiting for primary host %s to be online", host.host_id)
            while not await host.wait_online(TICK):
                if self._stopping.is_set():
                    return
        self.subscription.get_nowait()  # births carry the current values
        if session is not None:
            born_at = time.time()
            await session.birth()
            self.forwarder.born(born_at, session, list(self.plant.tags), group)
        if self.json is not None:
            await self._publish_json(self.plant.current(self.plant.tags), send)
        self.state.enter(ConnectionState.ONLINE)
        while not self._stopping.is_set():
            if host is not None and not host.online:
                await self._leave(connection, session)
                raise NextServer(f"primary host {host.host_id} went offline")
            batches: list[Sequence[TagValue]] = []
            with suppress(TimeoutError):
                batches = await asyncio.wait_for(self.subscription.get_many(), TICK)
            if session is not None:
                if batches:
                    await session.publish_changes(batches)
                    self.forwarder.sent_until = max(v.server_time for b in batches for v in b)
                else:
                    await session.follow_devices()
            if self.json is not None and batches:
                await self._publish_json([value for batch in batches for value in batch], send)
        await self._leave(connection, session)

    async def _publish_json(
        self, readings: Sequence[TagValue], send: Callable[..., Awaitable[None]]
    ) -> None:
        namespace = self.json
        if namespace is None:
            return
        qos, retain = namespace.settings.qos, namespace.settings.retain
        for reading in readings:
            await send(namespace.topic(reading.tag), namespace.payload(reading), qos, retain)

    async def _leave(self, connection: BrokerConnection, session: EdgeSession | None) -> None:
        """NDEATH (QoS 1, acknowledged) before an intentional disconnect."""
        if session is None or self.topics is None:
            return
        await connection.publish(
            self.topics.node("NDEATH"), death_payload(session.bd_seq, time.time()), qos=1
        )
        log.info("MQTT: Sparkplug NDEATH published (bdSeq %d)", session.bd_seq)

    # -- receiving --------------------------------------------------------------------------

    async def _receive(
        self,
        connection: BrokerConnection,
        session: EdgeSession | None,
        host: HostGate | None,
        group: asyncio.TaskGroup,
    ) -> None:
        pending: set[asyncio.Task[None]] = set()
        async for message in connection.messages():
            if host is not None and message.topic == host.topic:
                host.update(message.payload)
            elif session is None or self.topics is None:
                continue
            elif message.topic == self.topics.node("NCMD"):
                try:
                    await session.on_node_command(message.payload)
                except NextServer:
                    await self._leave(connection, session)
                    raise
            elif (device := self.topics.command_device(message.topic)) is not None:
                if len(pending) >= MAX_PENDING_COMMANDS:
                    self.state.commands_refused += 1
                    log.warning("MQTT: refused a DCMD to %s: too many writes pending", device)
                    continue
                task = group.create_task(session.on_device_command(device, message.payload))
                pending.add(task)
                task.add_done_callback(pending.discard)
