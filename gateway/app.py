"""Wiring: configuration → bus → historian, alarm engine, acquisition and the OPC UA server.

`Gateway` is a Part (gateway.lifecycle) that enters every long-running part,
each a Part too, in one AsyncExitStack; the CLI's `run` enters it and waits
for a stop signal. A new part is one `enter_async_context` line at its place.
Leaving it stops the OPC UA server and the pollers first, then lets the
historian drain what is queued.
With `http:` the HTTP server starts first and stops last, so /healthz answers
and /readyz says "not ready" while the other parts start and stop. With
`mqtt:` the MQTT publisher starts last (the births carry polled values) and
stops first (its NDEATH goes out while the pollers still run).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Self

from gateway.alarms import AlarmEngine
from gateway.bus import Bus
from gateway.collector import young_collections
from gateway.config import GatewayConfig
from gateway.errors import BrokerError
from gateway.http import HttpServer
from gateway.lifecycle import Part
from gateway.loop import stop_signals
from gateway.modbus.acquisition import Acquisition
from gateway.mqtt import require_mqtt
from gateway.mqtt.plant import Plant
from gateway.opcua import OpcUaServer
from gateway.storage import Historian
from gateway.systemd import systemd_notifier

if TYPE_CHECKING:
    from gateway.alarms.notify import Deliverer
    from gateway.mqtt.publisher import MqttPublisher

__all__ = ["Gateway", "plant_of", "run_until_signalled"]

log = logging.getLogger(__name__)


class Gateway(Part):
    """The running gateway: every part started in order and stopped in reverse."""

    def __init__(self, config: GatewayConfig, *, config_dir: Path | None = None) -> None:
        """`config_dir`: where relative paths of the config (pki_dir) are rooted.

        The tag models of `config` are read here only: the historian, the alarm
        engine and the acquisition make their own per-tag records from them, and
        every part keeps `without_tags()`, so they are freed once the caller
        drops `config` (docs/performance.md, 0.7 KB a tag).
        """
        self.bus = Bus()
        # Subscribed before the pollers start, so the historian misses no value.
        self.historian = Historian(config, self.bus)
        routed = bool(config.notifications.routes)
        router = None
        if routed:
            # Imported here: the notification channels load only for a gateway that routes.
            from gateway.alarms.notify import Router  # noqa: PLC0415

            router = Router(config.notifications, gateway=config.gateway.name)
        self.alarms = AlarmEngine(config, self.bus, journal=self.historian, router=router)
        self.acquisition = Acquisition(config, self.bus)
        self.config = config = config.without_tags()  # the runtime tags are acquisition.tags
        self.opcua = OpcUaServer(
            config,
            self.acquisition,
            self.bus,
            history=self.historian,
            alarms=self.alarms,
            config_dir=config_dir if config_dir is not None else Path.cwd(),
        )
        self.http = (
            None
            if config.http is None
            else HttpServer(
                config.http, self, config_dir=config_dir if config_dir is not None else Path.cwd()
            )
        )
        self.mqtt: MqttPublisher | None = None
        if config.mqtt is not None:
            # Imported here: protobuf (the mqtt extra) loads only for a gateway that uses it.
            require_mqtt()
            from gateway.mqtt.publisher import MqttPublisher  # noqa: PLC0415

            self.mqtt = MqttPublisher(
                config.mqtt,
                plant_of(config, self.acquisition),
                self.bus,
                bd_seq=self.historian.next_bd_seq,
                history=self.historian,
                replay_settle=config.storage.flush_interval + 1.0,
                config_dir=config_dir if config_dir is not None else Path.cwd(),
            )
        self.notifications: Deliverer | None = None
        if routed:
            from gateway.alarms.notify import Deliverer  # noqa: PLC0415

            sink = None if self.mqtt is None else _MqttNotifications(self.mqtt)
            self.notifications = Deliverer(config, self.historian, mqtt=sink)
        parts = ["storage", "alarms", "acquisition", "opcua"] + (["mqtt"] if self.mqtt else [])
        self._started = dict.fromkeys(parts, False)

    def started(self) -> Mapping[str, bool]:
        """Each part by name: has it started (and not begun to stop)? For /readyz."""
        return dict(self._started)

    @asynccontextmanager
    async def _part(
        self, name: str, part: AbstractAsyncContextManager[object]
    ) -> AsyncIterator[None]:
        """Run `part`, marked started while it runs (unmarked first when it stops)."""
        async with part:
            self._started[name] = True
            try:
                yield
            finally:
                self._started[name] = False

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Self]:
        """Every part entered in order, left in reverse (gateway.lifecycle's rules)."""
        entered = False
        try:
            async with AsyncExitStack() as stack:
                if self.http is not None:  # first in, last out: probes answer throughout
                    await stack.enter_async_context(self.http)
                # Stopped in reverse: pollers, then the bus, then the historian flushes.
                await stack.enter_async_context(self._part("storage", self.historian))
                stack.callback(self.bus.close)
                # After the historian (states restored from its journal), before the pollers.
                await stack.enter_async_context(self._part("alarms", self.alarms))
                if self.notifications is not None:  # the outbox is in the historian's database
                    await stack.enter_async_context(self.notifications)
                await stack.enter_async_context(self._part("acquisition", self.acquisition))
                await stack.enter_async_context(self._part("opcua", self.opcua))
                if self.mqtt is not None:  # last in, first out: its NDEATH before the pollers stop
                    await stack.enter_async_context(self._part("mqtt", self.mqtt))
                entered = True
                log.info(
                    "gateway %s running: %d device(s), %d tag(s)",
                    self.config.gateway.name,
                    len(self.config.devices),
                    len(self.acquisition.tags),
                )
                yield self
        finally:
            if entered:
                log.info("gateway %s stopped", self.config.gateway.name)


class _MqttNotifications:
    """The notifications' mqtt channel on the MQTT publisher's live connection."""

    def __init__(self, publisher: MqttPublisher) -> None:
        self._publisher = publisher

    async def publish(self, topic: str, payload: bytes, *, qos: int) -> None:
        try:
            await self._publisher.publish_notification(topic, payload, qos=qos)
        except BrokerError as error:  # not connected, or no acknowledgement: retried later
            from gateway.alarms.notify.channels import TransientError  # noqa: PLC0415

            raise TransientError(str(error)) from None


def plant_of(config: GatewayConfig, acquisition: Acquisition) -> Plant:
    """The running plant as the MQTT publisher reads and writes it."""
    return Plant(
        name=config.gateway.name,
        devices=tuple(device.name for device in config.devices),
        tags=acquisition.tags,
        current=acquisition.current,
        health=acquisition.health,
        write=acquisition.write,
    )


async def run_until_signalled(
    config: GatewayConfig,
    *,
    config_dir: Path,
    duration: float | None = None,
    running: Callable[[], None] | None = None,
) -> None:
    """Run the gateway until SIGINT/SIGTERM (or `duration` seconds), then stop cleanly.

    `running` is called once every part has started; then systemd is told READY=1 (when
    it runs the gateway as a Type=notify service), and STOPPING=1 when the stop begins.
    `config` is not kept: a caller that drops it too lets its tag models go (Gateway).
    """
    with stop_signals() as stop:
        async with systemd_notifier() as systemd:
            gateway = Gateway(config, config_dir=config_dir)
            del config
            async with gateway:
                if running is not None:
                    running()
                systemd.ready(_ready_status(gateway))
                async with young_collections():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), duration)
                systemd.stopping()


def _ready_status(gateway: Gateway) -> str:
    """systemd's one-line STATUS once running (`systemctl status` shows it)."""
    devices, tags = len(gateway.config.devices), len(gateway.acquisition.tags)
    status = f"{devices} device(s), {tags} tag(s); OPC UA {gateway.opcua.endpoint_url}"
    if gateway.http is not None:
        status += f"; status page {gateway.http.url}"
    if gateway.mqtt is not None:
        status += f"; MQTT {', '.join(gateway.mqtt.settings.servers)}"
    return status
