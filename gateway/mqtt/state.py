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
    #: Store and forward: the window of the current (or last) replay and its progress.
    replay_active: bool = False
    replay_from: float | None = None
    replay_to: float | None = None
    replay_sent: int = 0
    replay_skipped: int = 0  # of devices not born (a DDEATH stands)
    #: Data up to this time (the gateway's) is known to have reached the broker.
    acked_until: float | None = None

    def enter(self, state: ConnectionState) -> None:
        if state is not self.state:
            self.state = state
            self.state_since = time.time()
