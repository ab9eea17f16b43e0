"""The gateway's OPC UA server: a Part (gateway.lifecycle) around asyncua's Server.

Entering it builds the address space (docs/opcua.md), secures the server
(docs/security.md), starts listening, then starts its TaskGroup: the bus consumer that
pushes live values into the nodes and the loop that mirrors device health
into `_Status`. Leaving it closes the bus subscription, cancels the loops and
stops the server. If entering fails half-way, everything started is stopped.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from gateway import __version__
from gateway.bus import Bus
from gateway.collector import collector_paused_then_frozen, fewer_young_collections
from gateway.config import GatewayConfig
from gateway.errors import GatewayError
from gateway.lifecycle import Part, task_group
from gateway.modbus.acquisition import Acquisition
from gateway.model import Status
from gateway.opcua.alarm_calls import AlarmMethods
from gateway.opcua.alarms import AlarmConditions, AlarmSource
from gateway.opcua.capabilities import declare_history_capabilities
from gateway.opcua.history import MAX_VALUES_PER_READ, HistoryProvider, TagHistory
from gateway.opcua.publisher import apply_values, consume, follow_health
from gateway.opcua.security import SecuritySummary, secure, server_limits
from gateway.opcua.space import GatewaySpace, SpaceBuilder
from gateway.opcua.stack import ServerStats, StackServer, standard_space_directory
from gateway.opcua.writes import TagWrites
from gateway.tags import Tag
from gateway.ua.wire import node_id

__all__ = ["HEALTH_INTERVAL", "OpcUaServer"]

log = logging.getLogger(__name__)

#: Seconds between two checks of the devices' health for `_Status`.
HEALTH_INTERVAL = 0.5
#: Seconds between two progress lines while a large address space is built.
BUILD_PROGRESS_INTERVAL = 2.0
#: Queued bus batches before the oldest is dropped (the next batch supersedes it).
QUEUE_BATCHES = 4096
PRODUCT_URI = "urn:modbus-opcua-gateway"
#: The IANA port of opc.tcp, for an endpoint URL without one.
DEFAULT_PORT = 4840
_BUILT = datetime(2026, 1, 1, tzinfo=UTC)


class OpcUaServer(Part):
    """Serves the acquisition's tags, device health and (optionally) history over OPC UA."""

    def __init__(
        self,
        config: GatewayConfig,
        acquisition: Acquisition,
        bus: Bus,
        *,
        history: HistoryProvider | None = None,
        alarms: AlarmSource | None = None,
        config_dir: Path,
    ) -> None:
        """`alarms`: the alarm engine whose alarms are served as conditions."""
        self.config = config
        self.acquisition = acquisition
        self.bus = bus
        self.history = history
        self.alarms = alarms
        self.conditions: AlarmConditions | None = None
        opcua = config.opcua
        self.pki_dir = config_dir / opcua.security.pki_dir
        self.application_uri = (
            f"urn:{socket.gethostname()}:modbus-opcua-gateway:{config.gateway.name}"
        )
        self.server: StackServer | None = None
        self.space: GatewaySpace | None = None
        self.security: SecuritySummary | None = None

    # -- lifecycle --------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Self]:
        """Build, secure and listen; serve live values until the block ends, then stop."""
        async with AsyncExitStack() as stack:
            stack.callback(setattr, self, "server", None)  # last: after the server stopped
            stack.enter_context(fewer_young_collections())  # and unfrozen once stopped
            with collector_paused_then_frozen():
                server = await self._create()
            await stack.enter_async_context(self._listening(server))
            space = self.space
            assert space is not None
            subscription = self.bus.subscribe("opcua", maxsize=QUEUE_BATCHES)
            stack.callback(self.bus.unsubscribe, subscription)
            async with task_group() as group:
                # Snapshot and queue are read without a pause in between: the snapshot
                # already holds everything queued so far.
                snapshot = self.acquisition.snapshot()
                subscription.get_nowait()
                waiting = Status.BAD_WAITING_FOR_INITIAL_DATA  # what every node starts with
                await apply_values(space, (v for v in snapshot if v.status is not waiting))
                group.create_task(consume(space, subscription), name="opcua publish")
                loops = [
                    group.create_task(
                        follow_health(space, lambda: self.acquisition.healths, HEALTH_INTERVAL),
                        name="opcua _Status",
                    )
                ]
                conditions = self.conditions
                if conditions is not None:
                    conditions.start()
                    loops.append(group.create_task(conditions.run(), name="opcua alarm events"))
                log.info(
                    "OPC UA server listening on %s (namespace %s)",
                    self.endpoint_url,
                    self.namespace,
                )
                log.info("OPC UA security: %s", self.security)
                try:
                    yield self
                finally:
                    # The subscription closes (the consumer drains and returns) and the
                    # loops are cancelled before the group waits for them.
                    if conditions is not None:
                        conditions.stop()
                    for loop in loops:
                        loop.cancel()
                    subscription.close()
        log.info("OPC UA server stopped")

    @asynccontextmanager
    async def _listening(self, server: StackServer) -> AsyncIterator[None]:
        """Listen on the configured endpoint; a port in use is a GatewayError naming it."""
        endpoint = urlsplit(self.config.opcua.endpoint)
        host = endpoint.hostname or None
        port = endpoint.port if endpoint.port is not None else DEFAULT_PORT
        async with AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(server.serving(host, port))
            except GatewayError as error:
                reason = error.__cause__ or error
                where = self.config.opcua.endpoint
                raise GatewayError(f"OPC UA: cannot listen on {where}: {reason}") from error
            self.server = server
            yield

    # -- building ---------------------------------------------------------------------

    async def _create(self) -> StackServer:
        config = self.config
        server = StackServer(limits=server_limits(config.opcua, self._node_count()))
        await server.init(
            name=f"Modbus OPC UA gateway {config.gateway.name}",
            application_uri=self.application_uri,
            product_uri=PRODUCT_URI,
            manufacturer="modbus-opcua-gateway",
            version=__version__,
            built=_BUILT,
            shelf=standard_space_directory(),
        )
        self.security = await secure(
            server, config.opcua, self.pki_dir, self.application_uri, config.gateway.name
        )
        namespace_index = await server.register_namespace(config.opcua.namespace)
        self.space = space = await self._build(server, namespace_index)
        writes = TagWrites(space, self.acquisition.write)
        server.hooks.write = writes
        server.hooks.user_access = writes.user_access
        if self.history is not None:
            server.hooks.history = TagHistory(space, self.history)
            await declare_history_capabilities(server, MAX_VALUES_PER_READ)
        if self.alarms is not None:
            self.conditions = await AlarmConditions.build(
                self.alarms,
                server,
                config.alarms,
                folder=node_id("Alarms", namespace_index),
                namespace_index=namespace_index,
            )
            server.hooks.call = AlarmMethods(self.conditions, server)
        server.set_endpoint(config.opcua.endpoint)
        return server

    def _node_count(self) -> int:
        """Nodes a client may monitor: tags, device status fields, alarm conditions."""
        return (
            len(self.acquisition.tags) + 8 * len(self.config.devices) + 40 * len(self.config.alarms)
        )

    async def _build(self, server: StackServer, namespace_index: int) -> GatewaySpace:
        """Add every device's nodes, yielding to the loop between devices (pollers run)."""
        name = self.config.gateway.name
        started = shown = time.perf_counter()
        total = len(self.acquisition.tags)
        log.info("building the OPC UA address space: %d tags…", total)
        try:
            builder = SpaceBuilder(
                server.node_factory(), namespace_index, name, history=self.history is not None
            )
            by_device: dict[str, list[Tag]] = {}
            for tag in self.acquisition.tags.values():
                by_device.setdefault(tag.device, []).append(tag)
            for device in self.config.devices:
                builder.add_device(device.name, by_device.get(device.name, []))
                await asyncio.sleep(0)
                if time.perf_counter() - shown >= BUILD_PROGRESS_INTERVAL:  # a large config
                    shown = time.perf_counter()
                    log.info("… %d of %d tags", len(builder.space.tags), total)
        except ValueError as error:
            raise GatewayError(f"cannot build the OPC UA address space: {error}") from error
        log.info(
            "OPC UA address space: %d tags of %d devices done in %.2f s",
            len(builder.space.tags),
            len(self.config.devices),
            time.perf_counter() - started,
        )
        return builder.space

    # -- facts --------------------------------------------------------------------------

    @property
    def namespace(self) -> str:
        return self.config.opcua.namespace

    @property
    def namespace_index(self) -> int:
        if self.space is None:
            raise RuntimeError("the OPC UA server is not running")
        return self.space.namespace_index

    def stats(self) -> ServerStats:
        """Connections, sessions, subscriptions, monitored items and refusals (for metrics)."""
        return self.server.stats() if self.server is not None else ServerStats()

    @property
    def port(self) -> int:
        """The port actually listened on (the configured one, or the one chosen for 0)."""
        if self.server is None:
            raise RuntimeError("the OPC UA server is not running")
        return self.server.port

    @property
    def endpoint_url(self) -> str:
        """The endpoint URL with the real port; a wildcard host is shown as this host's name."""
        host = urlsplit(self.config.opcua.endpoint).hostname or "localhost"
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()
        if ":" in host:
            host = f"[{host}]"
        return f"opc.tcp://{host}:{self.port}"
