"""Store and forward's bookkeeping: what reached the broker, and what is still to replay.

`Forwarder` outlives connections: it remembers the newest data handed to
the broker (`sent_until`), the newest confirmed (`MqttState.acked_until`,
by a SUBACK behind the data), and the backlog of windows to replay. Each
birth adds the window since the last confirmation; the replay task of a
connection works through the backlog (replay.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from gateway.mqtt.edge import EdgeSession
from gateway.mqtt.replay import ReplayJob, ReplaySource, replay
from gateway.mqtt.state import MqttState

if TYPE_CHECKING:
    from gateway.mqtt.client import BrokerConnection  # aiomqtt loads when connecting

__all__ = ["ACK_INTERVAL", "Forwarder"]

log = logging.getLogger("gateway.mqtt")

#: Seconds between two confirmations of what reached the broker.
ACK_INTERVAL = 1.0


class Forwarder:
    """Confirmation of sent data, the replay backlog, and the replay task of a connection."""

    def __init__(
        self,
        state: MqttState,
        *,
        horizon: float | None,
        history: ReplaySource | None,
        settle: float,
    ) -> None:
        self._state = state
        self._horizon = horizon
        self._history = history
        self._settle = settle
        #: The gateway time of the newest data handed to the broker (births included).
        self.sent_until: float | None = None
        #: Windows still to replay, oldest first (kept across connections).
        self.backlog: list[ReplayJob] = []
        self._task: asyncio.Task[None] | None = None

    def born(
        self, born_at: float, session: EdgeSession, keys: list[str], group: asyncio.TaskGroup
    ) -> None:
        """After a birth: plan the replay of what was missed and start it in `group`."""
        self._plan(born_at)
        self.sent_until = born_at
        if self.backlog and self._history is not None:
            self._task = group.create_task(
                replay(
                    session, self._history, keys, self.backlog, self._state, settle=self._settle
                ),
                name="mqtt replay",
            )

    def _plan(self, born_at: float) -> None:
        """Add the window from the last confirmed data to this birth to the backlog; drop
        what went beyond the `replay` horizon."""
        horizon, acked = self._horizon, self._state.acked_until
        if horizon is None or acked is None or self._history is None:
            return  # off, or the first connect: nothing of this node's was missed
        oldest = born_at - horizon
        self.backlog[:] = [job for job in self.backlog if job.end > oldest]
        for job in self.backlog:
            job.start = max(job.start, oldest)
        # Not again what a job still in the backlog covers (its birth came before this one).
        start = max(acked, oldest, *(job.end for job in self.backlog))
        if start < born_at:
            self.backlog.append(ReplayJob(start, born_at))

    def stop(self) -> None:
        """The connection ends: the replay stops where it is (its job keeps its place)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def acknowledge(self, connection: BrokerConnection, topic: str) -> None:
        """Every `ACK_INTERVAL`, a SUBACK confirms what was sent before it: the broker
        handles one connection's packets in order, and Sparkplug data goes at QoS 0, which
        has no acknowledgement of its own. What is confirmed is never replayed."""
        while True:
            await asyncio.sleep(ACK_INTERVAL)
            candidate = self.sent_until
            if candidate is None or candidate == self._state.acked_until:
                continue
            await asyncio.sleep(0)  # publishes already started reach the socket first
            await connection.subscribe([topic])
            self._state.acked_until = candidate
