"""Wiring: configuration → bus → historian, alarm engine, acquisition and the OPC UA server.

`Gateway` is one async context manager owning every long-running part; the
CLI's `run` enters it and waits for a stop signal. Leaving it stops the OPC UA
server and the pollers first, then lets the historian drain what is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType
from typing import Self

from gateway.alarms import AlarmEngine
from gateway.bus import Bus
from gateway.config import GatewayConfig
from gateway.loop import collect_young, stop_signals
from gateway.modbus.acquisition import Acquisition
from gateway.opcua import OpcUaServer
from gateway.storage import Historian

__all__ = ["Gateway", "run_until_signalled"]

log = logging.getLogger(__name__)


class Gateway:
    """The running gateway: every part started in order and stopped in reverse."""

    def __init__(self, config: GatewayConfig, *, config_dir: Path | None = None) -> None:
        """`config_dir`: where relative paths of the config (pki_dir) are rooted."""
        self.config = config
        self.bus = Bus()
        # Subscribed before the pollers start, so the historian misses no value.
        self.historian = Historian(config, self.bus)
        self.alarms = AlarmEngine(config, self.bus, journal=self.historian)
        self.acquisition = Acquisition(config, self.bus)
        self.opcua = OpcUaServer(
            config,
            self.acquisition,
            self.bus,
            history=self.historian,
            alarms=self.alarms,
            config_dir=config_dir if config_dir is not None else Path.cwd(),
        )
        self._stack: AsyncExitStack | None = None

    async def __aenter__(self) -> Self:
        if self._stack is not None:
            raise RuntimeError("the gateway is already running")
        async with AsyncExitStack() as stack:
            # Stopped in reverse: pollers, then the bus, then the historian flushes.
            await stack.enter_async_context(self.historian)
            stack.callback(self.bus.close)
            # After the historian (states restored from its journal), before the pollers.
            await stack.enter_async_context(self.alarms)
            await stack.enter_async_context(self.acquisition)
            await stack.enter_async_context(self.opcua)
            self._stack = stack.pop_all()
        tags = len(self.acquisition.tags)
        log.info(
            "gateway %s running: %d device(s), %d tag(s)",
            self.config.gateway.name,
            len(self.config.devices),
            tags,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.__aexit__(exc_type, exc, traceback)
        log.info("gateway %s stopped", self.config.gateway.name)


async def run_until_signalled(
    config: GatewayConfig,
    *,
    config_dir: Path,
    duration: float | None = None,
    running: Callable[[], None] | None = None,
) -> None:
    """Run the gateway until SIGINT/SIGTERM (or `duration` seconds), then stop cleanly.

    `running` is called once every part has started.
    """
    with stop_signals() as stop:
        async with Gateway(config, config_dir=config_dir):
            if running is not None:
                running()
            async with asyncio.TaskGroup() as group:
                collector = group.create_task(collect_young(), name="young collections")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), duration)
                collector.cancel()
