"""The Primary Host's STATE: publishing is gated on it (Sparkplug 3.0, "Primary Host").

A STATE message whose timestamp is older than the newest one seen is ignored
(a host's retained birth can arrive after its later death, or the other way
round); the gate's state carries over to the next connection's gate, so a
stale retained message on reconnect does not undo a newer one.
"""

from __future__ import annotations

import asyncio
import logging

from gateway.mqtt.topics import parse_state, state_topic

__all__ = ["HostGate"]

log = logging.getLogger("gateway.mqtt")


class HostGate:
    """Is the primary host online, by the newest STATE seen?"""

    def __init__(self, host_id: str, previous: HostGate | None = None) -> None:
        self.host_id = host_id
        self.topic = state_topic(host_id)
        self.timestamp: int = previous.timestamp if previous is not None else -1
        self._online = asyncio.Event()

    @property
    def online(self) -> bool:
        return self._online.is_set()

    def update(self, payload: bytes) -> None:
        try:
            state = parse_state(payload)
        except ValueError as error:
            log.warning("MQTT: ignored a STATE of %s: %s", self.host_id, error)
            return
        if state.timestamp < self.timestamp:
            log.info("MQTT: ignored a STATE of %s older than the last one", self.host_id)
            return
        self.timestamp = state.timestamp
        if state.online and not self.online:
            log.info("MQTT: primary host %s is online", self.host_id)
            self._online.set()
        elif not state.online and self.online:
            log.info("MQTT: primary host %s is offline", self.host_id)
            self._online.clear()

    async def wait_online(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the host to be online; whether it is."""
        try:
            await asyncio.wait_for(self._online.wait(), timeout)
        except TimeoutError:
            return False
        return True
