"""What the MQTT side is doing, for the log, the status page and tests (`_Status`-like)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["ConnectionState", "MqttState"]


class ConnectionState(StrEnum):
    CONNECTING = "connecting"
    WAITING_FOR_HOST = "waiting_for_host"  # connected; the primary host is not online
    ONLINE = "online"  # connected and publishing
    BACKOFF = "backoff"  # every server failed; waiting before the next round
    STOPPED = "stopped"


@dataclass(slots=True)
class MqttState:
    """Live state and counters of the MQTT publisher."""

    state: ConnectionState = ConnectionState.CONNECTING
    server: str = ""  # the broker connected to, or last tried
    last_error: str = ""
    state_since: float = field(default_factory=time.time)
    connects: int = 0
    bd_seq: int | None = None
    births: int = 0  # NBIRTH messages (a rebirth counts)
    messages: int = 0  # every message the broker acknowledged
    commands_written: int = 0
    commands_refused: int = 0
    #: Store and forward: rows to replay in the current run, and sent so far.
    replay_total: int = 0
    replay_sent: int = 0

    def enter(self, state: ConnectionState) -> None:
        if state is not self.state:
            self.state = state
            self.state_since = time.time()
